"""conversation on records and hand-off notifications

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 08:00:00

- comment: one table for the comment threads of tickets, nonconformities, objective plans and
  reviews (record_type + record_id), with the agency;
- attachment.comment_id: a comment's files are kept like a ticket's evidence files;
- ab_user.notify_email: whether hand-offs and mentions also come by e-mail ("now", "digest",
  "never"); by default none (the panel always shows them).
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_type', sa.String(length=30), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], ),
    sa.ForeignKeyConstraint(['author_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index('ix_comment_record', ['agency_id', 'record_type', 'record_id', 'id'], unique=False)

    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('comment_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_attachment_comment_id'), ['comment_id'], unique=False)
        batch_op.create_foreign_key('fk_attachment_comment_id', 'comment', ['comment_id'], ['id'])

    with op.batch_alter_table('ab_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_email', sa.String(length=10), server_default='never',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('ab_user', schema=None) as batch_op:
        batch_op.drop_column('notify_email')
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_constraint('fk_attachment_comment_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_attachment_comment_id'))
        batch_op.drop_column('comment_id')
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index('ix_comment_record')
        batch_op.drop_index(batch_op.f('ix_comment_agency_id'))
    op.drop_table('comment')
