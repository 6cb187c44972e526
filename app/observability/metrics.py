"""Prometheus metrics: requests and latency by endpoint (Flask's endpoint name, so the number
of series stays bounded), transitions by workflow and name (counted once committed).

With several gunicorn workers set PROMETHEUS_MULTIPROC_DIR (an empty folder, emptied at each
start): every worker writes its figures there and /metrics adds them up."""
import hmac
import os

from flask import Blueprint, abort, current_app, jsonify, request
from flask_babel import gettext as _
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import event
from sqlalchemy.orm import Session

REQUESTS = Counter("qms_http_requests_total", "HTTP requests by endpoint, method and status",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("qms_http_request_duration_seconds", "HTTP request duration by endpoint",
                    ["endpoint", "method"],
                    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
TRANSITIONS = Counter("qms_workflow_transitions_total", "Workflow transitions committed",
                      ["workflow", "name"])
PENDING = "qms_pending_transitions"

blueprint = Blueprint("metrics", __name__)


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(endpoint=endpoint, method=method, status=str(status)).inc()
    LATENCY.labels(endpoint=endpoint, method=method).observe(seconds)


def transition_taken(session, workflow: str, name: str) -> None:
    """Count a transition once the session commits it (a rollback forgets it)."""
    session.info.setdefault(PENDING, []).append((workflow, name))


@event.listens_for(Session, "after_commit")
def _count_committed(session) -> None:
    for workflow, name in session.info.pop(PENDING, ()):
        TRANSITIONS.labels(workflow=workflow, name=name).inc()


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(PENDING, None)


@blueprint.route("/metrics")
def metrics():
    token = current_app.config.get("QMS_METRICS_TOKEN") or ""
    if not token:
        abort(404)  # not configured: no metrics, and nothing to guess at
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = jsonify(message=_("A valid metrics token is required (Authorization: Bearer …)."))
        response.status_code = 401
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}
