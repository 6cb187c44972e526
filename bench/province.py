"""Issue 15's benchmark: a province's data on PostgreSQL, each page timed beside its floor.

    .venv/bin/python bench/province.py build --url postgresql+psycopg://postgres@127.0.0.1:5432/bench_db \\
        --scale 0.01 --reset
    .venv/bin/python bench/province.py measure --url postgresql+psycopg://... [--rounds 5]

`build` makes the schema with the project's own `flask qms setup` (alembic migrations, roles)
and `flask qms demo` (the demo agencies and logins, password CamLam@2026), then adds the
province (bench/province_data.py) with set-based SQL and prints the time it took.
`measure` signs in as the ISO leader, a staff member and the province inspector of the demo
agency (UBND huyện Cam Lâm), times every page through the app (Flask test client, the whole
request: login session, tenancy, templates), counts its SQL statements, and runs the same
essential query with a plain Jinja loop in the floor app (bench/floor.py). Then EXPLAIN
(FORMAT JSON) of the hot statements seen during the runs, flagging sequential scans over the
big tables. Load: bench/load.py and bench/run_load.sh.
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa  # noqa: E402

from bench import province_data  # noqa: E402

DEMO_PASSWORD = "CamLam@2026"
BIG_TABLES = ("ticket", "ticket_event", "nonconformity", "nonconformity_event", "notification")


_apps = {}


def make_app(url: str):
    """The product on the bench database; one per process and URL (FAB's views are built once)."""
    if url not in _apps:
        os.environ.setdefault("QMS_INSTANCE_DIR", tempfile.mkdtemp(prefix="qms-province-"))
        from app import create_app

        _apps[url] = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTH_RATE_LIMITED": False,
                                 "RATELIMIT_ENABLED": False})
    return _apps[url]


def build(url: str, scale: float, reset: bool) -> dict:
    engine = sa.create_engine(url)
    start = time.perf_counter()
    if reset:
        with engine.begin() as c:
            schema = c.execute(sa.text("SELECT current_schema()")).scalar()
            c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    app = make_app(url)
    runner = app.test_cli_runner()
    for command in (["qms", "setup"], ["qms", "demo"]):
        result = runner.invoke(args=command)
        if result.exit_code != 0:
            raise SystemExit(f"flask {' '.join(command)} failed:\n{result.output}")
    print(f"schema and demo (flask qms setup, demo): {time.perf_counter() - start:.1f} s")
    print(f"province at scale {scale}: {province_data.sizes(scale)}")
    load_start = time.perf_counter()
    found = province_data.load(engine, scale)
    print(f"bulk load: {time.perf_counter() - load_start:.1f} s; total build {time.perf_counter() - start:.1f} s")
    print("rows: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    engine.dispose()
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="schema by migrations, then the province's rows in bulk")
    b.add_argument("--url", required=True)
    b.add_argument("--scale", type=float, default=0.01)
    b.add_argument("--reset", action="store_true", help="drop and recreate the current schema first")
    m = sub.add_parser("measure", help="time every page beside its floor; EXPLAIN the hot queries")
    m.add_argument("--url", required=True)
    m.add_argument("--rounds", type=int, default=5)
    m.add_argument("--only", default=None, help="comma-separated figure names (default: all)")
    m.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.url, args.scale, args.reset)
    else:
        from bench.measure import measure

        figures = measure(args.url, args.rounds, args.only.split(",") if args.only else None)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(figures, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())

