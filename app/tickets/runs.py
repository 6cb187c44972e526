"""The open runs of NCs (models.OpenRun), kept in the transaction that moves them.

The recurrence rule (5.2.2, SPEC §2) counts, for each unit and NC category, the NCs detected
since its last effective corrective action closed. Read from the NCs themselves, that cost the
home page about 1.7 ms of its figures' statement at 5 000 NCs, and the compliance board 45 to
60 ms for the 25 agencies of a page at a province's volume (every agency's 1.5 million NCs when
sorted by it). Kept in OpenRun, each figure reads a few rows.

Every change that can move a run reads the runs of the agencies it touches again from their NCs
and tickets (tickets.services.open_run_rows), in its own transaction:
- an ORM flush that adds, removes or changes an NC (its unit, category, detection date, ticket
  or agency), or changes a ticket that closes a run (CLOSES_A_RUN) before or after the change:
  right after the flush;
- a statement run through the session that writes the NC or ticket table (a bulk insert,
  update or delete: the retention archive, the tests' volumes): the agency of the scope, or
  every agency outside one, once, when the transaction commits (the archive writes a statement
  per NC it unlinks).
Writes on a bare connection (the benchmark's bulk load, a migration) call refresh_open_runs.
"""
from itertools import chain

from sqlalchemy import delete, event, inspect, insert, select
from sqlalchemy.orm import Session

from app.organisation.models import Agency
from app.tenancy import current_scope
from app.tickets.models import CLOSES_A_RUN, Nonconformity, OpenRun, Ticket

NC_RUN_COLUMNS = ("unit_id", "category_id", "detected_on", "ticket_id", "agency_id")
TICKET_RUN_COLUMNS = ("requesting_unit_id", "closed_on", "agency_id", *(column for column, _ in CLOSES_A_RUN))
WRITTEN_TABLES = frozenset({Nonconformity.__tablename__, Ticket.__tablename__})
KEPT_COLUMNS = ("agency_id", "unit_id", "category_id", "last_closed", "size", "unlinked")
BULK_WRITTEN = "qms_runs_bulk_written"  # session.info: the agencies a bulk statement wrote, or None for all


def refresh_open_runs(connection, agencies=None) -> None:
    """The open runs of these agencies (ids; every agency's when None) read again from their
    NCs and tickets. On PostgreSQL the agencies' rows are locked first (FOR NO KEY UPDATE, which
    no insert referring to them waits for): two transactions refreshing one agency's runs take
    turns, and the second reads what the first committed."""
    from app.tickets.services import open_run_rows

    table = OpenRun.__table__
    agencies = sorted(agencies) if agencies is not None else None
    if connection.dialect.name == "postgresql":
        lock = select(Agency.id).order_by(Agency.id).with_for_update(key_share=True)
        connection.execute(lock.where(Agency.id.in_(agencies)) if agencies is not None else lock).all()
    connection.execute(delete(table).where(table.c.agency_id.in_(agencies)) if agencies is not None else delete(table))
    connection.execute(insert(table).from_select(KEPT_COLUMNS, open_run_rows(agencies)))


def _values(record, name: str) -> set | None:
    """The attribute's values before and after the flush; None when it was not loaded."""
    history = inspect(record).attrs[name].history
    if history.empty():
        return None
    return {value for value in chain(history.added, history.deleted, history.unchanged) if value is not None}


def _changed(session, record, columns) -> bool:
    """Added, removed, or one of `columns` changed (after_flush still sees the flush's lists)."""
    if record in session.new or record in session.deleted:
        return True
    state = inspect(record)
    return any(state.attrs[name].history.has_changes() for name in columns)


def _may_close_a_run(ticket) -> bool:
    """Whether the ticket closes a run (CLOSES_A_RUN) before or after the flush."""
    before, after = {}, {}
    state = inspect(ticket)
    for column, _ in CLOSES_A_RUN:
        history = state.attrs[column].history
        before[column] = (history.deleted or history.unchanged or [None])[0]
        after[column] = (history.added or history.unchanged or [None])[0]
    return any(all(values[column] == value for column, value in CLOSES_A_RUN) for values in (before, after))


def _scope_agencies() -> list | None:
    scope = current_scope()
    return [scope] if isinstance(scope, int) else None


@event.listens_for(Session, "after_flush")
def _refresh_after_flush(session, flush_context) -> None:
    agencies: set | None = set()
    for record in chain(session.new, session.dirty, session.deleted):
        if isinstance(record, Nonconformity):
            moved = _changed(session, record, NC_RUN_COLUMNS)
        elif isinstance(record, Ticket):
            moved = _changed(session, record, TICKET_RUN_COLUMNS) and _may_close_a_run(record)
        else:
            continue
        if moved:
            found = _values(record, "agency_id")
            if found is None:  # not loaded: the scope's agency, or every agency
                scope = _scope_agencies()
                agencies = None if scope is None else agencies | set(scope)
                if agencies is None:
                    break
            else:
                agencies |= found
    if agencies is None or agencies:
        refresh_open_runs(session.connection(), agencies)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_writes(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete) or getattr(state.statement.table, "name", None) not in WRITTEN_TABLES:
        return
    info = state.session.info
    written, scope = info.get(BULK_WRITTEN, set()), _scope_agencies()
    info[BULK_WRITTEN] = None if written is None or scope is None else written | set(scope)


@event.listens_for(Session, "before_commit")
def _refresh_after_bulk_writes(session) -> None:
    if BULK_WRITTEN in session.info:
        refresh_open_runs(session.connection(), session.info.pop(BULK_WRITTEN))


@event.listens_for(Session, "after_rollback")
def _forget_bulk_writes(session) -> None:
    session.info.pop(BULK_WRITTEN, None)
