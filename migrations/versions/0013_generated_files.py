"""files made in the background for one user, and a link on a notification

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 17:00:00

`generated_file`: a file (the records binder) a user asked for and a job on the queue made,
downloaded from the page "Tệp đã tạo". `notification.link`: where a notification leads (the
download of a file that is ready).
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'generated_file',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.Column('size', sa.Integer(), nullable=True),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_generated_file_agency_id_agency')),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE',
                                name=op.f('fk_generated_file_user_id_ab_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_generated_file')),
    )
    op.create_index(op.f('ix_generated_file_agency_id'), 'generated_file', ['agency_id'], unique=False)
    op.create_index(op.f('ix_generated_file_user_id'), 'generated_file', ['user_id'], unique=False)
    op.create_index(op.f('ix_generated_file_created_at'), 'generated_file', ['created_at'], unique=False)
    with op.batch_alter_table('notification') as batch_op:
        batch_op.add_column(sa.Column('link', sa.String(length=300), nullable=True))


def downgrade():
    with op.batch_alter_table('notification') as batch_op:
        batch_op.drop_column('link')
    op.drop_table('generated_file')
