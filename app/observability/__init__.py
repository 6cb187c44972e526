"""Observability (SPEC §12): what an operator watches.

- one JSON line per request on the logger "qms.access" (time, request id, user, method, path
  without its query string, status, duration in ms), the request id taken from a safe
  incoming X-Request-ID or generated, and sent back in X-Request-ID;
- one JSON line per unhandled error on "qms.error", its traceback inside (SQL parameters are
  never in it: the engine hides them, config.SQLALCHEMY_ENGINE_OPTIONS; nor the texts a
  statement carries written in, such as the words searched: app.tickets.search.contains);
- /health (the process is up) and /ready (database reachable, migrations at head);
- Prometheus metrics on /metrics, only for a bearer of QMS_METRICS_TOKEN.
"""
import datetime
import json
import logging
import re
import time
import traceback
import uuid

from flask import Flask, g, request
from werkzeug.local import LocalProxy

from app.observability import metrics

access_log = logging.getLogger("qms.access")
error_log = logging.getLogger("qms.error")
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def init_app(app: Flask) -> None:
    from app.observability.health import blueprint as health

    app.register_blueprint(health)
    app.register_blueprint(metrics.blueprint)
    app.before_request(_start)
    app.after_request(_finish)
    app.log_exception = _log_exception  # Flask's own hook: one JSON line instead of its text
    if not app.config.get("TESTING"):
        for logger in (access_log, error_log):
            if not logger.handlers:
                handler = logging.StreamHandler()  # stderr: gunicorn and systemd keep it
                handler.setFormatter(logging.Formatter("%(message)s"))
                logger.addHandler(handler)
    access_log.setLevel(logging.INFO)


def request_id() -> str:
    """This request's id (the log lines of one request share it)."""
    if "request_id" not in g:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    return g.request_id


def _start() -> None:
    g.request_started = time.perf_counter()
    request_id()


def _finish(response):
    started = g.get("request_started")
    duration = time.perf_counter() - started if started is not None else 0.0
    response.headers["X-Request-ID"] = request_id()
    endpoint = request.url_rule.endpoint if request.url_rule is not None else "<unmatched>"
    metrics.observe_request(endpoint, request.method, response.status_code, duration)
    access_log.info(json.dumps({
        **_request_fields(), "status": response.status_code, "duration_ms": round(duration * 1000, 1),
    }, ensure_ascii=False))
    return response


def _request_fields() -> dict:
    return {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
        "request_id": request_id(),
        "user": _username(),
        "method": request.method,
        "path": request.path,  # never the query string: it may carry tokens
    }


_SQL_SHOWN = re.compile(r"(\[SQL: )(.*?)(\]\n)", re.S)
_SQL_TEXT = re.compile(r"'(?:[^']|'')*'")


def _without_sql_texts(text: str) -> str:
    """The statements SQLAlchemy shows in an error ("[SQL: …]"), each text in quotes replaced by '…'."""
    return _SQL_SHOWN.sub(lambda m: m.group(1) + _SQL_TEXT.sub("'…'", m.group(2)) + m.group(3), text)


def _log_exception(exc_info) -> None:
    error = exc_info[1]
    error_log.error(json.dumps({
        **_request_fields(),
        "error": _without_sql_texts(f"{type(error).__name__}: {error}"),
        "traceback": _without_sql_texts("".join(traceback.format_exception(*exc_info))),
    }, ensure_ascii=False))


def _username() -> str:
    """The signed-in user's name, or "-"; never a database query of its own (the request
    may have failed because the database did)."""
    user = g.get("user")
    if user is None or isinstance(user, LocalProxy) or not getattr(user, "is_authenticated", False):
        # what Flask-Login loaded, if anything asked for it: after a sign-in, the person signed in
        # (g.user is who made the request, set before it)
        user = g.get("_login_user")
    try:
        if user is None or not user.is_authenticated:
            return "-"
        from sqlalchemy import inspect

        state = inspect(user, raiseerr=False)
        name = state.dict.get("username") if state is not None else getattr(user, "username", None)
        return name or "-"
    except Exception:  # noqa: BLE001 — a log line must never break the answer
        return "-"
