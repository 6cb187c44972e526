"""Observability (issue 14 item 10): one JSON access line per request with a request id,
errors logged without SQL parameters, /health and /ready, Prometheus metrics behind a token."""
import json
import logging

from sqlalchemy import text

from tests.conftest import new_client

ACCESS = "qms.access"


def access_lines(caplog):
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS]


def test_one_access_line_per_request_with_the_request_id(app, client_as_user, caplog):
    client = client_as_user("thuky.iso")
    caplog.set_level(logging.INFO, logger=ACCESS)
    caplog.clear()
    response = client.get("/health?token=geheim-42", headers={"X-Request-ID": "abc-123.XYZ"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "abc-123.XYZ"
    [line] = access_lines(caplog)
    assert line["request_id"] == "abc-123.XYZ"
    assert line["user"] == "thuky.iso"
    assert line["method"] == "GET"
    assert line["path"] == "/health"  # never the query string, which may hold secrets
    assert "geheim" not in json.dumps(line)
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0
    assert line["time"].startswith("20")


def test_an_unsafe_request_id_is_replaced_and_anonymous_is_a_dash(app, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)
    caplog.clear()
    response = new_client(app).get("/health", headers={"X-Request-ID": "bad id; forged=1"})
    generated = response.headers["X-Request-ID"]
    assert len(generated) == 32 and generated.isalnum()
    [line] = access_lines(caplog)
    assert line["request_id"] == generated and line["user"] == "-"


def test_the_sign_in_s_access_line_names_who_signed_in(app, caplog):
    """g.user is who made the request, set before it (anonymous at a sign-in): the access line
    of the sign-in names the person who signed in, as before."""
    from tests.conftest import csrf_token

    client = new_client(app)
    token = csrf_token(client.get("/login/").text)
    caplog.set_level(logging.INFO, logger=ACCESS)
    caplog.clear()
    answer = client.post("/login/", data={"username": "thuky.iso", "password": "CamLam@2026", "csrf_token": token})
    assert answer.status_code == 302
    [line] = access_lines(caplog)
    assert line["user"] == "thuky.iso" and line["path"] == "/login/"


def test_health_answers_without_login(app):
    response = new_client(app).get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def migrations_head():
    from app.observability.health import migrations_head

    return migrations_head()


def test_ready_when_the_database_is_at_the_migrations_head(app):
    response = new_client(app).get("/ready")
    assert response.status_code == 200, response.text
    assert response.get_json() == {"status": "ready", "database": "ok", "migrations": migrations_head()}


def test_not_ready_when_the_database_is_behind_the_migrations(app):
    from app.extensions import db

    with app.app_context():
        with db.engine.begin() as connection:
            [before] = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        try:
            response = new_client(app).get("/ready")
        finally:
            with db.engine.begin() as connection:
                connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": before})
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready" and body["database"] == "ok"
    assert body["migrations"] == "0001" and body["expected"] == migrations_head()
    assert "flask db upgrade" in body["message"] and "Cơ sở dữ liệu" in body["message"]


def test_not_ready_when_the_database_cannot_be_reached(app, monkeypatch):
    from app.observability import health

    def unreachable():
        raise health.SQLAlchemyError("connection refused")

    monkeypatch.setattr(health, "database_revisions", unreachable)
    response = new_client(app).get("/ready")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "error" and "Không kết nối được" in body["message"]
    assert "refused" not in response.text


def test_a_database_error_is_logged_once_with_its_traceback_but_no_parameters(app, monkeypatch, caplog):
    from app.extensions import db

    secret = "MAT" + "-KHAU-" + "42"
    name = "Nguy" + "ễn Văn A"  # a text written into a statement, as the words searched are

    def failing():
        params = {"code": secret}
        written = "SELECT secret FROM no_such_table WHERE code = :code OR name = '" + name + "'"  # as a search is
        db.session.execute(text(written), params)

    monkeypatch.setitem(app.view_functions, "observability.health", failing)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    caplog.set_level(logging.INFO)
    caplog.clear()
    response = new_client(app).get("/health", headers={"X-Request-ID": "err-1"})
    assert response.status_code == 500
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    line = json.loads(errors[0].getMessage())
    assert line["request_id"] == "err-1" and line["path"] == "/health"
    assert "no_such_table" in line["error"] and "Traceback" in line["traceback"]
    assert "\n" not in errors[0].getMessage()
    logged = "\n".join(caplog.text.splitlines() + [r.getMessage() for r in caplog.records])
    assert secret not in logged
    assert name not in logged and "name = '…'" in line["error"]
    assert access_lines(caplog)[-1]["status"] == 500


def test_metrics_are_hidden_without_a_token_configured(app, monkeypatch):
    monkeypatch.setitem(app.config, "QMS_METRICS_TOKEN", "")
    assert new_client(app).get("/metrics").status_code == 404
    assert new_client(app).get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_metrics_need_the_right_bearer_token(app, monkeypatch, make_ticket):
    monkeypatch.setitem(app.config, "QMS_METRICS_TOKEN", "s3cret-token")
    client = new_client(app)
    assert client.get("/metrics").status_code in (401, 404)
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code in (401, 404)
    make_ticket(state="unit_review")
    client.get("/health")
    response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    metrics = response.text
    assert 'qms_workflow_transitions_total{name="submit",workflow="tickets"}' in metrics
    assert 'endpoint="observability.health"' in metrics
    assert "qms_http_request_duration_seconds_bucket" in metrics
    assert "/health" not in metrics  # endpoint names, never raw paths


def test_a_rolled_back_transition_is_not_counted(app, db, make_ticket, user):
    from prometheus_client import REGISTRY

    from app import workflow as engine
    from app.tickets.workflow import WORKFLOW

    ticket = make_ticket()

    def submitted():
        labels = {"workflow": "tickets", "name": "submit"}
        return REGISTRY.get_sample_value("qms_workflow_transitions_total", labels) or 0

    before = submitted()
    engine.run(WORKFLOW, user("canbo.ktht"), ticket, "submit", {}, save=False)
    db.session.rollback()
    assert submitted() == before
    engine.run(WORKFLOW, user("canbo.ktht"), ticket, "submit", {})
    assert submitted() == before + 1
