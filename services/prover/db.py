"""The prover's tables. Secrets (keys, responses, transcripts) are stored only as AES-GCM
ciphertext (sealing.py); leaves and Merkle proofs are public and stored plainly."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.database import Database
from services.common.db_types import Uint256
from services.common.migrations import upgrade

# The prover's Alembic history (services/prover/migrations), in a version table of its own.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "oml_prover_alembic_version"


class Base(DeclarativeBase):
    pass


def open_database(url: str) -> Database:
    """The prover's database, upgraded to the latest schema (a database made before migrations
    existed, with tables from create_all, is adopted at 0001)."""
    upgrade(url, MIGRATIONS, version_table=VERSION_TABLE, adopt=("0001", "keys"))
    return Database(url)


class SealParams(Base):
    """The one row that fixes the database's sealing key: scrypt salt and costs, and a sealed
    check value that tells a wrong passphrase apart from a corrupted row."""

    __tablename__ = "seal_params"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    n: Mapped[int] = mapped_column(Integer)
    r: Mapped[int] = mapped_column(Integer)
    p: Mapped[int] = mapped_column(Integer)
    check: Mapped[bytes] = mapped_column(LargeBinary)


class KeyRecord(Base):
    """One fingerprint of one license. `used_at` is set (and committed) before the key is sent."""

    __tablename__ = "keys"
    __table_args__ = (UniqueConstraint("license_id", "leaf"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    license_id: Mapped[int] = mapped_column(Uint256(), index=True)
    leaf: Mapped[bytes] = mapped_column(LargeBinary(32))
    proof: Mapped[str] = mapped_column(Text)          # JSON list of 0x hashes
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # nonce + AES-GCM(fingerprint JSON)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class QueryRecord(Base):
    """The log: one row per query sent to a host, benign or probe. No prompt or answer text."""

    __tablename__ = "queries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    license_id: Mapped[int] = mapped_column(Uint256(), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # benign | probe
    key_id: Mapped[int | None] = mapped_column(ForeignKey("keys.id"), nullable=True)
    permission_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    had_permission: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    matched: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # answer carried the response
    verifier: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    transcript_id: Mapped[str | None] = mapped_column(String(66), nullable=True)  # its evidence hash
    # sending | answered | host_error | pending (transcript not yet accepted) | delivered
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(500), nullable=True)


class OutboxRecord(Base):
    """A probe's transcript until a verifier accepted it with 202 (then kept, still sealed)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("queries.id"), unique=True)
    license_id: Mapped[int] = mapped_column(Uint256(), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # nonce + AES-GCM(transcript JSON)
    created_at: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    verifier: Mapped[str | None] = mapped_column(String(2048), nullable=True)
