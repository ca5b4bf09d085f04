"""Initial tables: licenses, permissions, vouchers, challenges, tokens, chain_cursor.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from services.common.db_types import Uint256

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "licenses",
        sa.Column("license_id", Uint256(), primary_key=True),
        sa.Column("model_id", Uint256(), nullable=False),
        sa.Column("host", sa.String(42), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("slashed", sa.Boolean(), nullable=False),
        sa.Column("stake", Uint256(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("quota", sa.BigInteger(), nullable=False),
        sa.Column("price_per_query", Uint256(), nullable=False),
        sa.Column("fingerprint_root", sa.LargeBinary(32), nullable=True),
        sa.Column("issued", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "permissions",
        sa.Column("license_id", Uint256(), primary_key=True),
        sa.Column("sequence", sa.BigInteger(), primary_key=True),
        sa.Column("query_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(65), nullable=False),
        sa.Column("leaf", sa.LargeBinary(32), nullable=False),
    )
    op.create_index("ix_permissions_license_query", "permissions", ["license_id", "query_hash"])
    op.create_index("ix_permissions_license_epoch", "permissions", ["license_id", "epoch"])
    op.create_table(
        "vouchers",
        sa.Column("license_id", Uint256(), primary_key=True),
        sa.Column("cumulative_queries", sa.BigInteger(), primary_key=True),
        sa.Column("cumulative_fee", Uint256(), nullable=False),
        sa.Column("usage_root", sa.LargeBinary(32), nullable=False),
        sa.Column("signature", sa.LargeBinary(65), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "challenges",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("license_id", Uint256(), nullable=True),
        sa.Column("message", sa.String(2000), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("token_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("license_id", Uint256(), nullable=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "chain_cursor",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.LargeBinary(32), nullable=False),
    )


def downgrade() -> None:
    for table in ("chain_cursor", "tokens", "challenges", "vouchers", "permissions", "licenses"):
        op.drop_table(table)
