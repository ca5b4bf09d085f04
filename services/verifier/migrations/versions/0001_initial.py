"""initial verifier tables

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
    op.create_table('verifier_claims',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('transcript_id', sa.String(length=66), nullable=False),
    sa.Column('leaf', sa.String(length=66), nullable=False),
    sa.Column('license_id', sa.String(length=78), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attestations', sa.Text(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('tx_hash', sa.String(length=66), nullable=True),
    sa.Column('record', sa.Text(), nullable=True),
    sa.Column('deadline', sa.Integer(), nullable=True),
    sa.Column('bond', sa.String(length=78), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.Float(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('leaf')
    )
    with op.batch_alter_table('verifier_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verifier_claims_status'), ['status'], unique=False)

    op.create_table('verifier_peer_checks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('transcript_id', sa.String(length=66), nullable=False),
    sa.Column('claimant', sa.String(length=42), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('verifier_peer_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verifier_peer_checks_verdict'), ['verdict'], unique=False)

    op.create_table('verifier_transcripts',
    sa.Column('id', sa.String(length=66), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('prover', sa.String(length=42), nullable=False),
    sa.Column('license_id', sa.String(length=78), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('claim_row', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.Float(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['claim_row'], ['verifier_claims.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('verifier_transcripts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verifier_transcripts_prover'), ['prover'], unique=False)
        batch_op.create_index(batch_op.f('ix_verifier_transcripts_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_verifier_transcripts_verdict'), ['verdict'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('verifier_transcripts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verifier_transcripts_verdict'))
        batch_op.drop_index(batch_op.f('ix_verifier_transcripts_status'))
        batch_op.drop_index(batch_op.f('ix_verifier_transcripts_prover'))

    op.drop_table('verifier_transcripts')
    with op.batch_alter_table('verifier_peer_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verifier_peer_checks_verdict'))

    op.drop_table('verifier_peer_checks')
    with op.batch_alter_table('verifier_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verifier_claims_status'))

    op.drop_table('verifier_claims')
