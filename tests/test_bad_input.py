"""No 500 on bad input (issue 14 item 4): ids beyond the database's integer range, malformed
rison, wrong JSON types, oversized page sizes → 400/404/422 in Vietnamese; error bodies never
quote the database; the database going away → a Vietnamese 503 that needs no database."""
import json
import os
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

NOT_FOUND_VI = "Trang hoặc bản ghi bạn yêu cầu không tồn tại"
NOT_FOUND_VI_FULL = "Trang hoặc bản ghi bạn yêu cầu không tồn tại, hoặc bạn không có quyền xem."
HUGE_IDS = (2**31, 2**63, 99999999999999999999)
HUGE = "9" * 5000  # past Python's 4 300 digits of int(): int() itself refuses it
RESOURCES = ("tickets", "nonconformities", "objective-plans", "reviews")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _id_rules(app):
    """(rule, method) of every route that takes an id (an int argument or a <pk>)."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        ids = [a for a in rule.arguments
               if a == "pk" or isinstance(rule._converters[a], IntegerConverter)]
        if not ids:
            continue
        for method in sorted(rule.methods & {"GET", "POST", "PUT", "DELETE"}):
            found.append((rule, method, ids))
    return found


def _url(rule, ids, value):
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]
        if arg in ids:
            values[arg] = value
        elif hasattr(converter, "items"):
            values[arg] = sorted(converter.items)[0]
        else:
            values[arg] = "submit"
    return rule.build(values, append_unknown=False)[1]


def test_every_route_with_an_id_answers_404_for_ids_beyond_the_integer_range(app, as_admin, api):
    rules = _id_rules(app)
    assert len(rules) > 40  # the walk sees the routes
    client = api("admin")
    failures = []
    for rule, method, ids in rules:
        for value in (*HUGE_IDS, HUGE):
            # digits past Python's int() limit are written into the path as they are
            url = _url(rule, ids, 123456789).replace("123456789", value) if value == HUGE else _url(rule, ids, value)
            if url.startswith("/api/"):
                response = client.open(url, method=method, json={})
                # another method's route may match the path: 405, in Vietnamese too
                ok = (response.status_code == 404 and NOT_FOUND_VI in (response.json or {}).get("message", "")
                      or method != "GET" and response.status_code == 405)
            elif method != "GET":
                continue
            else:
                response = as_admin.get(url)
                ok = response.status_code == 404 and NOT_FOUND_VI in response.text
            if not ok:
                failures.append(f"{method} {url} → {response.status_code} {response.text[:120]}")
    assert not failures, "\n".join(failures)


def test_every_api_route_with_an_id_answers_404_for_ids_no_record_can_have(app, api):
    """Negative, zero and too large ids, every method of every API route with an id: 404 with
    the Vietnamese not-found body, like an id that does not exist (never 405)."""
    client = api("admin")
    failures, seen = [], 0
    for rule, method, ids in _id_rules(app):
        if not rule.rule.startswith("/api/"):
            continue
        seen += 1
        missing = client.open(_url(rule, ids, 2**31 - 1), method=method, json={})  # an id no record has
        assert missing.status_code == 404 and not missing.json["message"].isascii(), (method, rule.rule)
        for value in (-1, 0, -2**31, 2**31):
            url = _url(rule, ids, value)
            response = client.open(url, method=method, json={})
            if not (response.status_code == 404 and (response.json or {}).get("message") in (
                    missing.json["message"], str(NOT_FOUND_VI_FULL))):
                failures.append(f"{method} {url} → {response.status_code} {response.text[:120]}")
    assert seen > 15
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", str(2**31)])
def test_a_string_pk_that_is_not_an_id_answers_404(as_admin, api, value):
    assert as_admin.get(f"/tickets/show/{value}").status_code == 404
    response = api("admin").delete(f"/api/v1/tickets/{value}")
    assert response.status_code == 404 and NOT_FOUND_VI in response.json["message"]


@pytest.mark.parametrize("q", ["(((", "!", "(a:" * 3000, "[" * 5000, "(page_size:'x')", "(filters:!((col:nope)))"])
def test_malformed_rison_is_400_in_vietnamese(api, q):
    client = api("admin")
    malformed = not q.startswith("(page_size") and not q.startswith("(filters")
    for resource in RESOURCES:
        for path in (f"/api/v1/{resource}/", f"/api/v1/{resource}/_info")[:2 if malformed else 1]:
            response = client.get(path, query_string={"q": q})
            assert response.status_code == 400, (path, q[:20], response.status_code, response.text[:200])
            message = response.json["message"]
            assert "Tham số" in message, message


@pytest.mark.parametrize("q", [
    "(filters:!((col:year,opr:eq,value:99999999999)))", "(page:99999999999999999999)",
    "(filters:!((col:id,opr:eq,value:-9223372036854775809)))",
])
def test_numbers_beyond_the_integer_range_in_q_are_400(api, q):
    response = api("admin").get("/api/v1/objective-plans/", query_string={"q": q})
    assert response.status_code == 400, response.text
    assert "Tham số" in response.json["message"]


def test_page_size_is_capped_at_100(app, api):
    assert app.config["FAB_API_MAX_PAGE_SIZE"] == 100
    response = api("admin").get("/api/v1/tickets/", query_string={"q": "(page_size:100000)"})
    assert response.status_code == 200
    assert len(response.json["result"]) <= 100


@pytest.mark.parametrize("state, actor, step, fields", [
    ("unit_review", "truongphong.ktht", "forward", {"signs": {"a": 1}}),
    ("unit_review", "truongphong.ktht", "forward", {"signs": [{"a": 1}]}),
    ("unit_review", "truongphong.ktht", "forward", {"signs": [["serious"]]}),
    ("iso_review", "thuky.iso", "present", {"note": {"x": 1}}),
    ("iso_review", "thuky.iso", "present", {"note": 12}),
    ("iso_review", "thuky.iso", "present", {"note": ["a", "b"]}),
])
def test_wrong_json_types_in_a_transition_body_are_422(make_ticket, api, state, actor, step, fields):
    ticket = make_ticket(state=state)
    response = api(actor).post(f"/api/v1/tickets/{ticket.id}/transitions/{step}", json=fields)
    assert response.status_code == 422, response.text
    assert set(fields) <= set(response.json.get("errors", {}))


@pytest.mark.parametrize("body", [
    {"year": "abc"}, {"year": {"a": 1}}, {"year": [2026]}, {"year": 2**40}, {"year": True}, {"year": 1.5}, {"year": "²"},
    {"year": "--2026"}, {"year": "-+2026"}, {"year": "- 2026"},
])
def test_a_plan_with_a_year_that_is_not_a_whole_number_is_422(api, unit, body):
    response = api("thuky.iso").post("/api/v1/objective-plans/", json={**body, "unit": unit("KTHT").id})
    assert response.status_code == 422, response.text
    assert "year" in response.json.get("errors", {})


@pytest.mark.parametrize("body", [
    {"description": {"a": 1}}, {"description": 12}, {"requested_on": 20260101}, {"requested_on": ["x"]},
    {"requesting_unit": 2**40}, {"requesting_unit": {"id": 1}},
])
def test_a_ticket_with_wrong_types_is_422(api, unit, body):
    base = {"kind": "corrective", "source": "feedback", "description": "Kiểm thử kiểu sai",
            "requesting_unit": unit("KTHT").id, "requested_on": "2026-01-05"}
    response = api("canbo.ktht").post("/api/v1/tickets/", json={**base, **body})
    assert response.status_code == 422, response.text
    assert set(body) <= set(response.json.get("errors", {}))


@pytest.mark.parametrize("error", ["integrity", "data"])
def test_a_database_error_is_answered_without_its_sql(app, api, monkeypatch, error):
    """A failure of the database while deleting: a Vietnamese message, the detail in the log."""
    from sqlalchemy.exc import DataError, IntegrityError

    from app.tickets.api import NonconformityApi

    def broken(self, item):
        kind = IntegrityError if error == "integrity" else DataError
        raise kind("DELETE FROM nonconformity WHERE secret = %(x)s", {"x": 1}, Exception("boom"))

    monkeypatch.setattr(NonconformityApi, "pre_delete", broken, raising=False)
    client = api("admin")
    nc = client.get("/api/v1/nonconformities/").json["ids"][0]
    response = client.delete(f"/api/v1/nonconformities/{nc}")
    assert response.status_code in (422, 500)
    assert "DELETE" not in response.text and "boom" not in response.text and "secret" not in response.text
    assert response.json["message"] == "Đã xảy ra lỗi không mong muốn. Lỗi đã được ghi nhận; vui lòng thử lại sau."


DOWN = """
import json, sys
import app as factory
factory._check_database = lambda app: None  # the database was up at start-up
app = factory.create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2",
                          "TESTING": True, "SERVER_NAME": None})
client = app.test_client()
answers = {}
for path in ("/login/", "/", "/tickets/list/", "/api/v1/tickets/", "/api/v1/security/login"):
    if path.endswith("security/login"):
        response = client.post(path, json={"username": "admin", "password": "x", "provider": "db"})
    else:
        response = client.get(path)
    answers[path] = [response.status_code, response.get_data(as_text=True), response.content_type]
print("ANSWERS" + json.dumps(answers))
"""


def test_the_database_going_away_gives_a_vietnamese_503_without_a_traceback(tmp_path):
    env = {**os.environ, "QMS_INSTANCE_DIR": str(tmp_path), "PYTHONPATH": ROOT}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(DOWN)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert "ANSWERS" in result.stdout, result.stderr[-3000:]
    answers = json.loads(result.stdout.split("ANSWERS", 1)[1])
    for path, (status, body, content_type) in answers.items():
        assert status == 503, (path, status, body[:300])
        assert "Internal Server Error" not in body and "Traceback" not in body and "psycopg" not in body
        if path.startswith("/api/"):
            assert content_type.startswith("application/json")
            assert "Dịch vụ tạm thời không khả dụng" in json.loads(body)["message"]
        else:
            assert "Dịch vụ tạm thời không khả dụng" in body and "<html" in body.lower()
    assert "Traceback" not in result.stderr
    # one line per failure in the log
    lines = [line for line in result.stderr.splitlines() if "sở dữ liệu" in line or "database" in line.lower()]
    assert 1 <= len(lines) <= len(answers), result.stderr[-3000:]


BACK = """
import os, sys
import app as factory
factory._check_database = lambda app: None
folder = os.path.join(sys.argv[1], "later")
app = factory.create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///" + os.path.join(folder, "qms.db"),
                          "TESTING": True, "SERVER_NAME": None})
client = app.test_client()
print("BEFORE", client.get("/login/").status_code)
os.makedirs(folder)  # the database comes back
from flask_migrate import upgrade
with app.app_context():
    upgrade()
print("AFTER", client.get("/login/").status_code)
"""


def test_the_app_recovers_without_a_restart_when_the_database_comes_back(tmp_path):
    env = {**os.environ, "QMS_INSTANCE_DIR": str(tmp_path), "PYTHONPATH": ROOT}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(BACK), str(tmp_path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert "BEFORE 503" in result.stdout and "AFTER 200" in result.stdout, result.stdout + result.stderr[-3000:]


# --- found by the fuzz test (tests/test_fuzz.py) ----------------------------------------------

@pytest.mark.parametrize("start,end", [
    ("0001-01-01", "0001-01-01"), ("0001-01-01", "2026-12-31"), ("2026-01-01", "9999-12-31"),
    ("2026-01-01", "abc"), ("2026-12-31", "2026-01-01"),
])
def test_review_inputs_for_a_period_out_of_range_or_malformed_are_422_in_vietnamese(api, start, end):
    response = api("admin").get(f"/api/v1/reviews/inputs?from={start}&to={end}")
    assert response.status_code == 422, response.text
    message = response.json["message"]
    assert message not in ("from, to: YYYY-MM-DD", "from is after to")
    assert any(ord(c) > 127 for c in message)  # Vietnamese, not the English placeholder


def test_review_inputs_for_a_real_period_still_answer(api):
    response = api("admin").get("/api/v1/reviews/inputs?from=2026-01-01&to=2026-12-31")
    assert response.status_code == 200 and response.json["result"]


def test_rison_arguments_are_checked_against_a_schema_checked_once(api, monkeypatch):
    """FAB's schema of the REST arguments is checked against the meta-schema once (app.rest:
    each request only validates its arguments), and wrong arguments are still refused."""
    import jsonschema

    checked = []
    check = jsonschema.Draft202012Validator.check_schema.__func__  # FAB's schema names no draft: the latest
    monkeypatch.setattr(jsonschema.Draft202012Validator, "check_schema",
                        classmethod(lambda cls, schema, **kw: checked.append(1) or check(cls, schema, **kw)))
    client = api("admin")
    for _ in range(3):
        assert client.get("/api/v1/objective-plans/", query_string={"q": "(page_size:5)"}).status_code == 200
        refused = client.get("/api/v1/objective-plans/", query_string={"q": "(page_size:'x')"})
        assert refused.status_code == 400 and "Tham số" in refused.json["message"]
    assert len(checked) <= 1


@pytest.mark.parametrize("query", ["unit=99999999999", "year=99999999999", "unit=%C2%B2", "year=%C2%B2",
                                   "unit=1&unit=99999999999999999999", "q=3426618960", "q=%C2%B2%2F%C2%B2",
                                   "q=1%2F99999999999"])
@pytest.mark.parametrize("path", ["/tickets/list/", "/tickets/export.xlsx", "/tickets/binder"])
def test_the_ticket_lists_numbers_beyond_any_id_show_no_tickets_not_a_500(as_iso_leader, path, query):
    """The list, its export and its binder read one filter (a binder of no ticket goes back to the list)."""
    page = as_iso_leader.get(f"{path}?{query}")
    assert page.status_code in (200, 302), page.status_code


@pytest.mark.parametrize("page", ["%C2%B2", "99999999999", "-1", "abc"])
def test_my_work_at_a_page_that_is_not_one_shows_the_first(as_iso_leader, page):
    assert as_iso_leader.get(f"/my-work/?page={page}").status_code == 200


@pytest.mark.parametrize("field", ["unit_id", "category_id"])
@pytest.mark.parametrize("value", ["99999999999", "%C2%B2", "-1", "abc"])
def test_opening_a_ticket_from_a_series_that_no_id_names_is_404_in_vietnamese(client_as_user, unit, db, field, value):
    from urllib.parse import unquote

    from app.tickets.models import NcCategory
    from tests.conftest import csrf_token

    client = client_as_user("danhgia")
    token = csrf_token(client.get("/recurring/").text)
    data = {"unit_id": unit("VP").id, "category_id": db.session.query(NcCategory).first().id, "csrf_token": token,
            field: unquote(value)}
    response = client.post("/recurring/open", data=data)
    assert response.status_code == 404 and "Không có chuỗi KPH lặp lại" in response.text, response.status_code


@pytest.mark.parametrize("address", [
    "/tickets/list/?unit={v}", "/tickets/list/?q={v}", "/tickets/list/?year={v}", "/tickets/export.xlsx?q={v}",
    "/nonconformities/list/?unit={v}", "/nonconformities/list/?page_NonconformityView={v}",
    "/objectives/list/?unit={v}", "/reviews/list/?year={v}", "/my-work/?page={v}",
])
def test_digits_past_any_number_in_a_list_s_address_filter_nothing(as_iso_leader, address):
    page = as_iso_leader.get(address.format(v=HUGE))
    assert page.status_code in (200, 302), page.status_code


@pytest.mark.parametrize("value", ["abc", "%C2%B2", "-1", "-5", "99999999999999999999", HUGE, "1e3"])
@pytest.mark.parametrize("argument", ["page_NcCategoryView", "psize_NcCategoryView", "page_size"])
def test_fab_s_list_pages_read_a_page_or_a_size_that_is_not_one_as_their_first(as_admin, db, argument, value):
    """FAB's list pages (NC categories, units, users…) took `page_<View>` and `psize_<View>` with
    int(): a word was a 500, a negative or huge number a database error. Such an argument is
    now left out: the first page, of FAB's size; a size is at most 100, as FAB's widget offers."""
    from app.tickets.models import NcCategory

    first = db.session.scalar(sa.select(NcCategory.name).order_by(NcCategory.name))
    page = as_admin.get(f"/nc-categories/list/?{argument}={value}&_oc_NcCategoryView=name&_od_NcCategoryView=asc")
    assert page.status_code == 200, page.status_code
    assert first in page.text


def test_fab_s_list_pages_still_take_a_real_page_and_size(as_admin, db):
    from app.tickets.models import NcCategory

    names = sorted(db.session.scalars(sa.select(NcCategory.name)).all())
    assert len(names) > 2
    first = as_admin.get("/nc-categories/list/?psize_NcCategoryView=1&_oc_NcCategoryView=name&_od_NcCategoryView=asc")
    second = as_admin.get("/nc-categories/list/?psize_NcCategoryView=1&page_NcCategoryView=1"
                          "&_oc_NcCategoryView=name&_od_NcCategoryView=asc")
    assert names[0] in first.text and names[1] not in first.text
    assert names[1] in second.text and names[0] not in second.text
    capped = as_admin.get("/nc-categories/list/?psize_NcCategoryView=1000")
    assert capped.status_code == 200


@pytest.mark.parametrize("year", ["-1", "0", "99999999999999999999", "1999", "2101", "abc", HUGE])
def test_the_objectives_summary_of_a_year_no_plan_can_have_shows_this_year(as_iso_leader, year):
    """A year outside those a plan is drafted for (2000–2100) answered 500 (Python's dates stop
    at year 1 and 9999; PostgreSQL's integer before): the summary shows this year."""
    import datetime

    page = as_iso_leader.get(f"/objectives-summary/?year={year}")
    assert page.status_code == 200, page.status_code
    assert f"Tổng hợp MTCL toàn cơ quan — năm {datetime.date.today().year}" in page.text


def test_the_objectives_summary_of_a_year_before_the_first_plan_shows_it_without_rates(as_iso_leader):
    page = as_iso_leader.get("/objectives-summary/?year=2001")
    assert page.status_code == 200, page.status_code
    assert "Tổng hợp MTCL toàn cơ quan — năm 2001" in page.text


@pytest.mark.parametrize("document", ["objective_plan", "objective_report", "minutes", "qms_report", "notice", "ticket"])
@pytest.mark.parametrize("record", ["99999999999", "2147483648"])
def test_the_official_copy_of_a_record_no_id_names_is_404(as_iso_leader, document, record):
    page = as_iso_leader.get(f"/official/of?document={document}&record={record}")
    assert page.status_code == 404, page.status_code


@pytest.mark.parametrize("value", ["99999999999", "2147483648", "999999"])
def test_a_plan_for_a_unit_no_id_names_is_refused_on_the_form(client_as_user, value):
    from tests.conftest import csrf_token

    client = client_as_user("thuky.iso")
    token = csrf_token(client.get("/objectives/add").text)
    page = client.post("/objectives/add", data={"year": "2030", "unit": value, "csrf_token": token})
    assert page.status_code == 422, page.status_code  # the form again, with what is wrong
    assert "Hãy chọn một đơn vị trong danh sách." in page.text


def test_fab_s_page_sizes_past_100_are_100(app):
    from app.record_list import fab_page_args, fab_page_size_args

    with app.test_request_context("/x?psize_A=1000&psize_B=50&psize_C=0&page_A=3&page_B=-1&page_C=00007"):
        assert fab_page_size_args() == {"A": 100, "B": 50}
        assert fab_page_args() == {"A": 3, "C": 7}


def test_a_nul_character_typed_into_a_form_is_left_out(as_admin, db):
    """No text column can hold a NUL (PostgreSQL refuses the whole statement) and no one types
    one: FAB's own forms (NC categories, units, people) answered 500 for one. Every form's
    values are read without it."""
    from app.tickets.models import NcCategory
    from tests.conftest import csrf_token

    token = csrf_token(as_admin.get("/nc-categories/add").text)
    response = as_admin.post("/nc-categories/add", data={"csrf_token": token, "name": "Ký\x00 hiệu NUL", "active": "y"})
    assert response.status_code == 302, response.status_code
    category = db.session.scalar(sa.select(NcCategory).where(NcCategory.name == "Ký hiệu NUL"))
    assert category is not None
    db.session.delete(category)
    db.session.commit()
