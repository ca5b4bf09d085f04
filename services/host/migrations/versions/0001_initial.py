"""initial host tables

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('host_claims',
    sa.Column('claim_id', sa.String(length=78), nullable=False),
    sa.Column('query_hash', sa.String(length=66), nullable=False),
    sa.Column('deadline', sa.Integer(), nullable=False),
    sa.Column('block', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('refute_tx', sa.String(length=66), nullable=True),
    sa.Column('penalize_tx', sa.String(length=66), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('claim_id')
    )
    op.create_table('host_cursors',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('host_permissions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('license_id', sa.String(length=78), nullable=False),
    sa.Column('query_hash', sa.String(length=66), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('license_id', 'sequence')
    )
    with op.batch_alter_table('host_permissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_host_permissions_license_id'), ['license_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_host_permissions_query_hash'), ['query_hash'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('host_permissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_host_permissions_query_hash'))
        batch_op.drop_index(batch_op.f('ix_host_permissions_license_id'))

    op.drop_table('host_permissions')
    op.drop_table('host_cursors')
    op.drop_table('host_claims')
