"""Tables of the permission service. Alembic's migrations/versions create them; keep both in step."""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db_types import Uint256


class Base(DeclarativeBase):
    pass


class License(Base):
    """A license as mirrored from LicenseManager events; also the per-license σ counter row.

    `issued` is the last sequence number handed out. Each σ transaction bumps it with one
    UPDATE ... RETURNING, which row-locks the license (PostgreSQL) or takes the write lock
    (SQLite), so sequences are gap-free and unique across processes.
    """

    __tablename__ = "licenses"

    license_id: Mapped[int] = mapped_column(Uint256(), primary_key=True)
    model_id: Mapped[int] = mapped_column(Uint256())
    host: Mapped[str] = mapped_column(String(42))
    status: Mapped[str] = mapped_column(String(16))  # active | exiting | exited
    slashed: Mapped[bool] = mapped_column(Boolean, default=False)
    stake: Mapped[int] = mapped_column(Uint256(), default=0)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    quota: Mapped[int] = mapped_column(BigInteger, default=0)  # 0 = unlimited
    price_per_query: Mapped[int] = mapped_column(Uint256(), default=0)
    fingerprint_root: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    issued: Mapped[int] = mapped_column(BigInteger, default=0)
    # Mirrored from UsageSettlement: the license's fee budget is escrow_deposited − escrow_withdrawn
    # (σ are refused beyond it), and the last voucher settled on chain.
    escrow_deposited: Mapped[int] = mapped_column(Uint256(), default=0)
    escrow_withdrawn: Mapped[int] = mapped_column(Uint256(), default=0)
    settled_queries: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_fee: Mapped[int] = mapped_column(Uint256(), default=0)

    @property
    def fee_budget(self) -> int:
        """Fees the license's σ may run up: every escrow deposit less what the host withdrew."""
        return fee_budget(self.escrow_deposited, self.escrow_withdrawn)


def fee_budget(deposited: int | None, withdrawn: int | None) -> int:
    return max(0, int(deposited or 0) - int(withdrawn or 0))


class PermissionRecord(Base):
    """One σ as signed: (license, sequence) is unique, the usage leaf is kept for the vouchers."""

    __tablename__ = "permissions"

    license_id: Mapped[int] = mapped_column(Uint256(), primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    query_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    issued_at: Mapped[int] = mapped_column(BigInteger)
    epoch: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary(65))
    leaf: Mapped[bytes] = mapped_column(LargeBinary(32))

    __table_args__ = (
        Index("ix_permissions_license_query", "license_id", "query_hash"),
        Index("ix_permissions_license_epoch", "license_id", "epoch"),
    )


class Voucher(Base):
    """A signed cumulative UsageVoucher; one per (license, cumulative count)."""

    __tablename__ = "vouchers"

    license_id: Mapped[int] = mapped_column(Uint256(), primary_key=True)
    cumulative_queries: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    cumulative_fee: Mapped[int] = mapped_column(Uint256())
    usage_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary(65))
    created_at: Mapped[int] = mapped_column(BigInteger)


class Challenge(Base):
    """A sign-in challenge; `used` flips once, so a signed challenge cannot be replayed."""

    __tablename__ = "challenges"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # host | verifier
    address: Mapped[str] = mapped_column(String(42))
    license_id: Mapped[int | None] = mapped_column(Uint256(), nullable=True)
    message: Mapped[str] = mapped_column(String(2000))
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class Token(Base):
    """A bearer token; only its SHA-256 is stored, so a database leak does not leak sessions."""

    __tablename__ = "tokens"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(42))
    license_id: Mapped[int | None] = mapped_column(Uint256(), nullable=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)


class ChainCursor(Base):
    """Last block whose events are applied; updated in the same transaction as the events."""

    __tablename__ = "chain_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class MirroredChunk(Base):
    """A chunk of blocks the mirror applied, by its last block: that block's hash tells whether
    the chunk is still on the canonical chain after a reorg deeper than the confirmation depth."""

    __tablename__ = "mirror_chunks"

    end_block: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    start_block: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class MirrorUndo(Base):
    """A license row as it was before a chunk changed it (JSON of the mirrored fields; NULL: the
    row did not exist), so the chunk can be undone if a deep reorg drops its blocks."""

    __tablename__ = "mirror_undo"

    end_block: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    license_id: Mapped[int] = mapped_column(Uint256(), primary_key=True)
    before: Mapped[str | None] = mapped_column(Text, nullable=True)
