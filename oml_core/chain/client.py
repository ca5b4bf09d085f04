"""web3 connection, transaction sending, and revert decoding against the project's error ABIs."""
from __future__ import annotations

import urllib.error
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import collapse_if_tuple, keccak, to_checksum_address, to_hex
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception, Web3RPCError

from oml_core.chain.anvil import rpc_call
from oml_core.chain.errors import ChainError, RpcUnavailable, TransactionFailed

RECEIPT_POLL_LATENCY = 0.01  # seconds; anvil mines instantly and web3's default 0.1 s dominates
ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
PANIC_CODES = {0x01: "assert failed", 0x11: "arithmetic overflow", 0x12: "division by zero",
               0x21: "bad enum value", 0x22: "bad storage byte array", 0x31: "pop on empty array",
               0x32: "array index out of bounds", 0x41: "out of memory", 0x51: "zero function pointer"}


def connect(rpc_url: str, timeout: float = 10.0) -> Web3:
    """A Web3 over HTTP that has answered eth_chainId; RpcUnavailable (one line) if nothing answers."""
    # probe with one plain request first: web3's provider retries connection errors with backoff,
    # which turns a typo in the URL into seconds of silence
    try:
        rpc_call(rpc_url, "eth_chainId", timeout=min(timeout, 5.0))
    except (OSError, urllib.error.URLError, ValueError, RuntimeError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise RpcUnavailable(f"no JSON-RPC node answers at {rpc_url} ({reason})") from None
    provider = HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, cache_allowed_requests=True)
    return Web3(provider)


def load_account(private_key: str | LocalAccount) -> LocalAccount:
    if isinstance(private_key, LocalAccount):
        return private_key
    try:
        return Account.from_key(private_key)
    except (ValueError, TypeError) as exc:
        raise ChainError(f"invalid private key ({exc})") from None


@dataclass(frozen=True)
class DecodedError:
    contract: str | None  # which ABI declares it; None for Error(string) and Panic
    name: str
    args: dict[str, Any]

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.args.items())
        return f"{self.name}({shown})"


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return to_hex(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


@dataclass
class ErrorDecoder:
    """Maps 4-byte error selectors of every given ABI to their names and argument types.

    An error inherited by several contracts (e.g. from a shared base) is attributed to the
    contract at the address that reverted, when that address is known (`names_by_address`).
    """
    errors: dict[bytes, list[tuple[str, dict]]] = field(default_factory=dict)
    names_by_address: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_abis(cls, abis: dict[str, list] | Iterable[tuple[str, list]],
                  addresses: dict[str, str] | None = None) -> ErrorDecoder:
        decoder = cls(names_by_address={a.lower(): n for n, a in (addresses or {}).items()})
        for contract, abi in (abis.items() if isinstance(abis, dict) else abis):
            for entry in abi:
                if entry.get("type") == "error":
                    types = ",".join(collapse_if_tuple(i) for i in entry.get("inputs", []))
                    selector = keccak(text=f"{entry['name']}({types})")[:4]
                    decoder.errors.setdefault(selector, []).append((contract, entry))
        return decoder

    def contract_name(self, address: str | None) -> str | None:
        return self.names_by_address.get(address.lower()) if address else None

    def decode(self, data: str | bytes | None, address: str | None = None) -> DecodedError | None:
        raw = _as_bytes(data)
        if raw is None or len(raw) < 4:
            return None
        selector, body = raw[:4], raw[4:]
        try:
            if selector == ERROR_STRING_SELECTOR:
                return DecodedError(None, "Error", {"reason": abi_decode(["string"], body)[0]})
            if selector == PANIC_SELECTOR:
                code = abi_decode(["uint256"], body)[0]
                return DecodedError(None, "Panic", {"code": f"{code:#x} ({PANIC_CODES.get(code, 'unknown')})"})
            if selector not in self.errors:
                return None
            candidates = self.errors[selector]
            target = self.contract_name(address)
            contract, entry = next((c for c in candidates if c[0] == target), candidates[0])
            inputs = entry.get("inputs", [])
            values = abi_decode([collapse_if_tuple(i) for i in inputs], body)
            values = [to_checksum_address(v) if i["type"] == "address" else v for i, v in zip(inputs, values)]
            names = [i.get("name") or f"arg{n}" for n, i in enumerate(inputs)]
            return DecodedError(contract, entry["name"], dict(zip(names, values)))
        except (DecodingError, ValueError, OverflowError):  # malformed data: report the raw bytes
            return None


def _as_bytes(data: str | bytes | dict | None) -> bytes | None:
    if isinstance(data, dict):  # some nodes wrap it: {"data": "0x..."}
        data = data.get("data")
    if isinstance(data, bytes):
        return data
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    return None


def revert_error(exc: ContractLogicError, decoder: ErrorDecoder | None, action: str,
                 address: str | None = None) -> TransactionFailed:
    """A TransactionFailed naming the decoded custom error of a web3 revert exception."""
    raw = _as_bytes(exc.data)
    data = to_hex(raw) if raw else None
    decoded = (decoder or ErrorDecoder()).decode(raw, address)
    if decoded is None:
        detail = f"unknown error data {data}" if data else (exc.message or "no reason given")
        return TransactionFailed(f"{action} reverted: {detail}", data=data)
    # "LicenseManager__NotActive" already names its contract; "ClaimManagerBound__ZeroAddress" does not
    prefixed = decoded.contract and not decoded.name.startswith(f"{decoded.contract}__")
    where = f"{decoded.contract}." if prefixed else ""
    return TransactionFailed(f"{action} reverted: {where}{decoded}", decoded.name, decoded.args,
                             decoded.contract, data)


class TxSender:
    """Signs with one local key, sends, waits for the receipt, and turns reverts into TransactionFailed."""

    def __init__(self, w3: Web3, private_key: str | LocalAccount, decoder: ErrorDecoder | None = None,
                 receipt_timeout: float = 120.0):
        self.w3, self.account = w3, load_account(private_key)
        self.decoder, self.receipt_timeout = decoder or ErrorDecoder(), receipt_timeout

    @property
    def address(self) -> str:
        return self.account.address

    def send(self, call, value: int = 0, gas: int | None = None, label: str | None = None):
        """Send a bound contract call or constructor (`contract.functions.f(...)`, `Contract.constructor(...)`)."""
        target = getattr(call, "address", None)
        label = label or _describe(call, self.decoder.contract_name(target))
        params: dict[str, Any] = {"from": self.address, "value": value,
                                  "nonce": self.w3.eth.get_transaction_count(self.address, "pending")}
        try:
            # Estimated on the pending block, whose timestamp is the one the transaction will see:
            # on an idle dev chain the latest block's can be far behind, and time-gated calls
            # (openClaim a clock skew after the answer) would revert in the estimate only.
            # Most reverts surface here.
            params["gas"] = gas if gas is not None else call.estimate_gas(params, block_identifier="pending")
            tx = call.build_transaction(params)
        except ContractLogicError as exc:
            raise revert_error(exc, self.decoder, label, target) from None
        except Web3RPCError as exc:  # e.g. the sender cannot pay for gas
            raise TransactionFailed(f"{label} rejected by the node: {_rpc_message(exc)}") from None
        return self.send_raw(tx, label)

    def send_raw(self, tx: dict, label: str = "transaction"):
        signed = self.account.sign_transaction(tx)
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except ContractLogicError as exc:
            raise revert_error(exc, self.decoder, label, tx.get("to")) from None
        except Web3RPCError as exc:
            raise TransactionFailed(f"{label} rejected by the node: {_rpc_message(exc)}") from None
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=self.receipt_timeout, poll_latency=RECEIPT_POLL_LATENCY)
        except TimeExhausted:
            raise TransactionFailed(f"{label}: no receipt for {tx_hash.to_0x_hex()} after {self.receipt_timeout}s") from None
        if receipt["status"] != 1:
            raise self._replay_failure(tx, receipt, label)
        return receipt

    def _replay_failure(self, tx: dict, receipt, label: str) -> TransactionFailed:
        # a mined revert carries no data; re-run the call on the parent block to recover the error
        call = {k: tx[k] for k in ("from", "to", "value", "data", "gas") if k in tx}
        call.setdefault("from", self.address)
        undecoded = TransactionFailed(f"{label} reverted in block {receipt['blockNumber']} "
                                      f"(tx {receipt['transactionHash'].to_0x_hex()})")
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)
        except ContractLogicError as exc:
            return revert_error(exc, self.decoder, label, tx.get("to"))
        except (Web3Exception, OSError, ValueError):  # the replay is best effort; the revert stands
            return undecoded
        return undecoded

    def deploy(self, abi: list, bytecode: str, *args, value: int = 0, label: str | None = None):
        """Deploy a contract; returns (checksummed address, receipt)."""
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        receipt = self.send(factory.constructor(*args), value=value, label=label or "deploy")
        return receipt["contractAddress"], receipt


def _describe(call, contract: str | None) -> str:
    name = getattr(call, "fn_name", None)
    if not isinstance(name, str):
        return "transaction"
    return f"{contract}.{name}()" if contract else f"{name}()"


def _rpc_message(exc: Web3RPCError) -> str:
    error = (exc.rpc_response or {}).get("error") if hasattr(exc, "rpc_response") else None
    return error.get("message") if isinstance(error, dict) and error.get("message") else str(exc)
