"""Mirror journal: applied chunks' block hashes and undo rows, to roll back deep reorgs.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from services.common.db_types import Uint256

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mirror_chunks",
        sa.Column("end_block", sa.BigInteger(), primary_key=True),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "mirror_undo",
        sa.Column("end_block", sa.BigInteger(), primary_key=True),
        sa.Column("license_id", Uint256(), primary_key=True),
        sa.Column("before", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("mirror_undo")
    op.drop_table("mirror_chunks")
