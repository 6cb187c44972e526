"""Test fixtures: one app on a real database (SQLite file, or PostgreSQL when
DATABASE_URL says so, in a schema of its own), migrated and loaded with demo data."""
import contextvars
import datetime
import itertools
import os
import re
import uuid
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

DEMO_PASSWORD = "CamLam@2026"
ROLE_USERS = {
    "Admin": "admin",
    "Staff": "canbo.ktht",
    "UnitHead": "truongphong.ktht",
    "Auditor": "danhgia",
    "IsoSecretary": "thuky.iso",
    "IsoLeader": "truongban.iso",
    "TopLeader": "chutich",
    "PlatformAdmin": "quantri",
    "ProvinceInspector": "so.khcn",
}
_addresses = itertools.count(1)


def day(offset: int = 0) -> datetime.date:
    """Today plus `offset` days, read when used: a run that crosses midnight keeps its dates
    right (a module's constant read at import would be yesterday's)."""
    return datetime.date.today() + datetime.timedelta(days=offset)


def iso_day(offset: int = 0) -> str:
    return day(offset).isoformat()


class IsolatedClient(FlaskClient):
    """Each request runs in a blank context, as in production: a fresh app context,
    `g` and database session, even while a test holds an app context of its own."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def _database_url(tmp_path_factory) -> tuple[str, str | None]:
    """The database for this run, and the PostgreSQL schema to drop at the end."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "qms.db"), None
    schema = "qms_test_" + uuid.uuid4().hex[:10]
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}", schema


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url, schema = _database_url(tmp_path_factory)
    yield url
    if schema:
        engine = sa.create_engine(os.environ["DATABASE_URL"])
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    from app import create_app

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": database_url,
        "TESTING": True,
        "SERVER_NAME": None,
    })
    app.test_client_class = IsolatedClient
    runner = app.test_cli_runner()
    for command in (["qms", "setup"], ["qms", "demo"]):
        result = runner.invoke(args=command, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    yield app


@contextmanager
def demo_agency(app, code="CAMLAM"):
    """An app context working as one demo agency (by default UBND huyện Cam Lâm)."""
    from app.tenancy import agency_named

    with app.app_context(), agency_named(code):
        yield


def assert_runs_kept(connection) -> None:
    """The open runs kept in OpenRun (app.tickets.runs) are, for every agency, exactly those
    read from the NCs and tickets themselves (tickets.services.open_run_rows). A session's
    connection, or an engine's: no agency condition, every agency's runs."""
    import sqlalchemy as sa

    from app.tickets.models import OpenRun
    from app.tickets.runs import KEPT_COLUMNS
    from app.tickets.services import open_run_rows

    kept = set(connection.execute(sa.select(*(OpenRun.__table__.c[name] for name in KEPT_COLUMNS))).tuples())
    read = set(connection.execute(open_run_rows()).tuples())
    assert kept == read, (sorted(kept - read), sorted(read - kept))


@pytest.fixture
def db(app):
    """The database as the demo agency (UBND huyện Cam Lâm) sees it."""
    from app.extensions import db

    with demo_agency(app):
        yield db
        db.session.rollback()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def new_client(app):
    """A test client with an address of its own, so login rate limits stay per test."""
    n = next(_addresses)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
    return client


def login(client, username, password=DEMO_PASSWORD):
    page = client.get("/login/")
    return client.post(
        "/login/",
        data={"username": username, "password": password, "csrf_token": csrf_token(page.text)},
        follow_redirects=False,
    )


@pytest.fixture
def anonymous(app):
    return new_client(app)


def _client_as(app, role):
    client = new_client(app)
    response = login(client, ROLE_USERS[role])
    assert response.status_code == 302 and "/login" not in response.headers["Location"], (
        f"login as {role} failed"
    )
    return client


@pytest.fixture
def as_admin(app):
    return _client_as(app, "Admin")


@pytest.fixture
def as_staff(app):
    return _client_as(app, "Staff")


@pytest.fixture
def as_unit_head(app):
    return _client_as(app, "UnitHead")


@pytest.fixture
def as_auditor(app):
    return _client_as(app, "Auditor")


@pytest.fixture
def as_iso_secretary(app):
    return _client_as(app, "IsoSecretary")


@pytest.fixture
def as_iso_leader(app):
    return _client_as(app, "IsoLeader")


@pytest.fixture
def as_top_leader(app):
    return _client_as(app, "TopLeader")


@pytest.fixture
def client_as(app):
    """Log in as any role by name: client_as("UnitHead")."""
    return lambda role: _client_as(app, role)


@pytest.fixture
def client_as_user(app):
    """Log in as a demo user by username: client_as_user("truongphong.ktht")."""

    def make(username):
        client = new_client(app)
        response = login(client, username)
        assert "/login" not in response.headers["Location"], f"login as {username} failed"
        return client

    return make


class QueryCounter:
    def __init__(self):
        self.statements = []

    def __call__(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    @property
    def count(self):
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """Context manager counting SQL statements sent by the app."""
    from contextlib import contextmanager

    from app.extensions import db

    @contextmanager
    def counting():
        counter = QueryCounter()
        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            sa.event.remove(engine, "before_cursor_execute", counter)

    return counting


# --- tickets ------------------------------------------------------------------

@pytest.fixture
def user(db):
    """Look up a demo user by username: user("canbo.ktht")."""
    from app.organisation.models import QmsUser

    return lambda username: db.session.query(QmsUser).filter_by(username=username).one()


@pytest.fixture
def unit(db):
    from app.organisation.models import Unit

    return lambda code: db.session.query(Unit).filter_by(code=code).one()


def future(days=30):
    import datetime

    return (datetime.date.today() + datetime.timedelta(days=days)).isoformat()


@pytest.fixture
def make_ticket(db, user, unit):
    """A fresh draft ticket opened by `creator` for `unit_code`, optionally walked to `state`
    along the standard path by the demo users."""
    import datetime

    from app.tickets import services
    from app.tickets.models import Ticket

    def walk_to(ticket, state):
        heads = {"KTHT": "truongphong.ktht", "TNMT": "truongphong.tnmt"}
        unit_code = ticket.requesting_unit.code
        staff = {"KTHT": "canbo.ktht", "TNMT": "canbo.tnmt"}[unit_code]
        assignee_unit = unit(unit_code)
        path = [
            ("unit_review", ticket.created_by.username, "submit", {}),
            ("iso_review", heads[unit_code], "forward", {"signs": ["serious"]}),
            ("leader_review", "thuky.iso", "present", {"note": "Tổng hợp, trình Trưởng ban ISO"}),
            ("analysis", "truongban.iso", "assign",
             {"assignee_unit": assignee_unit.id, "assignee": user(staff).id}),
            ("approval", staff, "propose",
             {"cause": "Nguyên nhân gốc", "measures": "Biện pháp khắc phục", "completion_date": future(20)}),
            ("implementation", "truongban.iso", "approve",
             {"implementing_unit": assignee_unit.id, "implementer": user(staff).id, "due_date": future(20)}),
            ("verification", staff, "report_done", {"result_summary": "Đã thực hiện xong"}),
            ("verified", "chutich", "verify", {"result": "pass", "verified_on": datetime.date.today().isoformat()}),
            ("closed", "thuky.iso", "close", {"evidence": "Biên bản kiểm tra"}),
        ]
        for target, actor, name, fields in path:
            if ticket.state == state:
                break
            ticket = services.apply_transition(user(actor), ticket.id, name, fields)
            assert ticket.state == target
        assert ticket.state == state
        return ticket

    def make(creator="canbo.ktht", unit_code="KTHT", state="draft", **fields):
        creator_user = user(creator)
        ticket = Ticket(
            kind=fields.pop("kind", "corrective"), source=fields.pop("source", "nonconforming_activity"),
            requesting_unit_id=unit(unit_code).id,
            description=fields.pop("description", "Hồ sơ trả trễ hạn — kiểm thử"),
            requested_on=datetime.date.today(), requester_id=creator_user.id,
            created_by_id=creator_user.id, state="draft", **fields,
        )
        db.session.add(ticket)
        db.session.flush()
        services.record_creation(creator_user, ticket)
        db.session.commit()
        return walk_to(ticket, state)

    return make


@pytest.fixture
def api(app):
    """api("username") → a client whose requests carry that user's JWT."""

    def make(username):
        client = new_client(app)
        response = client.post("/api/v1/security/login", json={
            "username": username, "password": "CamLam@2026", "provider": "db"})
        assert response.status_code == 200, response.text
        token = response.json["access_token"]
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return make


# --- official copies and signatures -------------------------------------------------

@pytest.fixture(scope="session")
def authority():
    """A throwaway certificate authority (app.official.authority)."""
    from app.official.authority import Authority

    return Authority("CA thử nghiệm Khánh Hòa")


@pytest.fixture
def trusted(app, authority, tmp_path, monkeypatch):
    """The throwaway authority is the administrator's trust root."""
    root = tmp_path / "root.pem"
    root.write_bytes(authority.pem)
    monkeypatch.setitem(app.config, "SIGNING_TRUST_ROOTS", [str(root)])
    return root


@pytest.fixture
def agency_certificate(db, authority, trusted):
    """Cam Lâm's signing certificate, imported as `flask qms signing import` does; every
    agency certificate active after the test is retired, so other tests sign nothing."""
    from sqlalchemy import select

    from app.official import services
    from app.official.models import SigningCredential

    yield services.import_credential(authority.pkcs12("UBND huyện Cam Lâm"), "matkhau")
    db.session.rollback()
    for row in db.session.scalars(select(SigningCredential).where(
            SigningCredential.user_id.is_(None), SigningCredential.active)):
        row.active = False
    db.session.commit()


# --- mail ---------------------------------------------------------------------------------

class Inbox:
    """What a real SMTP server (aiosmtpd) started by a test received: (recipients, message)."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy

        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


@pytest.fixture
def smtp(app):
    """An SMTP server on a free local port that the app sends its mail to."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    previous = app.config["MAIL_SERVER"], app.config["MAIL_PORT"]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    yield inbox
    controller.stop()
    app.config.update(MAIL_SERVER=previous[0], MAIL_PORT=previous[1])


# --- webhooks -----------------------------------------------------------------------------

@pytest.fixture
def receiver():
    """A local HTTP server that records what webhooks post to it (tests/test_webhooks.py)."""
    from tests.test_webhooks import serving

    with serving() as server:
        yield server


@pytest.fixture
def webhook(db, receiver):
    """An active Cam Lâm webhook posting to `receiver`, removed after the test."""
    from tests.test_webhooks import registered

    with registered(db, receiver.url) as hook:
        yield hook


# --- login limits -------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def fresh_login_limits(request):
    """Each test starts with no failed sign-ins counted: the per-account limit (10 failures a
    minute) would otherwise carry one test's wrong passwords into the next test's logins."""
    yield
    if "app" in request.fixturenames:
        request.getfixturevalue("app").appbuilder.sm.limiter.reset()


# --- reminders ----------------------------------------------------------------------------

@pytest.fixture
def leads(monkeypatch):
    """The leads each user gets, set by the test: {username: [Lead, ...]}; nobody else hears anything."""
    from app.reminders import services

    table = {}
    monkeypatch.setattr(services, "leads_for", lambda user, on: list(table.get(user.username, [])))
    return table


# --- the job queue ------------------------------------------------------------------------

# The Redis database the queue tests of reminders and binders use (and empty); tests/test_jobs.py
# reads the same variable.
QUEUE_TEST_URL = os.environ.get("QMS_TEST_QUEUE_URL", "redis://127.0.0.1:6379/13")


def empty_redis(url):
    """A connection to the Redis database `url`, emptied (the test is skipped without Redis)."""
    redis = pytest.importorskip("redis")
    connection = redis.Redis.from_url(url)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis không chạy ở 127.0.0.1:6379")
    connection.flushdb()
    return connection


@pytest.fixture
def job_queue(app, monkeypatch):
    """The app configured with an RQ queue on the local Redis (skipped when Redis is not there)."""
    connection = empty_redis(QUEUE_TEST_URL)
    monkeypatch.setitem(app.config, "QMS_QUEUE_URL", QUEUE_TEST_URL)
    from app import jobs

    with app.app_context():
        yield jobs.queue()
    connection.flushdb()


def work(queue):
    """Run what is on the queue now, in this process, as `flask qms worker --burst` does."""
    from rq import SimpleWorker

    SimpleWorker([queue], connection=queue.connection).work(burst=True)


# --- a real browser against the running app (tests/test_browser*.py) -------------------

@pytest.fixture(scope="session")
def live_server(app):
    import threading

    from werkzeug.middleware.proxy_fix import ProxyFix
    from werkzeug.serving import make_server

    # Behind ProxyFix, as behind a production reverse proxy: each browser context below
    # sends its own client address, so the login rate limit counts per "person".
    server = make_server("127.0.0.1", 0, ProxyFix(app, x_for=1), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
            ],
        )
        yield browser
        browser.close()
