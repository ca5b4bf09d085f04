"""Check 6: the chain can still take a claim: the license's answer to this fingerprint query was
never claimed (a claimed answer stays spent, refuted or not, whatever leaf it was claimed under)
and the license's stake is still slashable."""
from __future__ import annotations

from oml_core import typed_data as td
from services.common.transcript import Transcript
from services.verifier.chain import SLASHABLE, ChainView
from services.verifier.verdicts import CheckResult, Verdict


def check_claimable(transcript: Transcript, license: dict, chain: ChainView) -> CheckResult | None:
    query_hash = transcript.fingerprint.fingerprint().query_hash
    claim_id = chain.claim_of(td.claim_key(False, transcript.license_id, 0, query_hash))
    if claim_id != 0:
        return CheckResult(Verdict.UNCLAIMABLE, f"this answer to the fingerprint query is already claimed by "
                                                f"claim {claim_id}")
    if license["status"] not in SLASHABLE:
        return CheckResult(Verdict.UNCLAIMABLE,
                           f"license {transcript.license_id} is not slashable (status {license['status']})")
    return None
