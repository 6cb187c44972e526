"""nonconformity history; event state columns 30 wide on every database; declined tickets
get their closing date

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 08:10:00

Commit ebd591d widened the state columns of objective_event and review_event by editing
0003 and 0004 after they had landed, so a database made before it still has varchar(20).
This migration widens them again (a no-op where they are already 30 wide).
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('nonconformity_event',
    sa.Column('nonconformity_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('from_state', sa.String(length=30), nullable=True),
    sa.Column('to_state', sa.String(length=30), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['nonconformity_id'], ['nonconformity.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('nonconformity_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nonconformity_event_nonconformity_id'), ['nonconformity_id'], unique=False)

    for table in ('objective_event', 'review_event'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('from_state', type_=sa.String(length=30), existing_nullable=True)
            batch_op.alter_column('to_state', type_=sa.String(length=30), existing_nullable=False)

    # A declined ticket is finished: its closing date is the day it was declined, so that it
    # reaches the retention period like any other finished ticket.
    day = "DATE(MAX(ticket_event.at))" if op.get_bind().dialect.name == "sqlite" else "CAST(MAX(ticket_event.at) AS DATE)"
    op.execute(
        f"UPDATE ticket SET closed_on = (SELECT {day} FROM ticket_event "
        "WHERE ticket_event.ticket_id = ticket.id AND ticket_event.to_state = 'declined') "
        "WHERE ticket.state = 'declined' AND ticket.closed_on IS NULL"
    )


def downgrade():
    with op.batch_alter_table('nonconformity_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nonconformity_event_nonconformity_id'))
    op.drop_table('nonconformity_event')
