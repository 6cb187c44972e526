"""Settings, read from the environment so that one code base serves demo and production.

DATABASE_URL   SQLAlchemy URL; default: SQLite file instance/qms.db
SECRET_KEY     session signing key; default: generated once, kept in instance/secret_key
               (not in production: there it must be set, app.production_refusals)
QMS_ENV        "production" turns on the start-up refusals (no SECRET_KEY, SQLite, demo passwords)
MAIL_*         SMTP settings for reminders
RATELIMIT_STORAGE_URI  shared limiter storage for several workers (e.g. redis://127.0.0.1:6379)
QMS_SIGNING_KEY_SECRET  encrypts the agency's signing key; default: generated once, instance/signing_key_secret
QMS_ARCHIVE_DIR retention archives folder, included in `flask qms backup`
QMS_SIGNING_TRUST_ROOTS trusted root certificates for signature checks, files separated by ":"
QMS_QUEUE_URL   Redis of the job queue (RQ), e.g. redis://127.0.0.1:6379/1; unset: jobs run inline
QMS_METRICS_TOKEN  bearer token that may read /metrics (Prometheus); unset: /metrics answers 404
"""
import os
import secrets

from flask_appbuilder.const import AUTH_DB

BASE_DIR = os.path.abspath(os.path.dirname(__file__))
INSTANCE_DIR = os.environ.get("QMS_INSTANCE_DIR", os.path.join(BASE_DIR, "instance"))
os.makedirs(INSTANCE_DIR, exist_ok=True)


def _kept_secret(variable: str, filename: str) -> str:
    """The secret from the environment, else one generated once and kept in the instance
    folder, readable by the service's user only."""
    if os.environ.get(variable):
        return os.environ[variable]
    path = os.path.join(INSTANCE_DIR, filename)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    with open(path) as f:
        return f.read().strip()


QMS_ENV = os.environ.get("QMS_ENV", "")
# In production the key must come from the environment (a generated one changes when the
# instance folder is lost or differs between servers): create_app refuses to start without it.
SECRET_KEY_FROM_ENVIRONMENT = bool(os.environ.get("SECRET_KEY"))
if QMS_ENV == "production":
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
else:
    SECRET_KEY = _kept_secret("SECRET_KEY", "secret_key")
# Encrypts the agency's signing key in the database (app.official); losing it means importing
# the certificate again.
SIGNING_KEY_SECRET = _kept_secret("QMS_SIGNING_KEY_SECRET", "signing_key_secret")
# Certificates trusted when signatures are verified (e.g. the national root CA), as PEM or
# DER files separated by the path separator (":").
SIGNING_TRUST_ROOTS = [p for p in os.environ.get("QMS_SIGNING_TRUST_ROOTS", "").split(os.pathsep) if p]
SQLALCHEMY_DATABASE_URI = os.environ.get(
    "DATABASE_URL", "sqlite:///" + os.path.join(INSTANCE_DIR, "qms.db")
)
SQLALCHEMY_TRACK_MODIFICATIONS = False
# hide_parameters: a database error (logged, or shown nowhere else) never carries the values
# of its statement, which may be personal data or secrets. A pooled connection is checked
# before use when it has been idle a while (app.transactions), not before every request.
SQLALCHEMY_ENGINE_OPTIONS = {"hide_parameters": True}

APP_NAME = "Cải tiến HTQLCL"
APP_THEME = ""
APP_ICON = ""

# Schema is owned by the Alembic migrations (flask db upgrade); permissions by
# `flask qms sync-roles`. Workers never write either at start-up.
FAB_CREATE_DB = False
FAB_UPDATE_PERMS = False
FAB_SECURITY_MANAGER_CLASS = "app.organisation.security.QmsSecurityManager"
FAB_INDEX_VIEW = "app.dashboard.views.HomeView"
# FAB's layout with our date picker, file inputs and Vietnamese widget texts (app/static/qms)
FAB_BASE_TEMPLATE = "qms_base.html"
FAB_API_SWAGGER_UI = True
FAB_ADD_SECURITY_API = False

AUTH_TYPE = AUTH_DB
AUTH_ROLE_ADMIN = "Admin"
AUTH_ROLE_PUBLIC = "Public"
AUTH_USER_REGISTRATION = False
AUTH_RATE_LIMITED = True
AUTH_RATE_LIMIT = os.environ.get("AUTH_RATE_LIMIT", "10 per 1 minute")
RATELIMIT_ENABLED = True
RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
# FAB advertises API keys in OpenAPI; they are off here (app.organisation.security.QmsSecurityApi).
FAB_API_KEY_ENABLED = False
FAB_PASSWORD_COMPLEXITY_ENABLED = True
# Number of reverse proxies in front of the app whose X-Forwarded-For is trusted (0: none).
PROXY_FIX_X_FOR = int(os.environ.get("PROXY_FIX_X_FOR", "0"))

WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
REMEMBER_COOKIE_HTTPONLY = True

BABEL_DEFAULT_LOCALE = "vi"
BABEL_DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
BABEL_TRANSLATION_DIRECTORIES = os.path.join(BASE_DIR, "translations")
LANGUAGES = {
    "vi": {"flag": "vn", "name": "Tiếng Việt"},
    "en": {"flag": "gb", "name": "English"},
}

MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "0") == "1"
MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "qms@localhost")
QMS_BASE_URL = os.environ.get("QMS_BASE_URL", "")
# An open item that has not changed is reminded again after this many days (new and changed
# items: every day).
QMS_REMIND_UNCHANGED_DAYS = int(os.environ.get("QMS_REMIND_UNCHANGED_DAYS", "7"))
# Folder of the retention archives (`flask qms retention --archive --out`), included by
# `flask qms backup` when set.
QMS_ARCHIVE_DIR = os.environ.get("QMS_ARCHIVE_DIR", "")

# Prometheus reads /metrics with "Authorization: Bearer <token>"; without a token, no metrics.
QMS_METRICS_TOKEN = os.environ.get("QMS_METRICS_TOKEN", "")
# Background jobs (webhook deliveries, …) go to RQ on this Redis; unset: they run inline after the commit.
QMS_QUEUE_URL = os.environ.get("QMS_QUEUE_URL", "")

# Whole request bound (several evidence files at once); each file is also capped by the
# agency setting "largest evidence file".
MAX_CONTENT_LENGTH = 64 * 1024 * 1024
FAB_API_MAX_PAGE_SIZE = 100  # a list answers at most this many rows per page
