"""indexes for the compliance board's figures at a province's volume

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 15:00:00

- ticket (state, agency_id, requested_on, due_date): the open and overdue tickets of every
  agency, counted from the index alone;
- ticket (state, closed_on, agency_id): the tickets closed (effective or not) in a year;
- nonconformity (agency_id, unit_id, category_id, detected_on), on PostgreSQL including
  ticket_id: the recurrence rule's runs of the agencies shown, read from the index alone.
"""
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_ticket_open_figures', 'ticket', ['state', 'agency_id', 'requested_on', 'due_date'])
    op.create_index('ix_ticket_closed_figures', 'ticket', ['state', 'closed_on', 'agency_id'])
    op.create_index('ix_nonconformity_runs', 'nonconformity', ['agency_id', 'unit_id', 'category_id', 'detected_on'],
                    postgresql_include=['ticket_id'])


def downgrade():
    op.drop_index('ix_nonconformity_runs', table_name='nonconformity')
    op.drop_index('ix_ticket_closed_figures', table_name='ticket')
    op.drop_index('ix_ticket_open_figures', table_name='ticket')
