"""The log of every query the prover sent: when, to which license, benign or probe, the σ the
answer came with, whether it carried the fingerprint, and where its transcript went. It never
holds prompt or answer text (a probe's prompt is a secret key)."""
from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import case, func, select

from services.common.database import Database
from services.prover.db import QueryRecord
from services.prover.hosts import Answer


@dataclass(frozen=True)
class QueryCounts:
    probes: int = 0
    benign: int = 0
    host_errors: int = 0
    probes_with_permission: int = 0
    probes_matched: int = 0


class QueryLog:
    def __init__(self, db: Database):
        self.db = db

    def start(self, license_id: int, kind: str, key_id: int | None = None) -> int:
        with self.db.write() as session:
            row = QueryRecord(at=time.time(), license_id=license_id, kind=kind, key_id=key_id,
                              status="sending")
            session.add(row)
            session.flush()
            return row.id

    def answered(self, query_id: int, answer: Answer, matched: bool | None = None) -> None:
        with self.db.write() as session:
            row = session.get(QueryRecord, query_id)
            row.status, row.permission_id = "answered", answer.permission_id
            row.had_permission, row.matched = answer.permission is not None, matched

    def failed(self, query_id: int, detail: str) -> None:
        with self.db.write() as session:
            row = session.get(QueryRecord, query_id)
            row.status, row.detail = "host_error", detail[:500]

    def counts(self) -> dict[int, QueryCounts]:
        """license id -> how many queries of each kind it was sent, and how probes came out."""
        probe = QueryRecord.kind == "probe"
        columns = [
            func.count().filter(probe),
            func.count().filter(QueryRecord.kind == "benign"),
            func.count().filter(QueryRecord.status == "host_error"),
            func.sum(case((probe & QueryRecord.had_permission.is_(True), 1), else_=0)),
            func.sum(case((probe & QueryRecord.matched.is_(True), 1), else_=0)),
        ]
        with self.db.read() as session:
            query = select(QueryRecord.license_id, *columns).group_by(QueryRecord.license_id)
            rows = session.execute(query).all()
        return {int(r[0]): QueryCounts(*(int(v or 0) for v in r[1:])) for r in rows}

    def recent(self, limit: int = 50) -> list[dict]:
        """The latest queries, newest first, as plain dicts (for reports and `oml prover status`)."""
        with self.db.read() as session:
            rows = session.scalars(select(QueryRecord).order_by(QueryRecord.id.desc()).limit(limit)).all()
            return [{"id": r.id, "at": r.at, "license_id": r.license_id, "kind": r.kind,
                     "permission_id": r.permission_id, "had_permission": r.had_permission,
                     "matched": r.matched, "verifier": r.verifier, "transcript_id": r.transcript_id,
                     "status": r.status, "detail": r.detail}
                    for r in rows]
