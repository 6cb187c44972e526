"""integrations: an external reference on tickets and nonconformities, and updated_at

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 16:00:00

`external_source` (the sending system's code, e.g. DVC) and `external_ref` (its id), unique
per agency, make a create through the API idempotent; `updated_at` (set on every change,
taken from `created_on` for the existing rows) lets other systems poll for changes.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

TABLES = ('ticket', 'nonconformity')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('external_source', sa.String(length=20), nullable=True))
            batch_op.add_column(sa.Column('external_ref', sa.String(length=100), nullable=True))
            batch_op.add_column(sa.Column('updated_at', sa.DateTime(), nullable=True))
        op.execute(sa.text(f'UPDATE {table} SET updated_at = COALESCE(created_on, CURRENT_TIMESTAMP)'))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('updated_at', existing_type=sa.DateTime(), nullable=False)
            batch_op.create_index(batch_op.f(f'ix_{table}_updated_at'), ['updated_at'], unique=False)
            batch_op.create_unique_constraint(f'uq_{table}_agency_external',
                                              ['agency_id', 'external_source', 'external_ref'])


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'uq_{table}_agency_external', type_='unique')
            batch_op.drop_index(batch_op.f(f'ix_{table}_updated_at'))
            batch_op.drop_column('updated_at')
            batch_op.drop_column('external_ref')
            batch_op.drop_column('external_source')
