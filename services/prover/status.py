"""What `oml prover status` and the demo report: keys left, queries sent, transcripts pending.
Reads only public columns, so it needs no passphrase."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from services.common.database import Database
from services.prover.db import KeyRecord, OutboxRecord
from services.prover.querylog import QueryCounts, QueryLog


@dataclass(frozen=True)
class LicenseStatus:
    license_id: int
    keys_loaded: int
    keys_left: int
    queries: QueryCounts


@dataclass(frozen=True)
class ProverStatus:
    licenses: list[LicenseStatus]
    pending_transcripts: int


def key_counts(db: Database) -> dict[int, tuple[int, int]]:
    """license id -> (keys loaded, keys left)."""
    with db.read() as session:
        rows = session.execute(select(KeyRecord.license_id, func.count(),
                                      func.count().filter(KeyRecord.used_at.is_(None)))
                               .group_by(KeyRecord.license_id)).all()
    return {int(license_id): (total, left) for license_id, total, left in rows}


def pending_transcripts(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxRecord)
                              .where(OutboxRecord.delivered_at.is_(None)))


def read_status(db: Database) -> ProverStatus:
    keys, queries = key_counts(db), QueryLog(db).counts()
    licenses = [LicenseStatus(license_id, *keys.get(license_id, (0, 0)),
                              queries.get(license_id, QueryCounts()))
                for license_id in sorted(set(keys) | set(queries))]
    return ProverStatus(licenses, pending_transcripts(db))
