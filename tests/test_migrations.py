"""The schema comes from the Alembic migrations alone, on SQLite and PostgreSQL; a database
made by a landed version upgrades to the newest schema without losing a row."""
import datetime
import io
import os
import subprocess
import sys
import tarfile
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import assert_runs_kept

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LANDED_HEAD = "ebd591d"  # main with migrations 0001-0005, before any change of issue 10
BEFORE_WIDENING = "ebd591d~1"  # made objective_event/review_event states varchar(20)


def _env(database_url, tmp_path):
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLASK_APP": "app",
        "QMS_INSTANCE_DIR": str(tmp_path / "instance"),
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": "1",  # reminders of the old code: no mail goes out
    }


def _flask(args, database_url, tmp_path, cwd=ROOT):
    """`flask ARGS` of the code in `cwd` (this tree, or an old version from _old_code)."""
    return subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=cwd, env=_env(database_url, tmp_path),
        capture_output=True, text=True, timeout=300,
    )


def _old_code(commit, tmp_path):
    """The code of a landed commit, unpacked from this repository's history."""
    archive = subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", commit], capture_output=True)
    if archive.returncode != 0:
        pytest.fail(f"the git history must hold {commit}: {archive.stderr.decode()}")
    folder = tmp_path / commit.replace("~", "_")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return str(folder)


def _fresh_database(tmp_path):
    """An empty database: a new SQLite file, or a new schema on the test PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return "sqlite:///" + str(tmp_path / "empty.db"), lambda: None
    schema = "qms_mig_" + uuid.uuid4().hex[:10]
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop():
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}", drop


def test_setup_migrates_an_empty_database_and_matches_the_models(tmp_path):
    url, drop = _fresh_database(tmp_path)
    try:
        setup = _flask(["qms", "setup"], url, tmp_path)
        assert setup.returncode == 0, setup.stderr
        check = _flask(["db", "check"], url, tmp_path)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "No new upgrade operations detected" in check.stdout + check.stderr
        again = _flask(["qms", "setup"], url, tmp_path)  # idempotent
        assert again.returncode == 0, again.stderr
        down = _flask(["db", "downgrade", "base"], url, tmp_path)  # no agency yet: goes all the way
        assert down.returncode == 0, down.stderr
        assert _flask(["qms", "setup"], url, tmp_path).returncode == 0
        demo = _flask(["qms", "demo"], url, tmp_path)  # run twice: tests/test_demo_agencies.py
        assert demo.returncode == 0, demo.stderr
        assert "chutich" in demo.stdout and "CamLam@2026" in demo.stdout
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            users = connection.execute(sa.text("SELECT count(*) FROM ab_user")).scalar()
            units = connection.execute(sa.text("SELECT count(*) FROM unit")).scalar()
        engine.dispose()
        # two demo agencies (9 + 6 people, 5 + 4 units) and the platform's two people
        assert (users, units) == (17, 9)
        down = _flask(["db", "downgrade", "0007"], url, tmp_path)  # one agency's schema cannot hold two
        assert down.returncode != 0 and "nhiều hơn một cơ quan" in down.stderr
    finally:
        drop()


def test_unreachable_database_gives_a_clear_message(tmp_path):
    result = _flask(
        ["qms", "setup"], "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2", tmp_path
    )
    assert result.returncode != 0
    assert "Không kết nối được cơ sở dữ liệu" in result.stderr
    assert "Traceback" not in result.stderr


# Run by the landed head's own code after its demo, so that the tables the demo leaves empty
# (files, progress reports, change requests, box-2 revisions) hold rows too.
LANDED_RECORDS = """
from app import create_app
from app.extensions import db
from app.organisation.models import QmsUser
from app.tickets import services
from app.tickets.models import Ticket

app = create_app()
with app.app_context():
    ticket = db.session.query(Ticket).filter_by(state="implementation").order_by(Ticket.id).first()
    implementer = db.session.get(QmsUser, ticket.implementer_id)
    leader = db.session.query(QmsUser).filter_by(username="truongban.iso").one()
    pdf = b"%PDF-1.4\\n%%EOF\\n"
    services.add_progress_report(implementer, ticket.id, "Tiến độ", uploads=[("tien-do.pdf", pdf)])
    services.attach_to_ticket(implementer, ticket.id, [("bang-chung.pdf", pdf)])
    change = services.request_change(implementer, ticket.id, "measures", "Đổi biện pháp",
                                     new_measures="Biện pháp mới")
    services.decide_change(leader, change.id, True)
"""


def _tables(url) -> dict[str, list[dict]]:
    """Every row of every table, in primary-key order."""
    engine = sa.create_engine(url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return {table.name: [dict(row) for row in connection.execute(
                        sa.select(table).order_by(*table.primary_key.columns)).mappings()]
                    for table in metadata.tables.values()}
    finally:
        engine.dispose()


def _state_widths(url) -> set:
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {column["type"].length for table in ("objective_event", "review_event")
                for column in inspector.get_columns(table) if column["name"] in ("from_state", "to_state")}
    finally:
        engine.dispose()


def _assert_no_new_operations(url, tmp_path):
    check = _flask(["db", "check"], url, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="run on PostgreSQL; on SQLite the single-agency upgrade below walks 0006-0008")
def test_the_landed_head_with_its_demo_upgrades_without_losing_a_row(tmp_path):
    """A database made by the landed head's own setup and demo, upgraded by this code: every
    row is still there with the same values, declined tickets got their closing date, and the
    schema matches the models."""
    url, drop = _fresh_database(tmp_path)
    try:
        landed = _old_code(LANDED_HEAD, tmp_path)
        for step in (["qms", "setup"], ["qms", "demo"], ["qms", "remind"]):
            result = _flask(step, url, tmp_path, cwd=landed)
            assert result.returncode == 0, result.stderr
        records = subprocess.run([sys.executable, "-c", LANDED_RECORDS], cwd=landed,
                                 env=_env(url, tmp_path), capture_output=True, text=True, timeout=120)
        assert records.returncode == 0, records.stderr
        before = _tables(url)
        assert before["alembic_version"] == [{"version_num": "0005"}]
        assert all(before[t] for t in ("ticket", "ticket_event", "objective_event", "review_event",
                                       "nonconformity", "attachment", "change_request", "notification"))
        declined = {t["id"] for t in before["ticket"] if t["state"] == "declined"}
        assert declined and all(t["closed_on"] is None for t in before["ticket"] if t["id"] in declined)

        upgrade = _flask(["db", "upgrade"], url, tmp_path)
        assert upgrade.returncode == 0, upgrade.stderr
        after = _tables(url)
        after["agency_settings"] = after["agency"]  # the settings row became the first agency
        [agency] = after["agency"]
        assert agency["code"] == "CAMLAM" and agency["active"]
        for table, rows in before.items():
            if table == "alembic_version":
                continue
            assert len(after[table]) == len(rows), table
            assert all(row.get("agency_id", agency["id"]) == agency["id"] for row in after[table]), table
            for old, new in zip(rows, after[table]):
                if table == "ticket" and old["id"] in declined:
                    old = {**old, "closed_on": new["closed_on"]}  # the one value 0006 fills in
                assert {column: new[column] for column in old} == old, (table, old)

        declined_on = {}
        for event in before["ticket_event"]:
            if event["ticket_id"] in declined and event["to_state"] == "declined":
                declined_on[event["ticket_id"]] = event["at"].date()
        closed_on = {t["id"]: t["closed_on"] for t in after["ticket"] if t["id"] in declined}
        assert closed_on == declined_on and all(isinstance(d, datetime.date) for d in closed_on.values())
        assert after["open_run"]  # filled by 0021 from the NCs and tickets, by the rule the app keeps
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            assert_runs_kept(connection)
        engine.dispose()
        _assert_no_new_operations(url, tmp_path)
    finally:
        drop()


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="SQLite does not keep a varchar's width")
def test_state_columns_made_20_wide_before_ebd591d_are_widened(tmp_path):
    """ebd591d widened two columns by editing landed migrations: databases made before it
    keep varchar(20) until a new migration widens them."""
    url, drop = _fresh_database(tmp_path)
    try:
        old = _old_code(BEFORE_WIDENING, tmp_path)
        made = _flask(["db", "upgrade"], url, tmp_path, cwd=old)
        assert made.returncode == 0, made.stderr
        assert _state_widths(url) == {20}
        upgrade = _flask(["db", "upgrade"], url, tmp_path)
        assert upgrade.returncode == 0, upgrade.stderr
        assert _state_widths(url) == {30}
        _assert_no_new_operations(url, tmp_path)
    finally:
        drop()


SINGLE_AGENCY_HEAD = "d7855e2"  # main with migrations 0001-0007: one agency, one settings row
# As LANDED_RECORDS, for d7855e2's own code (its request_change takes the form as one dict).
SINGLE_AGENCY_RECORDS = LANDED_RECORDS.replace(
    '"measures", "Đổi biện pháp",\n                                     new_measures="Biện pháp mới")',
    '{"kind": "measures", "text": "Đổi biện pháp", "new_measures": "Biện pháp mới"})')
assert SINGLE_AGENCY_RECORDS != LANDED_RECORDS

# Run by this code against the upgraded database: the old users log in and see their tickets,
# and the ticket numbers of the year go on from the old counter.
UPGRADED_CHECKS = """
import datetime, json, re
from app import create_app
from app.extensions import db
from app.tenancy import agency_named
from app.tickets.numbering import next_number

app = create_app({"TESTING": True, "SERVER_NAME": None})
client = app.test_client()
page = client.get("/login/")
token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
login = client.post("/login/", data={"username": "chutich", "password": "CamLam@2026", "csrf_token": token})
tickets = client.get("/tickets/list/")
with app.app_context(), agency_named("CAMLAM") as agency:
    number = next_number(datetime.date.today().year)
    db.session.commit()
    code = agency.code
print(json.dumps({"login": [login.status_code, login.headers.get("Location", "")],
                  "tickets": [tickets.status_code, tickets.text], "number": number, "code": code}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="run on PostgreSQL, the production database (CI's second run)")
def test_a_single_agency_database_becomes_the_first_agency(tmp_path):
    """A database made by the last single-agency main (setup, demo, reminders, its settings
    changed by its admin), upgraded by this code: every row keeps its values, every record
    and person belongs to the first agency (CAMLAM) built from the settings row, the people
    log in, the ticket numbers of the year go on from the old counter, and the schema matches
    the models."""
    import json

    url, drop = _fresh_database(tmp_path)
    try:
        landed = _old_code(SINGLE_AGENCY_HEAD, tmp_path)
        for step in (["qms", "setup"], ["qms", "demo"], ["qms", "remind"]):
            result = _flask(step, url, tmp_path, cwd=landed)
            assert result.returncode == 0, result.stderr
        records = subprocess.run([sys.executable, "-c", SINGLE_AGENCY_RECORDS], cwd=landed,
                                 env=_env(url, tmp_path), capture_output=True, text=True, timeout=120)
        assert records.returncode == 0, records.stderr
        engine = sa.create_engine(url)
        with engine.begin() as connection:  # the admin's own settings, not the defaults
            connection.execute(sa.text("UPDATE agency_settings SET retention_years = 5, recurrence_threshold = 4,"
                                       " report_interval_days = 20, max_upload_mb = 15, procedure_issue = '03'"))
        engine.dispose()
        before = _tables(url)
        assert before["alembic_version"] == [{"version_num": "0007"}]
        [settings] = before["agency_settings"]
        year = datetime.date.today().year
        [counter] = [c for c in before["ticket_counter"] if c["year"] == year]
        assert counter["last_number"] > 0 and all(before[t] for t in (
            "ticket", "nonconformity", "attachment", "change_request", "notification", "reminder_log",
            "review", "objective_plan"))

        upgrade = _flask(["db", "upgrade", "0008"], url, tmp_path)  # the agencies' step; the rest after
        assert upgrade.returncode == 0, upgrade.stderr
        after = _tables(url)
        assert after["alembic_version"] == [{"version_num": "0008"}]
        [agency] = after["agency"]
        assert agency == {**settings, "code": "CAMLAM", "active": True}
        after["agency_settings"] = after["agency"]
        for table, rows in before.items():
            if table == "alembic_version":
                continue
            assert len(after[table]) == len(rows), table
            for old, new in zip(rows, after[table]):
                assert {column: new[column] for column in old} == old, (table, old)
                if "agency_id" in new and table != "agency_settings":
                    assert new["agency_id"] == agency["id"], (table, new)
        owned = {t for t, rows in after.items() if rows and "agency_id" in rows[0]}
        assert owned >= {"ab_user", "unit", "ticket", "ticket_counter", "review", "notification"}
        upgrade = _flask(["db", "upgrade"], url, tmp_path)
        assert upgrade.returncode == 0, upgrade.stderr

        checks = subprocess.run([sys.executable, "-c", UPGRADED_CHECKS], cwd=ROOT, env=_env(url, tmp_path),
                                capture_output=True, text=True, timeout=120)
        assert checks.returncode == 0, checks.stderr
        seen = json.loads(checks.stdout.strip().splitlines()[-1])
        assert seen["login"][0] == 302 and "/login" not in seen["login"][1], seen["login"]
        numbered = [t for t in before["ticket"] if t["year"] == year and t["number"]]
        assert seen["tickets"][0] == 200 and f"{numbered[0]['number']:03d}/{year}" in seen["tickets"][1]
        assert seen["code"] == "CAMLAM" and seen["number"] == counter["last_number"] + 1
        _assert_no_new_operations(url, tmp_path)

        # a second agency fits beside the first: its units' codes and names, unique only per agency
        # now (setup first: it adds the platform's new roles)
        for step in (["qms", "setup"], ["qms", "demo"]):
            result = _flask(step, url, tmp_path)
            assert result.returncode == 0, result.stderr
        units = _tables(url)["unit"]
        [hiep] = [a for a in _tables(url)["agency"] if a["code"] == "CAMHIEP"]
        assert {"VP"} == {u["code"] for u in units if u["agency_id"] == hiep["id"]} & {
            u["code"] for u in units if u["agency_id"] == agency["id"]}
    finally:
        drop()
