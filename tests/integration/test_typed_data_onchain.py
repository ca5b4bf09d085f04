"""Python-built typed data and commitments are what the deployed contracts accept, byte for byte,
and tampered ones are rejected with the contracts' named errors (real anvil, real solc output)."""
from __future__ import annotations

import dataclasses
import secrets

import pytest
from eth_account import Account

from oml_core import typed_data as td
from oml_core.chain.anvil import advance_time
from oml_core.chain.errors import TransactionFailed
from oml_core.contracts import ClaimInput, OMLContracts
from oml_core.demo import DEMO_TERMS, ETH
from oml_core.merkle import AppendMerkleTree, MerkleTree

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class Stack:
    """A registered model, four verifiers, and one licensed host with a 13-leaf commitment."""

    def __init__(self, w3, deployment, keys):
        self.w3, self.oml = w3, OMLContracts(w3, deployment)
        self.admin, self.owner_b, self.host, self.claimant = keys[:4]
        self.verifiers = keys[4:8]
        self.signer = secrets.token_bytes(32)
        self.model_id = self.oml.register_model(
            self.admin, [_addr(self.admin), _addr(self.owner_b)], [3, 1], _addr(self.signer), DEMO_TERMS,
            td.response_hash("lineage"), td.response_hash("weights"))
        for key in self.verifiers:
            self.oml.join_verifier(key, ETH)
        advance_time(w3, self.oml.verifiers.functions.config().call()[2])  # the activation delay
        for key in self.verifiers:
            self.oml.activate_verifier(self.claimant, _addr(key))
        self.license_id = self.oml.acquire_license(self.host, self.model_id, "https://h.example/v1", 20 * ETH)
        self.fingerprints = [(td.query_hash([{"role": "user", "content": f"key {i}"}]),
                              td.response_hash(f"answer {i}"), secrets.token_bytes(32)) for i in range(13)]
        self.tree = MerkleTree([td.fingerprint_leaf(*f) for f in self.fingerprints])
        self.oml.set_fingerprint_commitment(self.admin, self.license_id, self.tree.root, td.response_hash("w"))
        # the answers claimed below were served when the license began; claims open a skew later
        self.served_at = self.oml.license_start(self.license_id)
        advance_time(w3, self.oml.claim_config()[0])

    def receipt(self, i: int, served_at: int | None = None, key=None) -> tuple[td.AnswerReceipt, bytes]:
        """The host gateway's receipt of answer i (signed by the host key, the receipt signer)."""
        receipt = td.AnswerReceipt(self.license_id, self.fingerprints[i][0], td.response_hash(f"answer {i}!"),
                                   self.served_at if served_at is None else served_at, td.NO_PERMISSION)
        signer = bytes.fromhex((key or self.host)[2:]) if isinstance(key or self.host, str) else key
        return receipt, td.sign_typed(receipt, self.oml.receipt_domain, signer)

    def claim_input(self, i: int, **overrides) -> ClaimInput:
        q, r, salt = self.fingerprints[i]
        receipt, signature = self.receipt(i)
        claim = ClaimInput.unpermitted_use(receipt, signature, r, salt, self.tree.proof(td.fingerprint_leaf(q, r, salt)),
                                           td.evidence_hash({"transcript": i}))
        return dataclasses.replace(claim, **overrides)

    def attestations(self, claim: ClaimInput, n: int = 3, claimant: str | None = None) -> dict[str, bytes]:
        by = _addr(claimant or self.claimant)
        return {_addr(k): self.oml.attest(bytes.fromhex(k[2:]), claim, by) for k in self.verifiers[:n]}

    def open(self, i: int):
        claim = self.claim_input(i)
        return self.oml.open_claim(self.claimant, claim, self.attestations(claim), DEMO_TERMS.claim_bond)


def _addr(key) -> str:
    return Account.from_key(key).address


@pytest.fixture
def stack(w3, deployment, anvil) -> Stack:
    return Stack(w3, deployment, anvil.private_keys)


def _reverts_with(name: str, fn, *args, **kwargs) -> TransactionFailed:
    with pytest.raises(TransactionFailed) as info:
        fn(*args, **kwargs)
    assert info.value.error_name == name, str(info.value)
    return info.value


def test_domain_separators_match_each_verifying_contract(stack):
    for name in ("LicenseManager", "UsageSettlement", "ClaimManager"):
        contract = stack.oml.deployment.contract(stack.w3, name)
        assert contract.functions.domainSeparator().call() == stack.oml.domain(name).separator()


def test_terms_and_agreement_hashes_match(stack):
    _, terms, on_chain_hash = stack.oml.current_terms(stack.model_id)
    assert terms == DEMO_TERMS
    assert on_chain_hash == DEMO_TERMS.terms_hash()
    license = stack.oml.license(stack.license_id)
    agreement = td.LicenseAgreement(stack.model_id, _addr(stack.host), DEMO_TERMS.terms_hash(),
                                    td.endpoint_hash("https://h.example/v1"))
    assert license["agreementHash"] == agreement.digest(stack.oml.domain("LicenseManager"))


def test_permission_and_attestation_digests_match(stack):
    for _ in range(5):
        p = td.Permission(secrets.randbelow(2**256), secrets.token_bytes(32), secrets.randbelow(2**64),
                          secrets.randbelow(2**64))
        assert stack.oml.claims.functions.permissionDigest(
            p.license_id, p.query_hash, p.sequence, p.issued_at).call() == p.digest(stack.oml.permission_domain)
    for kind in td.ClaimKind:
        a = td.ClaimAttestation(secrets.randbelow(2**256), secrets.randbelow(2**256), int(kind),
                                secrets.token_bytes(32), secrets.token_bytes(32), secrets.randbelow(2**64),
                                Account.create().address)
        assert stack.oml.claims.functions.attestationDigest(
            a.subject_id, a.family_id, a.kind, a.leaf, a.evidence_hash, a.served_at, a.claimant
        ).call() == a.digest(stack.oml.domain("ClaimManager"))
        lineage, matter = kind == td.ClaimKind.LINEAGE, secrets.token_bytes(32)
        assert stack.oml.claims.functions.claimKey(lineage, a.subject_id, a.family_id, matter).call() == \
            td.claim_key(lineage, a.subject_id, a.family_id, matter)
    for _ in range(5):
        r = td.AnswerReceipt(secrets.randbelow(2**256), secrets.token_bytes(32), secrets.token_bytes(32),
                             secrets.randbelow(2**64), secrets.token_bytes(32))
        assert stack.oml.claims.functions.receiptDigest(
            r.license_id, r.query_hash, r.response_hash, r.served_at, r.permission
        ).call() == r.digest(stack.oml.receipt_domain)


def test_python_sigma_refutes_a_claim_and_tampered_sigma_does_not(stack, w3):
    opened = stack.open(0)
    assert opened.record[10] == td.fingerprint_leaf(*stack.fingerprints[0])
    assert opened.record[11] == td.attesters_hash(opened.attesters)
    assert opened.served_at == stack.served_at
    now = stack.served_at  # σ issued when the answer was served: the latest time that still clears it
    sigma = td.Permission(stack.license_id, stack.fingerprints[0][0], 7, now)
    good = stack.oml.sign_permission(stack.signer, sigma)

    # σ signed for another query, or for another license, does not cover this claim's query
    for other in (td.Permission(stack.license_id, stack.fingerprints[1][0], 7, now),
                  td.Permission(stack.license_id + 1, sigma.query_hash, 7, now)):
        _reverts_with("ClaimManager__NotPermissionSigner", stack.oml.refute, stack.host, opened, sigma,
                      stack.oml.sign_permission(stack.signer, other))
    wrong_sequence = td.Permission(stack.license_id, sigma.query_hash, 8, now)
    _reverts_with("ClaimManager__NotPermissionSigner", stack.oml.refute, stack.host, opened, wrong_sequence, good)
    forged = stack.oml.sign_permission(secrets.token_bytes(32), sigma)
    _reverts_with("ClaimManager__NotPermissionSigner", stack.oml.refute, stack.host, opened, sigma, forged)
    r, s, v = good[:32], int.from_bytes(good[32:64], "big"), good[64]
    malleable = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # same signer, high s
    _reverts_with("TypedData__BadSignature", stack.oml.refute, stack.host, opened, sigma, malleable)

    host_before = w3.eth.get_balance(_addr(stack.host))
    receipt = stack.oml.refute(stack.claimant, opened, sigma, good)  # anyone holding σ may refute
    assert stack.oml.claim_status(opened.claim_id) == "Refuted"
    assert w3.eth.get_balance(_addr(stack.host)) == host_before + DEMO_TERMS.claim_bond
    assert receipt["status"] == 1


def test_python_vouchers_settle_and_tampered_or_replayed_ones_do_not(stack, w3):
    stack.oml.deposit_escrow(stack.host, stack.license_id, ETH)
    permissions = [td.Permission(stack.license_id, secrets.token_bytes(32), i, 1_700_000_000) for i in range(1, 4)]
    root = AppendMerkleTree([td.permission_usage_leaf(p) for p in permissions]).root
    voucher = td.UsageVoucher(stack.license_id, 3, 3 * DEMO_TERMS.price_per_query, root)
    signature = stack.oml.sign_voucher(stack.signer, voucher)

    for tampered in (td.UsageVoucher(stack.license_id, 4, voucher.cumulative_fee, root),
                     td.UsageVoucher(stack.license_id, 3, voucher.cumulative_fee - 1, root),
                     td.UsageVoucher(stack.license_id, 3, voucher.cumulative_fee, b"\1" * 32)):
        _reverts_with("UsageSettlement__NotPermissionSigner", stack.oml.settle, stack.claimant, tampered, signature)

    receipt = stack.oml.settle(stack.claimant, voucher, signature)
    settled = stack.oml.event(stack.oml.usage, "VoucherSettled", receipt)
    assert (settled["paid"], settled["usageRoot"]) == (voucher.cumulative_fee, root)
    assert stack.oml.usage.functions.accruedRevenue(stack.model_id).call() == voucher.cumulative_fee
    _reverts_with("UsageSettlement__VoucherNotNewer", stack.oml.settle, stack.claimant, voucher, signature)


def test_python_merkle_proofs_open_claims_for_every_tree_position(stack):
    # 13 leaves: some leaves are carried up unpaired, so proofs have different lengths
    lengths = {len(stack.tree.proof(td.fingerprint_leaf(*f))) for f in stack.fingerprints}
    assert len(lengths) > 1
    for i in (0, 5, 12):
        opened = stack.open(i)
        assert stack.oml.claim_of(td.claim_key(False, stack.license_id, 0, opened.record[9])) == opened.claim_id
        # refuted, so the next claim is not refused for want of unreserved stake
        sigma = td.Permission(stack.license_id, stack.fingerprints[i][0], i + 1, stack.served_at)
        stack.oml.refute(stack.host, opened, sigma, stack.oml.sign_permission(stack.signer, sigma))


def test_tampered_claims_are_rejected(stack):
    good = stack.claim_input(1)
    wrong_salt = stack.claim_input(1, salt=secrets.token_bytes(32))
    _reverts_with("ClaimManager__BadProof", stack.oml.open_claim, stack.claimant, wrong_salt,
                  stack.attestations(wrong_salt), DEMO_TERMS.claim_bond)
    other_proof = stack.claim_input(1, proof=stack.tree.proof(td.fingerprint_leaf(*stack.fingerprints[2])))
    _reverts_with("ClaimManager__BadProof", stack.oml.open_claim, stack.claimant, other_proof,
                  stack.attestations(other_proof), DEMO_TERMS.claim_bond)
    # attestations over another evidence hash recover other addresses, none of them verifiers
    other_evidence = stack.claim_input(1, evidence_hash=secrets.token_bytes(32))
    _reverts_with("ClaimManager__AttesterNotActive", stack.oml.open_claim, stack.claimant, good,
                  stack.attestations(other_evidence, n=1), DEMO_TERMS.claim_bond)
    _reverts_with("ClaimManager__QuorumNotReached", stack.oml.open_claim, stack.claimant, good,
                  stack.attestations(good, n=2), DEMO_TERMS.claim_bond)
    # attestations for one claimant do not let another sender open the claim (no front-running)
    with pytest.raises(TransactionFailed) as copied:
        stack.oml.open_claim(stack.host, good, stack.attestations(good), DEMO_TERMS.claim_bond)
    assert copied.value.error_name in ("ClaimManager__AttesterNotActive", "ClaimManager__AttestersNotSorted")
    opened = stack.oml.open_claim(stack.claimant, good, stack.attestations(good), DEMO_TERMS.claim_bond)
    assert stack.oml.claim_status(opened.claim_id) == "Open"
    _reverts_with("ClaimManager__AnswerUnderClaim", stack.oml.open_claim, stack.claimant, good,
                  stack.attestations(good), DEMO_TERMS.claim_bond)


def test_refuted_claim_keeps_its_revealed_leaf_spent(stack, w3):
    opened = stack.open(3)
    sigma = td.Permission(stack.license_id, stack.fingerprints[3][0], 1, stack.served_at)
    stack.oml.refute(stack.host, opened, sigma, stack.oml.sign_permission(stack.signer, sigma))
    again = stack.claim_input(3, evidence_hash=secrets.token_bytes(32))
    _reverts_with("ClaimManager__AnswerAlreadyClaimed", stack.oml.open_claim, stack.claimant, again,
                  stack.attestations(again), DEMO_TERMS.claim_bond)
