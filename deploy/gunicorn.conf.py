"""gunicorn settings for the panel (README: Production deployment / Triển khai).

    .venv/bin/gunicorn --config deploy/gunicorn.conf.py      # from the checkout, e.g. /srv/qms

Everything can be changed from the environment file (/etc/qms/qms.env) without editing this
file: QMS_BIND, QMS_WORKERS, QMS_THREADS."""
import os

wsgi_app = "app:create_app()"

# Only nginx on the same machine talks to gunicorn; with several app servers, bind each to the
# address nginx reaches (e.g. QMS_BIND=10.0.0.12:8000) and keep it off the public network.
bind = os.environ.get("QMS_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("QMS_WORKERS", "") or 2 * (os.cpu_count() or 1) + 1)
threads = int(os.environ.get("QMS_THREADS", "") or 1)

# Above the PDF limit (reports.TIMEOUT_SECONDS = 60): a long binder is stopped by the PDF
# engine with a message, not by gunicorn killing the worker.
timeout = 90
graceful_timeout = 30
keepalive = 5
max_requests = 2000          # recycle workers now and then (memory of PDF rendering)
max_requests_jitter = 200

# One line per request on standard output (systemd's journal keeps it): client, the request
# id (the X-Request-ID the app answers with: nginx's $request_id, else the app's own), time,
# method, path WITHOUT the query string (it may carry tokens), status, bytes, seconds. The app
# writes its own JSON line per request on standard error (README: Monitoring).
accesslog = "-"
access_log_format = '%(h)s %({x-request-id}o)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)s'
errorlog = "-"
loglevel = os.environ.get("QMS_LOG_LEVEL", "info")

# gunicorn 25+ opens a control socket at ~/.gunicorn/gunicorn.ctl: shared by every instance of
# the same user, so a second instance would take over the first's. Not needed: off. (Older
# gunicorn ignores the unknown setting.)
control_socket_disable = True


def post_worker_init(worker):
    """The worker has built the app: its start-up objects are kept out of the collector's
    walks (app.freeze_startup_objects)."""
    from app import freeze_startup_objects

    freeze_startup_objects()


def child_exit(server, worker):
    """With several workers, prometheus_client's multiprocess mode (README: Monitoring) must
    forget a worker that has exited."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
