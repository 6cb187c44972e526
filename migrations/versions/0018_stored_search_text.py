"""the ticket's searched text folded once, when written (PostgreSQL)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 15:30:00

On PostgreSQL the list's search compared `qms_fold(description || cause || measures)`
computed for every ticket of the agency on every search (about 15 ms for 3 300 tickets, twice a
page: the count and the rows). `ticket.searched_text` is that folded text, a column the database
computes when a ticket is written (GENERATED … STORED, so every path that writes a ticket keeps
it right, bulk SQL included); the trigram index moves to it. Adding the column rewrites the
ticket table once (about a minute at 1 000 000 tickets). SQLite keeps folding on the fly
(app.tickets.search).
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

SEARCHED = ("qms_fold(COALESCE(description, '') || ' ' || COALESCE(cause, '') || ' ' "
            "|| COALESCE(measures, ''))")


def _trgm_schema(bind) -> str:
    return bind.execute(sa.text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                                "WHERE e.extname = 'pg_trgm'")).scalar()


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    op.execute(f"ALTER TABLE ticket ADD COLUMN searched_text text GENERATED ALWAYS AS ({SEARCHED}) STORED")
    op.execute(f'CREATE INDEX ix_ticket_searched_text_trgm ON ticket USING gin (searched_text "{_trgm_schema(bind)}".gin_trgm_ops)')
    op.execute('DROP INDEX IF EXISTS ix_ticket_search_trgm')


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    op.execute(f'CREATE INDEX ix_ticket_search_trgm ON ticket USING gin (({SEARCHED}) "{_trgm_schema(bind)}".gin_trgm_ops)')
    op.execute('DROP INDEX IF EXISTS ix_ticket_searched_text_trgm')
    op.execute('ALTER TABLE ticket DROP COLUMN searched_text')
