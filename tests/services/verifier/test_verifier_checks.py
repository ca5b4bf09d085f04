"""The verifier's check on a real chain and a real permission service: each verdict, and that a
missing service yields no verdict at all."""
from __future__ import annotations

import secrets

from oml_core import typed_data as td
from oml_core.chain.anvil import free_port
from oml_core.fingerprint.commit import commitment_tree, proof_for
from oml_core.fingerprint.record import Fingerprint
from services.verifier.verdicts import Verdict


def test_fingerprint_answer_without_sigma_is_unpermitted(stack):
    verifier = stack.verifier(0, "check-unpermitted")
    result = verifier.check(stack.transcript(stack.fresh_fingerprint()))
    assert result.verdict == Verdict.UNPERMITTED, result.reason


def test_sigma_shown_in_the_answer_makes_the_query_honest(stack):
    fp = stack.fresh_fingerprint()
    sigma = stack.sigma(fp)
    verifier = stack.verifier(0, "check-shown")
    result = verifier.check(stack.transcript(fp, permission=sigma))
    assert result.verdict == Verdict.HONEST and "carries a valid σ" in result.reason


def test_sigma_held_only_by_the_permission_service_makes_the_query_honest(stack):
    fp = stack.fresh_fingerprint()
    sigma = stack.sigma(fp)  # the host got σ before serving, but did not show it
    transcript = stack.transcript(fp, permission=None, served_at=sigma["issued_at"])
    result = stack.verifier(0, "check-looked-up").check(transcript)
    assert result.verdict == Verdict.HONEST and "permission service" in result.reason


def test_sigma_issued_after_the_answer_does_not_count(stack):
    """A host that served without σ and buys one afterwards (seeing the probe, or a claim) is
    still unpermitted: σ clears only answers served after it was issued."""
    fp = stack.fresh_fingerprint()
    transcript = stack.transcript(fp)  # served one clock skew ago, without σ
    late = stack.sigma(fp)
    assert late["issued_at"] > transcript.answer_receipt()[0].served_at
    verifier = stack.verifier(0, "check-late")
    assert verifier.check(transcript).verdict == Verdict.UNPERMITTED
    shown_late = stack.transcript(fp, permission=late, served_at=transcript.answer_receipt()[0].served_at)
    assert verifier.check(shown_late).verdict == Verdict.UNPERMITTED


def test_an_answer_without_the_hosts_receipt_convicts_nobody(stack):
    """The prover's word alone (no receipt, or a receipt the prover signed itself) is no evidence."""
    fp = stack.fresh_fingerprint()
    verifier = stack.verifier(0, "check-no-receipt")
    result = verifier.check(stack.transcript(fp, receipt=None))
    assert result.verdict == Verdict.NO_RECEIPT, result.reason
    license = stack.license_of(fp)
    forged = stack.receipt(license, fp.query_hash, fp.response, key=stack.prover_key)
    result = verifier.check(stack.transcript(fp, answer=fp.response, receipt=forged))
    assert result.verdict == Verdict.NO_RECEIPT and "receipt signer" in result.reason
    honest_receipt_other_text = stack.receipt(license, fp.query_hash, "a bland refusal")
    result = verifier.check(stack.transcript(fp, answer=fp.response, receipt=honest_receipt_other_text))
    assert result.verdict == Verdict.NO_RECEIPT and "another answer" in result.reason


def test_sigma_not_signed_by_the_permission_signer_does_not_count(stack):
    fp = stack.fresh_fingerprint()
    verifier = stack.verifier(0, "check-forged")
    forged = td.Permission(stack.clean.license_id, fp.query_hash, 1, 1_700_000_000)
    signature = td.sign_typed(forged, verifier.chain.permission_domain, secrets.token_bytes(32))
    body = {"license_id": stack.clean.license_id, "query_hash": "0x" + fp.query_hash.hex(), "sequence": 1,
            "issued_at": 1_700_000_000, "signature": "0x" + signature.hex()}
    result = verifier.check(stack.transcript(fp, permission=body))
    assert result.verdict == Verdict.UNPERMITTED, result.reason


def test_a_proof_against_another_root_is_invalid(stack):
    fp = stack.fresh_fingerprint()
    others = [fp, Fingerprint("not committed", "anything")]
    transcript = stack.transcript(fp, proof=proof_for(commitment_tree(others), fp))
    result = stack.verifier(0, "check-proof").check(transcript)
    assert result.verdict == Verdict.INVALID and "Merkle proof" in result.reason


def test_a_request_that_is_not_the_key_is_invalid(stack):
    fp = stack.fresh_fingerprint()
    messages = [{"role": "system", "content": "be nice"}, *fp.messages]
    result = stack.verifier(0, "check-key").check(stack.transcript(fp, messages=messages))
    assert result.verdict == Verdict.INVALID and "key" in result.reason


def test_an_answer_without_the_response_has_no_fingerprint(stack):
    fp = stack.fresh_fingerprint()
    result = stack.verifier(0, "check-answer").check(stack.transcript(fp, answer="I cannot help with that."))
    assert result.verdict == Verdict.NO_FINGERPRINT


def test_an_unknown_license_is_invalid(stack):
    fp = stack.fresh_fingerprint()
    transcript = stack.transcript(fp).model_copy(update={"license_id": 999})
    result = stack.verifier(0, "check-license").check(transcript)
    assert result.verdict == Verdict.INVALID and "does not exist" in result.reason


def test_no_permission_service_means_no_verdict_and_a_retry(stack):
    fp = stack.fresh_fingerprint()
    verifier = stack.verifier(0, "check-down", permission_url=f"http://127.0.0.1:{free_port()}",
                              request_timeout_s=2)
    status = verifier.process(stack.transcript(fp))
    assert status["status"] == "received" and status["verdict"] is None
    assert status["attempts"] == 1 and "permission service" in status["last_error"]
