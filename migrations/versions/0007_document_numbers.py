"""the notice of review results numbered in its own series; box 2 revision reasons as codes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 09:00:00

The notice (5.8.2.2) borrowed its review's number; it now takes N/TB-… per year of issue when
the top leader issues it (unique per year). Box2Revision.reason stored the text of the actor's
language; new rows store a code labelled at print time, and the two texts the old code could
store (English and Vietnamese) become that code. Any other text stays as typed.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

NEW_PROPOSAL_TEXTS = ("Replaced by a new proposal", "Được thay thế bằng đề xuất mới")


def upgrade():
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('notice_number', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint('uq_review_notice_number', ['notice_year', 'notice_number'])
    box2 = sa.table('box2_revision', sa.column('reason', sa.Text()))
    op.execute(box2.update().where(box2.c.reason.in_(NEW_PROPOSAL_TEXTS)).values(reason='new_proposal'))


def downgrade():
    box2 = sa.table('box2_revision', sa.column('reason', sa.Text()))
    op.execute(box2.update().where(box2.c.reason == 'new_proposal').values(reason=NEW_PROPOSAL_TEXTS[1]))
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.drop_constraint('uq_review_notice_number', type_='unique')
        batch_op.drop_column('notice_number')
        batch_op.drop_column('notice_year')
