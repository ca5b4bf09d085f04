"""Check 1: the prover sent exactly the fingerprint's key, so the claim's queryHash is the hash
the host needed σ for."""
from __future__ import annotations

from services.common.transcript import Transcript
from services.verifier.verdicts import CheckResult, Verdict


def check_request(transcript: Transcript) -> CheckResult | None:
    if not transcript.is_fingerprint_query():
        return CheckResult(Verdict.INVALID, "the request is not exactly the revealed fingerprint's key")
    return None
