"""The province benchmark (bench/province.py) works: a tiny province is built on PostgreSQL in a
schema of its own, its history agrees with the tickets' states, and one page is measured beside
its floor."""
import os
import uuid

import pytest
import sqlalchemy as sa

# Run on demand (QMS_TEST_BENCH=1 with a PostgreSQL DATABASE_URL): inside the full suite the
# build leaves the session's own schema unusable for the tests after it (to be found and fixed).
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.environ.get("QMS_TEST_BENCH"), reason="QMS_TEST_BENCH=1 runs the benchmark's test")]


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


def test_a_tiny_province_is_built_and_a_page_measured_beside_its_floor(bench_url, capsys):
    from bench.measure import measure
    from bench.province import build

    rows = build(bench_url, scale=0.0005, reset=False)
    assert rows["agency"] == 3 and rows["ticket"] >= 500 and rows["nonconformity"] >= 750
    engine = sa.create_engine(bench_url)
    with engine.connect() as c:
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

    [row] = measure(bench_url, rounds=1, only=["tickets p1"])
    assert row["status"] == 200 and row["queries"] > 0 and row["floor_ms"] > 0 and row["kb"] > 1
    assert "tickets p1" in capsys.readouterr().out
