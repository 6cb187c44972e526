"""`flask qms backup` / `flask qms restore` (app.backup): the database with its files, the
secrets and the retention archives, checked by SHA-256; a backup restored into a fresh, empty
database serves the same tickets and the same file bytes."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import DEMO_PASSWORD

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ON_POSTGRESQL = os.environ.get("DATABASE_URL", "").startswith("postgresql")


def _env(database_url, tmp_path):
    return {**os.environ, "DATABASE_URL": database_url, "FLASK_APP": "app",
            "QMS_INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "", "QMS_SIGNING_KEY_SECRET": ""}


def _flask(args, database_url, tmp_path):
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=_env(database_url, tmp_path),
                          capture_output=True, text=True, timeout=120)


def _fresh_database(tmp_path, schema):
    """An empty database to restore into: a new SQLite file, or a new PostgreSQL database on
    the test server searched in the same schema as the backed-up one (a custom-format dump
    names its schema; see app.backup.restore)."""
    if not ON_POSTGRESQL:
        return "sqlite:///" + str(tmp_path / "restored.db"), lambda: None
    server = sa.engine.make_url(os.environ["DATABASE_URL"])
    name = "qms_restore_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    url = server.set(database=name).render_as_string(hide_password=False)
    if schema:
        url += f"?options=-csearch_path%3D{schema}"
    return url, drop


def _attachment_hashes(url) -> dict[int, str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return {row.id: hashlib.sha256(row.data).hexdigest()
                    for row in connection.execute(sa.text("SELECT id, data FROM attachment"))}
    finally:
        engine.dispose()


def _count(url, table) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
    finally:
        engine.dispose()


# Run on the restored database: chutich logs in and opens the list, the ticket and its file.
RESTORED_CHECKS = """
import hashlib, json, re, sys
from app import create_app

ticket_id, attachment_id = int(sys.argv[1]), int(sys.argv[2])
app = create_app({"TESTING": True, "SERVER_NAME": None})
client = app.test_client()
page = client.get("/login/")
token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
login = client.post("/login/", data={"username": "chutich", "password": "%s", "csrf_token": token})
listing = client.get("/tickets/list/")
show = client.get(f"/tickets/show/{ticket_id}")
file = client.get(f"/tickets/file/{attachment_id}")
print(json.dumps({"login": login.status_code, "list": listing.status_code,
                  "show": [show.status_code, show.text],
                  "file": [file.status_code, hashlib.sha256(file.data).hexdigest()]}))
""" % DEMO_PASSWORD


def test_pg_dump_arguments_come_from_the_sqlalchemy_url():
    from app.backup import pg_arguments

    args, env, schema = pg_arguments(
        "postgresql+psycopg://qms:b%C3%AD%20m%E1%BA%ADt@db.example:5433/qms"
        "?options=-csearch_path%3Dquan_ly&sslmode=require")
    assert args == ["--host", "db.example", "--port", "5433", "--username", "qms", "--dbname", "qms"]
    assert env["PGPASSWORD"] == "bí mật" and env["PGSSLMODE"] == "require"
    assert schema == "quan_ly"
    args, env, schema = pg_arguments("postgresql://postgres@127.0.0.1/test")
    assert args == ["--host", "127.0.0.1", "--username", "postgres", "--dbname", "test"]
    assert "PGPASSWORD" not in env and schema is None
    assert pg_arguments("postgresql+psycopg:///qms?options=-c%20search_path%3Dpublic")[2] is None


def test_a_missing_pg_dump_is_one_vietnamese_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump on it
    from app.backup import BackupError, dump_database

    with pytest.raises(BackupError) as raised:
        dump_database("postgresql+psycopg://u@127.0.0.1:1/none", tmp_path / "out")
    assert "pg_dump" in raised.value.message and "postgresql-client" in raised.value.message


def test_backup_then_restore_into_an_empty_database_serves_the_same_tickets_and_files(
        app, db, database_url, make_ticket, user, tmp_path):
    from app.tickets import services

    ticket = make_ticket(description="Phiếu của bản sao lưu — kiểm thử")
    pdf = b"%PDF-1.4\n% sao luu " + uuid.uuid4().bytes + b"\n%%EOF\n"
    [attachment] = services.attach_to_ticket(user("canbo.ktht"), ticket.id, [("bang-chung-sao-luu.pdf", pdf)])
    archives = tmp_path / "archives" / "CAMLAM" / "2019-001"
    archives.mkdir(parents=True)
    (archives / "ho-so.json").write_text('{"so": "2019-001"}')

    out = tmp_path / "backups"
    result = app.test_cli_runner().invoke(args=["qms", "backup", "--out", str(out),
                                                "--archives", str(tmp_path / "archives")])
    assert result.exit_code == 0, result.output
    [folder] = list(out.iterdir())
    assert folder.name.startswith("qms-backup-")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert "archives/CAMLAM/2019-001/ho-so.json" in manifest["files"]
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    secret = app.config["SECRET_KEY"]
    assert secret not in result.output and app.config["SIGNING_KEY_SECRET"] not in result.output
    assert "Đã sao lưu" in result.output

    schema = manifest["database"]["schema"]
    target, drop = _fresh_database(tmp_path, schema)
    try:
        # a tampered file is refused before anything is written
        tampered = tmp_path / "tampered"
        shutil.copytree(folder, tampered)
        with open(tampered / manifest["database"]["file"], "ab") as f:
            f.write(b"x")
        refused = _flask(["qms", "restore", "--from", str(tampered)], target, tmp_path)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        assert "không khớp" in refused.stderr

        restored = _flask(["qms", "restore", "--from", str(folder), "--with-secrets"], target, tmp_path)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "Đã khôi phục" in restored.stdout
        for name in ("secret_key", "signing_key_secret"):  # the kept secrets went back in place
            if (folder / "secrets" / name).exists():
                kept = (tmp_path / "instance" / name).read_text().strip()
                assert kept == (folder / "secrets" / name).read_text().strip()
                assert kept not in restored.stdout + restored.stderr

        assert _count(target, "ticket") == _count(database_url, "ticket")
        assert _attachment_hashes(target) == _attachment_hashes(database_url)
        assert _attachment_hashes(target)[attachment.id] == hashlib.sha256(pdf).hexdigest()
        checks = subprocess.run([sys.executable, "-c", RESTORED_CHECKS, str(ticket.id), str(attachment.id)],
                                cwd=ROOT, env=_env(target, tmp_path), capture_output=True, text=True, timeout=120)
        assert checks.returncode == 0, checks.stderr
        seen = json.loads(checks.stdout.strip().splitlines()[-1])
        assert seen["login"] == 302 and seen["list"] == 200
        assert seen["show"][0] == 200 and "Phiếu của bản sao lưu — kiểm thử" in seen["show"][1]
        assert seen["file"] == [200, hashlib.sha256(pdf).hexdigest()]

        # the target now has tables: a second restore is refused, in Vietnamese
        again = _flask(["qms", "restore", "--from", str(folder)], target, tmp_path)
        assert again.returncode != 0 and "Traceback" not in again.stderr
        assert "không trống" in again.stderr
    finally:
        drop()
