"""The open runs of NCs kept in OpenRun (app.tickets.runs) stay, after every kind of change,
exactly those read from the NCs and tickets: the home page, the compliance board and the
recurring series read them."""
import datetime

import pytest
import sqlalchemy as sa

from app.tickets import services
from app.tickets.models import NcCategory, Nonconformity, OpenRun, Ticket
from tests.conftest import assert_runs_kept, demo_agency
from tests.test_concurrency import postgresql_only, run_together

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
    kept = db.session.connection
    assert_runs_kept(kept())  # as set up and as the demo left them
    ncs = [_nc(db, user, unit, category, offset) for offset in (1, 2, 3, 4)]
    db.session.flush()
    ktht = unit("KTHT").id
    assert _run(db, ktht, category.id) is None  # read again when the transaction commits
    db.session.commit()
    assert_runs_kept(kept())
    run = _run(db, ktht, category.id)
    assert (run.size, run.unlinked, run.last_closed) == (4, 4, None)

    ncs[1].unit_id = unit("TNMT").id  # each column the rule reads
    db.session.commit()
    assert_runs_kept(kept())
    assert _run(db, ktht, category.id).size == 3 and _run(db, unit("TNMT").id, category.id).size == 1
    other = NcCategory(name="Kiểm thử chuỗi khác", active=True)
    db.session.add(other)
    db.session.flush()
    ncs[1].category_id = other.id
    db.session.commit()
    assert_runs_kept(kept())
    assert _run(db, unit("TNMT").id, category.id) is None  # a pair with no NC has no run

    ticket = make_ticket()  # a corrective draft of the unit, linked to two of its NCs
    services.link_nonconformity(user("canbo.ktht"), ticket.id, ncs[2].id)
    ncs[3].ticket = db.session.get(Ticket, ticket.id)  # the relation alone: its column is set by the flush
    db.session.commit()
    assert_runs_kept(kept())
    assert _run(db, ktht, category.id).unlinked == 1

    ticket = db.session.get(Ticket, ticket.id)
    ticket.state, ticket.closed_on = "closed", DAY + datetime.timedelta(days=10)  # closes the run
    db.session.commit()
    assert_runs_kept(kept())
    assert _run(db, ktht, category.id) is None
    ncs[0].detected_on = DAY + datetime.timedelta(days=12)  # detected after the closing: a new run
    db.session.commit()
    assert_runs_kept(kept())
    assert (_run(db, ktht, category.id).size, _run(db, ktht, category.id).last_closed) == (1, ticket.closed_on)
    ticket.closed_on = DAY + datetime.timedelta(days=15)  # the closing's day alone
    db.session.commit()
    assert_runs_kept(kept())
    assert _run(db, ktht, category.id) is None
    db.session.expire(ticket)  # set without its earlier value loaded: it may have closed the run
    ticket.kind = "preventive"  # no longer a corrective action: the run reaches back again
    db.session.commit()
    assert_runs_kept(kept())
    assert _run(db, ktht, category.id).size == 3
    ticket.kind = "corrective"
    ticket.requesting_unit_id = unit("TNMT").id  # the closing counts for its requesting unit
    db.session.commit()
    assert_runs_kept(kept())

    db.session.delete(ncs[0])
    db.session.commit()
    assert_runs_kept(kept())


def _bulk_rows(agency, unit_id, category_id, count, text="KPH loạt"):
    return [{"agency_id": agency, "unit_id": unit_id, "category_id": category_id, "source": "other",
             "detected_on": DAY + datetime.timedelta(days=k), "description": f"{text} {k}",
             "correction_done": False, "correction_checked": False, "beyond_authority": False,
             "created_on": datetime.datetime.now(), "updated_at": datetime.datetime.now()} for k in range(count)]


def test_bulk_statements_refresh_the_agencys_runs_when_they_commit(db, user, unit, category):
    ktht, agency = unit("KTHT").id, unit("KTHT").agency_id
    db.session.execute(sa.insert(Nonconformity), _bulk_rows(agency, ktht, category.id, 6))
    db.session.commit()
    assert_runs_kept(db.session.connection())
    assert _run(db, ktht, category.id).size == 6
    db.session.execute(sa.update(Nonconformity.__table__).where(Nonconformity.__table__.c.category_id == category.id)
                       .values(detected_on=DAY))
    db.session.execute(sa.delete(Nonconformity).where(Nonconformity.description == "KPH loạt 0"))
    db.session.commit()
    assert_runs_kept(db.session.connection())
    assert _run(db, ktht, category.id).size == 5

    # a savepoint rolled back keeps what the transaction around it wrote before it
    db.session.execute(sa.delete(Nonconformity).where(Nonconformity.description == "KPH loạt 1"))
    try:
        with db.session.begin_nested():
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    db.session.commit()
    assert_runs_kept(db.session.connection())
    assert _run(db, ktht, category.id).size == 4


def test_rows_inserted_for_another_agency_refresh_that_agencys_runs(app, db, category):
    """A bulk insert is noted for the agencies of its rows, whatever the scope it runs in."""
    from app.organisation.models import Unit

    with demo_agency(app, "CAMHIEP"):
        unit_id, agency = db.session.execute(sa.select(Unit.id, Unit.agency_id).order_by(Unit.id)).first()
    db.session.execute(sa.insert(Nonconformity), _bulk_rows(agency, unit_id, category.id, 2, "KPH cơ quan khác"))
    db.session.commit()
    assert_runs_kept(db.session.connection())
    with demo_agency(app, "CAMHIEP"):
        assert db.session.get(OpenRun, (unit_id, category.id)).size == 2
        db.session.execute(sa.delete(Nonconformity).where(Nonconformity.description.startswith("KPH cơ quan khác")))
        db.session.commit()
        assert_runs_kept(db.session.connection())


def test_an_nc_and_its_category_leave_together(db, user, unit, category):
    """The run of the last NCs of a category goes with the category (its key cascades), and
    the runs are read again at commit."""
    other = NcCategory(name="Kiểm thử chuỗi bỏ", active=True)
    db.session.add(other)
    db.session.flush()
    nc = _nc(db, user, unit, other, 1)
    db.session.commit()
    assert _run(db, unit("KTHT").id, other.id).size == 1
    db.session.delete(nc)
    db.session.delete(other)
    db.session.commit()
    assert_runs_kept(db.session.connection())


def test_the_recurring_figures_read_the_kept_runs(db, user, unit, category):
    for offset in range(1, 6):
        _nc(db, user, unit, category, offset)
    db.session.commit()
    leader, staff = user("truongban.iso"), user("canbo.ktht")
    for person in (leader, staff):  # the leader's from the kept runs, the staff member's from the NCs
        series = [s for s in services.recurring_series(person) if s["category"].id == category.id]
        assert len(series) == 1 and series[0]["size"] == 5 and len(series[0]["nonconformities"]) == 5
    assert services.count_recurring(leader) >= services.count_recurring(staff) >= 1


@postgresql_only
def test_two_transactions_adding_ncs_at_once_both_keep_the_runs(app, db, user, unit, category):
    """Each refresh locks its agency's row first: the second waits for the first, then reads
    its NCs too (without the lock, the second's insert of the same run would fail)."""
    ktht, admin = unit("KTHT").id, user("admin").id

    def add(offset):
        def job():
            db.session.add(Nonconformity(unit_id=ktht, category_id=category.id, source="other",
                                         detected_on=DAY + datetime.timedelta(days=offset),
                                         description=f"KPH cùng lúc {offset}", created_by_id=admin))
            db.session.commit()
        return job

    assert run_together(app, [add(1), add(2)]) == [None, None]
    db.session.rollback()
    assert_runs_kept(db.session.connection())
    assert _run(db, ktht, category.id).size == 2
