"""The host's own books in SQLite (or any SQLAlchemy URL): every σ it received, keyed by query
hash, so it can refute a claim even while the permission service is down; the claim watcher's
block cursor; and the claims it has seen against its license with what it did about them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Float, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.database import Database
from services.common.migrations import upgrade

# Claim states the watcher moves through; the last three are final.
PENDING, REFUTED, DONE, UNREFUTABLE, FAILED = "pending", "refuted", "done", "unrefutable", "failed"
FINAL_STATES = (DONE, UNREFUTABLE, FAILED)


# The ledger's Alembic history (services/host/migrations), in a version table of its own.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "oml_host_alembic_version"


class _Base(DeclarativeBase):
    pass


class PermissionRow(_Base):
    __tablename__ = "host_permissions"
    __table_args__ = (UniqueConstraint("license_id", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    license_id: Mapped[str] = mapped_column(String(78), index=True)  # uint256 as decimal text
    query_hash: Mapped[str] = mapped_column(String(66), index=True)  # 0x-hex, lower case
    sequence: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)  # the σ body exactly as the permission service sent it


class CursorRow(_Base):
    __tablename__ = "host_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class ClaimRow(_Base):
    __tablename__ = "host_claims"

    claim_id: Mapped[str] = mapped_column(String(78), primary_key=True)
    query_hash: Mapped[str] = mapped_column(String(66))
    deadline: Mapped[int] = mapped_column(Integer)
    block: Mapped[int] = mapped_column(Integer)  # where ClaimOpened is, to rebuild the record after a restart
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    refute_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    penalize_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)  # unix time: back-off after a failure


@dataclass(frozen=True)
class ClaimState:
    claim_id: int
    query_hash: bytes
    deadline: int
    block: int
    state: str
    refute_tx: str | None
    penalize_tx: str | None
    attempts: int
    last_error: str | None
    next_attempt_at: float


def _state(row: ClaimRow) -> ClaimState:
    return ClaimState(int(row.claim_id), bytes.fromhex(row.query_hash[2:]), row.deadline, row.block, row.state,
                      row.refute_tx, row.penalize_tx, row.attempts, row.last_error, row.next_attempt_at)


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


class Ledger:
    def __init__(self, url: str):
        self.url = url
        # Ledgers made before migrations existed (tables from create_all) are adopted at 0001.
        upgrade(url, MIGRATIONS, version_table=VERSION_TABLE, adopt=("0001", "host_permissions"))
        self.db = Database(url)  # the batcher and the watcher write concurrently

    def dispose(self) -> None:
        self.db.dispose()

    # ------------------------------------------------------------------ σ

    def record_permissions(self, bodies: list[dict]) -> None:
        """Stores σ bodies (idempotent per license and sequence)."""
        with self.db.write() as session:
            for body in bodies:
                license_id, sequence = str(int(body["license_id"])), int(body["sequence"])
                exists = session.scalar(select(PermissionRow.id).where(
                    PermissionRow.license_id == license_id, PermissionRow.sequence == sequence))
                if exists is None:
                    session.add(PermissionRow(license_id=license_id, query_hash=body["query_hash"].lower(),
                                              sequence=sequence, body=json.dumps(body)))

    def permission_for(self, license_id: int, query_hash: bytes) -> dict | None:
        """The first σ this host received for (license, query), or None."""
        with self.db.write() as session:
            row = session.scalars(select(PermissionRow).where(
                PermissionRow.license_id == str(license_id), PermissionRow.query_hash == _hex(query_hash))
                .order_by(PermissionRow.sequence).limit(1)).first()
            return json.loads(row.body) if row else None

    # ------------------------------------------------------------------ watcher cursor

    def cursor(self, name: str) -> int | None:
        with self.db.write() as session:
            row = session.get(CursorRow, name)
            return row.value if row else None

    def set_cursor(self, name: str, value: int) -> None:
        with self.db.write() as session:
            row = session.get(CursorRow, name)
            if row is None:
                session.add(CursorRow(name=name, value=value))
            else:
                row.value = value

    # ------------------------------------------------------------------ claims

    def add_claim(self, claim_id: int, query_hash: bytes, deadline: int, block: int) -> None:
        """Remembers a claim against this license (no-op when already known)."""
        with self.db.write() as session:
            if session.get(ClaimRow, str(claim_id)) is None:
                session.add(ClaimRow(claim_id=str(claim_id), query_hash=_hex(query_hash), deadline=deadline,
                                     block=block, state=PENDING, attempts=0))

    def update_claim(self, claim_id: int, **fields) -> None:
        with self.db.write() as session:
            row = session.get(ClaimRow, str(claim_id))
            for name, value in fields.items():
                setattr(row, name, value)

    def claim(self, claim_id: int) -> ClaimState | None:
        with self.db.write() as session:
            row = session.get(ClaimRow, str(claim_id))
            return _state(row) if row else None

    def open_claims(self, due_at: float | None = None) -> list[ClaimState]:
        """Claims the watcher still has work on (only those due by `due_at`, when given)."""
        query = select(ClaimRow).where(ClaimRow.state.not_in(FINAL_STATES))
        if due_at is not None:
            query = query.where(ClaimRow.next_attempt_at <= due_at)
        with self.db.write() as session:
            return sorted((_state(r) for r in session.scalars(query).all()), key=lambda c: c.claim_id)

    def claims_at_risk(self) -> int:
        """Claims still open on chain whose refute has failed at least once: each slashes the
        stake if the watcher cannot refute it before its deadline."""
        with self.db.write() as session:
            return session.scalar(select(func.count()).select_from(ClaimRow).where(
                ClaimRow.state == PENDING, ClaimRow.attempts > 0))
