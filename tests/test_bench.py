"""The province benchmark (bench/province.py) works: a tiny province is built on PostgreSQL in a
schema of its own, its history agrees with the tickets' states, and one page is measured beside
its floor."""
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def run_bench(*args: str) -> str:
    """bench/province.py as its users run it: a process of its own (a second app in the test
    process would rebind FAB's one AppBuilder and leave the suite's app on the bench database)."""
    done = subprocess.run([sys.executable, "bench/province.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def bench_url():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("the province benchmark runs on PostgreSQL only (DATABASE_URL)")
    schema = "qms_bench_" + uuid.uuid4().hex[:10]
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    yield f"{url}{separator}options=-csearch_path%3D{schema}"
    with engine.begin() as c:
        c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def test_a_tiny_province_is_built_and_a_page_measured_beside_its_floor(bench_url, tmp_path):
    built = run_bench("build", "--url", bench_url, "--scale", "0.0005")
    engine = sa.create_engine(bench_url)
    with engine.connect() as c:
        agencies, tickets, ncs = c.execute(sa.text(
            "SELECT (SELECT count(*) FROM agency), (SELECT count(*) FROM ticket), (SELECT count(*) FROM nonconformity)")).one()
        assert agencies == 3 and tickets >= 500 and ncs >= 750, built
        # every bench ticket's last history line leads to its state, and numbered tickets are unique
        wrong = c.execute(sa.text("""
            SELECT count(*) FROM ticket t JOIN LATERAL (
                SELECT to_state FROM ticket_event e WHERE e.ticket_id = t.id ORDER BY e.at DESC, e.id DESC LIMIT 1
            ) last ON true WHERE last.to_state <> t.state""")).scalar()
        counters = c.execute(sa.text("""
            SELECT count(*) FROM ticket t JOIN ticket_counter tc ON tc.agency_id = t.agency_id AND tc.year = t.year
            WHERE t.number > tc.last_number""")).scalar()
    engine.dispose()
    assert wrong == 0 and counters == 0

    figures = tmp_path / "figures.json"
    printed = run_bench("measure", "--url", bench_url, "--rounds", "1", "--only", "tickets p1", "--json", str(figures))
    [row] = json.loads(figures.read_text())
    assert row["status"] == 200 and row["queries"] > 0 and row["floor_ms"] > 0 and row["kb"] > 1
    assert "tickets p1" in printed
