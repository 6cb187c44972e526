"""Webhook events and their delivery.

An event writes one WebhookDelivery row per active webhook of the record's agency in the
same transaction as the change itself, and enqueues its delivery (app.jobs), which runs only
after the commit: on the RQ queue with retries and backoff, or inline in development (one
attempt). Delivery: POST of the JSON body with X-QMS-Event, X-QMS-Delivery (the delivery's
id) and X-QMS-Signature: sha256=<HMAC-SHA256 of the raw body with the webhook's secret>.
"""
import datetime
import hashlib
import hmac
import json
import urllib.error
import urllib.request

from sqlalchemy import select

from app import jobs
from app.extensions import db
from app.tenancy import ALL, agency_of, agency_scope
from app.webhooks.models import Webhook, WebhookDelivery

TIMEOUT = 10  # seconds a receiver has to answer
DELIVER = "app.webhooks.services.deliver"


class DeliveryFailed(Exception):
    """A receiver did not answer 2xx: RQ retries the job with backoff."""


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _now() -> datetime.datetime:
    return datetime.datetime.now()


def emit(record, event: str, payload: dict) -> list[WebhookDelivery]:
    """Log a delivery of `payload` to every active webhook of the record's agency and enqueue
    them (sent once the session commits). Nothing when the agency registered no webhook."""
    with agency_of(record), db.session.no_autoflush:  # the caller's changes are flushed by its commit
        hooks = db.session.scalars(select(Webhook).where(Webhook.active.is_(True))).all()
        if not hooks:
            return []
        body = json.dumps(payload, ensure_ascii=False, default=str)
        deliveries = [WebhookDelivery(webhook_id=hook.id, agency_id=hook.agency_id, event=event,
                                      payload=body, status="pending", attempts=0) for hook in hooks]
        db.session.add_all(deliveries)
        for delivery in deliveries:
            jobs.enqueue(DELIVER, delivery)  # its id once the commit has given it one
    return deliveries


def _record_type(record) -> str:
    return type(record).__tablename__


def transition_taken(workflow, record, name: str, user) -> None:
    """A workflow transition was taken (called by app.workflow.run, before its commit)."""
    emit(record, "transition", {
        "event": "transition", "workflow": workflow.name, "name": name,
        "record_type": _record_type(record), "id": record.id, "state": record.state,
        "by": getattr(user, "username", None), "at": _now().isoformat(timespec="seconds"),
    })


def nonconformity_created(user, nc) -> None:
    """A new NC was saved (called after its commit, page and API alike)."""
    if emit(nc, "nonconformity_created", {
        "event": "nonconformity_created", "record_type": _record_type(nc), "id": nc.id,
        "unit_id": nc.unit_id, "detected_on": nc.detected_on, "description": nc.description,
        "by": getattr(user, "username", None), "at": _now().isoformat(timespec="seconds"),
    }):
        db.session.commit()


def deliver(delivery_id: int) -> None:
    """The job: POST one delivery. 2xx → sent; otherwise a failed attempt, raised so that RQ
    retries it (the inline runner logs it and stops: one attempt)."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status == "sent":
        return
    hook = delivery.webhook
    body = delivery.payload.encode()
    request = urllib.request.Request(hook.url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "QMS-Webhook/1",
        "X-QMS-Event": delivery.event,
        "X-QMS-Delivery": str(delivery.id),
        "X-QMS-Signature": signature(hook.secret, body),
    })
    delivery.attempts = (delivery.attempts or 0) + 1
    code, error = None, None
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            code = response.status
    except urllib.error.HTTPError as exc:
        code, error = exc.code, f"HTTP {exc.code}"
    except Exception as exc:  # refused, timed out, bad address: kept short for the log page
        error = f"{type(exc).__name__}: {exc}"
    delivery.last_status_code = code
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.sent_at, delivery.last_error = "sent", _now(), None
    else:
        delivery.status, delivery.last_error = "failed", (error or "?")[:300]
    db.session.commit()
    if delivery.status != "sent":
        raise DeliveryFailed(f"webhook delivery {delivery_id}: {delivery.last_error}")


SWEEP_GRACE = datetime.timedelta(minutes=2)


def sweep(grace: datetime.timedelta = SWEEP_GRACE) -> int:
    """Enqueue again, every agency's, the deliveries still pending without any attempt
    `grace` after they were logged: their job was lost (the queue was unreachable when the
    change was saved). Idempotent: a delivery whose job still waits on the queue is left
    alone (its job id is fixed: webhook-delivery-<id>). How many were enqueued."""
    limit = _now() - grace
    with agency_scope(ALL):
        found = db.session.execute(
            select(WebhookDelivery.id, WebhookDelivery.agency_id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.attempts == 0,
                   WebhookDelivery.created_at <= limit)
            .order_by(WebhookDelivery.id)).all()
    db.session.rollback()  # nothing to keep open while talking to the queue
    return sum(jobs.enqueue_once(DELIVER, agency_id, [delivery_id], f"webhook-delivery-{delivery_id}")
               for delivery_id, agency_id in found)
