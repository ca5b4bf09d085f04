"""What a check concludes about a transcript, and the one failure that is not a conclusion."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    HONEST = "honest"                  # the query had σ: the host served it as licensed
    NO_FINGERPRINT = "no_fingerprint"  # the answer does not carry the fingerprint's response
    INVALID = "invalid"                # not a fingerprint of this license (bad proof, not the key)
    NO_RECEIPT = "no_receipt"          # no valid host receipt for the answer: nothing the host cannot deny
    UNCLAIMABLE = "unclaimable"        # claim-worthy, but the chain can no longer take the claim
    UNPERMITTED = "unpermitted"        # a fingerprint answer served without σ: claim-worthy


@dataclass(frozen=True)
class CheckResult:
    verdict: Verdict
    reason: str


class Unavailable(Exception):
    """The chain or the permission service did not answer: check again later, conclude nothing."""
