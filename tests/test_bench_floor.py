"""The benchmark's floor (bench/floor.py) is what a bare Flask app costs: it compiles its page's
template once, as Flask's file templates are, not on every request (1.2 ms of a 4 ms floor page
at the bench, which made every ratio look smaller than it is)."""
import sqlalchemy as sa

from bench.floor import create_floor_app


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
