"""saved filters of the lists, each user's own

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 08:00:00

`saved_filter`: the filter of a list (the ticket list, the nonconformity list) a user keeps
under a name of theirs, e.g. "Quá hạn ở đơn vị của tôi"; one name once per user and list.
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'saved_filter',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('list_key', sa.String(length=30), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('query', sa.String(length=1000), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_saved_filter_agency_id_agency')),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE',
                                name=op.f('fk_saved_filter_user_id_ab_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_filter')),
        sa.UniqueConstraint('user_id', 'list_key', 'name', name='uq_saved_filter_user_list_name'),
    )
    op.create_index(op.f('ix_saved_filter_agency_id'), 'saved_filter', ['agency_id'], unique=False)
    op.create_index(op.f('ix_saved_filter_user_id'), 'saved_filter', ['user_id'], unique=False)


def downgrade():
    op.drop_table('saved_filter')
