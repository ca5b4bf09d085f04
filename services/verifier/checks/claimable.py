"""Check 6: the chain can still take a claim: the leaf was never claimed (a claimed leaf stays
spent, refuted or not) and the license's stake is still slashable."""
from __future__ import annotations

from services.common.transcript import Transcript
from services.verifier.chain import SLASHABLE, ChainView
from services.verifier.verdicts import CheckResult, Verdict


def check_claimable(transcript: Transcript, license: dict, chain: ChainView) -> CheckResult | None:
    claim_id = chain.claim_of_leaf(transcript.fingerprint.fingerprint().leaf)
    if claim_id != 0:
        return CheckResult(Verdict.UNCLAIMABLE, f"the fingerprint's leaf is already used by claim {claim_id}")
    if license["status"] not in SLASHABLE:
        return CheckResult(Verdict.UNCLAIMABLE,
                           f"license {transcript.license_id} is not slashable (status {license['status']})")
    return None
