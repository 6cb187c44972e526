"""many agencies in one installation: the agency owns every record

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:40:00

The settings row becomes the first agency (table `agency`, with a code and an active flag);
every record table gains `agency_id` and every existing row goes to that first agency, so
nothing is lost. Names and numbers that were unique in the installation become unique per
agency: unit codes and names, NC categories, ticket numbers (and their counter, now keyed by
agency and year), minutes and notice numbers, objective plan revisions. People keep a
nullable agency: the platform admin and the province inspector belong to none.
"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Every table of an agency's records (ab_user apart: a person may belong to no agency).
OWNED = (
    'unit', 'nc_category', 'nonconformity', 'nonconformity_event', 'ticket', 'ticket_event',
    'box2_revision', 'progress_report', 'change_request', 'attachment', 'objective_plan',
    'objective_row', 'objective_report', 'report_row', 'objective_event', 'internal_audit',
    'review', 'review_item', 'review_presentation', 'review_action', 'review_comment',
    'review_event', 'notification', 'reminder_log',
)
# (table, old unique constraint, its columns, new constraint, its columns)
UNIQUES = (
    ('unit', 'code', ['code'], 'uq_unit_agency_code', ['agency_id', 'code']),
    ('unit', 'name', ['name'], 'uq_unit_agency_name', ['agency_id', 'name']),
    ('nc_category', 'name', ['name'], 'uq_nc_category_agency_name', ['agency_id', 'name']),
    ('ticket', 'uq_ticket_year_number', ['year', 'number'],
     'uq_ticket_agency_year_number', ['agency_id', 'year', 'number']),
    ('review', 'uq_review_year_number', ['year', 'number'],
     'uq_review_agency_year_number', ['agency_id', 'year', 'number']),
    ('review', 'uq_review_notice_number', ['notice_year', 'notice_number'],
     'uq_review_agency_notice_number', ['agency_id', 'notice_year', 'notice_number']),
    ('objective_plan', 'uq_plan_year_unit_revision', ['year', 'unit_id', 'revision'],
     'uq_plan_agency_year_unit_revision', ['agency_id', 'year', 'unit_id', 'revision']),
)
# 0001 and 0002 left these unnamed: SQLite reflects them by this convention, PostgreSQL
# named them <table>_<column>_key.
UNNAMED = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _code(place_name: str | None) -> str:
    """A code from the place name: 'Cam Lâm' -> 'CAMLAM'."""
    plain = unicodedata.normalize('NFD', (place_name or '').replace('đ', 'd').replace('Đ', 'D'))
    return re.sub(r'[^A-Z0-9]', '', plain.encode('ascii', 'ignore').decode().upper())[:20] or 'AGENCY1'


def _old_unique_name(table, old):
    if old.startswith('uq_'):
        return old
    return f'{table}_{old}_key' if op.get_bind().dialect.name == 'postgresql' else f'uq_{table}_{old}'


def upgrade():
    bind = op.get_bind()
    op.rename_table('agency_settings', 'agency')
    with op.batch_alter_table('agency') as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))
    agency = sa.table('agency', sa.column('id', sa.Integer), sa.column('code', sa.String),
                      sa.column('place_name', sa.String))
    first = bind.execute(sa.select(agency.c.id, agency.c.place_name).order_by(agency.c.id)).first()
    has_records = any(bind.execute(sa.text(f'SELECT 1 FROM {t} LIMIT 1')).first()
                      for t in ('unit', 'ab_user', 'ticket', 'nonconformity'))
    if first is None and has_records:
        op.execute(sa.text(
            "INSERT INTO agency (agency_name, parent_body, place_name, steering_committee, procedure_code,"
            " procedure_issue, procedure_date, retention_years, recurrence_threshold, report_interval_days,"
            " max_upload_mb, active) VALUES ('ỦY BAN NHÂN DÂN HUYỆN CAM LÂM', 'ỦY BAN NHÂN DÂN TỈNH KHÁNH HÒA',"
            " 'Cam Lâm', 'BAN CHỈ ĐẠO ISO', 'QT.CTCL', '02', '28/02/2022', 3, 3, 30, 10, true)"))
        first = bind.execute(sa.select(agency.c.id, agency.c.place_name).order_by(agency.c.id)).first()
    for row in bind.execute(sa.select(agency.c.id, agency.c.place_name).order_by(agency.c.id)).all():
        code = _code(row.place_name) if row.id == first.id else f'AGENCY{row.id}'
        bind.execute(agency.update().where(agency.c.id == row.id).values(code=code))
    with op.batch_alter_table('agency') as batch_op:
        batch_op.alter_column('code', existing_type=sa.String(length=20), nullable=False)
        batch_op.create_unique_constraint('uq_agency_code', ['code'])

    for table in OWNED + ('ab_user',):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('agency_id', sa.Integer(), nullable=True))
            batch_op.create_index(op.f(f'ix_{table}_agency_id'), ['agency_id'], unique=False)
            batch_op.create_foreign_key(f'fk_{table}_agency_id', 'agency', ['agency_id'], ['id'])
        if first is not None:
            op.execute(sa.text(f'UPDATE {table} SET agency_id = :agency').bindparams(agency=first.id))
    for table in OWNED:
        with op.batch_alter_table(table, naming_convention=UNNAMED) as batch_op:
            batch_op.alter_column('agency_id', existing_type=sa.Integer(), nullable=False)
            for name, old, _, new, columns in UNIQUES:
                if name == table:
                    batch_op.drop_constraint(_old_unique_name(table, old), type_='unique')
                    batch_op.create_unique_constraint(new, columns)

    # The counter is keyed by agency and year: rebuilt with its rows.
    counter = sa.table('ticket_counter', sa.column('year', sa.Integer), sa.column('last_number', sa.Integer))
    counts = bind.execute(sa.select(counter.c.year, counter.c.last_number)).all()
    op.drop_table('ticket_counter')
    new_counter = op.create_table(
        'ticket_counter',
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last_number', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name='fk_ticket_counter_agency_id'),
        sa.PrimaryKeyConstraint('agency_id', 'year'),
    )
    op.create_index(op.f('ix_ticket_counter_agency_id'), 'ticket_counter', ['agency_id'], unique=False)
    if counts:
        op.bulk_insert(new_counter, [{'agency_id': first.id, 'year': c.year, 'last_number': c.last_number}
                                     for c in counts])


def downgrade():
    bind = op.get_bind()
    if bind.execute(sa.text('SELECT COUNT(*) FROM agency')).scalar() > 1:
        raise RuntimeError('Không thể hạ cấp: CSDL có nhiều hơn một cơ quan.')
    counter = sa.table('ticket_counter', sa.column('year', sa.Integer), sa.column('last_number', sa.Integer))
    counts = bind.execute(sa.select(counter.c.year, counter.c.last_number)).all()
    op.drop_table('ticket_counter')
    old_counter = op.create_table(
        'ticket_counter',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last_number', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('year'),
    )
    if counts:
        op.bulk_insert(old_counter, [{'year': c.year, 'last_number': c.last_number} for c in counts])
    for table in OWNED + ('ab_user',):
        with op.batch_alter_table(table) as batch_op:
            for name, old, old_columns, new, _ in UNIQUES:
                if name == table:
                    batch_op.drop_constraint(new, type_='unique')
                    batch_op.create_unique_constraint(_old_unique_name(table, old), old_columns)
            batch_op.drop_constraint(f'fk_{table}_agency_id', type_='foreignkey')
            batch_op.drop_index(op.f(f'ix_{table}_agency_id'))
            batch_op.drop_column('agency_id')
    with op.batch_alter_table('agency') as batch_op:
        batch_op.drop_constraint('uq_agency_code', type_='unique')
        batch_op.drop_column('active')
        batch_op.drop_column('code')
    op.rename_table('agency', 'agency_settings')
