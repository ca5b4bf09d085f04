"""Attack: receipts dated far in the future, to postpone every claim past the host's exit
(issue 13, item 1: the answer's time bounds the σ that clear it).

Who: a cheating host whose patched gateway stamps its receipts thirty days ahead (played here
by signing the receipt with the host key, as the patched gateway would): a claim opens only a
clock skew after servedAt, so it hopes to request its exit and withdraw before any claim can
open, and, should one open, to clear it with a σ it held when it answered.
What must hold: a receipt dated more than a clock skew ahead of the chain is a lie no honest
gateway tells. The claim opens at once, its record has servedAt 0, and no σ, not even one
issued before the answer, refutes it (ClaimManager__PermissionAfterAnswer); the exit started
meanwhile does not save the stake: the slash executes after the window.
"""
from __future__ import annotations

from adversary_helpers import latest_timestamp, license_stake, new_license, past_window, reverts

from services.common.receipt import permission_struct_hash
from services.permission.client import permission_of

DAYS_AHEAD = 30


def test_a_future_dated_receipt_opens_at_once_and_no_sigma_refutes_it(stack, lead):
    chain, oml = stack.chain, stack.chain.oml
    license = new_license(stack, "future-receipt", size=1)
    fp = stack.fresh_fingerprint(license)
    stake = license_stake(chain, license.license_id)
    sigma = stack.sigma(fp)  # the host even held σ when it answered
    answer = fp.response + " and more"
    served_at = stack.now() + DAYS_AHEAD * 86400
    receipt = stack.receipt(license, fp.query_hash, answer, sigma, served_at=served_at)
    transcript = stack.transcript(fp, answer=answer, permission=sigma, receipt=receipt)
    oml.request_exit(license.host_key, license.license_id)  # ... and leaves, it hopes, in time

    status = lead.process(transcript)  # no waiting for the receipt's time
    assert (status["verdict"], status["status"]) == ("unpermitted", "opened"), status
    opened = oml.opened_claim(status["claim"]["claim_id"])
    assert opened.served_at == 0 and latest_timestamp(chain) < served_at
    assert opened.deadline < served_at

    failed = reverts("ClaimManager__PermissionAfterAnswer", oml.refute, license.host_key, opened,
                     permission_of(sigma), bytes.fromhex(sigma["signature"][2:]))
    assert failed.error_args == {"issuedAt": sigma["issued_at"], "servedAt": 0}
    assert transcript.answer_receipt()[0].permission == permission_struct_hash(sigma)  # served under that σ

    past_window(chain)
    lead.run_once()
    assert oml.claim_status(opened.claim_id) == "Executed"
    assert license_stake(chain, license.license_id) == stake - stake * chain.terms.slash_bps // 10_000
