"""Two users at the same moment, on PostgreSQL (SQLite serialises writers by itself)."""
import os
import threading

import pytest

from app.extensions import db
from app.tickets import services
from app.tickets.models import Ticket
from tests.conftest import demo_agency

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
    reason="concurrency is tested on PostgreSQL (CI runs the suite there)",
)


def run_together(app, jobs):
    """Run each job in its own thread, app context and database session, all at once."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def worker(index, job):
        with demo_agency(app):
            barrier.wait()
            try:
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


def test_numbers_are_unique_and_consecutive_when_a_year_starts(app):
    def take_number():
        number = services.next_number(2099)
        db.session.commit()
        return number

    results = run_together(app, [take_number] * 8)
    assert sorted(results) == list(range(1, 9)), results


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
