"""The chain reads and writes a verifier needs, with every failure to reach the node turned into
`Unavailable` (retry later) and a revert of a read turned into a plain answer."""
from __future__ import annotations

from web3.exceptions import ContractLogicError

from oml_core.chain.clock import ChainClock
from oml_core.chain.errors import TransactionFailed
from oml_core.contracts import ClaimInput, OMLContracts, OpenedClaim
from services.verifier.verdicts import Unavailable

ACTIVE, EXITING = 1, 2  # LicenseStatus (contracts/src/lib/OMLTypes.sol)
SLASHABLE = (ACTIVE, EXITING)


def _read(action: str, call):
    try:
        return call()
    except (ContractLogicError, TransactionFailed):
        raise
    except Exception as exc:  # noqa: BLE001 - any transport failure: node down, timeout, bad gateway
        raise Unavailable(f"chain: {action} failed ({type(exc).__name__}: {exc})") from None


class ChainView:
    def __init__(self, oml: OMLContracts):
        self.oml = oml
        self._claim_config: tuple[int, int, int] | None = None
        self.clock = ChainClock.of(oml.w3)  # protocol time: what the next block will say

    @property
    def permission_domain(self):
        return self.oml.permission_domain

    @property
    def receipt_domain(self):
        return self.oml.receipt_domain

    @property
    def clock_skew(self) -> int:
        """ClaimManager's clock skew (immutable: read once)."""
        if self._claim_config is None:
            self._claim_config = _read("ClaimManager.config", self.oml.claim_config)
        return self._claim_config[0]

    def license_start(self, license: dict) -> int:
        """When the license began: σ issued, or answers served, before it count for nothing."""
        return _read("terms", lambda: self.oml.license_start(license))

    @property
    def attestation_domain(self):
        return self.oml.domain("ClaimManager")

    def license(self, license_id: int) -> dict | None:
        """The license record, or None when no such license exists (getLicense reverts)."""
        try:
            return _read("getLicense", lambda: self.oml.license(license_id))
        except ContractLogicError:
            return None

    def permission_clears(self, model_id: int, signer: str, issued_at: int, served_at: int) -> bool:
        """ModelRegistry.permissionClears: the rule ClaimManager.refute applies to σ's signer."""
        return _read("permissionClears", lambda: self.oml.registry.functions.permissionClears(
            model_id, signer, issued_at, served_at).call())

    def claim_of(self, key: bytes) -> int:
        """The claim that holds an offence (ClaimInput.key): open, or closed for ever; 0 if none."""
        return _read("claimOf", lambda: self.oml.claim_of(key))

    def quorum_stake(self) -> int:
        """Counted stake a claim's attesters must hold (two thirds of the active stake)."""
        return _read("quorumStake", self.oml.quorum_stake)

    def counted_stake(self, address: str) -> int:
        """`address`'s stake that counts in quorums: 0 unless it is an active verifier."""
        return _read("verifierInfo", lambda: self.oml.counted_stake(address))

    def is_active_verifier(self, address: str) -> bool:
        return _read("isActive", lambda: self.oml.verifiers.functions.isActive(address).call())

    def claim_bond(self, license: dict) -> int:
        """The bond ClaimManager asks: the claim terms of the version the license agreed to."""
        bond, *_ = _read("claimTerms", lambda: self.oml.registry.functions.claimTerms(
            license["modelId"], license["termsVersion"]).call())
        return bond

    def block_timestamp(self) -> int:
        return _read("getBlock", lambda: self.oml.w3.eth.get_block("latest")["timestamp"])

    def now(self) -> int:
        """Protocol time (oml_core/chain/clock.py): about the time a transaction sent now is mined
        at; never before the latest block (the clock's estimate may predate a jump of a dev chain)."""
        return max(int(self.clock()), self.block_timestamp())

    def claim_status(self, claim_id: int) -> str:
        return _read("claimStatus", lambda: self.oml.claim_status(claim_id))

    def opened_claim(self, claim_id: int) -> OpenedClaim:
        return _read("ClaimOpened logs", lambda: self.oml.opened_claim(claim_id))

    # writes: TransactionFailed (a decoded revert) passes through for the caller to judge

    def open_claim(self, key: str, claim: ClaimInput, attestations: dict[str, bytes],
                   bond: int) -> OpenedClaim:
        return _read("openClaim", lambda: self.oml.open_claim(key, claim, attestations, bond))

    def execute(self, key: str, claim: OpenedClaim) -> dict:
        """Executes the claim; the ClaimExecuted event's arguments."""
        def send():
            receipt = self.oml.execute(key, claim)
            return dict(self.oml.event(self.oml.claims, "ClaimExecuted", receipt))
        return _read("execute", send)
