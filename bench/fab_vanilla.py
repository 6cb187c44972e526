"""What Flask-AppBuilder itself costs a page: a vanilla FAB app (FAB's defaults, none of the
product's code) serving a signed-in page with nothing on it but FAB's layout, timed in turn,
request by request, with an empty page of a bare Flask app. The product's "layout only" figure
(bench/measure.py) is the same page of the product: this says how much of it is the stack's.

It runs in a process of its own (`measure` starts it): in the product's process the product's
models and its SQLAlchemy events (the agency's condition on every ORM statement) would act on
this app too. On PostgreSQL its tables live in a schema of their own, made anew at each run;
with any other address, in a SQLite database in memory (never the product's: FAB would find the
product's people there).

    python -m bench.fab_vanilla --url URL [--rounds N]    # prints one line of JSON
"""
import argparse
import json
import secrets
import statistics
import sys
import time

import sqlalchemy as sa
from flask import Flask
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_sqlalchemy import SQLAlchemy
from jinja2 import ChoiceLoader, DictLoader

from bench.measure import page_login  # no product code: it imports the app only when measuring

SCHEMA = "fab_vanilla"
USERNAME = "admin"
WARM_UP = 12  # as bench/measure.py
PAGE = '{% extends "appbuilder/base.html" %}{% block content %}<p>—</p>{% endblock %}'


class EmptyView(BaseView):
    route_base = "/empty"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        return self.render_template("vanilla_empty.html")


def create_vanilla_app(url: str):
    """(the app, its engine, the password of its only user, an administrator)."""
    options = {}
    if not url.startswith("postgresql"):
        url = "sqlite://"  # Flask-SQLAlchemy keeps one connection to it (StaticPool)
    else:
        engine = sa.create_engine(url)
        with engine.begin() as c:
            c.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            c.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
        engine.dispose()
        options = {"connect_args": {"options": f"-csearch_path={SCHEMA}"}}
    app = Flask(__name__)
    # the page's template compiled once, as a file template (the floor's lesson: bench/floor.py)
    app.jinja_env.loader = ChoiceLoader([DictLoader({"vanilla_empty.html": PAGE}), app.jinja_env.loader])
    app.config.update(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS=options,
                      SECRET_KEY=secrets.token_hex(32), FAB_ADD_SECURITY_API=False)
    db = SQLAlchemy()
    db.init_app(app)
    password = secrets.token_urlsafe(12)
    with app.app_context():
        appbuilder = AppBuilder(app, db.session)  # creates FAB's tables and roles
        appbuilder.add_view(EmptyView, "Empty")
        sm = appbuilder.sm
        if sm.find_user(USERNAME) is None:
            sm.add_user(USERNAME, "Vanilla", "Admin", "admin@example.invalid", sm.find_role(sm.auth_role_admin),
                        password)
        engine = db.engine
    return app, engine, password


def measure(url: str, rounds: int) -> dict:
    app, engine, password = create_vanilla_app(url)
    client = page_login(app.test_client(), USERNAME, password)
    bare = Flask("bare")
    bare.add_url_rule("/empty", "empty", lambda: "")
    bare_client = bare.test_client()
    statements = []
    sa.event.listen(engine, "after_cursor_execute", lambda *args: statements.append(1))
    for _ in range(WARM_UP):
        response = client.get("/empty/")
        bare_client.get("/empty")
    if response.status_code != 200 or "navbar" not in response.text:
        raise SystemExit(f"the vanilla FAB page answered {response.status_code} without FAB's layout")
    timings, bare_timings, counts = [], [], []
    for _ in range(rounds):
        statements.clear()
        start = time.perf_counter()
        client.get("/empty/")
        timings.append(time.perf_counter() - start)
        counts.append(len(statements))
        start = time.perf_counter()
        bare_client.get("/empty")
        bare_timings.append(time.perf_counter() - start)
    fab_ms, bare_ms = statistics.median(timings) * 1000, statistics.median(bare_timings) * 1000
    engine.dispose()
    return {"fab_ms": round(fab_ms, 2), "bare_ms": round(bare_ms, 2), "ratio": round(fab_ms / bare_ms, 2),
            "statements": max(counts), "kb": round(len(response.data) / 1024, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.url, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
