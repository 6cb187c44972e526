"""The Sở KHCN compliance board (SPEC §10): figures against hand counts, sorting, the late
filter, drill-down into one agency read-only, exports, and who may open it."""
import datetime
import io
import re
import shutil
import subprocess
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from tests.conftest import csrf_token, day, demo_agency

YEAR = datetime.date.today().year - 1  # the demo's finished year: CAMLAM's plan, report, audit and review
OPEN = ("unit_review", "iso_review", "leader_review", "analysis", "approval", "implementation",
        "verification", "verified")


@pytest.fixture(scope="module")
def camhiep(app):
    """CAMHIEP's records for YEAR: its plan approved after 30/01, an internal audit, a ticket
    overdue, one closed effective and one closed as not effective; no review, no report.
    Removed after the module: other modules count the commune's demo records."""
    from app.extensions import db
    from app.objectives.models import ObjectivePlan
    from app.organisation.models import QmsUser, Unit
    from app.reviews.models import InternalAudit
    from app.tickets.models import Ticket

    with demo_agency(app, "CAMHIEP"):
        staff = db.session.scalar(sa.select(QmsUser).filter_by(username="xa.canbo"))
        unit = db.session.scalar(sa.select(Unit).filter_by(code="KT"))
        common = dict(kind="corrective", source="nonconforming_activity", requesting_unit_id=unit.id,
                      requested_on=datetime.date(YEAR, 3, 1), requester_id=staff.id, created_by_id=staff.id)
        records = [
            ObjectivePlan(year=YEAR, unit_id=None, state="approved", submitted_on=datetime.date(YEAR, 1, 20),
                          approved_on=datetime.date(YEAR, 2, 10)),
            InternalAudit(year=YEAR, done_on=datetime.date(YEAR, 6, 1), scope="Toàn xã"),
            Ticket(state="implementation", due_date=day(-5), description="Xã: quá hạn khắc phục",
                   implementing_unit_id=unit.id, implementer_id=staff.id, **common),
            Ticket(state="closed", closed_on=datetime.date(YEAR, 9, 1), description="Xã: đã đóng có hiệu quả",
                   **common),
            Ticket(state="closed_ineffective", closed_on=datetime.date(YEAR, 10, 1),
                   description="Xã: đóng không hiệu quả", **common),
        ]
        db.session.add_all(records)
        db.session.commit()
        added = [(type(record), record.id) for record in records]
    yield "CAMHIEP"
    with demo_agency(app, "CAMHIEP"):
        for model, record_id in added:
            db.session.delete(db.session.get(model, record_id))
        db.session.commit()


def hand_counts(app, code, year=YEAR):
    """The board's figures of one agency, counted here one by one, as that agency."""
    from app.extensions import db
    from app.objectives.models import ObjectivePlan, ObjectiveReport
    from app.reviews.models import InternalAudit, Review
    from app.tickets import services
    from app.tickets.models import Ticket

    end = datetime.date(year, 12, 31)
    with demo_agency(app, code):
        tickets = db.session.scalars(sa.select(Ticket)).all()
        plans = [p for p in db.session.scalars(sa.select(ObjectivePlan)).all()
                 if p.year == year and p.unit_id is None and p.approved_on]
        reports = [r for r in db.session.scalars(sa.select(ObjectiveReport)).all()
                   if r.plan.year == year and r.plan.unit_id is None and r.approved_on]
        audits = [a for a in db.session.scalars(sa.select(InternalAudit)).all() if a.year == year]
        reviews = [r for r in db.session.scalars(sa.select(Review)).all()
                   if r.year == year and r.state in ("minutes_approved", "issued")]
        in_year = [t for t in tickets if t.closed_on and t.closed_on.year == year]
        closed = sum(t.state == "closed" for t in in_year)
        ineffective = sum(t.state == "closed_ineffective" for t in in_year)
        return {
            "plan_on": min((p.approved_on for p in plans), default=None),
            "report_on": min((r.approved_on for r in reports), default=None),
            "audits": len(audits),
            "review_held": bool(reviews),
            "open": sum(t.state in OPEN and t.requested_on <= end for t in tickets),
            "overdue": sum(t.state == "implementation" and t.due_date is not None and t.due_date < day()
                           and t.requested_on <= end for t in tickets),
            "closed": closed, "ineffective": ineffective,
            "effective_share": round(100 * closed / (closed + ineffective)) if closed + ineffective else None,
            "recurring": len(services.recurring_series()),
        }


def board_rows(app, year=YEAR):
    from app.compliance import services

    with app.app_context():
        return {row["code"]: row for row in services.board(year)}


def test_board_figures_equal_hand_counts(app, camhiep):
    rows = board_rows(app)
    assert {"CAMLAM", "CAMHIEP"} <= set(rows)
    for code in ("CAMLAM", "CAMHIEP"):
        expected = hand_counts(app, code)
        assert {key: rows[code][key] for key in expected} == expected, code
    # CAMLAM's finished demo year: everything on time
    camlam = rows["CAMLAM"]
    assert camlam["plan_flag"] == "ok" and camlam["report_flag"] == "ok"
    assert camlam["audits"] >= 1 and camlam["review_held"] and camlam["review_form"] == "meeting"
    # CAMHIEP: plan approved on 10/02 (late), no report, an overdue ticket; its demo
    # holds a meeting of last year (the review figure is checked against the hand count above)
    hiep = rows["CAMHIEP"]
    assert hiep["plan_on"] == datetime.date(YEAR, 2, 10) and hiep["plan_flag"] == "late"
    assert hiep["report_flag"] == "missing"
    assert hiep["overdue"] >= 1 and hiep["effective_share"] is not None
    assert hiep["late"] and set(hiep["reasons"]) >= {"plan", "report", "overdue"}
    assert ("review" in hiep["reasons"]) == (not hiep["review_held"])
    assert "audit" not in hiep["reasons"]


def test_recurring_series_use_each_agency_threshold(app, camhiep):
    from app.compliance import services
    from app.extensions import db
    from app.organisation.models import Agency
    from app.tenancy import ALL, agency_scope

    with app.app_context():
        with agency_scope(ALL):
            camlam = db.session.scalar(sa.select(Agency).filter_by(code="CAMLAM"))
            before = services.board(YEAR)
            camlam.recurrence_threshold = 1
            db.session.flush()
            lowered = services.board(YEAR)
            db.session.rollback()
    with demo_agency(app, "CAMLAM"):
        from app.tickets.services import recurring_series

        expected = len(recurring_series(threshold=1))
    assert next(r for r in lowered if r["code"] == "CAMLAM")["recurring"] == expected
    assert [r["recurring"] for r in before if r["code"] == "CAMHIEP"] == \
        [r["recurring"] for r in lowered if r["code"] == "CAMHIEP"]


def test_board_runs_a_fixed_number_of_queries(app, camhiep, count_queries):
    """GROUP BY per figure, never a query per agency: one more agency, the same count."""
    from app.compliance import services
    from app.extensions import db
    from app.organisation.models import Agency
    from app.tenancy import ALL, agency_scope

    with app.app_context():
        with count_queries() as first:
            services.board(YEAR)
        with agency_scope(ALL):
            db.session.add(Agency(code="ZZTEST", agency_name="ỦY BAN NHÂN DÂN XÃ THỬ"))
            db.session.flush()
            with count_queries() as second:
                rows = services.board(YEAR)
            db.session.rollback()
    assert "ZZTEST" in [r["code"] for r in rows]
    assert second.count == first.count <= 6


def test_a_board_page_holds_bounded_rows_with_the_full_boards_figures(app, camhiep, count_queries, monkeypatch):
    """A province of many agencies: a page shows BOARD_ROWS of them, each with the figures of
    the whole board (the recurring series counted for the page's agencies only), at the same
    number of statements however many agencies; sorted by the recurring series it still is."""
    from app.compliance import services
    from app.extensions import db
    from app.organisation.models import Agency
    from app.tenancy import ALL, agency_scope

    monkeypatch.setattr(services, "BOARD_ROWS", 2)
    with app.app_context(), agency_scope(ALL):
        with count_queries() as few:
            services.board_page(YEAR)
        db.session.add_all(Agency(code=f"ZZ{n:02}", agency_name=f"ỦY BAN NHÂN DÂN XÃ THỬ {n}") for n in range(5))
        db.session.flush()
        whole = {row["code"]: row for row in services.board(YEAR)}
        shown = []
        with count_queries() as many:
            first, page, pages = services.board_page(YEAR)
        for number in range(2, pages + 1):
            rows, page, _ = services.board_page(YEAR, page=number)
            assert page == number and rows
            shown += rows
        late, _, late_pages = services.board_page(YEAR, late_only=True, page=99)
        by_series, _, _ = services.board_page(YEAR, sort="recurring", descending=True)
        db.session.rollback()
    shown = first + shown
    assert len(first) == 2 and pages == -(-len(whole) // 2)
    assert [row["code"] for row in shown] == sorted(whole)
    for row in shown:
        assert {k: v for k, v in row.items() if k != "links"} == {k: v for k, v in whole[row["code"]].items() if k != "links"}
    assert many.count == few.count <= 8
    assert late and all(row["late"] for row in late)  # page 99 asked: the last page given
    assert [row["recurring"] for row in by_series] == sorted((r["recurring"] for r in whole.values()), reverse=True)[:2]


def test_the_board_page_links_its_pages(client_as_user, camhiep, monkeypatch):
    from app.compliance import services

    monkeypatch.setattr(services, "BOARD_ROWS", 1)
    client = client_as_user("so.khcn")
    first = client.get(f"/compliance/?year={YEAR}&sort=name")
    assert first.status_code == 200 and len(_codes(first.text)) == 1
    assert "Trang 1 / " in first.text
    following = re.search(r'class="btn btn-default btn-sm board-next" href="([^"]+)"', first.text).group(1)
    assert "sort=name" in following.replace("&amp;", "&") and "page=2" in following
    second = client.get(following.replace("&amp;", "&"))
    assert len(_codes(second.text)) == 1 and _codes(second.text) != _codes(first.text)
    assert "board-previous" in second.text


def _codes(html):
    return re.findall(r'class="agency-row[^"]*" data-code="([^"]+)"', html)


def test_board_page_sorts_and_filters_late(client_as_user, app, camhiep):
    client = client_as_user("so.khcn")
    page = client.get(f"/compliance/?year={YEAR}")
    assert page.status_code == 200
    assert "Bảng kiểm tra việc áp dụng HTQLCL" in page.text
    rows = board_rows(app)
    assert _codes(page.text) == sorted(rows)
    for key in ("overdue", "open", "name", "plan_on", "effective_share"):
        for desc in (0, 1):
            page = client.get(f"/compliance/?year={YEAR}&sort={key}&desc={desc}")
            shown = _codes(page.text)
            values = [rows[c][key] for c in shown if rows[c][key] is not None]
            assert values == sorted(values, reverse=bool(desc)), (key, desc)
            # empty values last
            assert all(rows[c][key] is None for c in shown[len(values):])
    late = _codes(client.get(f"/compliance/?year={YEAR}&late=1").text)
    assert "CAMHIEP" in late
    assert set(late) == {code for code, row in rows.items() if row["late"]}
    # dates as dd/mm/yyyy
    assert f"10/02/{YEAR}" in client.get(f"/compliance/?year={YEAR}").text


def test_drill_down_sets_the_scope_and_lists_only_that_agency(client_as_user, app, camhiep):
    from app.compliance import services

    client = client_as_user("so.khcn")
    rows = board_rows(app)
    hiep = rows["CAMHIEP"]
    overdue_link = hiep["links"]["overdue"]
    assert overdue_link.startswith("/compliance/inspect/CAMHIEP?next=")
    board = client.get(f"/compliance/?year={YEAR}").text
    assert overdue_link.replace("&", "&amp;") in board
    response = client.get(overdue_link)
    assert response.status_code == 302
    target = services.list_links(YEAR)["overdue"]
    assert response.headers["Location"] == target
    listed = client.get(target).text
    assert "Xã: quá hạn khắc phục" in listed
    assert "Đang kiểm tra: ỦY BAN NHÂN DÂN XÃ CAM HIỆP" in listed and "Quay lại bảng" in listed
    assert "/tickets/add" not in listed  # read-only: no add button
    # each ticket figure equals the count of the list it opens
    for key in ("open", "overdue", "ineffective"):
        shown = client.get(hiep["links"][key], follow_redirects=True).text
        assert re.search(r'class="ticket-count">(\d+)<', shown).group(1) == str(hiep[key]), key
    all_tickets = client.get("/tickets/list/?q=" + quote("Xã: đã đóng")).text
    assert "Xã: đã đóng có hiệu quả" in all_tickets
    # the year's plans and reviews, read-only; FAB's year filter on the audits
    for key, add in (("plan_on", "/objectives/add"), ("review_on", "/reviews/add")):
        listed = client.get(services.list_links(YEAR)[key])
        assert listed.status_code == 200 and add not in listed.text and "/delete/" not in listed.text, key
    assert "10/02/" + str(YEAR) in client.get(services.list_links(YEAR)["plan_on"]).text
    audits = client.get(services.list_links(YEAR)["audits"]).text
    assert f"01/06/{YEAR}" in audits
    assert f"01/06/{YEAR}" not in client.get(services.list_links(YEAR - 1)["audits"]).text

    # switch to CAMLAM: its records, none of CAMHIEP's
    client.get(rows["CAMLAM"]["links"]["open"])
    camlam_list = client.get("/tickets/list/?q=" + quote("Xã: quá hạn")).text
    assert "Xã: quá hạn khắc phục" not in camlam_list and 'class="ticket-count">0<' in camlam_list
    assert "Đang kiểm tra: ỦY BAN NHÂN DÂN HUYỆN CAM LÂM" in camlam_list
    for key, link in rows["CAMLAM"]["links"].items():
        followed = client.get(link, follow_redirects=True)
        assert followed.status_code == 200, key
        assert "Đang kiểm tra" in followed.text, key
        if key in ("open", "overdue", "ineffective"):
            count = re.search(r'class="ticket-count">(\d+)<', followed.text).group(1)
            assert count == str(rows["CAMLAM"][key]), key


def test_drill_down_refuses_other_sites_and_unknown_agencies(client_as_user):
    client = client_as_user("so.khcn")
    for target in ("http://example.com/", "//example.com/x", "https:/example.com", "javascript:alert(1)"):
        assert client.get(f"/compliance/inspect/CAMLAM?next={quote(target)}").status_code == 400, target
    assert client.get("/compliance/inspect/NOPE?next=/tickets/list/").status_code == 404
    # nothing chosen: no agency's records (the board asks to choose one), no banner
    response = client.get("/tickets/list/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/compliance/")
    assert "Đang kiểm tra" not in client.get("/tickets/list/", follow_redirects=True).text


def test_board_exports(client_as_user, camhiep):
    client = client_as_user("so.khcn")
    response = client.get(f"/compliance/export.xlsx?year={YEAR}")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert str(YEAR) in values[0][0] and "HTQLCL" in values[0][0].upper()
    headings = values[3]
    assert "Cơ quan" in headings
    codes = [row[0] for row in values[4:]]
    assert {"CAMLAM", "CAMHIEP"} <= set(codes)
    hiep = values[4 + codes.index("CAMHIEP")]
    assert hiep[1] == "ỦY BAN NHÂN DÂN XÃ CAM HIỆP" and hiep[3] == datetime.datetime(YEAR, 2, 10)
    late = client.get(f"/compliance/export.xlsx?year={YEAR}&late=1")
    late_codes = [row[0] for row in load_workbook(io.BytesIO(late.data)).active.iter_rows(min_row=5, values_only=True)]
    assert "CAMHIEP" in late_codes

    if shutil.which("wkhtmltopdf") is None:
        pytest.skip("wkhtmltopdf is not installed")
    response = client.get(f"/compliance/export.pdf?year={YEAR}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-", "-"], input=response.data, capture_output=True,
                          check=True).stdout.decode()
    folded = "".join(text.split())  # cells wrap: compare without the spacing
    assert "CAMLAM" in folded and "CAMHIEP" in folded and "XÃCAMHIỆP" in folded
    assert "Cơquan" in folded and f"10/02/{YEAR}" in folded


@pytest.mark.parametrize("username", ["admin", "canbo.ktht", "xa.admin", "chutich", "quantri"])
def test_only_the_inspector_opens_the_board(client_as_user, username):
    client = client_as_user(username)
    for url in ("/compliance/", "/compliance/export.xlsx", "/compliance/inspect/CAMLAM?next=/tickets/list/"):
        assert client.get(url).status_code == 403, (username, url)
    assert "/compliance/" not in client.get("/").text  # no menu entry


def test_admin_holds_no_platform_only_permission(app):
    from app.organisation import roles

    with app.app_context():
        admin = app.appbuilder.sm.find_role(roles.ADMIN)
        held = {(pv.permission.name, pv.view_menu.name) for pv in admin.permissions}
    assert held and not held & roles.PLATFORM_ONLY
    assert roles.COMPLIANCE_BOARD <= roles.INSPECTION


# --- read-only: every write endpoint refuses the inspector ---------------------------------

WRITE_METHODS = {"POST", "PUT", "DELETE", "PATCH"}
# Signing in and out, the language, and the inspector's own account (which they may change).
NOT_RECORDS = ("/login", "/logout", "/lang/", "/api/v1/security/", "/resetmypassword/", "/userinfoeditview/")

# FAB's user actions on the signed-in person's own account (a redirect to their own form).
OWN_ACCOUNT_ACTIONS = ("resetmypassword", "userinfoedit")


def _camlam_ids(app):
    """One CAMLAM record of each kind, by the route prefixes that take its id."""
    from app.extensions import db
    from app.objectives.models import ObjectivePlan, ObjectiveReport, ObjectiveRow
    from app.organisation.models import Agency, QmsUser, Unit
    from app.reviews.models import InternalAudit, Review
    from app.tickets.models import Attachment, NcCategory, Nonconformity, Ticket

    def first(model, *where):
        return db.session.scalar(sa.select(model.id).where(*where).order_by(model.id))

    with demo_agency(app, "CAMLAM"):
        plan = first(ObjectivePlan, ObjectivePlan.state == "approved")
        return {
            "ticket": first(Ticket), "nonconformit": first(Nonconformity), "objective": plan,
            "review": first(Review), "internal-audit": first(InternalAudit), "unit": first(Unit),
            "nc-categor": first(NcCategory), "setting": first(Agency), "user": first(QmsUser),
            "row": first(ObjectiveRow, ObjectiveRow.plan_id == plan),
            "report": first(ObjectiveReport), "attachment": first(Attachment),
        }


def _fill(rule, ids):
    """The rule's URL with CAMLAM ids (the record kind is read from the path)."""
    path = rule.rule
    kind = next((k for k in ids if k in path.split("<")[0].lower()), "ticket")
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if getattr(converter, "items", None):  # any(...)
            values[name] = sorted(converter.items)[0] if isinstance(converter.items, (set, frozenset)) \
                else list(converter.items)[0]
        elif name in ("pk", "id", "plan_id", "ticket_id", "review_id"):
            values[name] = ids[kind] or 1
        elif name == "row_id":
            values[name] = ids["row"] or 1
        elif name == "nc_id":
            values[name] = ids["nonconformit"] or 1
        elif name == "name":
            values[name] = "submit"
        else:
            values[name] = ids.get(name) or 1
    url = path
    for name, value in values.items():
        url = re.sub(r"<(?:[^:<>]+:)?" + name + r">", str(value), url)
    return url


def test_the_inspector_can_change_nothing(app, client_as_user, api):
    ids = _camlam_ids(app)
    client = client_as_user("so.khcn")
    assert client.get("/compliance/inspect/CAMLAM?next=/tickets/list/").status_code == 302
    token = csrf_token(client.get("/resetmypassword/form").text)
    jwt = api("so.khcn").environ_base["HTTP_AUTHORIZATION"]
    checked, wrong = 0, []
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) & WRITE_METHODS
        if not methods or rule.rule.startswith(NOT_RECORDS) or rule.endpoint == "static":
            continue
        url, data = _fill(rule, ids), {"csrf_token": token, "version": 1}
        mass_action = rule.endpoint.endswith((".action", ".action_post"))
        if mass_action:
            # FAB's mass actions: only those a view declares exist (an unknown name is FAB's 500);
            # a refused one is flashed "Access is Denied" and redirected, changing nothing
            view = next(v for v in app.appbuilder.baseviews if v.endpoint == rule.endpoint.split(".")[0])
            names = [n for n in view.actions if n not in OWN_ACCOUNT_ACTIONS]
            if not names:
                continue
            url = url.replace("/submit/", f"/{names[0]}/")
            data.update(action=names[0], rowid=str(ids["user"]))
        for method in sorted(methods):
            if rule.rule.startswith("/api/"):
                response = client.open(url, method=method, json={}, headers={"Authorization": jwt})
            else:
                response = client.open(url, method=method, data=data)
            checked += 1
            refused = response.status_code == 403 or (
                mass_action and response.status_code == 302
                and "Truy cập bị từ chối" in client.get(response.headers["Location"]).text)
            if not refused:
                wrong.append((method, url, response.status_code))
    assert checked > 40
    assert wrong == [], "\n".join(map(str, wrong))


def test_the_inspector_reads_pages_read_only(app, client_as_user):
    from app.extensions import db
    from app.objectives.models import ObjectivePlan
    from app.reviews.models import Review
    from app.tickets.models import Nonconformity, Ticket

    with demo_agency(app, "CAMLAM"):
        ticket = db.session.scalar(sa.select(Ticket).where(Ticket.state == "implementation").order_by(Ticket.id))
        number = ticket.display_number
    client = client_as_user("so.khcn")
    client.get("/compliance/inspect/CAMLAM?next=/")
    for url in ("/tickets/list/", "/nonconformities/list/", "/objectives/list/", "/reviews/list/",
                "/internal-audits/list/", "/recurring/", "/objectives-summary/",
                f"/tickets/show/{ticket.id}"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Đang kiểm tra" in response.text, url
    listed = client.get(f"/tickets/list/?q={number}").text
    assert number in listed and "/tickets/add" not in listed
    # no page offers a form that changes something (FAB's hidden delete form stays, unused)
    with demo_agency(app, "CAMLAM"):
        nc = db.session.scalar(sa.select(Nonconformity.id).where(Nonconformity.ticket_id.is_(None)))
        plan = db.session.scalar(sa.select(ObjectivePlan.id).where(ObjectivePlan.state == "approved"))
        review = db.session.scalar(sa.select(Review.id))
    for url in (f"/tickets/show/{ticket.id}", f"/nonconformities/show/{nc}", f"/objectives/show/{plan}",
                f"/reviews/show/{review}", "/recurring/", "/tickets/list/", "/objectives-summary/"):
        html = client.get(url).text
        forms = [f for f in re.findall(r"<form[^>]*>", html, re.I) if re.search(r"method=.post", f, re.I)
                 and 'id="delete_form"' not in f]
        assert forms == [], (url, forms)
        assert "/do/" not in html, url  # no transition button


def test_board_and_banner_are_vietnamese(client_as_user, camhiep):
    from tests.test_i18n import english_left

    client = client_as_user("so.khcn")
    for url in (f"/compliance/?year={YEAR}", f"/compliance/?year={YEAR}&late=1&sort=overdue&desc=1"):
        page = client.get(url)
        assert page.status_code == 200 and english_left(page.text) == [], url
        assert "Cấp tỉnh" in page.text  # the menu
    client.get("/compliance/inspect/CAMHIEP?next=/tickets/list/")
    assert english_left(client.get("/tickets/list/").text) == []


def test_the_inspector_home_page_opens_the_board(client_as_user, as_admin):
    assert 'href="/compliance/"' in client_as_user("so.khcn").get("/").text
    assert 'href="/compliance/"' not in as_admin.get("/").text


# --- the tester's defects (board2) ---------------------------------------------------------

def _page_cells(html):
    """The board page's cell texts, by agency code (tags stripped, spacing collapsed)."""
    import html as html_lib

    cells = {}
    for code, body in re.findall(r'<tr class="agency-row[^"]*" data-code="([^"]+)">(.*?)</tr>', html, re.S):
        tds = re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)
        cells[code] = [" ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", td)).split()) for td in tds]
    return cells


@pytest.mark.parametrize("year", [YEAR, YEAR + 1])
def test_exports_print_the_page_labels(client_as_user, camhiep, year):
    client = client_as_user("so.khcn")
    page = _page_cells(client.get(f"/compliance/?year={year}").text)
    sheet = load_workbook(io.BytesIO(client.get(f"/compliance/export.xlsx?year={year}").data)).active
    exported = {row[0]: _as_page(row) for row in sheet.iter_rows(min_row=5, values_only=True)}
    assert set(exported) == set(page) >= {"CAMLAM", "CAMHIEP"}
    for code in page:
        for column, (cell, shown) in enumerate(zip(exported[code], page[code])):
            if isinstance(cell, tuple):  # a status and its date cell: the page prints both
                status, day = cell
                assert all(word in shown for word in status.split()), (code, column, status, shown)
                assert day is None or day.strftime("%d/%m/%Y") in shown, (code, column, day, shown)
            else:
                assert cell == shown, (code, column)
    labels = " ".join(" ".join(cells) for cells in page.values())
    if year == YEAR:  # CAMHIEP's report was never done: the page's words, not a bare "Không"
        assert "Chưa phê duyệt (quá hạn)" in page["CAMHIEP"][3]
    else:
        assert "Chưa đến hạn" in labels


def test_board_pdf_names_the_province_and_prints_the_page_labels(client_as_user, camhiep):
    if shutil.which("wkhtmltopdf") is None:
        pytest.skip("wkhtmltopdf is not installed")
    client = client_as_user("so.khcn")
    response = client.get(f"/compliance/export.pdf?year={YEAR}")
    text = subprocess.run(["pdftotext", "-", "-"], input=response.data, capture_output=True,
                          check=True).stdout.decode()
    folded = "".join(text.split())
    assert "ỦYBANNHÂNDÂNTỈNHKHÁNHHÒA" in folded
    assert folded.index("ỦYBANNHÂNDÂNTỈNHKHÁNHHÒA") < folded.index("SỞKHOAHỌCVÀCÔNGNGHỆ")
    assert "Chưaphê" in folded and "Trễhạn" in folded  # CAMHIEP's report and plan, as on the page


def test_province_line_only_when_every_active_agency_shares_it(app):
    from app.compliance import services
    from app.extensions import db
    from app.organisation.models import Agency
    from app.tenancy import ALL, agency_scope

    with app.app_context(), agency_scope(ALL):
        assert services.province_line() == "ỦY BAN NHÂN DÂN TỈNH KHÁNH HÒA"
        db.session.add(Agency(code="ZZOTHER", agency_name="ỦY BAN NHÂN DÂN XÃ KHÁC",
                              parent_body="ỦY BAN NHÂN DÂN TỈNH NINH THUẬN"))
        db.session.flush()
        assert services.province_line() is None
        db.session.execute(sa.update(Agency).where(Agency.code == "ZZOTHER").values(active=False))
        db.session.flush()
        assert services.province_line() == "ỦY BAN NHÂN DÂN TỈNH KHÁNH HÒA"
        db.session.rollback()


def test_review_held_is_the_meeting_date_or_the_notice_date(app, client_as_user, camhiep):
    from app.compliance import services
    from app.extensions import db
    from app.reviews.models import Review
    from app.tenancy import ALL, agency_scope

    with demo_agency(app, "CAMLAM"):
        meeting = db.session.scalar(sa.select(Review).where(
            Review.year == YEAR, Review.form == "meeting", Review.state == "minutes_approved"))
        held = meeting.meeting_date
        assert held and held != meeting.approved_on
    rows = board_rows(app)
    assert rows["CAMLAM"]["review_on"] == held
    assert f"{held:%d/%m/%Y}" in _page_cells(client_as_user("so.khcn").get(f"/compliance/?year={YEAR}").text)["CAMLAM"][5]
    # the report form: held when the notice is issued
    far = YEAR - 4
    with demo_agency(app, "CAMHIEP"):
        db.session.add(Review(year=far, number=1, form="report", state="issued",
                              period_start=datetime.date(far, 1, 1), period_end=datetime.date(far, 12, 31),
                              report_approved_on=datetime.date(far, 10, 1),
                              approved_on=datetime.date(far, 11, 5), notice_year=far, notice_number=1))
        db.session.commit()
    try:
        with app.app_context():
            hiep = next(r for r in services.board(far) if r["code"] == "CAMHIEP")
        assert hiep["review_held"] and hiep["review_on"] == datetime.date(far, 11, 5)
    finally:
        with app.app_context(), agency_scope(ALL):
            db.session.execute(sa.delete(Review).where(Review.year == far))
            db.session.commit()


def test_ticket_list_chips_show_dates_day_month_year(client_as_user, camhiep):
    client = client_as_user("so.khcn")
    client.get("/compliance/inspect/CAMHIEP?next=/")
    for query in (f"to={YEAR}-12-31&from={YEAR}-01-01", f"to=31/12/{YEAR}&from=01/01/{YEAR}"):
        page = client.get(f"/tickets/list/?open=1&{query}").text
        assert f"Lập phiếu từ 01/01/{YEAR} đến 31/12/{YEAR}" in page, query
        assert f"{YEAR}-12-31" not in page.split("</form>")[0].split('type="hidden"')[0]
    page = client.get(f"/tickets/list/?closed_from={YEAR}-01-01&closed_to={YEAR}-12-31&overdue=1&overdue_on={YEAR}-06-30").text
    assert f"01/01/{YEAR}" in page and f"31/12/{YEAR}" in page and f"30/06/{YEAR}" in page
    # the board's ticket links read in dd/mm/yyyy on the list they open
    rows = board_rows(app=client.application)
    shown = client.get(rows["CAMHIEP"]["links"]["open"], follow_redirects=True).text
    assert f"đến 31/12/{YEAR}" in shown and f"{YEAR}-12-31</span>" not in shown


def test_opening_the_board_ends_the_inspection(client_as_user, app):
    from app.tenancy import INSPECTED_AGENCY

    client = client_as_user("so.khcn")
    client.get("/compliance/inspect/CAMHIEP?next=/tickets/list/")
    assert "Đang kiểm tra" in client.get("/tickets/list/").text
    board = client.get("/compliance/")
    assert board.status_code == 200 and "Đang kiểm tra:" not in board.text
    with client.session_transaction() as session:
        assert INSPECTED_AGENCY not in session
    assert "Đang kiểm tra" not in client.get("/", follow_redirects=True).text


def test_no_records_before_an_agency_is_chosen(client_as_user):
    client = client_as_user("so.khcn")
    for url in ("/objectives-summary/", "/tickets/list/", "/unitmodelview/list/", "/recurring/",
                "/objectives/list/", "/reviews/list/", "/internal-audits/list/", "/nonconformities/list/"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].endswith("/compliance/"), url
    board = client.get("/objectives-summary/", follow_redirects=True).text
    assert "Chọn một cơ quan trên bảng kiểm tra để xem hồ sơ của cơ quan đó." in board
    assert "Cơ quan (UBND huyện)" not in board
    for url in ("/", "/compliance/", "/help/workflow/tickets", "/users/userinfo/", "/resetmypassword/form",
                "/userinfoeditview/form"):
        assert client.get(url).status_code == 200, url
    # once an agency is chosen, its records open
    client.get("/compliance/inspect/CAMLAM?next=/")
    assert client.get("/objectives-summary/").status_code == 200


@pytest.mark.parametrize("username,shown", [("so.khcn", False), ("quantri", False), ("admin", True),
                                            ("canbo.ktht", True)])
def test_the_bell_shows_only_to_those_who_read_notifications(client_as_user, username, shown):
    client = client_as_user(username)
    assert ('href="/notifications/"' in client.get("/").text) == shown
    assert (client.get("/notifications/").status_code == 200) == shown


def test_pages_the_inspector_may_not_open_stay_forbidden(client_as_user):
    client = client_as_user("so.khcn")  # no agency chosen: a forbidden page is 403, not the board
    for url in ("/agencies/", "/users/list/", "/settings/list/", "/unitmodelview/add", "/notifications/"):
        assert client.get(url).status_code == 403, url


# --- issue 14: the board's workbook holds dates as date cells, figures as numbers ------------

DATED = (2, 4, 6, 8)  # the workbook's status columns, each followed by its date column


def _as_page(row):
    """A workbook line folded back to the page's twelve columns: (status, date) pairs for the
    dated columns, the share as the page prints it, the other cells as text."""
    cells, column = [], 0
    while column < len(row):
        value = row[column]
        if column in DATED:
            day = row[column + 1]
            cells.append((value, day.date() if isinstance(day, datetime.datetime) else day))
            column += 2
            continue
        if column == 13:
            cells.append("—" if value is None else f"{round(value * 100)} %")
        else:
            cells.append(" ".join(str(value).split()))
        column += 1
    return cells


def test_board_workbook_cells_are_typed(client_as_user, camhiep):
    client = client_as_user("so.khcn")
    sheet = load_workbook(io.BytesIO(client.get(f"/compliance/export.xlsx?year={YEAR}").data)).active
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=5)}
    hiep = rows["CAMHIEP"]
    headings = [c.value for c in sheet[4]]
    assert len(headings) == 16 and "Ngày phê duyệt" in headings[3]
    plan_day = hiep[3]
    assert isinstance(plan_day.value, datetime.datetime) and plan_day.value.date() == datetime.date(YEAR, 2, 10)
    assert "dd/mm/yyyy" in plan_day.number_format.lower()
    assert hiep[2].value == "Trễ hạn"  # the status alone, its date in the next cell
    audit_day = hiep[7]
    assert isinstance(audit_day.value, datetime.datetime) and audit_day.value.year == YEAR and "dd/mm/yyyy" in audit_day.number_format.lower()
    for column in (10, 11, 12, 14):  # open, overdue, not effective, recurring
        assert isinstance(hiep[column].value, int) and hiep[column].data_type == "n", column
    assert hiep[11].value >= 1 and hiep[12].value >= 1
    share = hiep[13]
    assert isinstance(share.value, float) and share.data_type == "n" and "%" in share.number_format
    for row in rows.values():  # no date written as text anywhere in the table
        for cell in row:
            if isinstance(cell.value, str):
                assert not re.search(r"\d{2}/\d{2}/\d{4}", cell.value), (row[0].value, cell.value)


def test_an_inspected_agency_is_read_once_per_page(client_as_user, count_queries):
    """The province inspector belongs to no agency: the agency they inspect was read again at
    every use of its settings on a page (the session kept no reference to it)."""
    client = client_as_user("so.khcn")
    client.get("/compliance/inspect/CAMLAM")
    client.get("/tickets/list/")
    with count_queries() as counter:
        page = client.get("/tickets/list/")
    assert page.status_code == 200 and 'class="ticket-row"' in page.text
    agency_reads = [s for s in counter.statements if " ".join(s.split()).startswith("SELECT agency.id")]
    assert len(agency_reads) <= 1, agency_reads
