"""The benchmark's floor (bench/floor.py) is what a bare Flask app costs: it compiles its page's
template once, as Flask's file templates are, not on every request (1.2 ms of a 4 ms floor page
at the bench, which made every ratio look smaller than it is)."""
import json
import pathlib
import subprocess
import sys

import sqlalchemy as sa

from bench.floor import create_floor_app

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_the_floor_compiles_its_page_template_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'floor.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text("CREATE TABLE review (id INTEGER PRIMARY KEY, agency_id INTEGER, year INTEGER, "
                          "number INTEGER, form TEXT, period_start DATE, period_end DATE, state TEXT, "
                          "approved_on DATE)"))
        c.execute(sa.text("INSERT INTO review (agency_id, year, number, form, period_start, period_end, state) "
                          "VALUES (1, 2025, 7, 'meeting', '2025-01-01', '2025-12-31', 'approved')"))
    engine.dispose()
    app = create_floor_app(url)
    compiled = []
    compile_once = app.jinja_env.compile

    def counting_compile(*args, **kwargs):
        compiled.append(args[0])
        return compile_once(*args, **kwargs)

    app.jinja_env.compile = counting_compile
    client = app.test_client()
    pages = [client.get("/reviews?agency=1") for _ in range(3)]
    assert all(p.status_code == 200 and "approved" in p.text and "<td>7</td>" in p.text for p in pages)
    assert compiled == []


def test_the_vanilla_fab_reference_serves_fab_s_layout_to_a_signed_in_person(tmp_path):
    """bench/fab_vanilla.py, as `measure` runs it (a process of its own): a FAB app with none of
    the product's code signs its administrator in and serves an empty page in FAB's layout; its
    figures are one line of JSON. Given the address of a SQLite database (the product's, say), it
    keeps its own in memory: FAB would find the product's people there."""
    product = tmp_path / "product.db"
    found = subprocess.run([sys.executable, "-m", "bench.fab_vanilla", "--url", f"sqlite:///{product}",
                            "--rounds", "3"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr
    figures = json.loads(found.stdout.strip().splitlines()[-1])
    assert set(figures) == {"fab_ms", "bare_ms", "ratio", "statements", "kb"}
    assert figures["fab_ms"] > 0 and figures["bare_ms"] > 0
    assert figures["statements"] >= 1  # FAB reads the person and their permissions from the database
    assert figures["kb"] > 1  # FAB's layout, not the bare page's empty answer
    assert not product.exists()
