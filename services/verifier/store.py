"""Reads and writes of the verifier's tables, one short transaction each."""
from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from oml_core.contracts import OpenedClaim
from services.common.transcript import Transcript
from services.verifier.db import (
    CHECKED,
    GATHERING,
    OPENED,
    RECEIVED,
    UNFINISHED_CLAIMS,
    ClaimRow,
    Database,
    PeerCheckRow,
    TranscriptRow,
)
from services.verifier.records import BOND, record_to_json
from services.verifier.verdicts import CheckResult, Verdict


def transcript_id(transcript: Transcript) -> str:
    """Content-addressed: the same transcript handed in twice is one row."""
    return "0x" + transcript.evidence_hash().hex()


class Store:
    def __init__(self, db: Database):
        self.db = db

    # ------------------------------------------------------------------ transcripts

    def add_transcript(self, transcript: Transcript) -> TranscriptRow:
        tid = transcript_id(transcript)
        with self.db.session() as s:
            row = s.get(TranscriptRow, tid)
            if row is None:
                row = TranscriptRow(id=tid, body=transcript.model_dump_json(), prover=transcript.prover,
                                    license_id=str(transcript.license_id), status=RECEIVED)
                s.add(row)
            return row

    def transcript(self, tid: str) -> TranscriptRow | None:
        with self.db.session() as s:
            return s.get(TranscriptRow, tid)

    def due_transcripts(self, now: float, limit: int = 64) -> list[TranscriptRow]:
        with self.db.session() as s:
            query = (select(TranscriptRow).where(TranscriptRow.status == RECEIVED,
                                                 TranscriptRow.next_attempt_at <= now)
                     .order_by(TranscriptRow.created_at).limit(limit))
            return list(s.scalars(query))

    def record_verdict(self, tid: str, result: CheckResult, leaf: bytes) -> None:
        """CHECKED with its verdict; an UNPERMITTED transcript joins (or starts) the claim on its leaf."""
        with self.db.session() as s:
            row = s.get(TranscriptRow, tid)
            row.status, row.verdict, row.reason = CHECKED, result.verdict.value, result.reason
            row.last_error = None
            if result.verdict == Verdict.UNPERMITTED:
                claim = s.scalars(select(ClaimRow).where(ClaimRow.leaf == "0x" + leaf.hex())).first()
                if claim is None:
                    claim = ClaimRow(transcript_id=tid, leaf="0x" + leaf.hex(), license_id=row.license_id,
                                     status=GATHERING)
                    s.add(claim)
                    s.flush()
                row.claim_row = claim.id

    def defer_transcript(self, tid: str, error: str, delay: float) -> None:
        with self.db.session() as s:
            _defer(s.get(TranscriptRow, tid), error, delay)

    # ------------------------------------------------------------------ claims

    def claim(self, claim_row: int) -> ClaimRow | None:
        with self.db.session() as s:
            return s.get(ClaimRow, claim_row)

    def claims(self) -> list[ClaimRow]:
        with self.db.session() as s:
            return list(s.scalars(select(ClaimRow).order_by(ClaimRow.id)))

    def due_claims(self, now: float) -> list[ClaimRow]:
        with self.db.session() as s:
            query = (select(ClaimRow).where(ClaimRow.status.in_(UNFINISHED_CLAIMS),
                                            ClaimRow.next_attempt_at <= now).order_by(ClaimRow.id))
            return list(s.scalars(query))

    def save_attestations(self, claim_row: int, attestations: dict[str, bytes]) -> None:
        with self.db.session() as s:
            s.get(ClaimRow, claim_row).attestations = json.dumps(
                {address: "0x" + signature.hex() for address, signature in attestations.items()})

    def claim_opened(self, claim_row: int, opened: OpenedClaim) -> None:
        with self.db.session() as s:
            row = s.get(ClaimRow, claim_row)
            row.status, row.claim_id, row.deadline = OPENED, opened.claim_id, opened.deadline
            row.tx_hash = "0x" + bytes(opened.tx_hash).hex() if opened.tx_hash else None
            row.record, row.bond = json.dumps(record_to_json(opened.record)), str(opened.record[BOND])
            row.attempts, row.last_error, row.next_attempt_at = 0, None, 0.0

    def finish_claim(self, claim_row: int, status: str, outcome: str) -> None:
        with self.db.session() as s:
            row = s.get(ClaimRow, claim_row)
            row.status, row.outcome, row.last_error = status, outcome, None

    def defer_claim(self, claim_row: int, error: str, delay: float) -> None:
        with self.db.session() as s:
            _defer(s.get(ClaimRow, claim_row), error, delay)

    # ------------------------------------------------------------------ peers and metrics

    def add_peer_check(self, tid: str, claimant: str, result: CheckResult) -> None:
        with self.db.session() as s:
            s.add(PeerCheckRow(transcript_id=tid, claimant=claimant, verdict=result.verdict.value,
                               reason=result.reason))

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows by verdict or status: what /metrics exports (durable, so restarts keep counting)."""
        with self.db.session() as s:
            def grouped(column) -> dict[str, int]:
                return {key: n for key, n in s.execute(select(column, func.count()).group_by(column)) if key}
            opened = s.scalar(select(func.count()).select_from(ClaimRow)
                              .where(ClaimRow.claim_id.is_not(None)))
            return {"verdicts": grouped(TranscriptRow.verdict), "claims": grouped(ClaimRow.status),
                    "peer_checks": grouped(PeerCheckRow.verdict), "opened": {"": opened}}


def _defer(row, error: str, delay: float) -> None:
    row.attempts += 1
    row.last_error = error[:2000]
    row.next_attempt_at = time.time() + delay
