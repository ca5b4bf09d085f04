"""The full check of a transcript: six small checks in order; the first that objects decides.

Raises `Unavailable` when the chain or the permission service does not answer: a transcript is
never judged on missing information.
"""
from __future__ import annotations

from services.common.transcript import Transcript
from services.verifier.chain import ChainView
from services.verifier.checks.answer import check_answer
from services.verifier.checks.claimable import check_claimable
from services.verifier.checks.permission import check_permission
from services.verifier.checks.proof import check_proof
from services.verifier.checks.receipt import check_receipt
from services.verifier.checks.request import check_request
from services.verifier.permission_lookup import PermissionLookup
from services.verifier.verdicts import CheckResult, Verdict


def check_transcript(transcript: Transcript, chain: ChainView, lookup: PermissionLookup) -> CheckResult:
    if (result := check_request(transcript)) is not None:
        return result
    license = chain.license(transcript.license_id)
    if (result := check_proof(transcript, license)) is not None:
        return result
    if (result := check_answer(transcript)) is not None:
        return result
    if (result := check_receipt(transcript, license, chain)) is not None:
        return result
    if (result := check_permission(transcript, license, chain, lookup)) is not None:
        return result
    if (result := check_claimable(transcript, license, chain)) is not None:
        return result
    return CheckResult(Verdict.UNPERMITTED,
                       f"license {transcript.license_id} served a fingerprint query without σ (its own receipt says so)")
