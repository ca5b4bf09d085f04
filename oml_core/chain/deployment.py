"""Deploy the five OML contracts in PROTOCOL.md's order (the ClaimManager's address predicted
for the four that answer to it, the UsageSettlement's for the LicenseManager), and record the
result in a deployment JSON that every other component loads."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import rlp
from eth_utils import keccak, to_checksum_address
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


def _check_uint(what: str, label: str, value: int, bits: int) -> None:
    # the constructors' types: out-of-range values would fail inside web3's encoder instead
    if not isinstance(value, int) or not 0 <= value < 2**bits:
        raise ChainError(f"{what} {label} {value} does not fit uint{bits}")


@dataclass(frozen=True)
class RegistryParams:
    """ModelRegistry constructor, after the ClaimManager's address: (uint32 minRetirementUnbonding).

    `min_retirement_unbonding`: the shortest time, in seconds, a retiring derived model's
    registration stake stays slashable, whatever its terms say (it unbonds after the longer of the
    two): the time a claimant has to open a LINEAGE claim against a derivative that retires the
    moment it is caught. The contract refuses 0."""
    min_retirement_unbonding: int = 7 * 86400

    def __post_init__(self):
        _check_uint("registry", "minRetirementUnbonding", self.min_retirement_unbonding, 32)
        if self.min_retirement_unbonding == 0:
            raise ChainError("registry minRetirementUnbonding must be at least 1 second")

    def as_args(self) -> tuple[int]:
        return (self.min_retirement_unbonding,)

    def as_json(self) -> dict:
        """The deployment file's `registryParams`."""
        return {"minRetirementUnbonding": self.min_retirement_unbonding}


@dataclass(frozen=True)
class VerifierParams:
    """VerifierRegistry constructor: (uint96 minStake, uint32 unbondingPeriod, uint32 activationDelay,
    uint16 penaltyBps). Both delays must exceed every model's challenge window: ClaimManager refuses
    claims whose window does not end before them (attesters must still be there to be penalized,
    and stake that arrives after a claim was seen must not count in it)."""
    min_stake: int = 10**17            # 0.1 ETH per verifier
    unbonding_period: int = 7 * 86400  # seconds a verifier waits between leaving and withdrawing
    penalty_bps: int = 1000            # share of stake an attester of a refuted claim loses
    activation_delay: int = 3 * 86400  # seconds before joined or added stake counts in quorums

    def __post_init__(self):
        for label, value, bits in (("minStake", self.min_stake, 96), ("unbondingPeriod", self.unbonding_period, 32),
                                   ("activationDelay", self.activation_delay, 32), ("penaltyBps", self.penalty_bps, 16)):
            _check_uint("verifier", label, value, bits)
        if self.penalty_bps > 10_000:
            raise ChainError(f"verifier penaltyBps {self.penalty_bps} is above 10000 (100%)")

    def as_args(self) -> tuple[int, int, int, int]:
        return (self.min_stake, self.unbonding_period, self.activation_delay, self.penalty_bps)

    def as_json(self) -> dict:
        """The deployment file's `verifierParams`."""
        return {"minStake": self.min_stake, "unbondingPeriod": self.unbonding_period,
                "activationDelay": self.activation_delay, "penaltyBps": self.penalty_bps}

    @property
    def max_challenge_window(self) -> int:
        """The longest challenge window a claim may have under these verifier delays."""
        return min(self.unbonding_period, self.activation_delay) - 1


@dataclass(frozen=True)
class ClaimParams:
    """ClaimManager constructor: (uint32 clockSkew, uint8 enabledKinds).

    `clock_skew`: the clock difference tolerated between hosts, verifiers, the permission service
    and the chain; a claim opens only that long after its answer was served. `enabled_kinds`:
    the claim kinds that may be opened; by default UNPERMITTED_USE (the host's own receipt is the
    evidence) and OBSERVED_USE (a host that withholds receipts, seen by a stake quorum of
    verifiers itself), the kinds whose refutation (σ issued before the answer) is sound
    (docs/SECURITY.md)."""
    clock_skew: int = 120
    enabled_kinds: tuple[int, ...] = (0, 4)

    def __post_init__(self):
        _check_uint("claim", "clockSkew", self.clock_skew, 32)  # 0 is the contract's to refuse
        if not self.enabled_kinds or any(k not in (0, 1, 2, 3, 4) for k in self.enabled_kinds):
            raise ChainError(f"claim enabledKinds {self.enabled_kinds} must be a non-empty subset of 0..4")

    def as_args(self) -> tuple[int, int]:
        return (self.clock_skew, sum(1 << k for k in set(self.enabled_kinds)))

    def as_json(self) -> dict:
        """The deployment file's `claimParams`."""
        return {"clockSkew": self.clock_skew, "enabledKinds": sorted(set(self.enabled_kinds))}


@dataclass
class Deployment:
    chain_id: int
    rpc_url: str
    deployer: str
    block_number: int  # block of the first deployment transaction: where event scans start
    addresses: dict[str, str]
    abis: dict[str, list]
    verifier_params: dict = field(default_factory=dict)
    claim_params: dict = field(default_factory=dict)
    registry_params: dict = field(default_factory=dict)

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
                "claimParams": self.claim_params, "registryParams": self.registry_params,
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
                   verifier_params=data.get("verifierParams", {}), claim_params=data.get("claimParams", {}),
                   registry_params=data.get("registryParams", {}))

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
           compiled: dict[str, CompiledContract] | None = None, rpc_url: str | None = None,
           claims: ClaimParams = ClaimParams(), registry: RegistryParams = RegistryParams()) -> Deployment:
    """Deploy the five contracts in PROTOCOL.md's order with their constructor arguments.

    The first four take the ClaimManager's address, which does not exist yet: it is predicted
    from the deployer's nonce (the ClaimManager is the fifth creation). ClaimManager's own
    constructor reverts with ClaimManager__WiredElsewhere if the prediction was wrong (say,
    another transaction from the same key slipped in), so a miswired stack cannot be deployed.
    The LicenseManager likewise takes the UsageSettlement's predicted address (the creation right
    after it), which alone may collect unpaid fees from stakes; UsageSettlement's constructor
    reverts with UsageSettlement__WiredElsewhere unless the LicenseManager names it.
    """
    compiled = compiled if compiled is not None else compile_contracts()
    missing = [n for n in CONTRACT_NAMES if n not in compiled or compiled[n].bytecode in ("", "0x")]
    if missing:
        raise ChainError(f"compiled contracts lack {', '.join(missing)}: are they all in contracts/src?")
    abis = {n: compiled[n].abi for n in CONTRACT_NAMES}
    sender = TxSender(w3, private_key, ErrorDecoder.from_abis(abis))
    nonce = w3.eth.get_transaction_count(sender.address, "pending")
    claim_manager = predicted_create_address(sender.address, nonce + CONTRACT_NAMES.index("ClaimManager"))
    usage_settlement = predicted_create_address(sender.address, nonce + CONTRACT_NAMES.index("UsageSettlement"))
    addresses: dict[str, str] = {}
    constructor_args = {
        "ModelRegistry": lambda: (claim_manager, *registry.as_args()),
        "VerifierRegistry": lambda: (*verifier.as_args(), claim_manager),
        "LicenseManager": lambda: (addresses["ModelRegistry"], claim_manager, usage_settlement),
        "UsageSettlement": lambda: (addresses["ModelRegistry"], addresses["LicenseManager"], claim_manager),
        "ClaimManager": lambda: (addresses["ModelRegistry"], addresses["LicenseManager"],
                                 addresses["VerifierRegistry"], addresses["UsageSettlement"], *claims.as_args()),
    }
    first_block = None
    for name in CONTRACT_NAMES:
        args = constructor_args[name]()
        if len(inputs := _constructor_inputs(abis[name])) != len(args):
            raise ChainError(f"{name}'s constructor takes {len(inputs)} arguments; PROTOCOL.md gives {len(args)}")
        address, receipt = sender.deploy(abis[name], compiled[name].bytecode, *args, label=f"deploy {name}")
        addresses[name] = address
        sender.decoder.names_by_address[address.lower()] = name  # attribute later reverts to it
        first_block = first_block if first_block is not None else receipt["blockNumber"]
    for name, predicted in (("UsageSettlement", usage_settlement), ("ClaimManager", claim_manager)):
        if addresses[name] != predicted:  # unreachable: the constructors check it
            raise ChainError(f"{name} deployed at {addresses[name]}, predicted {predicted}")
    return Deployment(chain_id=w3.eth.chain_id, rpc_url=rpc_url or _provider_url(w3),
                      deployer=sender.address, block_number=first_block, addresses=addresses, abis=abis,
                      verifier_params=verifier.as_json(), claim_params=claims.as_json(),
                      registry_params=registry.as_json())


def predicted_create_address(deployer: str, nonce: int) -> str:
    """The address CREATE gives the contract `deployer` deploys with `nonce`."""
    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(deployer[2:]), nonce]))[12:])


def _constructor_inputs(abi: list) -> list:
    return next((e.get("inputs", []) for e in abi if e.get("type") == "constructor"), [])


def _provider_url(w3: Web3) -> str:
    return str(getattr(w3.provider, "endpoint_uri", "") or "")
