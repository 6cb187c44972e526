"""Background jobs (issue 14 item 11): RQ on Redis when QMS_QUEUE_URL is set, inline after the
commit otherwise; a job runs as the agency that enqueued it."""
import os

import pytest

from tests.conftest import empty_redis, work
from tests.test_webhooks import deliveries, verify

CALLS = []


def record_call(*args):
    """A job for these tests: notes its arguments and the agency it runs as."""
    from app.tenancy import current_scope

    CALLS.append((current_scope(), args))
    return [current_scope(), list(args)]


def failing_job():
    raise RuntimeError("hỏng có chủ ý")


@pytest.fixture
def calls():
    """CALLS of the module as jobs import it (pytest may have imported this file under another name)."""
    import importlib

    recorded = importlib.import_module("tests.test_jobs").CALLS
    recorded.clear()
    yield recorded
    recorded.clear()


def _camlam_id(db):
    from app.organisation.models import Agency
    from app.tenancy import ALL, agency_scope

    with agency_scope(ALL):
        return db.session.query(Agency).filter_by(code="CAMLAM").one().id


def test_a_job_waits_for_the_commit_and_runs_as_the_agency(db, calls):
    from app import jobs
    from app.tickets.models import NcCategory

    db.session.add(NcCategory(name="Loại thử việc nền", active=True))
    jobs.enqueue("tests.test_jobs.record_call", 1, "hai")
    assert calls == []  # not before the commit
    db.session.commit()
    assert calls == [(_camlam_id(db), (1, "hai"))]
    db.session.query(NcCategory).filter_by(name="Loại thử việc nền").delete()
    db.session.commit()


def test_a_rolled_back_job_never_runs(db, calls):
    from app import jobs
    from app.tickets.models import NcCategory

    db.session.add(NcCategory(name="Loại bị hủy", active=True))
    db.session.flush()
    jobs.enqueue("tests.test_jobs.record_call", 3)
    db.session.rollback()
    db.session.commit()
    assert calls == []


def test_with_nothing_to_commit_a_job_runs_at_once_and_a_failure_is_only_logged(db, calls, caplog):
    from app import jobs

    db.session.commit()
    jobs.enqueue("tests.test_jobs.record_call", 4)
    assert calls == [(_camlam_id(db), (4,))]
    jobs.enqueue("tests.test_jobs.failing_job")  # inline: logged, never raised into the request
    assert "tests.test_jobs.failing_job" in caplog.text


def test_with_a_queue_the_request_only_enqueues_and_the_worker_delivers(job_queue, receiver, webhook, make_ticket,
                                                                        db):
    ticket = make_ticket(state="unit_review")
    assert receiver.received == []  # nothing sent while the transition was taken
    [delivery] = deliveries(db, webhook)
    assert delivery.status == "pending" and job_queue.count == 1
    [job] = job_queue.jobs
    assert job.retries_left == 5 and job.retry_intervals == [10, 30, 60, 300, 900]
    work(job_queue)
    [(headers, body)] = receiver.received
    assert verify(headers, body) and headers["X-QMS-Event"] == "transition"
    [delivery] = deliveries(db, webhook)
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert str(ticket.id) in delivery.payload


def test_a_failed_delivery_is_retried_with_backoff(job_queue, receiver, webhook, make_ticket, db):
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    receiver.status = 500
    make_ticket(state="unit_review")
    [job] = job_queue.jobs
    work(job_queue)
    [delivery] = deliveries(db, webhook)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 500)
    job = Job.fetch(job.id, connection=job_queue.connection)
    assert job.get_status() == "scheduled" and job.retries_left == 4
    assert job.id in ScheduledJobRegistry(queue=job_queue).get_job_ids()


def test_failed_jobs_are_listed_and_retried_from_the_command_line(app, job_queue):
    job_queue.enqueue("app.jobs.run_job", "tests.test_jobs.failing_job", "all", [])
    work(job_queue)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["qms", "jobs", "failed"])
    assert listed.exit_code == 0, listed.output
    assert "hỏng có chủ ý" in listed.output and "Tổng cộng 1 việc thất bại" in listed.output
    retried = runner.invoke(args=["qms", "jobs", "failed", "--retry", "all"])
    assert retried.exit_code == 0 and "Đã đưa lại 1 việc" in retried.output
    assert job_queue.count == 1


def test_the_worker_command_needs_a_queue(app, monkeypatch):
    monkeypatch.setitem(app.config, "QMS_QUEUE_URL", "")
    result = app.test_cli_runner().invoke(args=["qms", "worker", "--burst"])
    assert result.exit_code != 0 and "QMS_QUEUE_URL" in result.output


def test_the_worker_command_runs_the_queue(app, job_queue):
    job = job_queue.enqueue("app.jobs.run_job", "tests.test_jobs.record_call", 7, [8])
    result = app.test_cli_runner().invoke(args=["qms", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert job.return_value(refresh=True) == [7, [8]]  # ran (in the worker's own process) as agency 7


def test_the_admin_sees_and_retries_the_agency_s_failed_jobs(app, job_queue, client_as_user, db):
    from tests.conftest import csrf_token

    own = job_queue.enqueue("app.jobs.run_job", "tests.test_jobs.failing_job", _camlam_id(db), [])
    other = job_queue.enqueue("app.jobs.run_job", "tests.test_jobs.failing_job", _camlam_id(db) + 1000, [])
    work(job_queue)
    admin = client_as_user("admin")
    page = admin.get("/jobs/failed/")
    assert page.status_code == 200
    assert own.id in page.text and other.id not in page.text and "hỏng có chủ ý" in page.text
    token = csrf_token(page.text)
    assert admin.post("/jobs/failed/retry", data={"job_id": other.id, "csrf_token": token}).status_code == 404
    assert admin.post("/jobs/failed/retry", data={"job_id": own.id, "csrf_token": token}).status_code == 302
    assert job_queue.job_ids == [own.id]
    assert client_as_user("canbo.ktht").get("/jobs/failed/").status_code in (302, 403)


def test_without_a_queue_the_failed_jobs_page_says_jobs_run_inline(client_as_user):
    page = client_as_user("admin").get("/jobs/failed/")
    assert page.status_code == 200 and "QMS_QUEUE_URL" in page.text


def test_a_queue_that_cannot_be_reached_never_fails_the_request(app, monkeypatch, receiver, webhook, make_ticket,
                                                               db, caplog):
    monkeypatch.setitem(app.config, "QMS_QUEUE_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    ticket = make_ticket(state="unit_review")
    db.session.expire_all()
    assert ticket.state == "unit_review" and receiver.received == []
    [delivery] = deliveries(db, webhook)
    assert delivery.status == "pending" and "Could not enqueue" in caplog.text


# --- the sweep: deliveries left pending when the queue was away ---------------------------

SWEEP_QUEUE_URL = os.environ.get("QMS_TEST_SWEEP_URL", "redis://127.0.0.1:6379/12")  # its own, emptied by this test


@pytest.fixture
def sweep_redis():
    connection = empty_redis(SWEEP_QUEUE_URL)
    yield connection
    connection.flushdb()


def test_the_sweep_re_enqueues_deliveries_the_queue_missed_once(app, monkeypatch, sweep_redis, receiver, webhook,
                                                                api, unit, db):
    import datetime

    from app.tickets.models import NcCategory

    monkeypatch.setitem(app.config, "QMS_QUEUE_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    category = db.session.query(NcCategory).first()
    created = api("canbo.ktht").post("/api/v1/nonconformities/", json={
        "unit": unit("KTHT").id, "detected_on": datetime.date.today().isoformat(),
        "description": "KPH khi hàng đợi vắng", "source": "feedback", "category": category.id})
    assert created.status_code == 201, created.text
    [delivery] = deliveries(db, webhook)
    assert (delivery.status, delivery.attempts) == ("pending", 0) and receiver.received == []

    monkeypatch.setitem(app.config, "QMS_QUEUE_URL", SWEEP_QUEUE_URL)
    runner = app.test_cli_runner()
    from app import jobs

    with app.app_context():
        queue = jobs.queue()
    young = runner.invoke(args=["qms", "jobs", "sweep"])  # within the grace period: the queue may still have it
    assert young.exit_code == 0, young.output
    assert queue.count == 0 and "0" in young.output

    delivery.created_at -= datetime.timedelta(minutes=3)
    db.session.commit()
    swept = runner.invoke(args=["qms", "jobs", "sweep"])
    assert swept.exit_code == 0, swept.output
    assert "Đã đưa lại 1 " in swept.output and queue.count == 1
    again = runner.invoke(args=["qms", "jobs", "sweep"])  # still queued: not twice
    assert again.exit_code == 0 and queue.count == 1 and "Đã đưa lại 0 " in again.output

    work(queue)
    [(headers, body)] = receiver.received
    assert verify(headers, body) and headers["X-QMS-Event"] == "nonconformity_created"
    [delivery] = deliveries(db, webhook)
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    last = runner.invoke(args=["qms", "jobs", "sweep"])
    assert last.exit_code == 0 and "Đã đưa lại 0 " in last.output and queue.count == 0
    assert len(receiver.received) == 1


def test_a_worker_stops_at_once_when_its_listener_already_heard_the_unsubscribe(job_queue):
    """RQ's worker listens for commands in a thread that sleeps up to 60 s when it is not
    subscribed, and at its end unsubscribes then stops that thread. redis-py 8.2's stop() waits
    for the thread with no limit, so a listener that heard the unsubscribe first kept a burst
    worker (and every queue test) waiting 60 s; RQ bounds that wait to 1 s with redis < 8.2."""
    import threading
    import time

    from rq import SimpleWorker

    worker = SimpleWorker([job_queue], connection=job_queue.connection)
    worker.subscribe()
    worker.pubsub.unsubscribe()
    time.sleep(0.5)  # the listener reads the reply and goes to sleep, not subscribed
    stopping = threading.Thread(target=worker.unsubscribe, daemon=True)
    stopping.start()
    stopping.join(timeout=10)
    assert not stopping.is_alive(), "the worker waited for its listener's 60-second sleep"
