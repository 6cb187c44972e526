"""Reminder digests on the job queue (issue 14 item 11): `remind()` only queues them, the worker
mails them; a failed mail is retried by the queue with backoff and never sent twice."""
import datetime
import socket


from app.reminders import services
from app.reminders.models import ReminderLog
from tests.conftest import work
from tests.test_reminders_overlap import _to

ADDRESS = "canbo.ktht@camlam.example.vn"


def _rows(db, day):
    db.session.expire_all()
    return db.session.query(ReminderLog).filter(ReminderLog.sent_on == day, ReminderLog.key.like("queue:%")).all()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_remind_queues_the_digest_and_the_worker_mails_it(app, db, smtp, leads, job_queue):
    day = datetime.date(2102, 1, 5)
    leads["canbo.ktht"] = [services.Lead("queue:1", "Phiếu Q1 quá hạn", "/tickets/show/1"),
                           services.Lead("queue:2", "Phiếu Q2 chờ duyệt", None)]
    stats = services.remind(day)
    assert (stats["emails"], stats["mail_failures"], stats["notifications"]) == (1, 0, 1)
    assert smtp.messages == []  # nothing sent by remind() itself
    [job] = job_queue.jobs
    assert job.description == "app.reminders.services.send_digest" and job.retries_left == 5
    assert [row.emailed for row in _rows(db, day)] == [False, False]

    work(job_queue)
    [message] = _to(smtp, ADDRESS)
    assert message["Date"] and message["Message-ID"]
    text = message.get_body(("plain",)).get_content()
    assert "- Phiếu Q1 quá hạn" in text and "- Phiếu Q2 chờ duyệt" in text
    assert all(row.emailed for row in _rows(db, day))

    again = services.remind(day)  # the same day again: nothing to queue
    assert again["emails"] == 0 and job_queue.count == 0
    work(job_queue)
    assert len(_to(smtp, ADDRESS)) == 1


def test_a_failed_digest_is_retried_by_the_queue_and_sent_once(app, db, smtp, leads, job_queue, monkeypatch):
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    day = datetime.date(2102, 1, 6)
    leads["canbo.ktht"] = [services.Lead("queue:3", "Phiếu Q3 quá hạn", None)]
    listening = app.config["MAIL_PORT"]
    monkeypatch.setitem(app.config, "MAIL_PORT", _closed_port())
    services.remind(day)
    [job] = job_queue.jobs
    work(job_queue)  # the SMTP server is away: the job fails and waits for its retry
    job = Job.fetch(job.id, connection=job_queue.connection)
    assert job.get_status() == "scheduled" and job.retries_left == 4
    assert job.id in ScheduledJobRegistry(queue=job_queue).get_job_ids()
    assert [row.emailed for row in _rows(db, day)] == [False]  # the rows were given back
    assert smtp.messages == []

    # a cron run meanwhile queues the same rows once more; the server is back
    assert services.remind(day)["emails"] == 1 and job_queue.count == 1
    monkeypatch.setitem(app.config, "MAIL_PORT", listening)
    ScheduledJobRegistry(queue=job_queue).remove(job)  # its backoff is over
    job_queue.enqueue_job(job)
    assert job_queue.count == 2
    work(job_queue)
    assert len(_to(smtp, ADDRESS)) == 1  # two jobs, one mail
    assert Job.fetch(job.id, connection=job_queue.connection).get_status() == "finished"
    assert [row.emailed for row in _rows(db, day)] == [True]


def test_inline_a_failed_digest_is_logged_and_sent_by_the_next_run(app, db, smtp, leads, monkeypatch, caplog):
    day = datetime.date(2102, 1, 7)
    leads["canbo.ktht"] = [services.Lead("queue:4", "Phiếu Q4 quá hạn", None)]
    listening = app.config["MAIL_PORT"]
    monkeypatch.setitem(app.config, "MAIL_PORT", _closed_port())
    failed = services.remind(day)
    assert (failed["emails"], failed["mail_failures"]) == (0, 1)
    assert "app.reminders.services.send_digest" in caplog.text
    assert [row.emailed for row in _rows(db, day)] == [False]
    monkeypatch.setitem(app.config, "MAIL_PORT", listening)
    assert services.remind(day)["emails"] == 1
    assert len(_to(smtp, ADDRESS)) == 1 and [row.emailed for row in _rows(db, day)] == [True]
