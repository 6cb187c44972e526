"""How a request's transaction ends.

psycopg prepares a statement on its connection once it has run it five times, and PostgreSQL
then stops planning it each time (the signed-in user's statement, on every request, takes
1.7 ms to plan and 0.2 ms to run). But psycopg forgets every prepared statement at a ROLLBACK,
and Flask-SQLAlchemy ends every request with one: no statement stayed prepared. A request that
wrote nothing ends with COMMIT instead, which ends a transaction that only read in the same
way. A request that wrote without committing, left changes pending, or failed is rolled back
as before. This is done where Flask-SQLAlchemy ends the session, when the app context ends: in
a web request, at its end; where a test or a job runs requests inside an app context of its own,
when that one ends (the queue tests' worker otherwise waited 60 s).

On PostgreSQL a request reads outside any transaction (psycopg's autocommit): a page that only
reads sends its statements and nothing else, where BEGIN before the first and COMMIT after the
last were two more round trips (0.3 ms of a 3 ms page on the bench machine). Under READ
COMMITTED, PostgreSQL's level and ours, each statement sees what was committed when it starts,
in a transaction or not: the page reads the same. The first statement that needs a transaction
opens it before it runs: anything but a SELECT (a write, a SAVEPOINT, a SET), a SELECT that
locks (FOR UPDATE, FOR SHARE…), rows read in batches (a server-side cursor). The request's
writes stay one transaction, committed or rolled back as before. (A SELECT calling a function
whose effect lasts until the transaction ends, such as pg_advisory_xact_lock, would lose it:
the code has none.) Outside a request (commands, jobs run by the queue's worker) connections
work in transactions as before; one asked for SQLAlchemy's AUTOCOMMIT keeps it everywhere.
"""
import logging
import re
import time

from flask import Flask, has_request_context
from psycopg import ServerCursor
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError, InvalidatePoolError, SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.selectable import _OffsetLimitParam

from app.extensions import db

log = logging.getLogger(__name__)
WROTE = "qms_wrote"  # in the connection's info: a statement other than a SELECT ran in this transaction
RETURNED = "qms_returned"  # in the pool's record: (the connection, when it came back to the pool)
IDLE_BEFORE_CHECK = 1.0
"""Seconds a pooled connection may stay idle and still be used unchecked. pool_pre_ping asked
the database before every request whether the connection still worked (a round trip: 0.6 ms of
an 8 ms list page). A connection back in the pool for longer is asked before use, and replaced
if the database closed it (a restart, an idle timeout); one used less than a second ago is
taken as is: were the database restarted within that second, the request that takes it fails
as one running at the restart would, and SQLAlchemy then replaces every connection of the pool."""


_LOCKING_READ = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b", re.IGNORECASE)


def _note_writes(conn, cursor, statement, parameters, context, executemany) -> None:
    if statement.lstrip()[:6].upper() != "SELECT":
        conn.info[WROTE] = True


def _transaction_before_writing(conn, cursor, statement, parameters, context, executemany) -> None:
    """PostgreSQL: the connection leaves autocommit before a statement that needs a transaction
    (psycopg then sends BEGIN first) and stays in it until it goes back to the pool. Rows read in
    batches (yield_per) come from a server-side cursor, which lives in a transaction too."""
    dbapi_connection = cursor.connection
    if dbapi_connection.autocommit and (conn.info.get(WROTE) or _LOCKING_READ.search(statement)
                                        or isinstance(cursor, ServerCursor)) \
            and conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":  # asked for: kept
        dbapi_connection.autocommit = False


def _transaction_ended(conn) -> None:
    conn.info.pop(WROTE, None)


def end_reading_transaction(error=None) -> None:
    session = db.session()  # the app context's own Session
    if error is not None or not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    expire_on_commit = session.expire_on_commit
    session.expire_on_commit = False  # as Flask-SQLAlchemy's close: what was read stays loaded
    try:
        if not session.connection().info.get(WROTE):
            session.commit()
    except SQLAlchemyError as failure:  # the answer is already written: nothing was to be kept
        log.warning("Ending a read-only transaction failed: %s", type(failure).__name__)
        try:
            session.rollback()
        except SQLAlchemyError:  # the connection is gone: the pool replaces it
            pass
    finally:
        session.expire_on_commit = expire_on_commit


@compiles(_OffsetLimitParam, "postgresql")
def _page_bounds_written(bound, compiler, **kw):
    """A statement's LIMIT and OFFSET written into its text on PostgreSQL, not sent as
    parameters. A prepared statement's plan for any LIMIT assumes it keeps a tenth of the rows:
    PostgreSQL judged that plan costlier than one made for 25 rows and planned the statement
    anew on every run (the NC list's page: 1.3 ms to plan, 0.3 ms to run; tickets' page 1.2 ms).
    Each page of a list is then a statement of its own, planned once per connection like any."""
    return compiler.visit_bindparam(bound, **{**kw, "literal_execute": True})


def _returned(dbapi_connection, record) -> None:
    record.info[RETURNED] = (dbapi_connection, time.monotonic())


def _reads_in_autocommit(dbapi_connection, record, proxy) -> None:
    """PostgreSQL, at checkout: a request's connection reads in autocommit, a command's or a
    job's works in transactions. Changing the mode fails on a connection that is not idle (one
    the database lost): the pool takes another."""
    autocommit = has_request_context()
    if dbapi_connection.autocommit == autocommit:
        return
    try:
        dbapi_connection.autocommit = autocommit
    except Exception as error:  # noqa: BLE001 - whatever psycopg raises, the connection is unusable
        raise DisconnectionError("a pooled connection was not idle") from error


def _checked_when_idle(engine):
    def check(dbapi_connection, record, proxy) -> None:
        connection, returned = record.info.get(RETURNED, (None, None))
        if connection is not dbapi_connection or time.monotonic() - returned <= IDLE_BEFORE_CHECK:
            return  # new (just connected), or used just before
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - whatever the driver raises, the connection is unusable
            # the pool takes another connection; the others were most likely closed with this one
            raise InvalidatePoolError("the database closed an idle connection") from error
    return check


def init_app(app: Flask) -> None:
    """After db.init_app: Flask runs the app context's teardowns last registered first, so this
    one runs before Flask-SQLAlchemy's, which rolls back and closes the session."""
    with app.app_context():
        engine = db.engine
    if not event.contains(engine, "before_cursor_execute", _note_writes):
        event.listen(engine, "before_cursor_execute", _note_writes)
        event.listen(engine, "commit", _transaction_ended)
        event.listen(engine, "rollback", _transaction_ended)
        event.listen(engine, "checkin", _returned)
        if engine.dialect.driver == "psycopg":
            # after _note_writes, whose mark it reads; the mode set before the idle check, so
            # that its ping opens no transaction
            event.listen(engine, "before_cursor_execute", _transaction_before_writing)
            event.listen(engine, "checkout", _reads_in_autocommit)
        event.listen(engine, "checkout", _checked_when_idle(engine))
    app.teardown_appcontext(end_reading_transaction)
