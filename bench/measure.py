"""`province.py measure`: each page of the product timed beside its floor (bench/floor.py), its
SQL statements counted, its size; then EXPLAIN of the hot statements (sequential scans over the
big tables flagged). Both apps run in this process through Flask's test client: the figure is
the server's time for the whole request, without network."""
import datetime
import json
import logging
import pathlib
import re
import statistics
import subprocess
import sys
import time

import sqlalchemy as sa
from sqlalchemy import event

from bench.floor import create_floor_app
from bench.province import BIG_TABLES, DEMO_PASSWORD, make_app

AGENCY = "CAMLAM"


class Recorder:
    """Counts the statements run while `on`, and keeps the slowest per statement text."""

    def __init__(self):
        self.on = False
        self.count = 0
        self.statements = {}  # text -> (seconds, parameters)

    def before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_start"] = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany):
        if not self.on:
            return
        self.count += 1
        spent = time.perf_counter() - conn.info.pop("bench_start", time.perf_counter())
        if statement.lstrip().upper().startswith("SELECT") and spent > self.statements.get(statement, (0,))[0]:
            self.statements[statement] = (spent, parameters)


def _login(client, username):
    if username.endswith("@api"):  # the REST API: a bearer token, as an integration would use
        response = client.post("/api/v1/security/login", json={
            "username": username[:-4], "password": DEMO_PASSWORD, "provider": "db"})
        client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + response.json["access_token"]
        return client
    return page_login(client, username, DEMO_PASSWORD)


def page_login(client, username, password):
    """Signed in through FAB's login page, its CSRF token read from the form (bench/fab_vanilla.py too)."""
    page = client.get("/login/").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    response = client.post("/login/", data={"username": username, "password": password,
                                            "csrf_token": token.group(1)})
    assert response.status_code == 302 and "/login" not in response.headers["Location"], f"login {username} failed"
    return client


def figures(engine) -> list[tuple]:
    """(figure, user, product URL, floor URL) for the demo agency, sized from its data."""
    with engine.connect() as c:
        agency = c.execute(sa.text("SELECT id FROM agency WHERE code = :c"), {"c": AGENCY}).scalar()
        tickets = c.execute(sa.text("SELECT count(*) FROM ticket WHERE agency_id = :a"), {"a": agency}).scalar()
        ticket = c.execute(sa.text(
            "SELECT id FROM ticket WHERE agency_id = :a AND state = 'closed' ORDER BY id DESC LIMIT 1"),
            {"a": agency}).scalar()
        leader = c.execute(sa.text("SELECT id FROM ab_user WHERE username = 'truongban.iso'")).scalar()
    deep = max(1, min(2000, tickets // 25 - 1))
    year = datetime.date.today().year - 1
    f = f"agency={agency}"
    return [
        ("home (dashboard)", "truongban.iso", "/", f"/home?{f}"),
        ("home, staff", "canbo.ktht", "/", f"/home?{f}"),
        ("tickets p1", "truongban.iso", "/tickets/list/", f"/tickets?{f}"),
        (f"tickets p{deep + 1} (deep)", "truongban.iso", f"/tickets/list/?page_TicketView={deep}",
         f"/tickets?{f}&page={deep}"),
        ("search 'tach thua'", "truongban.iso", "/tickets/list/?q=tach+thua",
         f"/search?{f}&q=tach+thua"),
        ("search 'tách thửa'", "truongban.iso", "/tickets/list/?q=t%C3%A1ch+th%E1%BB%ADa",
         f"/search?{f}&q=t%C3%A1ch+th%E1%BB%ADa"),
        ("ticket page", "truongban.iso", f"/tickets/show/{ticket}", f"/ticket?{f}&id={ticket}"),
        ("NC list", "truongban.iso", "/nonconformities/list/", f"/ncs?{f}"),
        ("recurring series", "truongban.iso", "/recurring/", f"/recurring?{f}"),
        (f"review inputs {year}", "truongban.iso@api", f"/api/v1/reviews/inputs?from={year}-01-01&to={year}-12-31",
         f"/review_inputs?{f}&year={year}"),
        ("plans", "truongban.iso", "/objectives/list/", f"/plans?{f}"),
        ("reviews", "truongban.iso", "/reviews/list/", f"/reviews?{f}"),
        ("notifications", "truongban.iso", "/notifications/", f"/notifications?{f}&user={leader}"),
        ("inspector: board", "so.khcn", "/compliance/", f"/compliance?{f}&year={year}"),
        ("inspector: tickets", "so.khcn!", "/tickets/list/", f"/tickets?{f}"),
        ("REST list of 100", "truongban.iso@api", "/api/v1/tickets/?q=(page_size:100)", f"/rest?{f}"),
        # what every page of the product pays before its own work (the person, the session, the
        # layout, the transaction) against an empty page of the floor: not a list, shown to read
        # the others by
        ("layout only (settings)", "truongban.iso", "/notifications/settings", f"/empty?{f}"),
    ]


WARM_UP = 12
"""Requests before the timed ones, as a worker that has served the page a while: caches, the
session, SQLAlchemy's compiled statements, and the statements psycopg prepares (from the sixth
run on a connection) and PostgreSQL then runs with a plan it keeps (from the fifth run of the
prepared statement, when that plan is not costlier; app.transactions)."""


def _time_in_turn(product, product_url, floor, floor_url, rounds, recorder):
    """The product's page and its floor, each warmed up, then timed in turn request by request:
    the machine's speed moves by ±10 % or more from one second to the next, and both see the
    same moments. (product ms, statements, bytes, status, floor ms)."""
    for _ in range(WARM_UP):
        response = product.get(product_url)
        floor.get(floor_url)
    status, size = response.status_code, len(response.data)
    timings, floor_timings, counts = [], [], []
    for _ in range(rounds):
        recorder.count = 0
        recorder.on = True
        start = time.perf_counter()
        response = product.get(product_url)
        timings.append(time.perf_counter() - start)
        recorder.on = False
        counts.append(recorder.count)
        status = max(status, response.status_code)
        start = time.perf_counter()
        floor.get(floor_url)
        floor_timings.append(time.perf_counter() - start)
    return (statistics.median(timings) * 1000, max(counts), size, status,
            statistics.median(floor_timings) * 1000)


def explain(engine, statements, limit=25) -> list[tuple]:
    """EXPLAIN (FORMAT JSON) of the slowest statements seen: (ms, tables scanned sequentially, text)."""
    found = []
    hot = sorted(statements.items(), key=lambda kv: -kv[1][0])[:limit]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for text, (spent, parameters) in hot:
            try:
                cursor.execute("EXPLAIN (FORMAT JSON) " + text, parameters)
                plan = cursor.fetchone()[0]
            except Exception as error:  # a statement EXPLAIN cannot take as is: say so
                raw.rollback()
                found.append((spent * 1000, [f"(not explained: {type(error).__name__})"], text))
                continue
            scans = []

            def walk(node):
                if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in BIG_TABLES:
                    scans.append(node["Relation Name"])
                for child in node.get("Plans", []):
                    walk(child)

            walk(plan[0]["Plan"])
            found.append((spent * 1000, scans, text))
        raw.rollback()
    finally:
        raw.close()
    return found


VANILLA = "vanilla FAB, empty page"


def vanilla_fab(url: str, rounds: int) -> dict | None:
    """bench/fab_vanilla.py in a process of its own (see there why), as a row of the table: its
    empty signed-in page beside a bare Flask page (not the floor's pages: its ratio compares
    with 'layout only', no other row). None, said why, if it failed: the figures measured stay."""
    try:
        found = subprocess.run([sys.executable, "-m", "bench.fab_vanilla", "--url", url, "--rounds", str(rounds)],
                               cwd=pathlib.Path(__file__).resolve().parent.parent, capture_output=True, text=True,
                               timeout=300)
        figures = json.loads(found.stdout.strip().splitlines()[-1]) if found.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError, IndexError) as error:
        found, figures = error, None
    if figures is None:
        print(f"{VANILLA}: failed ({str(getattr(found, 'stderr', found) or '')[-500:]})", file=sys.stderr)
        return None
    return {"figure": VANILLA, "product_ms": round(figures["fab_ms"], 1), "floor_ms": round(figures["bare_ms"], 1),
            "ratio": figures["ratio"], "queries": figures["statements"], "kb": figures["kb"], "status": 200,
            "reference": True}


def _line(row: dict) -> str:
    """A row of the printed table."""
    return (f"{row['figure']:<24} {row['product_ms']:10.1f} {row['floor_ms']:9.1f} {row['ratio']:6.2f} "
            f"{row['queries']:7d} {row['kb']:7.1f} {row['status']}")


def measure(url: str, rounds: int = 5, only=None, out=print) -> list[dict]:
    app = make_app(url)
    logging.getLogger("qms.access").setLevel(logging.WARNING)  # after the app: it sets INFO
    logging.getLogger("flask_appbuilder").setLevel(logging.ERROR)
    floor = create_floor_app(url).test_client()
    from app import freeze_startup_objects

    freeze_startup_objects()  # as each gunicorn worker does (deploy/gunicorn.conf.py)
    recorder = Recorder()
    event.listen(sa.engine.Engine, "before_cursor_execute", recorder.before)
    event.listen(sa.engine.Engine, "after_cursor_execute", recorder.after)
    engine = sa.create_engine(url)
    clients = {}
    results = []
    with engine.connect() as c:
        volume = {t: c.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in ("ticket", "nonconformity",
                                                                                         "ticket_event", "agency")}
    out("volume: " + ", ".join(f"{k} {v}" for k, v in volume.items()) + f"; agency measured: {AGENCY}")
    out(f"{'figure':<24} {'product ms':>10} {'floor ms':>9} {'ratio':>6} {'queries':>7} {'KB':>7} status")
    for name, user, product_url, floor_url in figures(engine):
        if only and not any(o in name for o in only):
            continue
        login = user.rstrip("!")
        key = user
        if key not in clients:
            clients[key] = _login(app.test_client(), login)
            if user.endswith("!"):  # the inspector looks at the demo agency
                clients[key].get(f"/compliance/inspect/{AGENCY}")
        ms, queries, size, status, floor_ms = _time_in_turn(clients[key], product_url, floor, floor_url, rounds,
                                                            recorder)
        row = {"figure": name, "product_ms": round(ms, 1), "floor_ms": round(floor_ms, 1),
               "ratio": round(ms / floor_ms, 2) if floor_ms else None, "queries": queries,
               "kb": round(size / 1024, 1), "status": status}
        results.append(row)
        out(_line(row))
    row = vanilla_fab(url, rounds) if not only or any(o in VANILLA for o in only) else None
    if row is not None:
        results.append(row)
        out(_line(row))
        out("  (Flask-AppBuilder with its defaults and none of the product's code, bench/fab_vanilla.py: "
            "what the stack costs a page before any of ours; compare with 'layout only')")
    out("\nEXPLAIN of the slowest statements seen (Seq Scan over " + ", ".join(BIG_TABLES) + " flagged):")
    for ms, scans, text in explain(engine, recorder.statements):
        flag = ("SEQ SCAN " + ",".join(scans)) if scans else "ok"
        out(f"  {ms:7.1f} ms  {flag:<32} {' '.join(text.split())[:150]}")
    event.remove(sa.engine.Engine, "before_cursor_execute", recorder.before)
    event.remove(sa.engine.Engine, "after_cursor_execute", recorder.after)
    engine.dispose()
    return results
