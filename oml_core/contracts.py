"""Typed Python access to a deployed OML stack: one method per protocol action.

Every signed message and commitment comes from `oml_core.typed_data`; this module only moves
them on and off chain. Each action takes the acting account's key, so one object serves the
owner, hosts, verifiers and claimants of a scenario alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from eth_account import Account
from web3 import Web3
from web3.logs import DISCARD

from oml_core import typed_data as td
from oml_core.chain.client import TxSender
from oml_core.chain.deployment import Deployment

VERIFIER_ACTIVE = 2  # VerifierRegistry.Status.Active


@dataclass(frozen=True)
class ClaimInput:
    """ClaimManager.ClaimInput: what a claimant reveals. An UNPERMITTED_USE claim also carries the
    host's AnswerReceipt (``answer_hash``, ``served_at``, ``receipt_permission`` and its signature
    ``receipt``); other kinds carry only ``served_at``."""

    kind: td.ClaimKind
    subject_id: int
    query_hash: bytes = b"\0" * 32
    response_hash: bytes = b"\0" * 32
    salt: bytes = b"\0" * 32
    proof: list[bytes] = field(default_factory=list)
    evidence_hash: bytes = b"\0" * 32
    family_id: int = 0
    served_at: int = 0
    answer_hash: bytes = b"\0" * 32
    receipt_permission: bytes = td.NO_PERMISSION
    receipt: bytes = b""

    @classmethod
    def unpermitted_use(cls, receipt: td.AnswerReceipt, signature: bytes, response_hash: bytes, salt: bytes,
                        proof: list[bytes], evidence_hash: bytes) -> ClaimInput:
        """The claim an answer receipt supports: the receipt names license, query and time."""
        return cls(td.ClaimKind.UNPERMITTED_USE, receipt.license_id, receipt.query_hash, response_hash, salt,
                   list(proof), evidence_hash, served_at=receipt.served_at, answer_hash=receipt.response_hash,
                   receipt_permission=receipt.permission, receipt=bytes(signature))

    @classmethod
    def observed_use(cls, license_id: int, query_hash: bytes, response_hash: bytes, salt: bytes,
                     proof: list[bytes], evidence_hash: bytes, served_at: int) -> ClaimInput:
        """The claim against a host that gave no receipt: `served_at` is when the verifiers saw it."""
        return cls(td.ClaimKind.OBSERVED_USE, license_id, query_hash, response_hash, salt, list(proof),
                   evidence_hash, served_at=served_at)

    @property
    def leaf(self) -> bytes:
        if self.kind == td.ClaimKind.ALIGNMENT_BREACH:
            return self.evidence_hash
        return td.fingerprint_leaf(self.query_hash, self.response_hash, self.salt)

    def attestation(self, claimant: str) -> td.ClaimAttestation:
        """What verifiers sign for this claim when `claimant` is the one who opens it."""
        return td.ClaimAttestation(self.subject_id, self.family_id, int(self.kind), self.leaf, self.evidence_hash,
                                   self.served_at, claimant)

    @property
    def key(self) -> bytes:
        """The offence this claim is about (ClaimManager.claimKey): one claim per key, ever."""
        matter = self.evidence_hash if self.kind == td.ClaimKind.ALIGNMENT_BREACH else self.query_hash
        return td.claim_key(self.kind == td.ClaimKind.LINEAGE, self.subject_id, self.family_id, matter)

    def as_tuple(self) -> tuple:
        return (int(self.kind), self.subject_id, self.family_id, self.query_hash, self.response_hash,
                self.salt, list(self.proof), self.evidence_hash, self.served_at, self.answer_hash,
                self.receipt_permission, self.receipt)


@dataclass(frozen=True)
class OpenedClaim:
    """A claim as ClaimOpened emitted it: its id, its record (passed back to later calls), attesters."""

    claim_id: int
    record: tuple
    attesters: list[str]
    tx_hash: bytes = b""

    @property
    def deadline(self) -> int:
        return self.record[8]

    @property
    def served_at(self) -> int:
        return self.record[12]


class OMLContracts:
    """The five contracts of one deployment, with the protocol's actions as methods."""

    def __init__(self, w3: Web3, deployment: Deployment):
        self.w3, self.deployment = w3, deployment
        self.registry = deployment.contract(w3, "ModelRegistry")
        self.licenses = deployment.contract(w3, "LicenseManager")
        self.usage = deployment.contract(w3, "UsageSettlement")
        self.verifiers = deployment.contract(w3, "VerifierRegistry")
        self.claims = deployment.contract(w3, "ClaimManager")
        self._senders: dict[str, TxSender] = {}
        self._license_periods: dict[tuple[int, int], int] = {}

    # ------------------------------------------------------------------ plumbing

    def sender(self, key: str) -> TxSender:
        address = Account.from_key(key).address
        if address not in self._senders:
            self._senders[address] = self.deployment.sender(self.w3, key)
        return self._senders[address]

    def domain(self, contract_name: str) -> td.Domain:
        """EIP-712 domain of the contract that verifies a message (PROTOCOL.md)."""
        return td.Domain(self.deployment.chain_id, self.deployment.address(contract_name))

    @property
    def permission_domain(self) -> td.Domain:
        return self.domain("ClaimManager")

    @property
    def receipt_domain(self) -> td.Domain:
        return self.domain("ClaimManager")

    @property
    def voucher_domain(self) -> td.Domain:
        return self.domain("UsageSettlement")

    def event(self, contract, name: str, receipt) -> dict:
        """Arguments of the first `name` event `contract` emitted in `receipt`."""
        events = getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD)
        if not events:
            raise RuntimeError(f"transaction {receipt['transactionHash'].hex()} emitted no {name}")
        return events[0]["args"]

    # ------------------------------------------------------------------ owners

    def register_model(self, admin_key: str, owners: list[str], shares: list[int], signer: str,
                       terms: td.Terms, lineage_root: bytes = b"\0" * 32,
                       weights_hash: bytes = b"\0" * 32) -> int:
        receipt = self.sender(admin_key).send(self.registry.functions.registerModel(
            owners, shares, signer, terms.as_tuple(), lineage_root, weights_hash))
        return self.event(self.registry, "ModelRegistered", receipt)["modelId"]

    def current_terms(self, model_id: int) -> tuple[int, td.Terms, bytes]:
        version, terms, terms_hash = self.registry.functions.currentTerms(model_id).call()
        return version, td.Terms(*terms), terms_hash

    def set_fingerprint_commitment(self, admin_key: str, license_id: int, root: bytes, weights_hash: bytes):
        return self.sender(admin_key).send(
            self.licenses.functions.setFingerprintCommitment(license_id, root, weights_hash))

    def withdraw_revenue(self, owner_key: str, model_id: int) -> int:
        receipt = self.sender(owner_key).send(self.usage.functions.withdrawRevenue(model_id))
        return self.event(self.usage, "RevenueWithdrawn", receipt)["amount"]

    # ------------------------------------------------------------------ hosts

    def acquire_license(self, host_key: str, model_id: int, endpoint: str, stake: int,
                        receipt_signer: str | None = None) -> int:
        """`receipt_signer`: the key the gateway signs answer receipts with (default: the host's own)."""
        _, _, terms_hash = self.current_terms(model_id)
        signer = receipt_signer or Account.from_key(host_key).address
        receipt = self.sender(host_key).send(
            self.licenses.functions.acquireLicense(model_id, endpoint, terms_hash, signer), value=stake)
        return self.event(self.licenses, "LicenseAcquired", receipt)["licenseId"]

    def license_start(self, license_id: int | dict) -> int:
        """When a license (its id, or its record from `license`) began: σ issued earlier, and
        answers served earlier, count for nothing. Terms of a version never change, so each
        version's period is read once."""
        lic = self.license(license_id) if isinstance(license_id, int) else license_id
        key = (lic["modelId"], lic["termsVersion"])
        if key not in self._license_periods:
            self._license_periods[key] = self.registry.functions.terms(*key).call()[5]
        return lic["expiresAt"] - self._license_periods[key]

    def license(self, license_id: int) -> dict:
        names = [c["name"] for c in self.licenses.get_function_by_name("getLicense").abi["outputs"][0]["components"]]
        return dict(zip(names, self.licenses.functions.getLicense(license_id).call()))

    def deposit_escrow(self, key: str, license_id: int, amount: int):
        return self.sender(key).send(self.usage.functions.depositEscrow(license_id), value=amount)

    def request_exit(self, host_key: str, license_id: int):
        return self.sender(host_key).send(self.licenses.functions.requestExit(license_id))

    def withdraw_stake(self, host_key: str, license_id: int) -> int:
        receipt = self.sender(host_key).send(self.licenses.functions.withdraw(license_id))
        return self.event(self.licenses, "StakeWithdrawn", receipt)["amount"]

    def withdraw_escrow(self, host_key: str, license_id: int) -> int:
        receipt = self.sender(host_key).send(self.usage.functions.withdrawEscrow(license_id))
        return self.event(self.usage, "EscrowWithdrawn", receipt)["amount"]

    # ------------------------------------------------------------------ permission service

    def sign_permission(self, signer_key: bytes, permission: td.Permission) -> bytes:
        return td.sign_typed(permission, self.permission_domain, signer_key)

    def sign_voucher(self, signer_key: bytes, voucher: td.UsageVoucher) -> bytes:
        return td.sign_typed(voucher, self.voucher_domain, signer_key)

    def sign_closure(self, signer_key: bytes, closure: td.UsageClosure) -> bytes:
        return td.sign_typed(closure, self.voucher_domain, signer_key)

    def close_usage(self, key: str, closure: td.UsageClosure, signature: bytes):
        """Closes an exiting license's usage account (UsageSettlement.close): its host may then withdraw."""
        return self.sender(key).send(self.usage.functions.close(
            closure.license_id, closure.cumulative_queries, signature))

    def usage_closed(self, license_id: int) -> bool:
        return self.usage.functions.accountClosed(license_id).call()

    def claim_of(self, key: bytes) -> int:
        """The claim that holds an offence (see ClaimInput.key and claim_key); 0 if none."""
        return self.claims.functions.claimOf(key).call()

    def settle(self, key: str, voucher: td.UsageVoucher, signature: bytes):
        return self.sender(key).send(self.usage.functions.settle(
            voucher.license_id, voucher.cumulative_queries, voucher.cumulative_fee, voucher.usage_root,
            signature))

    def usage_account(self, license_id: int) -> tuple[int, int, int]:
        """(settledQueries, settledFee, escrow left) of a license in UsageSettlement."""
        return tuple(self.usage.functions.account(license_id).call())

    def unpaid_fees(self, license_id: int) -> int:
        """Fees settled vouchers owed that neither the license's escrow nor its stake covered."""
        return self.usage.functions.unpaidFees(license_id).call()

    # ------------------------------------------------------------------ verifiers and claims

    def join_verifier(self, key: str, stake: int):
        return self.sender(key).send(self.verifiers.functions.join(), value=stake)

    def activate_verifier(self, key: str, verifier: str):
        """Makes `verifier`'s pending stake count (after the activation delay); anyone may send it."""
        return self.sender(key).send(self.verifiers.functions.activate(verifier))

    def revoke_signer(self, admin_key: str, model_id: int, new_signer: str):
        return self.sender(admin_key).send(self.registry.functions.revokeSigner(model_id, new_signer))

    def quorum_stake(self) -> int:
        """Counted verifier stake a claim's attesters must hold now (two thirds of the active stake)."""
        return self.verifiers.functions.quorumStake().call()

    def counted_stake(self, address: str) -> int:
        """`address`'s stake that counts in quorums: 0 unless it is an active verifier."""
        stake, _pending, _ready_at, status = self.verifiers.functions.verifierInfo(address).call()
        return stake if status == VERIFIER_ACTIVE else 0

    def quorum_of(self, keys: list[str]) -> list[str]:
        """The first of `keys` (verifier keys) whose counted stake together reaches the quorum."""
        needed, chosen, stake = self.quorum_stake(), [], 0
        for key in keys:
            if stake >= needed:
                break
            if counted := self.counted_stake(Account.from_key(key).address):
                chosen.append(key)
                stake += counted
        return chosen

    def claim_config(self) -> tuple[int, int, int]:
        """ClaimManager's (clockSkew, enabledKinds, maxChallengeWindow)."""
        return tuple(self.claims.functions.config().call())

    def attest(self, verifier_key: bytes, claim: ClaimInput, claimant: str) -> bytes:
        """A verifier's attestation of `claim`, for `claimant` (an address) to open."""
        return td.sign_typed(claim.attestation(claimant), self.domain("ClaimManager"), verifier_key)

    def open_claim(self, claimant_key: str, claim: ClaimInput, attestations: dict[str, bytes],
                   bond: int) -> OpenedClaim:
        """`attestations` maps each verifier's address to its signature; sent in address order."""
        ordered = [attestations[a] for a in sorted(attestations, key=lambda a: int(a, 16))]
        receipt = self.sender(claimant_key).send(
            self.claims.functions.openClaim(claim.as_tuple(), ordered), value=bond)
        args = self.event(self.claims, "ClaimOpened", receipt)
        return OpenedClaim(args["claimId"], _record_tuple(args["record"]), list(args["attesters"]),
                           receipt["transactionHash"])

    def opened_claim(self, claim_id: int, from_block: int | None = None) -> OpenedClaim:
        """A claim rebuilt from its ClaimOpened event (what a restarted verifier or host does)."""
        start = self.deployment.block_number if from_block is None else from_block
        logs = self.claims.events.ClaimOpened().get_logs(from_block=start, argument_filters={"claimId": claim_id})
        if not logs:
            raise LookupError(f"no ClaimOpened event for claim {claim_id}")
        args = logs[0]["args"]
        return OpenedClaim(claim_id, _record_tuple(args["record"]), list(args["attesters"]),
                           logs[0]["transactionHash"])

    def refute(self, key: str, claim: OpenedClaim, permission: td.Permission, signature: bytes):
        return self.sender(key).send(self.claims.functions.refute(
            claim.claim_id, claim.record, permission.sequence, permission.issued_at, signature))

    def execute(self, key: str, claim: OpenedClaim):
        return self.sender(key).send(self.claims.functions.execute(claim.claim_id, claim.record))

    def penalize_attesters(self, key: str, claim: OpenedClaim):
        return self.sender(key).send(
            self.claims.functions.penalizeAttesters(claim.claim_id, claim.record, claim.attesters))

    def claim_status(self, claim_id: int) -> str:
        statuses = ("None", "Open", "Refuted", "Executed", "AttestersPenalized")
        return statuses[self.claims.functions.claimStatus(claim_id).call()]


_RECORD_FIELDS = ("kind", "subjectId", "modelId", "claimant", "accused", "bond", "slashAmount", "reward",
                  "deadline", "queryHash", "leaf", "attestersHash", "servedAt", "notBefore")


def _record_tuple(record) -> tuple:
    """ClaimRecord as the positional tuple web3 encodes; web3 decodes event structs as dicts."""
    if isinstance(record, (tuple, list)):
        return tuple(record)
    return tuple(record[name] for name in _RECORD_FIELDS)
