"""Production safety (issue 14, items 2 and 3): refusing to start unsafely, the API login's
rate limit, logout ending the session on the server, security headers, no advertised API keys."""
import datetime
import os
import re
import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import DEMO_PASSWORD, login, new_client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _flask(args, tmp_path, **env):
    environment = {
        key: value for key, value in os.environ.items() if key not in ("SECRET_KEY", "QMS_ENV")
    }
    environment.update({
        "FLASK_APP": "app", "QMS_INSTANCE_DIR": str(tmp_path / "instance"),
        "DATABASE_URL": "sqlite:///" + str(tmp_path / "qms.db"), **env,
    })
    return subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=300,
    )


# --- A. refusing to run unsafely ----------------------------------------------------

def test_production_without_a_secret_key_is_refused(tmp_path):
    result = _flask(["routes"], tmp_path, QMS_ENV="production",
                    DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "Hãy" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "instance" / "secret_key").exists()  # none generated in production


def test_production_on_sqlite_is_refused(tmp_path):
    result = _flask(["routes"], tmp_path, QMS_ENV="production", SECRET_KEY="k" * 64)
    assert result.returncode != 0
    assert "SQLite" in result.stderr and "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_setup_is_allowed_in_production(tmp_path):
    """`flask qms setup` creates the schema of an empty database: it is not refused."""
    result = _flask(["qms", "setup"], tmp_path, QMS_ENV="production")
    assert result.returncode == 0, result.stderr


def test_development_is_unchanged(tmp_path):
    result = _flask(["routes"], tmp_path)
    assert result.returncode == 0, result.stderr


def test_demo_passwords_are_refused_in_production(app, db):
    from app import production_refusals

    config = {**app.config, "QMS_ENV": "production", "SECRET_KEY_FROM_ENVIRONMENT": True,
              "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://qms@db/qms"}
    refusals = production_refusals(config)
    assert len(refusals) == 1
    assert DEMO_PASSWORD in refusals[0] and "admin" in refusals[0] and "\n" not in refusals[0]
    assert production_refusals({**config, "QMS_ENV": ""}) == []


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="production runs on PostgreSQL only")
def test_production_on_postgresql_starts_then_refuses_demo_passwords(tmp_path):
    schema = "qms_prod_" + uuid.uuid4().hex[:10]
    base = os.environ["DATABASE_URL"]
    engine = sa.create_engine(base)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    production = {"QMS_ENV": "production", "SECRET_KEY": "k" * 64, "DATABASE_URL": url}
    try:
        assert _flask(["qms", "setup"], tmp_path, **production).returncode == 0
        assert _flask(["routes"], tmp_path, **production).returncode == 0
        assert _flask(["qms", "demo"], tmp_path, DATABASE_URL=url).returncode == 0
        refused = _flask(["routes"], tmp_path, **production)
        assert refused.returncode != 0 and DEMO_PASSWORD in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


# --- B. the API login's rate limit ---------------------------------------------------

@pytest.fixture
def fresh_limits(app):
    yield
    app.appbuilder.sm.limiter.reset()  # the accounts tried here sign in again in later tests


def _api_login(client, username, password):
    return client.post("/api/v1/security/login",
                       json={"username": username, "password": password, "provider": "db"})


def test_api_login_is_limited_by_address(app, fresh_limits):
    client = new_client(app)
    statuses = [_api_login(client, f"nobody{n}", "wrong").status_code for n in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    refused = _api_login(client, "canbo.ktht", DEMO_PASSWORD)
    assert refused.status_code == 429 and "Quá nhiều lần" in refused.json["message"]


def test_api_login_is_limited_by_account(app, fresh_limits):
    statuses = [_api_login(new_client(app), "danhgia", "wrong").status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    right = _api_login(new_client(app), "danhgia", DEMO_PASSWORD)
    assert right.status_code == 429  # until the minute has passed
    assert "Quá nhiều lần" in right.json["message"]


def test_successful_api_logins_are_not_counted_by_account(app, fresh_limits):
    for _ in range(12):
        assert _api_login(new_client(app), "canbo.ktht", DEMO_PASSWORD).status_code == 200


def _signed_in(response) -> bool:
    """A page sign-in: a redirect away from the sign-in page (a refusal goes back to it)."""
    return response.status_code == 302 and "/login" not in response.headers["Location"]


def test_page_login_is_limited_by_account(app, fresh_limits):
    """Wrong passwords for one account from many addresses: that account is refused even with
    its right password (Vietnamese page); another account from a new address still signs in."""
    for _ in range(10):
        response = login(new_client(app), "chutich", "wrong")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    refused = login(new_client(app), "chutich", DEMO_PASSWORD)
    assert refused.status_code == 429 and "Quá nhiều lần thử đăng nhập" in refused.text
    assert "Too many" not in refused.text
    other = new_client(app)
    assert login(other, "CHUTICH ", DEMO_PASSWORD).status_code == 429  # the same account, spelled otherwise
    assert _signed_in(login(other, "canbo.ktht"))


def test_successful_page_logins_are_not_counted_by_account(app, fresh_limits):
    for _ in range(12):
        assert _signed_in(login(new_client(app), "canbo.ktht"))


# --- C. logout ends the session on the server ----------------------------------------

def test_a_cookie_copied_before_logout_stops_working(app):
    first = new_client(app)
    assert login(first, "canbo.ktht").status_code == 302
    cookie = first.get_cookie("session")
    second = new_client(app)
    second.set_cookie("session", cookie.value)
    assert second.get("/tickets/list/").status_code == 200
    first.get("/logout/")
    after = second.get("/tickets/list/")
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    # signing in again works, on both
    assert login(first, "canbo.ktht").status_code == 302
    assert first.get("/tickets/list/").status_code == 200


# --- D. security headers -------------------------------------------------------------

def _check_headers(response, html=False):
    headers = response.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    policy = headers["Content-Security-Policy"]
    for directive in ("frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'"):
        assert directive in policy
    script = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
    assert "Strict-Transport-Security" not in headers  # SESSION_COOKIE_SECURE is off in tests
    if html:
        nonce = script.split("'nonce-")[1].split("'")[0]
        assert f'nonce="{nonce}"' in response.text
        # every script carries it, FAB's widgets too (list actions, filters)
        assert re.findall(r"<script\b[^>]*>", response.text) == re.findall(
            rf'<script\b[^>]*nonce="{re.escape(nonce)}"[^>]*>', response.text)
        assert " onsubmit=" not in response.text and " onclick=" not in response.text


def test_security_headers_on_a_page_a_pdf_and_the_api(app, client_as_user, make_ticket, api):
    client = client_as_user("canbo.ktht")
    _check_headers(client.get("/tickets/list/"), html=True)
    _check_headers(client_as_user("admin").get("/nonconformities/list/"), html=True)
    ticket = make_ticket()
    pdf = client.get(f"/tickets/{ticket.id}/pdf")
    assert pdf.mimetype == "application/pdf"
    _check_headers(pdf)
    _check_headers(api("canbo.ktht").get("/api/v1/ticket/"))
    _check_headers(new_client(app).get("/login/"), html=True)


def test_hsts_only_with_secure_cookies(app):
    from app import security_headers
    from flask import Response

    with app.test_request_context("/"):
        app.config["SESSION_COOKIE_SECURE"] = True
        try:
            response = security_headers(Response("x"))
        finally:
            app.config["SESSION_COOKIE_SECURE"] = False
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


# --- E. no API-key scheme while API keys are off -------------------------------------

def test_openapi_advertises_no_api_key(api):
    spec = api("admin").get("/api/v1/_openapi").json
    assert "api_key" not in spec["components"]["securitySchemes"]
    for path in spec["paths"].values():
        for operation in path.values():
            for requirement in operation.get("security", []):
                assert "api_key" not in requirement


def test_a_verified_token_is_kept_until_it_expires(app, api, user, monkeypatch):
    """PyJWT checked every character of the token in Python, four times on every API request:
    a worker keeps the claims of a token it verified. A token changed in one character is
    verified anew and refused; a kept token is refused once it expires."""
    from flask_jwt_extended import create_access_token, decode_token, jwt_manager

    verified = []
    decode = jwt_manager._decode_jwt
    monkeypatch.setattr(jwt_manager, "_decode_jwt", lambda **kw: verified.append(1) or decode(**kw))
    client = api("truongban.iso")
    assert client.get("/api/v1/tickets/").status_code == 200
    assert client.get("/api/v1/tickets/").status_code == 200
    assert len(verified) == 1

    token = client.environ_base["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    tail = "A" if token[-1] != "A" else "B"
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token[:-1]}{tail}"
    assert client.get("/api/v1/tickets/").status_code in (401, 422)

    with app.app_context():
        short = create_access_token(str(user("truongban.iso").id), fresh=True,
                                    expires_delta=datetime.timedelta(seconds=2))
        expires = decode_token(short)["exp"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {short}"
    assert client.get("/api/v1/tickets/").status_code == 200
    time.sleep(max(0.0, expires - time.time()) + 0.2)
    assert client.get("/api/v1/tickets/").status_code == 401


def test_the_person_is_found_by_any_spelling_of_their_id_and_nothing_else(app, user):
    """get_user_by_id runs one statement built once: an id as text finds the person; what is no
    id, or no integer PostgreSQL takes, finds nobody (no error)."""
    person = user("truongban.iso")
    with app.test_request_context():
        manager = app.appbuilder.sm
        found = manager.get_user_by_id(str(person.id))
        assert found is not None and found.username == "truongban.iso" and found.unread_notifications is not None
        assert {role.name for role in found.roles} == {role.name for role in person.roles}
        for nothing in ("abc", None, 2 ** 40, -1, 0):
            assert manager.get_user_by_id(nothing) is None, nothing
