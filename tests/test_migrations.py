"""The schema comes from the Alembic migrations alone, on SQLite and PostgreSQL."""
import os
import subprocess
import sys
import uuid

import sqlalchemy as sa

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _flask(args, database_url, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLASK_APP": "app",
        "QMS_INSTANCE_DIR": str(tmp_path / "instance"),
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300,
    )


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
        demo = _flask(["qms", "demo"], url, tmp_path)
        demo_again = _flask(["qms", "demo"], url, tmp_path)
        assert demo.returncode == demo_again.returncode == 0, demo.stderr + demo_again.stderr
        assert "chutich" in demo.stdout and "CamLam@2026" in demo.stdout
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            users = connection.execute(sa.text("SELECT count(*) FROM ab_user")).scalar()
            units = connection.execute(sa.text("SELECT count(*) FROM unit")).scalar()
        engine.dispose()
        assert (users, units) == (9, 5)
        down = _flask(["db", "downgrade", "base"], url, tmp_path)
        assert down.returncode == 0, down.stderr
    finally:
        drop()


def test_unreachable_database_gives_a_clear_message(tmp_path):
    result = _flask(
        ["qms", "setup"], "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2", tmp_path
    )
    assert result.returncode != 0
    assert "Không kết nối được cơ sở dữ liệu" in result.stderr
    assert "Traceback" not in result.stderr
