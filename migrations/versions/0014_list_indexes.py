"""indexes for lists and searches at a province's volume

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 17:00:00

- each column of a Staff member's visibility condition (creator, requester, assignee,
  implementer, verifier of a ticket; creator and detector of a nonconformity);
- ticket.follows_id (the follow-up of an ineffective ticket: looked up on each ticket page and
  checked on each delete), ticket.requested_on (date filters);
- the lists' orders, within an agency: tickets by year, number, id; by due date, id;
  nonconformities by detection date, id;
- PostgreSQL only: the pg_trgm and unaccent extensions, `qms_fold(text)` (IMMUTABLE lower
  case without accents) and a GIN trigram index on the folded searched text of a ticket
  (app.tickets.search). SQLite folds with a Python function registered on each connection.
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


PLAIN = (
    ('ticket', 'ix_ticket_created_by_id', ['created_by_id']),
    ('ticket', 'ix_ticket_requester_id', ['requester_id']),
    ('ticket', 'ix_ticket_assignee_id', ['assignee_id']),
    ('ticket', 'ix_ticket_implementer_id', ['implementer_id']),
    ('ticket', 'ix_ticket_verifier_id', ['verifier_id']),
    ('ticket', 'ix_ticket_follows_id', ['follows_id']),
    ('ticket', 'ix_ticket_requested_on', ['requested_on']),
    ('ticket', 'ix_ticket_list_order', ['agency_id', 'year', 'number', 'id']),
    ('ticket', 'ix_ticket_due_order', ['agency_id', 'due_date', 'id']),
    ('nonconformity', 'ix_nonconformity_created_by_id', ['created_by_id']),
    ('nonconformity', 'ix_nonconformity_detected_by_id', ['detected_by_id']),
    ('nonconformity', 'ix_nonconformity_list_order', ['agency_id', 'detected_on', 'id']),
)

SEARCHED = ("qms_fold(COALESCE(description, '') || ' ' || COALESCE(cause, '') || ' ' "
            "|| COALESCE(measures, ''))")


def _extension_schema(bind, name: str) -> str:
    """The schema holding an extension, created in `public` when missing (outside the app's
    own schema, so that dropping a schema never drops what another one's indexes use)."""
    query = sa.text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                    "WHERE e.extname = :name")
    schema = bind.execute(query, {"name": name}).scalar()
    if schema is None:
        has_public = bind.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = 'public'")).scalar()
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {name}" + (" SCHEMA public" if has_public else ""))
        schema = bind.execute(query, {"name": name}).scalar()
    return schema


def upgrade():
    for table, name, columns in PLAIN:
        op.create_index(name, table, columns, unique=False)
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    trgm, unaccent = _extension_schema(bind, 'pg_trgm'), _extension_schema(bind, 'unaccent')
    op.execute(
        f"CREATE OR REPLACE FUNCTION qms_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
        f"AS $$ SELECT lower(\"{unaccent}\".unaccent('\"{unaccent}\".unaccent'::regdictionary, $1)) $$"
    )
    op.execute(f'CREATE INDEX ix_ticket_search_trgm ON ticket USING gin (({SEARCHED}) "{trgm}".gin_trgm_ops)')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_ticket_search_trgm')
        op.execute('DROP FUNCTION IF EXISTS qms_fold(text)')
    for table, name, columns in reversed(PLAIN):
        op.drop_index(name, table_name=table)
