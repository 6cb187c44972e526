"""Background work on a real queue (RQ on Redis), or inline in development.

`enqueue("app.module.function", *args)` names the function by its import path and passes
plain values (ids, not records). The job runs later:

- with `QMS_QUEUE_URL` set (e.g. redis://127.0.0.1:6379/1): on the RQ queue, picked up by
  `flask qms worker` (its own systemd unit), retried with backoff when it raises (RETRY);
- without it (SQLite development, tests by default): inline, synchronously, in this process.

Either way it runs only once the session's transaction has committed: a job enqueued inside
an open transaction waits for the commit (and is forgotten on a rollback), so it always sees
the rows the request wrote, and a request never waits on the queue before it has saved.
A job runs in an app context of its own (its own database session) working as the agency
that was current when it was enqueued (app.tenancy.agency_scope).
"""
import importlib
import logging
from typing import Any, NamedTuple

from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

QUEUE_NAME = "qms"
RETRY_INTERVALS = [10, 30, 60, 300, 900]  # seconds before each retry: 10 s … 15 min
PENDING = "qms_pending_jobs"  # session.info key: jobs waiting for the commit
WAITING, QUEUED, UNQUEUED, DONE, FAILED = "waiting", "queued", "unqueued", "done", "failed"


class Outcome(NamedTuple):
    """What became of an enqueued job: its state, and the value it returned when it ran inline."""

    state: str
    value: Any = None

log = logging.getLogger(__name__)


def queue_url() -> str:
    return (current_app.config.get("QMS_QUEUE_URL") or "") if has_app_context() else ""


def connection():
    from redis import Redis

    return Redis.from_url(queue_url())


def queue():
    from rq import Queue

    return Queue(QUEUE_NAME, connection=connection())


def enqueue(func_path: str, *args) -> Outcome:
    """Run `func_path(*args)` in the background once the current transaction commits. An
    argument may be a record not saved yet: the job receives its id.

    What became of it: WAITING (for the commit), QUEUED (on RQ), UNQUEUED (Redis away, logged),
    or, inline with nothing to commit, DONE (with the job's return value) or FAILED (logged)."""
    from app.extensions import db
    from app.tenancy import current_scope

    job = (func_path, current_scope(), args)
    session = db.session()
    if session.in_transaction() and (session.new or session.dirty or session.deleted
                                     or session.info.get(PENDING) is not None or _has_flushed(session)):
        session.info.setdefault(PENDING, []).append(job)
        return Outcome(WAITING)
    return _dispatch([job])[0]


def _has_flushed(session) -> bool:
    """Whether the open transaction already wrote something (a flush empties new/dirty)."""
    return bool(session.info.get("qms_flushed"))


@event.listens_for(Session, "after_flush")
def _note_flush(session, flush_context) -> None:
    session.info["qms_flushed"] = True


@event.listens_for(Session, "after_commit")
def _dispatch_committed(session) -> None:
    session.info.pop("qms_flushed", None)
    jobs = session.info.pop(PENDING, None)
    if jobs:
        _dispatch(jobs)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop("qms_flushed", None)
        session.info.pop(PENDING, None)


def _plain(args) -> list:
    """The arguments as the job receives them: a saved ORM object becomes its id (read from
    its identity, which needs no SQL: the session may be between transactions)."""
    return [inspect(arg).identity[0] if hasattr(arg, "__mapper__") else arg for arg in args]


def _dispatch(jobs) -> list[Outcome]:
    """Each job's outcome."""
    jobs = [(func_path, scope, _plain(args)) for func_path, scope, args in jobs]
    if queue_url():
        from rq import Retry

        try:
            q = queue()
            for func_path, scope, args in jobs:
                q.enqueue("app.jobs.run_job", func_path, scope, list(args),
                          retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                          description=func_path)
        except Exception:  # Redis away: the request that committed still succeeds
            log.exception("Could not enqueue %d job(s) on %s", len(jobs), QUEUE_NAME)
            return [Outcome(UNQUEUED)] * len(jobs)
        return [Outcome(QUEUED)] * len(jobs)
    outcomes = []
    for func_path, scope, args in jobs:  # inline: one attempt, a failure is logged, not raised
        try:
            value = run_job(func_path, scope, list(args))
        except Exception:
            log.exception("Inline job %s%r failed", func_path, tuple(args))
            outcomes.append(Outcome(FAILED))
        else:
            outcomes.append(Outcome(DONE, value))
    return outcomes


WAITING = ("queued", "started", "scheduled", "deferred")  # an RQ job that will still run


def enqueue_once(func_path: str, scope, args: list, job_id: str) -> bool:
    """Put `func_path(*args)` on the queue now (no transaction to wait for) under `job_id`,
    unless a job of that id is still waiting or running: False then. Raises when the queue
    cannot be reached (the caller is a command, which says so)."""
    from rq import Retry
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    q = queue()
    try:
        if Job.fetch(job_id, connection=q.connection).get_status() in WAITING:
            return False
    except NoSuchJobError:
        pass
    q.enqueue("app.jobs.run_job", func_path, scope, list(args), job_id=job_id,
              retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS), description=func_path)
    return True


def run_job(func_path: str, scope, args):
    """What the worker runs: the function, in a fresh app context, as the agency `scope`."""
    from app.tenancy import agency_scope

    module, _, name = func_path.rpartition(".")
    func = getattr(importlib.import_module(module), name)
    if has_app_context():
        app = current_app._get_current_object()
    else:
        from app import create_app

        app = create_app()
    with app.app_context(), agency_scope(scope):
        return func(*args)


def failed_jobs(limit: int = 100, agency_id=None) -> list:
    """The jobs RQ gave up on (its FailedJobRegistry), newest first; with `agency_id`, only
    the jobs enqueued as that agency (an agency's Admin sees no other agency's jobs)."""
    from rq.registry import FailedJobRegistry

    q = queue()
    registry = FailedJobRegistry(queue=q)
    ids = list(reversed(registry.get_job_ids()))
    found = [job for job in q.job_class.fetch_many(ids, connection=q.connection) if job is not None]
    if agency_id is not None:
        found = [job for job in found if len(job.args) > 1 and job.args[1] == agency_id]
    return found[:limit]


def retry_failed(job_id: str) -> None:
    from rq.registry import FailedJobRegistry

    FailedJobRegistry(queue=queue()).requeue(job_id)
