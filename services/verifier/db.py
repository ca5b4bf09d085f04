"""The verifier's durable state (SQLAlchemy 2; SQLite by default): the transcripts provers handed
in, the claims this verifier leads, and the checks it ran for peers. A restarted verifier finds
all unfinished work here (transcripts still `received`, claims still `gathering` or `opened`).

uint256 values (license ids) are stored as decimal strings: SQLite integers stop at 2**63.
"""
from __future__ import annotations

import time
from contextlib import AbstractContextManager
from pathlib import Path

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from services.common.database import Database as CommonDatabase
from services.common.migrations import upgrade

# The verifier's Alembic history (services/verifier/migrations), in a version table of its own.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "oml_verifier_alembic_version"

# transcript states (a transcript's claim, when it has one, carries the rest of the lifecycle)
RECEIVED, CHECKED = "received", "checked"
# claim states
GATHERING, OPENED, EXECUTED, REFUTED, LOST = "gathering", "opened", "executed", "refuted", "lost"
UNFINISHED_CLAIMS = (GATHERING, OPENED)


class Base(DeclarativeBase):
    pass


class TranscriptRow(Base):
    __tablename__ = "verifier_transcripts"

    id: Mapped[str] = mapped_column(String(66), primary_key=True)  # 0x + the transcript's evidence hash
    body: Mapped[str] = mapped_column(Text)  # Transcript JSON as received
    prover: Mapped[str] = mapped_column(String(42), index=True)
    license_id: Mapped[str] = mapped_column(String(78))
    status: Mapped[str] = mapped_column(String(16), index=True, default=RECEIVED)
    verdict: Mapped[str | None] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    claim_row: Mapped[int | None] = mapped_column(ForeignKey("verifier_claims.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    updated_at: Mapped[float] = mapped_column(Float, default=time.time, onupdate=time.time)


class ClaimRow(Base):
    """A claim this verifier leads: one per fingerprint leaf (a leaf can be claimed once on chain)."""

    __tablename__ = "verifier_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transcript_id: Mapped[str] = mapped_column(String(66))  # the evidence the claim is opened with
    leaf: Mapped[str] = mapped_column(String(66), unique=True)
    license_id: Mapped[str] = mapped_column(String(78))
    status: Mapped[str] = mapped_column(String(16), index=True, default=GATHERING)
    attestations: Mapped[str] = mapped_column(Text, default="{}")  # JSON {verifier address: 0x signature}
    claim_id: Mapped[int | None] = mapped_column(Integer)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    record: Mapped[str | None] = mapped_column(Text)  # JSON ClaimRecord, passed back to execute
    deadline: Mapped[int | None] = mapped_column(Integer)
    bond: Mapped[str | None] = mapped_column(String(78))
    outcome: Mapped[str | None] = mapped_column(Text)  # what the end meant: slashed, bond lost, ...
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    updated_at: Mapped[float] = mapped_column(Float, default=time.time, onupdate=time.time)


class PeerCheckRow(Base):
    """A check run for a peer's attestation request, and what this verifier answered."""

    __tablename__ = "verifier_peer_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transcript_id: Mapped[str] = mapped_column(String(66))
    claimant: Mapped[str] = mapped_column(String(42))
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)


class Database(CommonDatabase):
    """The verifier's tables on the shared database setup (services/common/database.py)."""

    def __init__(self, url: str):
        # Databases made before migrations existed (tables from create_all) are adopted at 0001.
        upgrade(url, MIGRATIONS, version_table=VERSION_TABLE, adopt=("0001", "verifier_transcripts"))
        super().__init__(url)

    def session(self) -> AbstractContextManager[Session]:
        """One transaction, committed on exit (rolled back on an exception)."""
        return self.write()
