"""the open run of NCs of each unit and category, kept as the NCs and tickets change

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 03:00:00

The recurrence rule (5.2.2) counts, for each unit and NC category, the NCs detected since its
last effective corrective action closed. The home page, the compliance board and the recurring
series grouped every NC of an agency to find them (the board 45 to 60 ms for the 25 agencies of
a page at a province's volume). open_run keeps each pair's run (app.tickets.runs refreshes an
agency's runs in the transaction that moves them); filled here from the NCs and tickets, by the
same rule as app.tickets.services.open_run_rows.
"""
import sqlalchemy as sa
from alembic import op


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

FILL = """
INSERT INTO open_run (agency_id, unit_id, category_id, last_closed, size, unlinked)
SELECT n.agency_id, n.unit_id, n.category_id, c.last_closed, count(*),
       sum(CASE WHEN n.ticket_id IS NULL THEN 1 ELSE 0 END)
FROM nonconformity n
LEFT OUTER JOIN (SELECT t.requesting_unit_id AS unit_id, m.category_id AS category_id, max(t.closed_on) AS last_closed
                 FROM ticket t JOIN nonconformity m ON m.ticket_id = t.id
                 WHERE t.state = 'closed' AND t.kind = 'corrective'
                 GROUP BY t.requesting_unit_id, m.category_id) c
  ON c.unit_id = n.unit_id AND c.category_id = n.category_id
WHERE c.last_closed IS NULL OR n.detected_on > c.last_closed
GROUP BY n.agency_id, n.unit_id, n.category_id, c.last_closed
"""


def upgrade():
    op.create_table(
        'open_run',
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('category_id', sa.Integer(), nullable=False),
        sa.Column('last_closed', sa.Date(), nullable=True),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('unlinked', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_open_run_agency_id_agency')),
        sa.ForeignKeyConstraint(['category_id'], ['nc_category.id'], ondelete='CASCADE',
                                name=op.f('fk_open_run_category_id_nc_category')),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ondelete='CASCADE', name=op.f('fk_open_run_unit_id_unit')),
        sa.PrimaryKeyConstraint('unit_id', 'category_id', name=op.f('pk_open_run')),
    )
    op.create_index(op.f('ix_open_run_agency_id'), 'open_run', ['agency_id'], unique=False)
    op.execute(FILL)


def downgrade():
    op.drop_table('open_run')
