"""an index of each person's unread notifications

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 05:00:00

Every page reads the signed-in person with the bell's count of their unread notifications. The
count went through the person's every notification and the agency's (a bitmap of both indexes),
so it grew with the years a person has used the system; it now reads the unread ones from an
index of them alone.
"""
import sqlalchemy as sa
from alembic import op


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_notification_unread', 'notification', ['user_id', 'agency_id'],
                    postgresql_where=sa.text('read_at IS NULL'), sqlite_where=sa.text('read_at IS NULL'))


def downgrade():
    op.drop_index('ix_notification_unread', table_name='notification')
