"""Fee budget: escrow deposits and withdrawals, and the last settled voucher, per license.

The mirror follows UsageSettlement's EscrowDeposited, EscrowWithdrawn and VoucherSettled from
now on. Its cursor and journal are reset so that it replays the chain once from the deployment
block: the LicenseManager events it applies again leave the rows as they are (each is applied
to the state it finds, in order), and the escrow events fill the new columns.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

from services.common.db_types import Uint256

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (("escrow_deposited", Uint256), ("escrow_withdrawn", Uint256), ("settled_queries", sa.BigInteger),
            ("settled_fee", Uint256))


def upgrade() -> None:
    with op.batch_alter_table("licenses") as batch:
        for name, kind in _COLUMNS:
            batch.add_column(sa.Column(name, kind(), nullable=False, server_default="0"))
    op.execute("DELETE FROM mirror_undo")
    op.execute("DELETE FROM mirror_chunks")
    op.execute("DELETE FROM chain_cursor")


def downgrade() -> None:
    with op.batch_alter_table("licenses") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
