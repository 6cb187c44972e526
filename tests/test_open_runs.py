"""The open runs of NCs kept in OpenRun (app.tickets.runs) stay, after every kind of change,
exactly those read from the NCs and tickets: the home page, the compliance board and the
recurring series read them."""
import datetime
import os
import threading

import pytest
import sqlalchemy as sa

from app.tickets import services
from app.tickets.models import NcCategory, Nonconformity, OpenRun, Ticket
from tests.conftest import assert_runs_kept, demo_agency

DAY = datetime.date.today() - datetime.timedelta(days=200)


@pytest.fixture
def category(db):
    """A new NC category; its NCs and it leave after the test (the NCs first: their runs go
    with them when that commits)."""
    made = []

    def make():
        made.append(NcCategory(name=f"Kiểm thử chuỗi mở {len(made) + 1}", active=True))
        db.session.add(made[-1])
        db.session.commit()
        return made[-1]

    yield make()
    db.session.rollback()
    ids = db.session.scalars(sa.select(NcCategory.id).where(NcCategory.name.startswith("Kiểm thử chuỗi"))).all()
    for nc in db.session.scalars(sa.select(Nonconformity).where(Nonconformity.category_id.in_(ids))):
        db.session.delete(nc)  # with its history
    db.session.commit()
    db.session.execute(sa.delete(NcCategory).where(NcCategory.id.in_(ids)))
    db.session.commit()


def _nc(db, user, unit, category, offset, unit_code="KTHT"):
    record = Nonconformity(unit_id=unit(unit_code).id, category_id=category.id, source="other",
                           detected_on=DAY + datetime.timedelta(days=offset), description=f"KPH {offset}",
                           created_by_id=user("admin").id)
    db.session.add(record)
    return record


def _run(db, unit_id, category_id):
    return db.session.get(OpenRun, (unit_id, category_id))


def test_the_kept_runs_follow_every_change_of_the_ncs_and_their_tickets(db, user, unit, category, make_ticket):
    assert_runs_kept(db.session.connection())  # as set up and as the demo left them
    ncs = [_nc(db, user, unit, category, offset) for offset in (1, 2, 3, 4)]
    db.session.flush()
    assert_runs_kept(db.session.connection())  # right after the flush, before the commit
    db.session.commit()
    tp = unit("KTHT").id
    run = _run(db, tp, category.id)
    assert (run.size, run.unlinked, run.last_closed) == (4, 4, None)

    ncs[0].detected_on = DAY - datetime.timedelta(days=30)  # each column the rule reads
    db.session.commit()
    assert_runs_kept(db.session.connection())
    ncs[1].unit_id = unit("TNMT").id
    db.session.commit()
    assert_runs_kept(db.session.connection())
    assert _run(db, tp, category.id).size == 3 and _run(db, unit("TNMT").id, category.id).size == 1
    other = NcCategory(name="Kiểm thử chuỗi khác", active=True)
    db.session.add(other)
    db.session.flush()
    ncs[1].category_id = other.id
    db.session.commit()
    assert_runs_kept(db.session.connection())
    assert _run(db, unit("TNMT").id, category.id) is None  # a pair with no NC has no run

    ticket = make_ticket()  # a corrective draft of the unit, linked to two of its NCs
    services.link_nonconformity(user("canbo.ktht"), ticket.id, ncs[2].id)
    ncs[3].ticket = db.session.get(Ticket, ticket.id)
    db.session.commit()
    assert_runs_kept(db.session.connection())
    assert _run(db, tp, category.id).unlinked == 1

    ticket = db.session.get(Ticket, ticket.id)
    ticket.state, ticket.closed_on = "closed", DAY + datetime.timedelta(days=10)  # closes the run
    db.session.commit()
    assert_runs_kept(db.session.connection())
    assert _run(db, tp, category.id) is None
    _nc(db, user, unit, category, 20)
    db.session.commit()
    assert (_run(db, tp, category.id).size, _run(db, tp, category.id).last_closed) == (1, ticket.closed_on)
    ticket.kind = "preventive"  # no longer a corrective action: the run reaches back again
    db.session.commit()
    assert_runs_kept(db.session.connection())
    assert _run(db, tp, category.id).size == 4
    ticket.kind = "corrective"
    ticket.requesting_unit_id = unit("TNMT").id  # the closing counts for its requesting unit
    db.session.commit()
    assert_runs_kept(db.session.connection())

    db.session.delete(ncs[0])
    db.session.commit()
    assert_runs_kept(db.session.connection())


def test_bulk_statements_refresh_the_agencys_runs_when_they_commit(db, user, unit, category):
    tp, agency = unit("KTHT").id, unit("KTHT").agency_id
    rows = [{"agency_id": agency, "unit_id": tp, "category_id": category.id, "source": "other",
             "detected_on": DAY + datetime.timedelta(days=k), "description": f"KPH loạt {k}",
             "correction_done": False, "correction_checked": False, "beyond_authority": False,
             "created_on": datetime.datetime.now(), "updated_at": datetime.datetime.now()} for k in range(6)]
    db.session.execute(sa.insert(Nonconformity), rows)
    db.session.commit()
    assert_runs_kept(db.session.connection())
    assert _run(db, tp, category.id).size == 6
    db.session.execute(sa.update(Nonconformity.__table__).where(Nonconformity.__table__.c.category_id == category.id)
                       .values(detected_on=DAY))
    db.session.execute(sa.delete(Nonconformity).where(Nonconformity.description == "KPH loạt 0"))
    db.session.commit()
    assert_runs_kept(db.session.connection())
    assert _run(db, tp, category.id).size == 5

    db.session.execute(sa.delete(Nonconformity).where(Nonconformity.category_id == category.id))
    db.session.rollback()  # nothing written: nothing to refresh at the next commit
    db.session.commit()
    assert _run(db, tp, category.id).size == 5
    assert_runs_kept(db.session.connection())


def test_the_recurring_figures_read_the_kept_runs_as_the_rule_reads_the_ncs(db, user, unit, category, count_queries):
    for offset in range(1, 6):
        _nc(db, user, unit, category, offset)
    db.session.commit()
    leader, staff = user("truongban.iso"), user("canbo.ktht")
    series = [s for s in services.recurring_series(leader) if s["category"].id == category.id]
    assert len(series) == 1 and series[0]["size"] == 5 and len(series[0]["nonconformities"]) == 5
    # someone who does not see every NC of the agency is counted from the NCs themselves
    assert services.count_recurring(staff) <= services.count_recurring(leader)


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="two writers at once: PostgreSQL")
def test_two_transactions_adding_ncs_at_once_both_keep_the_runs(app, category):
    """Each refresh locks its agency's row first: the second waits for the first, then reads
    its NCs too (without the lock, the second's insert of the same run would fail)."""
    from app.extensions import db
    from app.organisation.models import QmsUser, Unit

    errors, ready = [], threading.Barrier(2)

    def add(offset):
        try:
            with demo_agency(app):
                tp = db.session.scalar(sa.select(Unit).where(Unit.code == "KTHT"))
                admin = db.session.scalar(sa.select(QmsUser).where(QmsUser.username == "admin"))
                db.session.add(Nonconformity(unit_id=tp.id, category_id=category.id, source="other",
                                             detected_on=DAY + datetime.timedelta(days=offset),
                                             description=f"KPH cùng lúc {offset}", created_by_id=admin.id))
                ready.wait(timeout=10)
                db.session.commit()
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=add, args=(k,)) for k in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    with demo_agency(app):
        assert_runs_kept(db.session.connection())
        assert db.session.get(OpenRun, (db.session.scalar(sa.select(Unit.id).where(Unit.code == "KTHT")),
                                        category.id)).size == 2
