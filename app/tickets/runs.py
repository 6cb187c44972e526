"""The open runs of NCs (models.OpenRun), kept in the transaction that moves them.

The recurrence rule (5.2.2, SPEC §2) counts, for each unit and NC category, the NCs detected
since its last effective corrective action closed. Read from the NCs themselves, that cost the
home page about 1.7 ms of its figures' statement at 5 000 NCs, and the compliance board 45 to
60 ms for the 25 agencies of a page at a province's volume (every agency's 1.5 million NCs when
sorted by it). Kept in OpenRun, each figure reads a few rows.

A transaction that can move a run notes the agencies it touches; when it commits, their runs are
read again from their NCs and tickets (tickets.services.open_run_rows), just before the COMMIT
(so the agency's lock, below, is held for milliseconds, not while a closing's PDF is signed):
- an ORM flush that adds, removes or changes an NC (its unit, category, detection date, ticket
  or agency), or changes a ticket that closes a run (CLOSES_A_RUN) before or after the change:
  the agencies of those records;
- a statement run through the session that writes the NC or ticket table (a bulk insert,
  update or delete: the retention archive, the tests' volumes): the agencies of the rows it
  inserts, else the agency of the scope, or every agency outside one (such a statement writes
  within its scope, as the archive does, by key).
A rollback forgets the notes (a savepoint's rollback keeps the outer transaction's). Within the
transaction, before its commit, the runs are those of its start. Writes on a bare connection (the
benchmark's bulk load, a migration) call refresh_open_runs themselves.
"""
from itertools import chain

from sqlalchemy import delete, event, inspect, insert, select
from sqlalchemy.orm import Session

from app.organisation.models import Agency
from app.tenancy import current_scope
from app.tickets.models import CLOSES_A_RUN, Nonconformity, OpenRun, Ticket

# what a run is read from: the columns, and the relations that set them when the flush runs
NC_RUN_COLUMNS = ("unit_id", "category_id", "detected_on", "ticket_id", "agency_id", "unit", "category", "ticket")
TICKET_RUN_COLUMNS = ("requesting_unit_id", "closed_on", "agency_id", "requesting_unit",
                      *(column for column, _ in CLOSES_A_RUN))
WRITTEN_TABLES = frozenset({Nonconformity.__tablename__, Ticket.__tablename__})
KEPT_COLUMNS = ("agency_id", "unit_id", "category_id", "last_closed", "size", "unlinked")
MOVED = "qms_runs_moved"  # session.info: the agencies whose runs this transaction moved, or None for all


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
    """Whether the ticket closes a run (CLOSES_A_RUN) before or after the flush; a value set on
    an expired record has no known "before" (it may have closed one)."""
    before, after = {}, {}
    state = inspect(ticket)
    for column, _ in CLOSES_A_RUN:
        history = state.attrs[column].history
        if history.added and not (history.deleted or history.unchanged) and ticket not in state.session.new:
            return True
        before[column] = (history.deleted or history.unchanged or [None])[0]
        after[column] = (history.added or history.unchanged or [None])[0]
    return any(all(values[column] == value for column, value in CLOSES_A_RUN) for values in (before, after))


def _note(session, agencies) -> None:
    """Note these agencies (None: every agency) for the refresh at commit."""
    noted = session.info.get(MOVED, set())
    session.info[MOVED] = None if noted is None or agencies is None else noted | set(agencies)


def _scope_agencies() -> list | None:
    scope = current_scope()
    return [scope] if isinstance(scope, int) else None


@event.listens_for(Session, "after_flush")
def _note_flushed_moves(session, flush_context) -> None:
    for record in chain(session.new, session.dirty, session.deleted):
        if isinstance(record, Nonconformity):
            moved = _changed(session, record, NC_RUN_COLUMNS)
        elif isinstance(record, Ticket):
            moved = _changed(session, record, TICKET_RUN_COLUMNS) and _may_close_a_run(record)
        else:
            continue
        if moved:
            found = _values(record, "agency_id")  # None when not loaded: the scope's agency, or every agency
            _note(session, found if found is not None else _scope_agencies())


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_writes(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete) \
            or getattr(state.statement.table, "name", None) not in WRITTEN_TABLES:
        return
    rows = state.parameters if isinstance(state.parameters, list) else [state.parameters or {}]
    inserted = {row.get("agency_id") for row in rows} if state.is_insert else {None}
    _note(state.session, _scope_agencies() if None in inserted else inserted)


@event.listens_for(Session, "before_commit")
def _refresh_moved_runs(session) -> None:
    session.flush()  # the commit's own flush comes after this hook: its moves are noted first
    if MOVED in session.info:
        refresh_open_runs(session.connection(), session.info.pop(MOVED))


@event.listens_for(Session, "after_soft_rollback")
def _forget_moves(session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(MOVED, None)
