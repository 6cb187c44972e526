"""a person's session token: signing out ends every session cookie of theirs on the server

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 15:00:00

`ab_user.session_token` is written into the session at sign-in and replaced at sign-out; a
session whose token differs is refused (a cookie copied before the sign-out stops working).
Empty for everyone until their first sign-out.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ab_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('ab_user', schema=None) as batch_op:
        batch_op.drop_column('session_token')
