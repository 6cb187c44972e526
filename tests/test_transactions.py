"""How a request's transaction ends (app.transactions): a request that wrote nothing ends it
with COMMIT, so that psycopg keeps the statements it prepared (it forgets them all at every
ROLLBACK, and PostgreSQL plans an unprepared statement anew each time); a request that wrote
and did not commit, or failed, is still rolled back."""
import logging

import sqlalchemy as sa
from flask import g

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
