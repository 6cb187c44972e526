"""official copies of the approved documents and the certificates that sign them

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 14:20:00

Each agency gains an e-mail (printed in its visible digital signature, Decree 30 Appendix I)
and an optional timestamp authority. `signing_credential` keeps the agency's certificate and
people's, the key encrypted; `official_copy` keeps every revision of each document's
official copy, its bytes and SHA-256.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('tsa_url', sa.String(length=300), nullable=False, server_default=''))

    op.create_table(
        'signing_credential',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('certificate', sa.LargeBinary(), nullable=False),
        sa.Column('chain', sa.LargeBinary(), nullable=False),
        sa.Column('sealed_key', sa.LargeBinary(), nullable=False),
        sa.Column('subject', sa.String(length=500), nullable=False),
        sa.Column('issuer', sa.String(length=500), nullable=False),
        sa.Column('not_before', sa.DateTime(), nullable=False),
        sa.Column('not_after', sa.DateTime(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name='fk_signing_credential_agency_id_agency'),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], name='fk_signing_credential_user_id_ab_user'),
        sa.PrimaryKeyConstraint('id', name='pk_signing_credential'),
    )
    with op.batch_alter_table('signing_credential', schema=None) as batch_op:
        batch_op.create_index('ix_signing_credential_agency_id', ['agency_id'], unique=False)
        batch_op.create_index('ix_signing_credential_user_id', ['user_id'], unique=False)

    op.create_table(
        'official_copy',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('document', sa.String(length=30), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('pdf', sa.LargeBinary(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('signed', sa.Boolean(), nullable=False),
        sa.Column('verification', sa.Text(), nullable=True),
        sa.Column('note', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name='fk_official_copy_agency_id_agency'),
        sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], name='fk_official_copy_created_by_id_ab_user'),
        sa.PrimaryKeyConstraint('id', name='pk_official_copy'),
        sa.UniqueConstraint('agency_id', 'document', 'record_id', 'revision', name='uq_official_copy_revision'),
    )
    with op.batch_alter_table('official_copy', schema=None) as batch_op:
        batch_op.create_index('ix_official_copy_agency_id', ['agency_id'], unique=False)
        batch_op.create_index('ix_official_copy_record_id', ['record_id'], unique=False)
        batch_op.create_index('ix_official_copy_sha256', ['sha256'], unique=False)


def downgrade():
    op.drop_table('official_copy')
    op.drop_table('signing_credential')
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_column('tsa_url')
        batch_op.drop_column('email')
