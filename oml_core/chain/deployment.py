"""Deploy the five OML contracts in PROTOCOL.md's order, wire them with the one-time `bind`s,
and record the result in a deployment JSON that every other component loads."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from web3 import Web3
from web3.contract import Contract

from oml_core.chain.client import ErrorDecoder, TxSender
from oml_core.chain.compiler import CompiledContract, compile_contracts
from oml_core.chain.errors import ChainError

CONTRACT_NAMES = ("ModelRegistry", "VerifierRegistry", "LicenseManager", "UsageSettlement", "ClaimManager")
DEFAULT_DEPLOYMENT_PATH = Path("build") / "deployment.json"


def default_deployment_path() -> Path:
    """$OML_DEPLOYMENT, else build/deployment.json under the current directory."""
    return Path(os.environ.get("OML_DEPLOYMENT") or DEFAULT_DEPLOYMENT_PATH)


@dataclass(frozen=True)
class VerifierParams:
    """VerifierRegistry constructor: (uint96 minStake, uint32 unbondingPeriod, uint16 penaltyBps)."""
    min_stake: int = 10**17            # 0.1 ETH per verifier
    unbonding_period: int = 7 * 86400  # seconds a verifier waits between leaving and withdrawing
    penalty_bps: int = 1000            # share of stake an attester of a refuted claim loses

    def __post_init__(self):
        # the constructor's types: out-of-range values would fail inside web3's encoder instead
        for label, value, bits in (("minStake", self.min_stake, 96), ("unbondingPeriod", self.unbonding_period, 32),
                                   ("penaltyBps", self.penalty_bps, 16)):
            if not 0 <= value < 2**bits:
                raise ChainError(f"verifier {label} {value} does not fit uint{bits}")
        if self.penalty_bps > 10_000:
            raise ChainError(f"verifier penaltyBps {self.penalty_bps} is above 10000 (100%)")

    def as_args(self) -> tuple[int, int, int]:
        return (self.min_stake, self.unbonding_period, self.penalty_bps)


@dataclass
class Deployment:
    chain_id: int
    rpc_url: str
    deployer: str
    block_number: int  # block of the first deployment transaction: where event scans start
    addresses: dict[str, str]
    abis: dict[str, list]
    verifier_params: dict = field(default_factory=dict)

    def address(self, name: str) -> str:
        if name not in self.addresses:
            raise ChainError(f"deployment has no contract {name!r} (has {', '.join(self.addresses)})")
        return self.addresses[name]

    def contract(self, w3: Web3, name: str) -> Contract:
        return w3.eth.contract(address=self.address(name), abi=self.abis[name])

    def error_decoder(self) -> ErrorDecoder:
        return ErrorDecoder.from_abis(self.abis, self.addresses)

    def sender(self, w3: Web3, private_key) -> TxSender:
        """A TxSender whose reverts are decoded against all five contracts' errors."""
        return TxSender(w3, private_key, self.error_decoder())

    def to_json(self) -> dict:
        return {"chainId": self.chain_id, "rpcUrl": self.rpc_url, "deployer": self.deployer,
                "blockNumber": self.block_number, "verifierParams": self.verifier_params,
                "contracts": {n: {"address": self.addresses[n], "abi": self.abis[n]} for n in self.addresses}}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        with os.fdopen(fd, "w") as handle:
            json.dump(self.to_json(), handle, indent=2)
        os.replace(tmp, path)
        return path

    @classmethod
    def from_json(cls, data: dict) -> Deployment:
        contracts = data["contracts"]
        return cls(chain_id=int(data["chainId"]), rpc_url=data["rpcUrl"], deployer=data["deployer"],
                   block_number=int(data["blockNumber"]),
                   addresses={n: c["address"] for n, c in contracts.items()},
                   abis={n: c["abi"] for n, c in contracts.items()},
                   verifier_params=data.get("verifierParams", {}))

    @classmethod
    def load(cls, path: str | Path) -> Deployment:
        try:
            data = json.loads(Path(path).read_text())
            return cls.from_json(data)
        except FileNotFoundError:
            raise ChainError(f"no deployment file at {path}: run `oml deploy` first") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ChainError(f"deployment file {path} is malformed ({exc!r})") from None


def deploy(w3: Web3, private_key, verifier: VerifierParams = VerifierParams(),
           compiled: dict[str, CompiledContract] | None = None, rpc_url: str | None = None) -> Deployment:
    """Deploy the five contracts in PROTOCOL.md's order and arguments, then call each `bind` once.

    `bind`'s address arguments are filled from its ABI (the parameter's contract type or name
    says which contract it wants), so the wiring follows the sources: PROTOCOL.md's
    `licenseManager.bind(usageSettlement, claimManager)` and a `bind(claimManager)` on every
    contract both deploy without a change here.
    """
    compiled = compiled if compiled is not None else compile_contracts()
    missing = [n for n in CONTRACT_NAMES if n not in compiled or compiled[n].bytecode in ("", "0x")]
    if missing:
        raise ChainError(f"compiled contracts lack {', '.join(missing)}: are they all in contracts/src?")
    abis = {n: compiled[n].abi for n in CONTRACT_NAMES}
    sender = TxSender(w3, private_key, ErrorDecoder.from_abis(abis))
    addresses: dict[str, str] = {}
    first_block = None
    constructor_args = {
        "ModelRegistry": lambda: (),
        "VerifierRegistry": verifier.as_args,
        "LicenseManager": lambda: (addresses["ModelRegistry"],),
        "UsageSettlement": lambda: (addresses["ModelRegistry"], addresses["LicenseManager"]),
        "ClaimManager": lambda: (addresses["ModelRegistry"], addresses["LicenseManager"],
                                 addresses["VerifierRegistry"], addresses["UsageSettlement"]),
    }
    for name in CONTRACT_NAMES:
        args = constructor_args[name]()
        if len(inputs := _abi_inputs(abis[name], "constructor")) != len(args):
            raise ChainError(f"{name}'s constructor takes {len(inputs)} arguments; PROTOCOL.md gives {len(args)}")
        address, receipt = sender.deploy(abis[name], compiled[name].bytecode, *args, label=f"deploy {name}")
        addresses[name] = address
        sender.decoder.names_by_address[address.lower()] = name  # attribute later reverts to it
        first_block = first_block if first_block is not None else receipt["blockNumber"]
    for name in CONTRACT_NAMES:
        if (args := bind_args(name, abis[name], addresses)) is not None:
            contract = w3.eth.contract(address=addresses[name], abi=abis[name])
            sender.send(contract.functions.bind(*args), label=f"{name}.bind")
    return Deployment(chain_id=w3.eth.chain_id, rpc_url=rpc_url or _provider_url(w3),
                      deployer=sender.address, block_number=first_block, addresses=addresses, abis=abis,
                      verifier_params={"minStake": verifier.min_stake,
                                       "unbondingPeriod": verifier.unbonding_period,
                                       "penaltyBps": verifier.penalty_bps})


# parameter names that do not spell the contract's name
_ALIASES = {"registry": "ModelRegistry", "modelregistry": "ModelRegistry", "licenses": "LicenseManager",
            "verifiers": "VerifierRegistry", "usage": "UsageSettlement", "settlement": "UsageSettlement",
            "claims": "ClaimManager"}


def _abi_inputs(abi: list, kind: str, name: str | None = None) -> list | None:
    for entry in abi:
        if entry.get("type") == kind and (name is None or entry.get("name") == name):
            return entry.get("inputs", [])
    return [] if kind == "constructor" else None


def bind_args(name: str, abi: list, addresses: dict[str, str]) -> list[str] | None:
    """Arguments for `name`'s one-time `bind`, read off its ABI; None if it has no `bind`."""
    inputs = _abi_inputs(abi, "function", "bind")
    return None if inputs is None else [addresses[_wanted_contract(name, i)] for i in inputs]


def _wanted_contract(owner: str, param: dict) -> str:
    """Which of the five contracts a parameter wants: by its `contract IX` type, else by its name."""
    label = f"{owner}.bind parameter {param.get('name') or '?'} ({param.get('internalType', param['type'])})"
    if param["type"] != "address":
        raise ChainError(f"{label}: deploy() fills only address parameters of bind")
    internal = param.get("internalType", "")
    candidates = []
    if internal.startswith("contract "):
        type_name = internal.removeprefix("contract ")
        candidates += [type_name, type_name[1:] if type_name[:1] == "I" else type_name]
    stripped = (param.get("name") or "").strip("_")
    candidates += [stripped, _ALIASES.get(stripped.lower(), "")]
    by_lower = {n.lower(): n for n in CONTRACT_NAMES}
    for candidate in candidates:
        if (match := by_lower.get(candidate.lower())) is not None:
            return match
    raise ChainError(f"{label}: cannot tell which contract it wants")


def _provider_url(w3: Web3) -> str:
    return str(getattr(w3.provider, "endpoint_uri", "") or "")
