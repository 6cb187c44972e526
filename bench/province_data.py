"""The province data set of issue 15, loaded with set-based SQL (INSERT … SELECT generate_series).

Scale 1.0: 300 agencies, 20 000 users, 1 000 000 tickets, 1 500 000 NCs, ~6 000 000 ticket
history entries over 10 years. Every agency gets the same share, so the measured demo agency
(CAMLAM) holds about 3 300 tickets and 5 000 NCs at any scale from 0.01 up: what grows with the
scale is everything around it (the tables the queries must not scan).

The schema and the demo (its agencies, roles and logins) come from the project's own
`flask qms setup` and `flask qms demo`; the bench rows are added beside them, consistent with
the workflow: each ticket has the history of the path that led to its state, numbers follow
the agency's counter, closed tickets carry their closing date and people.
"""
import time

import sqlalchemy as sa

BENCH_PREFIX = "BENCH"
UNITS_PER_AGENCY = 10
YEARS = 10

# The ticket workflow's main path (app/tickets/workflow.py): (name, from, to).
MAIN_PATH = [
    ("create", None, "draft"),
    ("submit", "draft", "unit_review"),
    ("forward", "unit_review", "iso_review"),
    ("present", "iso_review", "leader_review"),
    ("assign", "leader_review", "analysis"),
    ("propose", "analysis", "approval"),
    ("approve", "approval", "implementation"),
    ("report_done", "implementation", "verification"),
    ("verify", "verification", "verified"),
    ("close", "verified", "closed"),
]
# State a recent ticket may be in; older than a year: final states only.
OPEN_MIX = ["draft", "unit_review", "iso_review", "leader_review", "analysis", "approval",
            "implementation", "verification", "verified", "ineffective", "closed", "declined", "closed"]


def paths() -> list[tuple[str, int, str, str | None, str]]:
    """(final state, step, transition, from, to) for every state a bench ticket ends in."""
    rows = []
    for end, (_, _, state) in enumerate(MAIN_PATH):
        rows += [(state, i, *MAIN_PATH[i]) for i in range(end + 1)]
    rows += [("declined", i, *MAIN_PATH[i]) for i in range(2)]
    rows.append(("declined", 2, "decline", "unit_review", "declined"))
    for state in ("ineffective", "closed_ineffective"):
        rows += [(state, i, *MAIN_PATH[i]) for i in range(8)]
        rows.append((state, 8, "verify", "verification", "ineffective"))
    rows.append(("closed_ineffective", 9, "close_ineffective", "ineffective", "closed_ineffective"))
    return rows


def rank_case(column: str) -> str:
    """SQL: how far along the main path a state is (0 draft … 9 closed)."""
    order = {state: i for i, (_, _, state) in enumerate(MAIN_PATH)}
    order.update({"declined": 1, "ineffective": 8, "closed_ineffective": 9})
    return "CASE " + " ".join(f"WHEN {column} = '{s}' THEN {i}" for s, i in order.items()) + " END"


DESCRIPTIONS = [
    "Hồ sơ tách thửa đất trả kết quả trễ hẹn so với phiếu hẹn",
    "Thiếu thành phần hồ sơ đăng ký kinh doanh hộ cá thể nhưng vẫn tiếp nhận",
    "Kết quả chứng thực sai thông tin họ tên người yêu cầu",
    "Người dân phản ánh thái độ tiếp nhận hồ sơ tại bộ phận một cửa",
    "Quy trình cấp phép xây dựng chưa cập nhật văn bản pháp luật mới",
    "Hồ sơ hộ tịch lưu trữ không đúng quy định về thời hạn",
    "Chỉ tiêu giải quyết hồ sơ đúng hạn của quý không đạt mục tiêu",
    "Biểu mẫu tách thửa, hợp thửa chưa thống nhất giữa các đơn vị",
]
NC_SOURCES = ["feedback", "internal_audit", "process_monitoring", "stakeholders", "data_analysis",
              "nonconforming_activity", "qms_records"]
DISPOSITIONS = ["rework", "repair", "accept", "scrap"]
KIND_SOURCES = [("corrective", "feedback"), ("corrective", "process_results"),
                ("corrective", "internal_audit"), ("preventive", "risk_analysis"),
                ("corrective", "nonconforming_activity"), ("preventive", "management_review")]


def sizes(scale: float) -> dict:
    agencies = max(3, round(300 * scale))
    return {
        "agencies": agencies,
        "users": max(agencies * 20, round(20_000 * scale)),
        "tickets": max(100, round(1_000_000 * scale)),
        "ncs": max(150, round(1_500_000 * scale)),
    }


def _array(values) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def load(engine: sa.Engine, scale: float, log=print) -> dict:
    """Add the province's rows to a database holding the demo. Returns the row counts."""
    n = sizes(scale)
    steps = []

    def run(label, sql, **params):
        start = time.perf_counter()
        rows = 0
        with engine.begin() as c:
            for statement in sql.split(";\n"):
                if statement.strip():
                    result = c.execute(sa.text(statement), params)
                    rows += max(result.rowcount, 0)
        steps.append((label, time.perf_counter() - start))
        log(f"  {label:<28} {time.perf_counter() - start:7.1f} s  ({rows} rows)")

    with engine.connect() as c:
        if c.execute(sa.text(f"SELECT count(*) FROM agency WHERE code LIKE '{BENCH_PREFIX}%'")).scalar():
            raise SystemExit("The database already holds the bench data: build into a fresh one (--reset).")
        password = c.execute(sa.text("SELECT password FROM ab_user WHERE username = 'canbo.ktht'")).scalar()
        existing = c.execute(sa.text("SELECT count(*) FROM agency")).scalar()

    run("agencies", f"""
        INSERT INTO agency (code, agency_name, parent_body, place_name, steering_committee, procedure_code,
            procedure_issue, procedure_date, retention_years, recurrence_threshold, report_interval_days,
            max_upload_mb, active, email, tsa_url)
        SELECT '{BENCH_PREFIX}' || g, 'ỦY BAN NHÂN DÂN XÃ SỐ ' || g, a.parent_body, 'Xã số ' || g,
            a.steering_committee, a.procedure_code, a.procedure_issue, a.procedure_date, a.retention_years,
            a.recurrence_threshold, a.report_interval_days, a.max_upload_mb, true, '', ''
        FROM agency a, generate_series(1, :new) g WHERE a.code = 'CAMLAM'""", new=n["agencies"] - existing)
    run("units", f"""
        INSERT INTO unit (code, name, in_qms_scope, active, agency_id)
        SELECT 'P' || k, 'Phòng chuyên môn số ' || k, true, true, a.id
        FROM agency a, generate_series(1, {UNITS_PER_AGENCY}) k WHERE a.code LIKE '{BENCH_PREFIX}%'""")
    run("NC categories", f"""
        INSERT INTO nc_category (name, active, agency_id)
        SELECT c.name, true, a.id FROM agency a JOIN nc_category c
            ON c.agency_id = (SELECT id FROM agency WHERE code = 'CAMLAM')
        WHERE a.code LIKE '{BENCH_PREFIX}%'""")
    run("lookup tables", """
        DROP TABLE IF EXISTS b_agency, b_unit, b_cat, b_user, b_role, b_path;
        CREATE UNLOGGED TABLE b_agency AS
            SELECT id, (row_number() OVER (ORDER BY id) - 1)::int AS ai, code FROM agency;
        CREATE UNLOGGED TABLE b_unit AS
            SELECT id, agency_id, (row_number() OVER (PARTITION BY agency_id ORDER BY id) - 1)::int AS ui,
                   (count(*) OVER (PARTITION BY agency_id))::int AS n
            FROM unit WHERE in_qms_scope;
        CREATE UNLOGGED TABLE b_cat AS
            SELECT id, agency_id, (row_number() OVER (PARTITION BY agency_id ORDER BY id) - 1)::int AS ci,
                   (count(*) OVER (PARTITION BY agency_id))::int AS n
            FROM nc_category;
        CREATE INDEX ON b_unit (agency_id, ui);
        CREATE INDEX ON b_cat (agency_id, ci);
        ANALYZE b_agency;
        ANALYZE b_unit;
        ANALYZE b_cat""")
    per_agency = n["users"] // n["agencies"]
    run("users", f"""
        CREATE UNLOGGED TABLE b_user AS
        SELECT a.id AS agency_id, k, 'b' || a.ai || '.' || k AS username,
               CASE WHEN a.code NOT LIKE '{BENCH_PREFIX}%' THEN 'Staff' WHEN k = 1 THEN 'Admin'
                    WHEN k = 2 THEN 'IsoLeader' WHEN k = 3 THEN 'IsoSecretary' WHEN k = 4 THEN 'TopLeader'
                    WHEN k BETWEEN 5 AND 4 + {UNITS_PER_AGENCY} THEN 'UnitHead' ELSE 'Staff' END AS role,
               u.id AS unit_id, NULL::int AS id
        FROM b_agency a CROSS JOIN generate_series(1, :per) k
        JOIN b_unit u ON u.agency_id = a.id AND u.ui = k % u.n;
        INSERT INTO ab_user (first_name, last_name, username, password, active, email, created_on, changed_on,
                             unit_id, agency_id, login_count, fail_login_count)
        SELECT 'Số ' || k, 'Cán bộ', username, :password, true, username || '@bench.invalid', now(), now(),
               unit_id, agency_id, 0, 0 FROM b_user;
        UPDATE b_user b SET id = u.id FROM ab_user u WHERE u.username = b.username;
        INSERT INTO ab_user_role (user_id, role_id)
        SELECT b.id, r.id FROM b_user b JOIN ab_role r ON r.name = b.role;
        CREATE INDEX ON b_user (agency_id, k);
        ANALYZE b_user;
        UPDATE unit SET head_id = b.id FROM b_unit bu, b_user b
        WHERE unit.id = bu.id AND b.agency_id = bu.agency_id AND b.role = 'UnitHead' AND b.unit_id = bu.id
          AND unit.head_id IS NULL;
        CREATE UNLOGGED TABLE b_role AS
            SELECT u.agency_id, r.name AS role, min(u.id) AS user_id
            FROM ab_user u JOIN ab_user_role ur ON ur.user_id = u.id JOIN ab_role r ON r.id = ur.role_id
            WHERE u.agency_id IS NOT NULL GROUP BY 1, 2;""", per=per_agency, password=password)

    path_rows = ", ".join(
        f"('{s}', {i}, '{name}', {'NULL' if f is None else repr(f)}, '{t}')" for s, i, name, f, t in paths()
    )
    staff = per_agency - 4 - UNITS_PER_AGENCY
    with engine.connect() as c:
        t0 = c.execute(sa.text("SELECT coalesce(max(id), 0) FROM ticket")).scalar()
    A = n["agencies"]
    # g: the generation number; j = g / A: its rank within its agency.
    run("tickets", f"""
        CREATE UNLOGGED TABLE b_path (state text, step int, name text, from_state text, to_state text);
        INSERT INTO b_path VALUES {path_rows};
        CREATE UNLOGGED TABLE b_ticket AS
        SELECT g, {t0} + g AS id, a.id AS agency_id, x.requested_on,
               CASE WHEN current_date - x.requested_on > 365 THEN
                      CASE WHEN g % 100 < 50 THEN 'declined' WHEN g % 100 < 95 THEN 'closed'
                           ELSE 'closed_ineffective' END
                    ELSE ({_array(OPEN_MIX)})[1 + (g / {A}) % {len(OPEN_MIX)}] END AS state
        FROM generate_series(1, :tickets) g
        JOIN b_agency a ON a.ai = g % {A}
        CROSS JOIN LATERAL (SELECT current_date - ((g::bigint * 7919) % ({YEARS} * 365))::int AS requested_on) x;
        INSERT INTO ticket (id, number, year, state, version, kind, source, requesting_unit_id, description,
            requested_on, requester_id, created_by_id, created_on, assignee_unit_id, assignee_id, cause,
            measures, implementing_unit_id, implementer_id, implementing_unit_head_id, due_date,
            approved_by_id, approved_on, result_summary, reported_done_on, verification_result, verified_on,
            verified_by_id, evidence_text, closed_on, closed_by_id, agency_id, updated_at, signs)
        SELECT t.id,
               CASE WHEN r > 0 THEN coalesce(tc.last_number, 0)
                    + row_number() OVER (PARTITION BY t.agency_id, r > 0, extract(year FROM t.requested_on)
                                         ORDER BY t.requested_on, t.g) END,
               CASE WHEN r > 0 THEN extract(year FROM t.requested_on)::int END,
               t.state, 1, ({_array(k for k, _ in KIND_SOURCES)})[1 + t.g % {len(KIND_SOURCES)}],
               ({_array(s for _, s in KIND_SOURCES)})[1 + t.g % {len(KIND_SOURCES)}],
               u.id, ({_array(DESCRIPTIONS)})[1 + (t.g / {A}) % {len(DESCRIPTIONS)}] || ' (lần ' || t.g || ')',
               t.requested_on, p.id, p.id, t.requested_on + time '08:00',
               CASE WHEN r >= 4 THEN u.id END, CASE WHEN r >= 4 THEN p.id END,
               CASE WHEN r >= 5 THEN 'Nguyên nhân: chưa kiểm soát thời hạn xử lý' END,
               CASE WHEN r >= 5 THEN 'Bổ sung bước kiểm tra thời hạn trước khi trả kết quả' END,
               CASE WHEN r >= 6 THEN u.id END, CASE WHEN r >= 6 THEN p.id END,
               CASE WHEN r >= 6 THEN (SELECT head_id FROM unit WHERE unit.id = u.id) END,
               CASE WHEN r >= 5 THEN t.requested_on + 60 END,
               CASE WHEN r >= 6 THEN lead.user_id END, CASE WHEN r >= 6 THEN t.requested_on + 15 END,
               CASE WHEN r >= 7 THEN 'Đã thực hiện đầy đủ biện pháp' END,
               CASE WHEN r >= 7 THEN t.requested_on + 40 END,
               CASE WHEN t.state IN ('verified', 'closed') THEN 'pass'
                    WHEN t.state IN ('ineffective', 'closed_ineffective') THEN 'fail' END,
               CASE WHEN r >= 8 THEN t.requested_on + 50 END, CASE WHEN r >= 8 THEN sec.user_id END,
               CASE WHEN t.state = 'closed' THEN 'Biên bản kiểm tra kết quả' END,
               CASE WHEN t.state IN ('closed', 'closed_ineffective') THEN t.requested_on + 55
                    WHEN t.state = 'declined' THEN t.requested_on + 3 END,
               CASE WHEN t.state IN ('closed', 'closed_ineffective') THEN sec.user_id
                    WHEN t.state = 'declined' THEN (SELECT head_id FROM unit WHERE unit.id = u.id) END,
               t.agency_id, t.requested_on + r * 6 + time '09:00',
               CASE WHEN r >= 2 AND t.state <> 'declined' THEN '["repeated"]'::json END
        FROM (SELECT b.*, {rank_case('b.state')} AS r FROM b_ticket b) t
        JOIN b_unit u ON u.agency_id = t.agency_id AND u.ui = (t.g / {A}) % u.n
        JOIN b_user p ON p.agency_id = t.agency_id AND p.k = {per_agency - staff + 1} + (t.g / {A}) % {staff}
        LEFT JOIN b_role lead ON lead.agency_id = t.agency_id AND lead.role = 'IsoLeader'
        LEFT JOIN b_role sec ON sec.agency_id = t.agency_id AND sec.role = 'IsoSecretary'
        LEFT JOIN ticket_counter tc ON tc.agency_id = t.agency_id
             AND tc.year = extract(year FROM t.requested_on)::int""", tickets=n["tickets"])
    run("ticket counters", """
        INSERT INTO ticket_counter (agency_id, year, last_number)
        SELECT agency_id, year, max(number) FROM ticket WHERE number IS NOT NULL GROUP BY 1, 2
        ON CONFLICT (agency_id, year) DO UPDATE SET last_number = excluded.last_number""")
    run("ticket history", f"""
        INSERT INTO ticket_event (ticket_id, name, from_state, to_state, actor_id, at, comment, agency_id)
        SELECT t.id, p.name, p.from_state, p.to_state, t.created_by_id,
               t.requested_on + p.step * 6 + time '09:00', NULL, t.agency_id
        FROM ticket t JOIN b_path p ON p.state = t.state WHERE t.id > {t0}
        ORDER BY t.id, p.step""")
    run("nonconformities", f"""
        INSERT INTO nonconformity (unit_id, detected_on, detected_by_id, description, related_process, source,
            category_id, disposition, disposition_by_id, disposition_on, correction_done, correction_checked,
            beyond_authority, ticket_id, created_by_id, created_on, agency_id, updated_at)
        SELECT u.id, x.d, p.id, ({_array(DESCRIPTIONS)})[1 + (g / {A} / 3) % {len(DESCRIPTIONS)}],
               'Quy trình giải quyết TTHC', ({_array(NC_SOURCES)})[1 + g % {len(NC_SOURCES)}], c.id,
               ({_array(DISPOSITIONS)})[1 + g % {len(DISPOSITIONS)}], u.head_id, x.d + 2, true, g % 3 <> 0,
               false, CASE WHEN g <= :tickets AND g % 5 = 0 THEN {t0} + g END, p.id, x.d + time '10:00',
               a.id, x.d + time '10:00'
        FROM generate_series(1, :ncs) g
        JOIN b_agency a ON a.ai = g % {A}
        CROSS JOIN LATERAL (SELECT current_date - ((g::bigint * 7907) % ({YEARS} * 365))::int AS d) x
        JOIN (SELECT b_unit.*, unit.head_id FROM b_unit JOIN unit USING (id)) u
             ON u.agency_id = a.id AND u.ui = (g / {A}) % u.n
        JOIN b_cat c ON c.agency_id = a.id AND c.ci = (g / {A} / u.n) % c.n
        JOIN b_user p ON p.agency_id = a.id AND p.k = {per_agency - staff + 1} + (g / {A}) % {staff}""",
        tickets=n["tickets"], ncs=n["ncs"])
    run("objective plans", f"""
        INSERT INTO objective_plan (year, unit_id, revision, state, version, created_by_id, created_on,
                                    submitted_on, approved_by_id, approved_on, agency_id)
        SELECT y, u.id, 1, 'approved', 1, lead.user_id, make_date(y, 1, 5), make_date(y, 1, 10),
               lead.user_id, make_date(y, 1, 20), a.id
        FROM b_agency a CROSS JOIN generate_series(extract(year FROM current_date)::int - {YEARS},
                                                   extract(year FROM current_date)::int - 2) y
        LEFT JOIN b_unit u ON u.agency_id = a.id
        LEFT JOIN b_role lead ON lead.agency_id = a.id AND lead.role = 'IsoLeader'
        UNION ALL
        SELECT y, NULL, 1, 'approved', 1, lead.user_id, make_date(y, 1, 5), make_date(y, 1, 10),
               lead.user_id, make_date(y, 1, 20), a.id
        FROM b_agency a CROSS JOIN generate_series(extract(year FROM current_date)::int - {YEARS},
                                                   extract(year FROM current_date)::int - 2) y
        LEFT JOIN b_role lead ON lead.agency_id = a.id AND lead.role = 'IsoLeader'""")
    run("reviews", f"""
        INSERT INTO review (year, number, form, period_start, period_end, state, version, created_by_id,
                            created_on, meeting_date, approved_by_id, approved_on, agency_id)
        SELECT y, 1, 'meeting', make_date(y, 1, 1), make_date(y, 12, 31), 'minutes_approved', 1, sec.user_id,
               make_date(y, 12, 1), make_date(y, 12, 20), lead.user_id, make_date(y, 12, 22), a.id
        FROM b_agency a CROSS JOIN generate_series(extract(year FROM current_date)::int - {YEARS},
                                                   extract(year FROM current_date)::int - 2) y
        LEFT JOIN b_role lead ON lead.agency_id = a.id AND lead.role = 'IsoLeader'
        LEFT JOIN b_role sec ON sec.agency_id = a.id AND sec.role = 'IsoSecretary'
        WHERE NOT EXISTS (SELECT 1 FROM review r WHERE r.agency_id = a.id AND r.year = y)""")
    run("notifications", """
        INSERT INTO notification (user_id, created_at, subject, body, read_at, agency_id)
        SELECT u.id, now() - k * interval '7 days', 'Nhắc việc: phiếu sắp đến hạn',
               'Có phiếu yêu cầu hành động sắp đến hạn hoàn thành.',
               CASE WHEN k > 2 THEN now() - k * interval '7 days' + interval '1 day' END, u.agency_id
        FROM ab_user u CROSS JOIN generate_series(1, 10) k WHERE u.agency_id IS NOT NULL""")
    start = time.perf_counter()
    from app.tickets.runs import refresh_open_runs  # the bulk rows bypass the session that keeps them

    with engine.begin() as c:
        refresh_open_runs(c)
    steps.append(("open runs", time.perf_counter() - start))
    log(f"  {'open runs':<28} {time.perf_counter() - start:7.1f} s")
    run("sequences and statistics", """
        SELECT setval('ticket_id_seq', (SELECT max(id) FROM ticket));
        DROP TABLE b_agency, b_unit, b_cat, b_user, b_role, b_path, b_ticket;""")
    start = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        tables = c.execute(sa.text("SELECT quote_ident(tablename) FROM pg_tables "
                                   "WHERE schemaname = current_schema()")).scalars().all()
        c.execute(sa.text("VACUUM ANALYZE " + ", ".join(tables)))
    steps.append(("vacuum analyze", time.perf_counter() - start))
    log(f"  {'vacuum analyze':<28} {time.perf_counter() - start:7.1f} s")
    return counts(engine)


COUNTED = ("agency", "unit", "ab_user", "ticket", "ticket_event", "nonconformity", "nonconformity_event",
           "objective_plan", "review", "notification")


def counts(engine) -> dict:
    with engine.connect() as c:
        return {t: c.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in COUNTED}
