"""How a request's transaction ends (app.transactions): a request that wrote nothing ends it
with COMMIT, so that psycopg keeps the statements it prepared (it forgets them all at every
ROLLBACK, and PostgreSQL plans an unprepared statement anew each time); a request that wrote
and did not commit, or failed, is still rolled back."""
import logging
import os

import pytest
import sqlalchemy as sa
from flask import g
from sqlalchemy.exc import OperationalError

from app.tenancy import agency_named
from tests.conftest import demo_agency


def _endings(app, run):
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    seen = []
    commit, rollback = (lambda conn: seen.append("commit")), (lambda conn: seen.append("rollback"))
    sa.event.listen(engine, "commit", commit)
    sa.event.listen(engine, "rollback", rollback)
    try:
        run()
    finally:
        sa.event.remove(engine, "commit", commit)
        sa.event.remove(engine, "rollback", rollback)
    return seen


def test_a_page_that_only_reads_ends_its_transaction_with_commit(app, client_as_user):
    client = client_as_user("truongban.iso")
    for page in ("/tickets/list/", "/nonconformities/list/", "/"):
        assert _endings(app, lambda: client.get(page)) == ["commit"], page


def _notification(db, subject):
    from app.organisation.models import QmsUser
    from app.reminders.models import Notification

    person = db.session.scalars(sa.select(QmsUser).filter_by(username="canbo.ktht")).one()
    return Notification(user_id=person.id, subject=subject, body="Kiểm thử")


def _kept(app, subject) -> int:
    from app.extensions import db
    from app.reminders.models import Notification

    with demo_agency(app):
        return db.session.scalar(sa.select(sa.func.count(Notification.id)).where(Notification.subject == subject))


def test_what_a_request_wrote_or_left_pending_without_committing_is_rolled_back(app):
    from app.extensions import db

    for subject, flushed in (("Ghi chưa lưu", True), ("Thêm chưa ghi", False)):
        def request():
            with app.test_request_context("/"), agency_named("CAMLAM"):  # the request's own session
                g.user = None
                db.session.scalar(sa.select(sa.func.count()).select_from(sa.table("unit")))  # a read first
                db.session.add(_notification(db, subject))
                if flushed:
                    db.session.flush()

        assert "commit" not in _endings(app, request), subject
        assert _kept(app, subject) == 0, subject


def test_a_failed_request_is_rolled_back(app):
    from app.extensions import db

    def request():
        try:
            with app.test_request_context("/"), agency_named("CAMLAM"):  # the request's own session
                g.user = None
                db.session.scalar(sa.select(sa.func.count()).select_from(sa.table("unit")))
                raise RuntimeError("hỏng giữa chừng")
        except RuntimeError:
            pass

    assert _endings(app, request) == ["rollback"]


def test_a_commit_that_fails_at_the_end_is_logged_not_raised(app, monkeypatch, caplog):
    """The answer is already written when the request ends: a failed COMMIT of a transaction
    that only read loses nothing, and is rolled back and logged, not turned into an error."""
    from sqlalchemy.exc import OperationalError

    from app.extensions import db

    caplog.set_level(logging.WARNING, logger="app.transactions")

    def request():
        with app.test_request_context("/"), agency_named("CAMLAM"):  # the request's own session
            g.user = None
            db.session.scalar(sa.select(sa.func.count()).select_from(sa.table("unit")))

            def broken():
                raise OperationalError("COMMIT", {}, Exception("connection lost"))

            monkeypatch.setattr(db.session(), "commit", broken)

    assert _endings(app, request) == ["rollback"]
    assert "Ending a read-only transaction failed: OperationalError" in caplog.text


# --- PostgreSQL: reading outside a transaction ---------------------------------------------

on_postgresql = pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                                   reason="psycopg's autocommit: PostgreSQL")


def _status(connection) -> str:
    """The server's transaction status of a session's or an engine's connection."""
    return connection.connection.dbapi_connection.info.transaction_status.name


def _statuses_while(app, run) -> list[str]:
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    seen = []

    def after(conn, cursor, statement, *args):
        seen.append(cursor.connection.info.transaction_status.name)

    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        run()
    finally:
        sa.event.remove(engine, "after_cursor_execute", after)
    return seen


@on_postgresql
def test_a_page_that_only_reads_opens_no_transaction(app, client_as_user):
    """No BEGIN before its first statement, no COMMIT after its last: two round trips fewer on
    every page (each statement of PostgreSQL's READ COMMITTED sees the data committed when it
    starts, in a transaction or not: the page reads the same)."""
    client = client_as_user("truongban.iso")
    for page in ("/tickets/list/", "/nonconformities/list/", "/", "/notifications/settings"):
        client.get(page)
        statuses = _statuses_while(app, lambda: client.get(page))
        assert statuses and set(statuses) == {"IDLE"}, (page, statuses)


@on_postgresql
def test_a_request_that_writes_does_it_in_one_transaction(app):
    """The first statement that writes opens the transaction; what the request wrote and left
    uncommitted is rolled back as one."""
    from app.extensions import db

    subject = "Hai dòng, một giao dịch"

    def request():
        with app.test_request_context("/"), agency_named("CAMLAM"):
            g.user = None
            db.session.scalar(sa.select(sa.func.count()).select_from(sa.table("unit")))
            assert _status(db.session.connection()) == "IDLE"
            db.session.add(_notification(db, subject))
            db.session.flush()
            assert _status(db.session.connection()) == "INTRANS"
            db.session.scalar(sa.select(sa.func.count()).select_from(sa.table("unit")))
            db.session.add(_notification(db, subject))
            db.session.flush()
            assert _kept(app, subject) == 0  # not yet visible to anyone else

    request()
    assert _kept(app, subject) == 0


@on_postgresql
def test_a_locking_read_in_a_request_holds_its_lock_until_the_request_ends(app, database_url):
    """Each way of locking a row, written by SQLAlchemy or by hand, as a request's first statement."""
    from app.extensions import db
    from app.organisation.models import Agency

    other = sa.create_engine(database_url)

    def try_lock(agency_id) -> bool:
        with other.connect() as c:
            try:
                c.execute(sa.text("SELECT id FROM agency WHERE id = :id FOR UPDATE NOWAIT"), {"id": agency_id})
                return True
            except OperationalError:
                return False

    with demo_agency(app):
        agency_id = db.session.scalar(sa.select(Agency.id).where(Agency.code == "CAMLAM"))
    by_id = sa.select(Agency.id).where(Agency.id == agency_id)
    locking_reads = [by_id.with_for_update(), by_id.with_for_update(read=True),
                     by_id.with_for_update(key_share=True), by_id.with_for_update(read=True, key_share=True),
                     sa.text("SELECT id FROM agency WHERE id = :id for share").bindparams(id=agency_id),
                     sa.text("select id from agency where id = :id for  no key update").bindparams(id=agency_id)]
    try:
        for statement in locking_reads:
            with app.test_request_context("/"), agency_named("CAMLAM"):
                g.user = None
                db.session.execute(statement)
                assert not try_lock(agency_id), str(statement)
            assert try_lock(agency_id)  # the request's end released it
    finally:
        other.dispose()


@on_postgresql
def test_a_savepoint_as_a_request_s_first_write_is_inside_its_transaction(app):
    from app.extensions import db

    subject = "Ghi trong điểm lưu"
    with app.test_request_context("/"), agency_named("CAMLAM"):
        g.user = None
        db.session.scalar(sa.select(sa.func.count()).select_from(sa.table("unit")))
        with db.session.begin_nested():
            db.session.add(_notification(db, subject))
        assert _status(db.session.connection()) == "INTRANS"
    assert _kept(app, subject) == 0  # the request ended without committing: rolled back


@on_postgresql
def test_a_connection_asked_to_autocommit_keeps_doing_so(app):
    """A statement that cannot run in a transaction (VACUUM, CREATE INDEX CONCURRENTLY in a
    migration's autocommit block) on a connection asked for SQLAlchemy's AUTOCOMMIT, in a
    request or not."""
    from app.extensions import db

    for in_request in (False, True):
        with (app.test_request_context("/") if in_request else app.app_context()):
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(sa.text("VACUUM unit"))


@on_postgresql
def test_outside_a_request_statements_run_in_a_transaction(app, client_as_user):
    """Commands and jobs are left as they were: a connection a page used is transactional again
    when a command takes it from the pool."""
    from app.extensions import db

    client_as_user("truongban.iso").get("/notifications/settings")  # the pool's connections served a page
    with app.app_context():
        db.session.scalar(sa.select(sa.func.count()).select_from(sa.table("unit")))
        assert _status(db.session.connection()) == "INTRANS"
        db.session.rollback()


@on_postgresql
def test_a_request_may_read_rows_in_batches(app):
    """Rows read in batches (yield_per) come from a server-side cursor, which lives in a
    transaction: the request opens one for it."""
    from app.extensions import db
    from app.organisation.models import Unit

    with app.test_request_context("/"), agency_named("CAMLAM"):
        g.user = None
        names = [unit.name for unit in db.session.scalars(sa.select(Unit).execution_options(yield_per=2))]
        assert len(names) > 2


@on_postgresql
def test_a_pooled_connection_that_cannot_leave_its_transaction_mode_is_replaced(app):
    """Changing psycopg's autocommit fails on a connection that is not idle (one the database
    lost mid-way): the pool is told to take another (DisconnectionError), not the page."""
    from types import SimpleNamespace

    import psycopg
    from sqlalchemy.exc import DisconnectionError

    from app import transactions

    class Lost:
        autocommit = False

        def __setattr__(self, name, value):
            raise psycopg.ProgrammingError("can't change 'autocommit' now: connection in transaction status UNKNOWN")

    with app.test_request_context("/"):
        with pytest.raises(DisconnectionError):
            transactions._reads_in_autocommit(Lost(), SimpleNamespace(info={}), None)
