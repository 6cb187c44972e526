"""Two users at the same moment, on PostgreSQL (SQLite serialises writers by itself), and
the numbers each agency gives: its own series of tickets, minutes and notices per year."""
import datetime
import os
import threading

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.tickets import services
from app.tickets.models import Ticket, TicketCounter
from tests.conftest import demo_agency

postgresql_only = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
    reason="concurrency is tested on PostgreSQL (CI runs the suite there)",
)


def run_together(app, jobs, agencies=None):
    """Run each job in its own thread, app context and database session, all at once; job i
    works as the demo agency agencies[i] (by default UBND huyện Cam Lâm). A thread waits for
    the others holding no connection (the agency's look-up gives its own back), so more jobs
    than the pool's connections only queue for one."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)
    agencies = agencies or ["CAMLAM"] * len(jobs)

    def worker(index, job):
        with demo_agency(app, agencies[index]):
            db.session.close()
            try:
                barrier.wait(60)
                results[index] = job()
            except Exception as error:  # collected, asserted by the test
                db.session.rollback()
                results[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@postgresql_only
def test_numbers_are_unique_and_consecutive_when_a_year_starts(app):
    def take_number():
        number = services.next_number(2099)
        db.session.commit()
        return number

    results = run_together(app, [take_number] * 8)
    assert sorted(results) == list(range(1, 9)), results


@postgresql_only
def test_simultaneous_submissions_get_consecutive_numbers(app, make_ticket, user):
    drafts = [make_ticket(description=f"Nộp đồng thời {i}") for i in range(6)]
    ids = [t.id for t in drafts]
    creator_id = user("canbo.ktht").id

    def submit(ticket_id):
        def job():
            from app.organisation.models import QmsUser

            actor = db.session.get(QmsUser, creator_id)
            return services.apply_transition(actor, ticket_id, "submit", {}).number
        return job

    numbers = run_together(app, [submit(i) for i in ids])
    assert all(isinstance(n, int) for n in numbers), numbers
    assert sorted(numbers) == list(range(min(numbers), min(numbers) + 6))


@postgresql_only
def test_two_users_acting_at_once_cannot_both_succeed(app, make_ticket, user, db):
    ticket = make_ticket(state="unit_review")
    head_id, version = user("truongphong.ktht").id, ticket.version

    def act(name, fields):
        def job():
            from app.organisation.models import QmsUser

            actor = db.session.get(QmsUser, head_id)
            return services.apply_transition(actor, ticket.id, name, fields, version).state
        return job

    results = run_together(app, [
        act("forward", {"signs": ["serious"]}),
        act("decline", {"reason": "Không cần hành động"}),
    ])
    succeeded = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, services.Conflict)]
    assert len(succeeded) == 1 and len(refused) == 1, results
    db.session.expire_all()
    fresh = db.session.get(Ticket, ticket.id)
    assert fresh.state == succeeded[0]
    assert [e.name for e in fresh.events].count("forward") + [e.name for e in fresh.events].count("decline") == 1


# --- numbers per agency ----------------------------------------------------------------

def _person(username):
    from app.organisation.models import QmsUser

    return db.session.query(QmsUser).filter_by(username=username).one()


def _drafts(creator, unit_code, count, text="Hồ sơ trả trễ hạn"):
    """`count` draft tickets opened by `creator` for one unit of the current agency; their ids."""
    from app.organisation.models import Unit

    person = _person(creator)
    unit = db.session.query(Unit).filter_by(code=unit_code).one()
    tickets = [Ticket(kind="corrective", source="nonconforming_activity", requesting_unit_id=unit.id,
                      description=f"{text} {i}", requested_on=datetime.date.today(),
                      requester_id=person.id, created_by_id=person.id, state="draft")
               for i in range(count)]
    db.session.add_all(tickets)
    db.session.commit()
    return [t.id for t in tickets]


def _last_numbers(app, year):
    """{agency code: the last ticket number it gave in `year`}, read as the platform (no scope)."""
    from app.organisation.models import Agency
    from app.tenancy import ALL, agency_scope

    with app.app_context(), agency_scope(ALL):
        rows = db.session.execute(select(Agency.code, TicketCounter.last_number)
                                  .join(TicketCounter, TicketCounter.agency_id == Agency.id)
                                  .where(TicketCounter.year == year)).all()
        return dict(rows)


def test_the_agency_condition_reaches_the_counters_update(app):
    """numbering.py updates the counter with no agency in its WHERE: the query layer adds it
    to the ORM UPDATE … RETURNING (SQLite and PostgreSQL alike), so one agency's numbering
    never moves another agency's counter, whichever agency numbered last."""
    from app.organisation.models import Agency
    from app.tenancy import ALL, agency_named, agency_scope

    year = 2092
    with app.app_context():
        with agency_scope(ALL):
            ids = dict(db.session.execute(select(Agency.code, Agency.id)).all())
            db.session.execute(update(TicketCounter).where(TicketCounter.year == year).values(last_number=0))
            existing = set(db.session.scalars(select(TicketCounter.agency_id).where(TicketCounter.year == year)))
            db.session.add_all([TicketCounter(agency_id=ids[code], year=year, last_number=0)
                                for code in ("CAMLAM", "CAMHIEP") if ids[code] not in existing])
            db.session.commit()
        given = []
        for code in ["CAMHIEP", "CAMLAM", "CAMLAM", "CAMHIEP", "CAMLAM"]:
            with agency_named(code):
                given.append((code, services.next_number(year)))
                db.session.commit()
        with agency_named("CAMHIEP"):  # an UPDATE without the layer's condition would count both
            statement = update(TicketCounter).where(TicketCounter.year == year).values(
                last_number=TicketCounter.last_number).returning(TicketCounter.agency_id)
            assert db.session.execute(statement).scalars().all() == [ids["CAMHIEP"]]
            db.session.rollback()
    assert given == [("CAMHIEP", 1), ("CAMLAM", 1), ("CAMLAM", 2), ("CAMHIEP", 2), ("CAMLAM", 3)]
    assert _last_numbers(app, year) == {"CAMLAM": 3, "CAMHIEP": 2}


def test_each_agency_numbers_its_own_tickets_minutes_and_notices(app, monkeypatch):
    """A year's first ticket, minutes and notice of UBND xã Cam Hiệp are its 001 and 01,
    however many UBND huyện Cam Lâm numbered that year."""
    from app.reviews import services as reviews, workflow as review_workflow
    from app.tickets import workflow as ticket_workflow

    year = 2093
    for module in (ticket_workflow, review_workflow):  # the year the numbers are given in
        monkeypatch.setattr(module, "today", lambda: datetime.date(year, 3, 2))

    def submitted(creator, unit_code, count):
        return [services.apply_transition(_person(creator), ticket_id, "submit", {}).display_number
                for ticket_id in _drafts(creator, unit_code, count)]

    def notice(secretary, head, top):
        review = reviews.create_review(_person(secretary), "report", datetime.date(year, 1, 1),
                                       datetime.date(year, 6, 30))
        reviews.apply_transition(_person(secretary), review.id, "submit_report", {})
        reviews.apply_transition(_person(head), review.id, "approve_report", {})
        reviews.save_content(_person(secretary), review.id, {"general_conclusion": "HTQLCL phù hợp."})
        reviews.apply_transition(_person(secretary), review.id, "submit_notice", {})
        review = reviews.apply_transition(_person(top), review.id, "issue_notice", {})
        return review.display_number, review.notice_display_number

    with demo_agency(app, "CAMLAM"):
        lam_tickets = submitted("canbo.ktht", "KTHT", 3)
        lam_reviews = [notice("thuky.iso", "truongban.iso", "chutich") for _ in range(2)]
    with demo_agency(app, "CAMHIEP"):
        hiep_tickets = submitted("xa.canbo", "KT", 2)
        hiep_reviews = [notice("xa.thuky", "xa.truongban", "xa.chutich")]
    with demo_agency(app, "CAMLAM"):
        lam_tickets += submitted("canbo.ktht", "KTHT", 1)
        lam_reviews += [notice("thuky.iso", "truongban.iso", "chutich")]

    assert lam_tickets == [f"00{n}/{year}" for n in (1, 2, 3, 4)]
    assert hiep_tickets == [f"001/{year}", f"002/{year}"]
    assert lam_reviews == [("01/BB-BCĐ ISO", "01/TB-UBND"), ("02/BB-BCĐ ISO", "02/TB-UBND"),
                           ("03/BB-BCĐ ISO", "03/TB-UBND")]
    assert hiep_reviews == [("01/BB-BCĐ ISO", "01/TB-UBND")]
    assert _last_numbers(app, year) == {"CAMLAM": 4, "CAMHIEP": 2}


@postgresql_only
@pytest.mark.slow
def test_300_submissions_over_two_agencies_number_each_agency_without_gaps(app):
    """300 drafts of the two demo agencies submitted at once: each agency's numbers of the
    year run on from its last one, unique and without a gap. They go in waves (the app's
    connection pool holds 15), each wave mixing both agencies."""
    agencies = ["CAMLAM", "CAMHIEP"] * 150
    drafts = {}
    with demo_agency(app, "CAMLAM"):
        drafts["CAMLAM"] = _drafts("canbo.ktht", "KTHT", 150, "Nộp đồng thời")
    with demo_agency(app, "CAMHIEP"):
        drafts["CAMHIEP"] = _drafts("xa.canbo", "KT", 150, "Nộp đồng thời")
    creators = {"CAMLAM": "canbo.ktht", "CAMHIEP": "xa.canbo"}
    year = datetime.date.today().year
    before = _last_numbers(app, year)

    def numbered_of_commune():
        with demo_agency(app, "CAMHIEP"):
            return db.session.scalar(select(func.count()).select_from(Ticket).where(
                Ticket.year == year, Ticket.number.is_not(None)))

    numbered_before = numbered_of_commune()

    def submit(code, ticket_id):
        def job():
            ticket = services.apply_transition(_person(creators[code]), ticket_id, "submit", {})
            return code, ticket.year, ticket.number
        return job

    jobs = [submit(code, drafts[code][i // 2]) for i, code in enumerate(agencies)]
    results, wave = [], 30
    for start in range(0, len(jobs), wave):
        results += run_together(app, jobs[start:start + wave], agencies[start:start + wave])
    failed = [r for r in results if not isinstance(r, tuple)]
    assert not failed, failed[:3]
    for code in ("CAMLAM", "CAMHIEP"):
        numbers = sorted(n for c, y, n in results if c == code and y == year)
        last = before.get(code, 0)
        assert numbers == list(range(last + 1, last + 151)), code
    assert _last_numbers(app, year) == {code: before.get(code, 0) + 150 for code in ("CAMLAM", "CAMHIEP")}
    with demo_agency(app, "CAMHIEP"):
        stored = db.session.scalars(select(Ticket.number).where(Ticket.id.in_(drafts["CAMHIEP"]))).all()
        assert sorted(stored) == sorted(n for c, y, n in results if c == "CAMHIEP")
    assert numbered_of_commune() == numbered_before + 150
