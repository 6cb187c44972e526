"""The floor: a bare Flask + SQLAlchemy app answering each figure with its essential query and a
plain Jinja loop (no FAB, no login, no tenancy layer, no menus). What the product costs above it
is the product's overhead.

    DATABASE_URL=postgresql+psycopg://... .venv/bin/gunicorn -w 4 'bench.floor:create_floor_app()'
    GET /<figure>?agency=<id>&user=<id>&page=<n>&q=<text>&id=<ticket id>
"""
import datetime
import os

import sqlalchemy as sa
from flask import Flask, abort, jsonify, render_template, request

PAGE = 25
TEMPLATE = """<!doctype html><html><head><title>{{ title }}</title></head><body>
<h1>{{ title }}</h1>{% if total is not none %}<p>{{ total }}</p>{% endif %}
<table>{% for row in rows %}<tr>{% for value in row %}<td>{{ value }}</td>{% endfor %}</tr>{% endfor %}</table>
</body></html>"""

LIST = "SELECT {cols} FROM {source} WHERE {where} ORDER BY {order} LIMIT {limit} OFFSET :offset"
TICKET_COLS = "t.id, t.number, t.year, t.state, t.description, t.requested_on, t.due_date, u.name"
TICKET_SRC = "ticket t JOIN unit u ON u.id = t.requesting_unit_id"

RUNS = ("WITH closing AS (SELECT t.requesting_unit_id AS unit_id, n.category_id, max(t.closed_on) AS last_closed "
        " FROM ticket t JOIN nonconformity n ON n.ticket_id = t.id WHERE t.state = 'closed' "
        " AND t.kind = 'corrective' AND t.agency_id = :agency AND n.agency_id = :agency GROUP BY 1, 2), "
        "run AS (SELECT n.unit_id, n.category_id, count(*) AS size FROM nonconformity n "
        " LEFT JOIN closing c ON c.unit_id = n.unit_id AND c.category_id = n.category_id "
        " WHERE n.agency_id = :agency AND (c.last_closed IS NULL OR n.detected_on > c.last_closed) "
        " GROUP BY 1, 2 HAVING sum(CASE WHEN n.ticket_id IS NULL THEN 1 ELSE 0 END) > 0 "
        " AND count(*) > (SELECT recurrence_threshold FROM agency WHERE id = :agency)) ")

# figure: [(SQL, is a list needing a count)], each run with :agency, :user, :offset, :q, :id, :start, :end
QUERIES = {
    "empty": [],  # no statement: what a bare page of the framework costs
    "home": [
        ("SELECT state, count(*) FROM ticket WHERE agency_id = :agency GROUP BY state", False),
        ("SELECT count(*) FROM ticket WHERE agency_id = :agency AND due_date < current_date "
         "AND closed_on IS NULL AND state <> 'declined'", False),
        ("SELECT count(*) FROM nonconformity WHERE agency_id = :agency AND detected_on >= :start", False),
        (LIST.format(cols=TICKET_COLS, source=TICKET_SRC, where="t.agency_id = :agency",
                     order="t.updated_at DESC", limit=10), False),
    ],
    "tickets": [
        (LIST.format(cols=TICKET_COLS, source=TICKET_SRC, where="t.agency_id = :agency",
                     order="t.id DESC", limit=PAGE), True),
        ("SELECT count(*) FROM ticket WHERE agency_id = :agency", False),
    ],
    "search": [
        (LIST.format(cols=TICKET_COLS, source=TICKET_SRC, where="t.agency_id = :agency AND t.description ILIKE :q",
                     order="t.id DESC", limit=PAGE), True),
        ("SELECT count(*) FROM ticket WHERE agency_id = :agency AND description ILIKE :q", False),
    ],
    "ticket": [
        ("SELECT t.*, u.name FROM ticket t JOIN unit u ON u.id = t.requesting_unit_id "
         "WHERE t.id = :id AND t.agency_id = :agency", False),
        ("SELECT e.at, e.name, e.from_state, e.to_state, a.username, e.comment FROM ticket_event e "
         "LEFT JOIN ab_user a ON a.id = e.actor_id WHERE e.ticket_id = :id ORDER BY e.id", False),
        ("SELECT id, detected_on, description FROM nonconformity WHERE ticket_id = :id", False),
    ],
    "ncs": [
        (LIST.format(cols="n.id, n.detected_on, u.name, c.name, n.source, n.disposition, n.ticket_id",
                     source="nonconformity n JOIN unit u ON u.id = n.unit_id JOIN nc_category c ON c.id = n.category_id",
                     where="n.agency_id = :agency", order="n.detected_on DESC, n.id DESC", limit=PAGE), True),
        ("SELECT count(*) FROM nonconformity WHERE agency_id = :agency", False),
    ],
    # the recurrence rule (5.2.2) as the product runs it: the series still open after each unit's
    # and category's last effective corrective action, over the agency's threshold; how many,
    # then a page of 25 with the 10 latest dates of each
    "recurring": [
        (RUNS + "SELECT count(*) FROM run", False),
        (RUNS + ", shown AS (SELECT * FROM run ORDER BY unit_id, category_id LIMIT 25), "
         "numbered AS (SELECT n.unit_id, n.category_id, n.detected_on, row_number() OVER ("
         " PARTITION BY n.unit_id, n.category_id ORDER BY n.detected_on DESC, n.id DESC) AS k "
         " FROM nonconformity n JOIN shown s ON s.unit_id = n.unit_id AND s.category_id = n.category_id "
         " LEFT JOIN closing c ON c.unit_id = n.unit_id AND c.category_id = n.category_id "
         " WHERE n.agency_id = :agency AND (c.last_closed IS NULL OR n.detected_on > c.last_closed)) "
         "SELECT u.name, cat.name, s.size, string_agg(to_char(m.detected_on, 'DD/MM/YYYY'), ', ' "
         " ORDER BY m.detected_on) FROM shown s JOIN unit u ON u.id = s.unit_id "
         "JOIN nc_category cat ON cat.id = s.category_id JOIN numbered m ON m.unit_id = s.unit_id "
         " AND m.category_id = s.category_id AND m.k <= 10 GROUP BY u.code, u.name, cat.name, s.size, s.unit_id, "
         " s.category_id ORDER BY s.unit_id, s.category_id", False),
    ],
    "review_inputs": [
        ("SELECT state, count(*) FROM ticket WHERE agency_id = :agency AND requested_on BETWEEN :start AND :end "
         "GROUP BY state", False),
        ("SELECT source, count(*) FROM nonconformity WHERE agency_id = :agency "
         "AND detected_on BETWEEN :start AND :end GROUP BY source", False),
        ("SELECT count(*) FROM ticket WHERE agency_id = :agency AND closed_on BETWEEN :start AND :end", False),
        ("SELECT year, state FROM objective_plan WHERE agency_id = :agency AND year = extract(year FROM :start)",
         False),
    ],
    "plans": [
        (LIST.format(cols="p.year, u.name, p.revision, p.state, p.submitted_on, p.approved_on",
                     source="objective_plan p LEFT JOIN unit u ON u.id = p.unit_id",
                     where="p.agency_id = :agency", order="p.year DESC, p.id", limit=PAGE), True),
        ("SELECT count(*) FROM objective_plan WHERE agency_id = :agency", False),
    ],
    "reviews": [
        (LIST.format(cols="r.year, r.number, r.form, r.period_start, r.period_end, r.state, r.approved_on",
                     source="review r", where="r.agency_id = :agency", order="r.period_end DESC", limit=PAGE), True),
        ("SELECT count(*) FROM review WHERE agency_id = :agency", False),
    ],
    "notifications": [
        (LIST.format(cols="n.created_at, n.subject, n.body, n.read_at", source="notification n",
                     where="n.user_id = :user", order="n.created_at DESC", limit=PAGE), True),
    ],
    "compliance": [
        ("SELECT a.code, a.agency_name, "
         "(SELECT count(*) FROM ticket t WHERE t.agency_id = a.id AND t.year = extract(year FROM :start)), "
         "(SELECT count(*) FROM ticket t WHERE t.agency_id = a.id AND t.due_date < current_date "
         " AND t.closed_on IS NULL AND t.state <> 'declined'), "
         "(SELECT max(r.period_end) FROM review r WHERE r.agency_id = a.id) "
         "FROM agency a ORDER BY a.code LIMIT 25", False),  # a page of the board
    ],
}


def create_floor_app(url: str | None = None) -> Flask:
    app = Flask(__name__)
    engine = sa.create_engine(url or os.environ["DATABASE_URL"], pool_size=5, max_overflow=5)
    app.config["ENGINE"] = engine
    page = app.jinja_env.from_string(TEMPLATE)  # compiled once, as Flask keeps its file templates

    def params() -> dict:
        today = datetime.date.today()
        year = int(request.args.get("year", today.year - 1))
        return {
            "agency": int(request.args.get("agency", 1)), "user": int(request.args.get("user", 0)),
            "offset": int(request.args.get("page", 0)) * PAGE, "q": f"%{request.args.get('q', '')}%",
            "id": int(request.args.get("id", 0)), "start": datetime.date(year, 1, 1),
            "end": datetime.date(year, 12, 31),
        }

    @app.get("/<figure>")
    def figure(figure):
        if figure not in QUERIES and figure != "rest":
            abort(404)
        p = params()
        with engine.connect() as c:
            if figure == "rest":  # a page of 100 and the count, as FAB's REST list answers
                rows = c.execute(sa.text(LIST.format(cols=TICKET_COLS, source=TICKET_SRC, where="t.agency_id = :agency",
                                                     order="t.id DESC", limit=100)), p).all()
                count = c.execute(sa.text("SELECT count(*) FROM ticket WHERE agency_id = :agency"), p).scalar()
                return jsonify(count=count, result=[[str(v) for v in r] for r in rows])
            rows, total = [], None
            for sql, _ in QUERIES[figure]:
                result = c.execute(sa.text(sql), p).all()
                if len(result) == 1 and len(result[0]) == 1 and total is None:
                    total = result[0][0]
                else:
                    rows += result
        return render_template(page, title=figure, rows=rows, total=total)

    @app.post("/transition")
    def transition():
        """The floor of the load's transition: open a draft ticket (with its history line), then
        number it from the agency's counter and send it on (another history line)."""
        p = params()
        with engine.begin() as c:
            ticket = c.execute(sa.text(
                "INSERT INTO ticket (state, version, kind, source, requesting_unit_id, description, requested_on, "
                "created_by_id, created_on, agency_id, updated_at) SELECT 'draft', 1, 'corrective', 'feedback', "
                "u.id, 'Phiếu tải thử (floor)', current_date, u.head_id, now(), :agency, now() "
                "FROM unit u WHERE u.agency_id = :agency AND u.head_id IS NOT NULL LIMIT 1 RETURNING id"), p).scalar()
            c.execute(sa.text("INSERT INTO ticket_event (ticket_id, name, to_state, at, agency_id) "
                              "VALUES (:t, 'create', 'draft', now(), :agency)"), {**p, "t": ticket})
        with engine.begin() as c:
            number = c.execute(sa.text(
                "INSERT INTO ticket_counter (agency_id, year, last_number) VALUES (:agency, :y, 1) "
                "ON CONFLICT (agency_id, year) DO UPDATE SET last_number = ticket_counter.last_number + 1 "
                "RETURNING last_number"), {**p, "y": datetime.date.today().year}).scalar()
            c.execute(sa.text("UPDATE ticket SET state = 'unit_review', number = :n, year = :y, version = version + 1 "
                              "WHERE id = :t"), {"n": number, "y": datetime.date.today().year, "t": ticket})
            c.execute(sa.text("INSERT INTO ticket_event (ticket_id, name, from_state, to_state, at, agency_id) "
                              "VALUES (:t, 'submit', 'draft', 'unit_review', now(), :agency)"), {**p, "t": ticket})
        return "ok", 201

    return app
