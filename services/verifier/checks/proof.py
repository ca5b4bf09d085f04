"""Check 2: the revealed fingerprint is one the owner committed for this license on chain."""
from __future__ import annotations

from oml_core.fingerprint.commit import verify_fingerprint
from services.common.transcript import Transcript
from services.verifier.verdicts import CheckResult, Verdict

ZERO_ROOT = b"\0" * 32


def check_proof(transcript: Transcript, license: dict | None) -> CheckResult | None:
    if license is None:
        return CheckResult(Verdict.INVALID, f"license {transcript.license_id} does not exist")
    root = bytes(license["fingerprintRoot"])
    if root == ZERO_ROOT:
        return CheckResult(Verdict.INVALID, f"license {transcript.license_id} has no fingerprint commitment")
    revealed = transcript.fingerprint
    if not verify_fingerprint(revealed.fingerprint(), revealed.proof_bytes(), root):
        return CheckResult(Verdict.INVALID, "the fingerprint's Merkle proof does not verify against "
                                            f"license {transcript.license_id}'s fingerprint root")
    return None
