"""A pooled connection is checked before use only when it has been idle a while
(app.transactions.IDLE_BEFORE_CHECK): pool_pre_ping's round trip on every request was 0.6 ms of
an 8 ms list page. A connection the database closed while it was idle (a restart, an idle
timeout) is still replaced before a page uses it."""
import os

import pytest
import sqlalchemy as sa

from app import transactions
from app.extensions import db


def _pings(app, monkeypatch) -> list:
    with app.app_context():
        dialect = db.engine.dialect
    pinged = []
    real = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda connection: pinged.append(connection) or real(connection))
    return pinged


def test_a_connection_used_just_before_is_not_checked_again(app, as_iso_leader, monkeypatch):
    with app.app_context():
        assert not db.engine.pool._pre_ping  # no round trip before every request
    as_iso_leader.get("/notifications/")
    pinged = _pings(app, monkeypatch)
    monkeypatch.setattr(transactions, "IDLE_BEFORE_CHECK", 60.0)  # "just before", however slow the machine
    for _ in range(3):
        assert as_iso_leader.get("/notifications/").status_code == 200
    assert pinged == []


def test_a_connection_left_idle_is_checked_before_use(app, as_iso_leader, monkeypatch):
    as_iso_leader.get("/notifications/")
    pinged = _pings(app, monkeypatch)
    monkeypatch.setattr(transactions, "IDLE_BEFORE_CHECK", 0.0)
    assert as_iso_leader.get("/notifications/").status_code == 200
    assert pinged


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="a server that closes connections: PostgreSQL")
def test_a_connection_the_database_closed_while_idle_is_replaced_before_a_page_uses_it(
        app, as_iso_leader, monkeypatch):
    as_iso_leader.get("/notifications/")
    with app.app_context():
        engine = db.engine
        idle = [record.dbapi_connection.info.backend_pid for record in list(engine.pool._pool.queue)]
    assert idle
    killer = sa.create_engine(os.environ["DATABASE_URL"])
    with killer.begin() as c:
        for pid in idle:
            assert c.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    killer.dispose()
    monkeypatch.setattr(transactions, "IDLE_BEFORE_CHECK", 0.0)  # as after a second of quiet
    for _ in range(len(idle) + 1):
        page = as_iso_leader.get("/notifications/")
        assert page.status_code == 200, page.status_code
