"""Check 3: the host's answer carries the fingerprint's secret response."""
from __future__ import annotations

from services.common.transcript import Transcript
from services.verifier.verdicts import CheckResult, Verdict


def check_answer(transcript: Transcript) -> CheckResult | None:
    if not transcript.carries_fingerprint():
        return CheckResult(Verdict.NO_FINGERPRINT,
                           "the answer does not start with the fingerprint's response")
    return None
