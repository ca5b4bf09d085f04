"""What the HTTP routes (and `Verifier.process`) show of a transcript and of a claim."""
from __future__ import annotations

from services.verifier.db import GATHERING, ClaimRow, TranscriptRow


def claim_view(claim: ClaimRow) -> dict:
    """The leaf names the fingerprint; shown while attestations are still gathered, it would tell
    the accused host which query to buy σ for (or which leaf to claim first) before the claim is
    on chain. Once opened, the chain shows it anyway."""
    return {"claim_id": claim.claim_id, "license_id": int(claim.license_id), "status": claim.status,
            "tx_hash": claim.tx_hash, "deadline": claim.deadline,
            "bond": int(claim.bond) if claim.bond else None,
            "leaf": None if claim.status == GATHERING else claim.leaf,
            "outcome": claim.outcome, "last_error": claim.last_error}


def transcript_view(row: TranscriptRow, claim: ClaimRow | None) -> dict:
    """`status` follows the transcript's claim once it has one: received -> checked ->
    gathering -> opened -> executed | refuted (| lost: someone else holds the leaf's claim)."""
    return {"transcript_id": row.id, "license_id": int(row.license_id),
            "status": claim.status if claim is not None else row.status,
            "verdict": row.verdict, "reason": row.reason,
            "attempts": row.attempts, "last_error": row.last_error,
            "claim": claim_view(claim) if claim is not None else None}
