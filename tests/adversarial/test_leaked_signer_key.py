"""Attack: a leaked permission signer key, used to clear a cheater (issue 13, item 7).

Who: whoever holds the model's permission signer key once it leaked (typically the cheating
host that bought it). The model's admin notices and calls revokeSigner. The host then serves a
fingerprint key without σ (its receipt says so) and, when the claim opens, forges σ with the
leaked key: dated after the revocation, or backdated before it.
What must hold: the revoked key's σ clear no answer served after the revocation, whatever issue
time they carry (ClaimManager__NotPermissionSigner), and σ never clear answers of a license they
predate (ClaimManager__PermissionBeforeLicense). Revocation does not reach back: a σ the key
issued before the revocation, for an answer served under it before the revocation, still
refutes a (bribed) claim, so an honest host keeps what it was given.
"""
from __future__ import annotations

import secrets

from adversary_helpers import latest_timestamp, license_stake, open_claim, past_clock_skew, reverts
from verifier_helpers import License

from oml_core import typed_data as td
from oml_core.contracts import ClaimInput
from oml_core.fingerprint.commit import commitment_root, commitment_tree, proof_for
from oml_core.fingerprint.record import Fingerprint
from services.common.receipt import parse_receipt
from services.stack import ETH, address_of


class Model:
    """A model of its own (the shared one's signer is the permission service's, which other
    tests need), whose permission signer key is `signer` (32 bytes)."""

    def __init__(self, stack, signer: bytes):
        self.stack, self.chain, self.signer = stack, stack.chain, signer
        admin = self.chain.accounts.admin
        self.model_id = self.chain.oml.register_model(admin, [address_of(admin)], [1], address_of(signer),
                                                      self.chain.terms)

    def license(self, tag: str, n: int = 2) -> License:
        chain, host = self.chain, self.chain.accounts.hosts[0]
        fps = [Fingerprint(f"{tag} key {i} {secrets.token_hex(4)}", f"{tag} answer {i}") for i in range(n)]
        license_id = chain.oml.acquire_license(host, self.model_id, f"http://{tag}.test", 20 * ETH)
        chain.oml.set_fingerprint_commitment(chain.accounts.admin, license_id, commitment_root(fps), b"\x22" * 32)
        return License(license_id, host, fps)

    def sigma(self, license: License, fp: Fingerprint, issued_at: int) -> tuple[td.Permission, bytes]:
        """σ for `fp` dated `issued_at`, signed with the model's signer key."""
        permission = td.Permission(license.license_id, fp.query_hash, 1, issued_at)
        return permission, self.chain.oml.sign_permission(self.signer, permission)

    def claim(self, license: License, fp: Fingerprint, served_at: int,
              permission: td.Permission | None = None) -> ClaimInput:
        """The claim the host's own receipt supports: it served `fp` at `served_at` under `permission`."""
        answer = fp.response + " ..."
        sigma = None if permission is None else {"license_id": permission.license_id, "sequence": permission.sequence,
                                                 "query_hash": "0x" + permission.query_hash.hex(),
                                                 "issued_at": permission.issued_at}
        receipt, signature = parse_receipt(self.stack.receipt(license, fp.query_hash, answer, sigma, served_at))
        return ClaimInput.unpermitted_use(receipt, signature, td.response_hash(fp.response), fp.salt,
                                          proof_for(commitment_tree(license.fingerprints), fp),
                                          td.evidence_hash({"license": license.license_id, "answer": answer}))

    def open(self, claim: ClaimInput):
        past_clock_skew(self.chain, claim.served_at)
        return open_claim(self.chain, self.stack.prover_key, claim, self.chain.accounts.verifiers)


def test_a_revoked_key_clears_nothing_new_and_keeps_what_it_cleared(stack):
    chain, oml = stack.chain, stack.chain.oml
    leaked = secrets.token_bytes(32)
    model = Model(stack, leaked)
    license = model.license("leak")
    honest_fp, cheat_fp = license.fingerprints
    stake = license_stake(chain, license.license_id)
    chain.after_clock_skew()

    # Before the leak is known, the honest host answers a key under σ from the (still good) key.
    issued = latest_timestamp(chain)
    honest_sigma, honest_signature = model.sigma(license, honest_fp, issued)
    honest_claim = model.claim(license, honest_fp, issued, honest_sigma)
    chain.after_clock_skew()
    revoked = oml.revoke_signer(chain.accounts.admin, model.model_id, address_of(secrets.token_bytes(32)))
    revoked_at = chain.w3.eth.get_block(revoked["blockNumber"])["timestamp"]
    assert revoked_at > issued

    # After the revocation the host serves a key without σ, then forges σ with the leaked key.
    chain.after_clock_skew()
    served_at = latest_timestamp(chain)
    opened = model.open(model.claim(license, cheat_fp, served_at))
    for issued_at in (served_at, revoked_at, revoked_at - 1, issued):  # after it, at it, backdated
        forged, signature = model.sigma(license, cheat_fp, issued_at)
        reverts("ClaimManager__NotPermissionSigner", oml.refute, license.host_key, opened, forged, signature)
    assert oml.claim_status(opened.claim_id) == "Open"

    # A license begun after the revocation cannot be cleared by σ dated before it began, either.
    late_license = model.license("leak-late", n=1)
    chain.after_clock_skew()
    late_opened = model.open(model.claim(late_license, late_license.fingerprints[0], latest_timestamp(chain)))
    forged, signature = model.sigma(late_license, late_license.fingerprints[0], revoked_at - 1)
    reverts("ClaimManager__PermissionBeforeLicense", oml.refute, license.host_key, late_opened, forged, signature)

    # The σ the key issued before the revocation still clears the answer served under it.
    bribed = model.open(honest_claim)
    oml.refute(license.host_key, bribed, honest_sigma, honest_signature)
    assert oml.claim_status(bribed.claim_id) == "Refuted"
    assert license_stake(chain, license.license_id) == stake
