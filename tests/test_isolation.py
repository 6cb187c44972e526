"""Isolation of agencies (SPEC §10, issue 12 item 2): a user of UBND xã Cam Hiệp tries every
route that takes an id with the ids of UBND huyện Cam Lâm's records and gets 404 — pages,
PDFs, exports, file downloads and the REST API, for reading and writing alike — and its
lists, counts, searches, figures, form choices and exports hold none of Cam Lâm's rows.

The routes are read from `app.url_map`, so a new route is walked without touching this file;
a route whose id argument this file cannot fill fails until it is taught the argument.
"""
import datetime
import itertools
import re

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token, day, demo_agency

MISSING = 10 ** 8  # an id no record has: what a hidden record must look like

# Route arguments that are not record ids (their values are chosen below).
NOT_IDS = {"name", "document", "kind"}

# Routes not walked, each with the reason. Everything else that takes an argument is walked.
SKIPPED = {
    "/static/": "static files of the app (no record)",
    "/static/appbuilder/": "FAB's static files (no record)",
    "/api/<version>/_openapi": "the API description (no record)",
    "/swagger/<version>": "the API browser (no record)",
    "/lang/<string:locale>": "the choice of the screen language (no record)",
    "/help/workflow/<name>": "a workflow's help page, drawn from code (no record)",
    "/userstatschartview/chart/<group_by>": "FAB's chart of user statistics by a column name (no record id)",
    "/download/<string:filename>": "FAB's file-column download by file name (no record id): no model has a "
                                   "file column; test_fab_file_download_serves_nothing checks it answers 404",
    "/roles/": "FAB security: roles are defined in code for the whole platform (no agency's record)",
    "/permissions/": "FAB security: permission names of the platform (no agency's record)",
    "/permissionviews/": "FAB security: permission-view pairs of the platform (no agency's record)",
    "/viewmenus/": "FAB security: view and menu names of the platform (no agency's record)",
    "/groups/": "FAB security groups hold roles of the platform; groups have no agency yet (see the report)",
}

# Routes refused to everybody whatever the id (see the walk's test).
REFUSED_FOR_ANY_ID = {("delete", "GET"), ("edit", "GET"), ("edit", "POST"), ("delete", "POST"), ("action", "GET")}

# The record kind each view's <pk> names.
VIEW_RECORDS = {
    "TicketView": "ticket", "TicketApi": "ticket",
    "NonconformityView": "nc", "NonconformityApi": "nc",
    "ObjectivePlanView": "plan", "ObjectivePlanApi": "plan",
    "ReviewView": "review", "ReviewApi": "review",
    "InternalAuditView": "audit", "NcCategoryView": "category", "UnitModelView": "unit",
    "QmsUserDBModelView": "user", "AgencySettingsView": "agency", "AgencyAdminView": "agency",
    "OfficialCopyView": "official", "DocumentApi": "official",
    "WebhookView": "webhook", "WebhookDeliveryView": "delivery", "SavedFilterView": "saved_filter",
}
# The record kind of the other id arguments.
ARG_RECORDS = {"nc_id": "nc", "change_id": "change", "attachment_id": "attachment", "code": "agency_code",
               "file_id": "generated_file"}
# The record kind a conversation's <record_id> names, by its <kind> (app.conversation.kinds).
CONVERSATION_RECORDS = {"ticket": "ticket", "nonconformity": "nc", "objective_plan": "plan", "review": "review"}
# A value for the arguments that are not ids: a step that exists for the record kind.
STEP_NAMES = {"ticket": "submit", "plan": "submit", "review": "hold"}


def _skipped(rule) -> str | None:
    for start, reason in SKIPPED.items():
        if rule.rule.startswith(start) or rule.rule.endswith(start):
            return reason
    return None


def _record_of(rule, arg) -> str:
    if arg == "pk" or arg == "id":
        view = rule.endpoint.split(".")[0]
        assert view in VIEW_RECORDS, f"{rule.rule}: teach VIEW_RECORDS which record {view}'s <pk> names"
        return VIEW_RECORDS[view]
    if arg == "row_id":
        return "report_row" if "/report/rows/" in rule.rule else "objective_row"
    assert arg in ARG_RECORDS, f"{rule.rule}: teach ARG_RECORDS which record <{arg}> names"
    return ARG_RECORDS[arg]


def walked_rules(app):
    """(rule, method) of every route that takes a record id, but the skipped ones."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not (rule.arguments - NOT_IDS) or _skipped(rule):
            continue  # no record id (e.g. the board's export.<xlsx|pdf>), or skipped with its reason
        for method in sorted(rule.methods & {"GET", "POST", "PUT", "DELETE"}):
            found.append((rule, method))
    return found


def _actions(rule) -> list[str]:
    """The single-record actions the rule's view declares, and one it does not."""
    from flask import current_app  # the walks run inside the app's context

    view = next(v for v in current_app.appbuilder.baseviews if type(v).__name__ == rule.endpoint.split(".")[0])
    return sorted(view.actions) + ["no-such-action"]


def urls(rule, ids: dict, own: dict | None = None):
    """Every URL of the rule with the ids of `ids` (by record kind); with `own`, the first id
    argument (the parent) takes the caller's own record and the others the foreign ones."""
    choices = []
    id_args = [a for a in rule.arguments if a not in NOT_IDS]
    parent = next((a for a in ("pk", "id") if a in id_args), None)
    for arg in sorted(rule.arguments):
        converter = rule._converters[arg]
        if arg == "record_id":
            continue  # given with its <kind>
        if arg == "kind" and "record_id" in rule.arguments:  # a conversation: each kind with its record
            choices.append([(arg, v, "record_id", ids[CONVERSATION_RECORDS[v]]) for v in sorted(converter.items)])
        elif hasattr(converter, "items"):  # any(…): every value
            choices.append([(arg, v) for v in sorted(converter.items)])
        elif arg == "name" and "/action/" in rule.rule:
            choices.append([(arg, name) for name in _actions(rule)])
        elif arg == "name":
            kind = _record_of(rule, "pk")
            step = "submit" if "/report/" in rule.rule else STEP_NAMES[kind]
            choices.append([(arg, step)])
        else:
            record = _record_of(rule, arg)
            source = own if (own is not None and arg == parent) else ids
            choices.append([(arg, source[record])])
    for combination in itertools.product(*choices):
        values = {pair[i]: pair[i + 1] for pair in combination for i in range(0, len(pair), 2)}
        yield rule.build(values, append_unknown=False)[1]


@pytest.fixture(scope="module")
def camlam(app):
    """Ids of Cam Lâm's records of every kind, with an evidence file on a ticket, a progress
    report and an NC, and a (decided) change request."""
    from app.extensions import db
    from app.objectives.models import ObjectivePlan, ObjectiveReport
    from app.organisation.models import Agency, QmsUser, Unit
    from app.reminders.models import Notification
    from app.reviews.models import InternalAudit, Review
    from app.official import services as official
    from app.tickets import demo, services
    from app.tickets.models import Attachment, ChangeRequest, NcCategory, Nonconformity, Ticket
    from app.webhooks.models import Webhook, WebhookDelivery

    pdf = b"%PDF-1.4\n% isolation test\n"
    with demo_agency(app, "CAMLAM"):
        staff = demo._user("canbo.ktht")
        ticket = demo._new_ticket(staff, "KTHT", "corrective", "nonconforming_activity",
                                  "Phiếu riêng của Cam Lâm cho kiểm thử cách ly", 1)
        demo._walk(ticket, demo._steps(demo.CAM_LAM, "KTHT", "approve"))
        services.attach_to_ticket(staff, ticket.id, [("bang-chung-camlam.pdf", pdf)])
        services.add_progress_report(staff, ticket.id, "Tiến độ của Cam Lâm", uploads=[("tien-do.pdf", pdf)])
        change = services.request_change(staff, ticket.id, {"kind": "resources", "text": "Cần thêm máy scan"})
        services.decide_change(demo._user("truongban.iso"), change.id, False, "Không cần")
        nc = db.session.scalars(select(Nonconformity).order_by(Nonconformity.id)).first()
        services.attach_to_nonconformity(demo._user("danhgia"), nc.id, [("kph-camlam.pdf", pdf)])
        db.session.add(Notification(user_id=staff.id, subject="Nhắc việc Cam Lâm", body="Phiếu của Cam Lâm"))
        hook = Webhook(url="http://127.0.0.1:9/camlam", secret="bi-mat-cua-cam-lam-0001", active=False)
        db.session.add(hook)
        db.session.flush()
        delivery = WebhookDelivery(webhook_id=hook.id, event="transition", payload="{}", status="failed", attempts=1)
        db.session.add(delivery)
        from app.downloads.models import GeneratedFile

        made = GeneratedFile(user_id=staff.id, kind="binder", name="HoSo-CamLam.pdf", status="ready",
                             content=pdf, size=len(pdf))
        db.session.add(made)
        from app.saved_filters.models import SavedFilter

        kept = SavedFilter(user_id=staff.id, list_key="tickets", name="Quá hạn ở Cam Lâm", query="overdue=1")
        db.session.add(kept)
        db.session.commit()
        report = db.session.scalars(select(ObjectiveReport).order_by(ObjectiveReport.id)).first()
        minutes = db.session.scalars(select(Review).where(Review.state == "minutes_approved")).first()
        ids = {
            "official": official.official_copy(minutes, "minutes").id,
            "ticket": ticket.id, "nc": nc.id,
            "change": db.session.scalar(select(ChangeRequest.id).where(ChangeRequest.ticket_id == ticket.id)),
            "attachment": db.session.scalar(select(Attachment.id).where(Attachment.ticket_id == ticket.id)),
            "plan": report.plan_id, "objective_row": report.plan.rows[0].id, "report_row": report.rows[0].id,
            "review": db.session.scalar(select(Review.id).order_by(Review.id)),
            "audit": db.session.scalar(select(InternalAudit.id)),
            "category": db.session.scalar(select(NcCategory.id).order_by(NcCategory.id)),
            "unit": db.session.scalar(select(Unit.id).where(Unit.code == "TNMT")),
            "user": staff.id,
            "agency": db.session.scalar(select(Agency.id).where(Agency.code == "CAMLAM")),
            "agency_code": "CAMLAM",
            "webhook": hook.id, "delivery": delivery.id, "generated_file": made.id, "saved_filter": kept.id,
        }
        ids["attachments"] = sorted(db.session.scalars(select(Attachment.id)))
        ids["tickets"] = sorted(db.session.scalars(select(Ticket.id)))
        ids["ncs"] = sorted(db.session.scalars(select(Nonconformity.id)))
        ids["plans"] = sorted(db.session.scalars(select(ObjectivePlan.id)))
        ids["reviews"] = sorted(db.session.scalars(select(Review.id)))
        ids["units"] = sorted(db.session.scalars(select(Unit.id)))
        ids["users"] = sorted(db.session.scalars(select(QmsUser.id)))
        ids["categories"] = sorted(db.session.scalars(select(NcCategory.id)))
        ids["numbers"] = sorted(db.session.scalars(select(Ticket.number).where(Ticket.number.is_not(None))))
    assert ids["attachments"] and all(ids.values())
    return ids


@pytest.fixture(scope="module")
def camhiep(app):
    """Ids of Cam Hiệp's own records: the parent of a route when the child id is foreign."""
    from app.extensions import db
    from app.objectives.models import ObjectivePlan
    from app.organisation.models import Agency, QmsUser, Unit
    from app.reviews.models import InternalAudit, Review
    from app.tickets.models import NcCategory, Nonconformity, Ticket

    from app.tickets import demo

    with demo_agency(app, "CAMHIEP"):
        presented = demo._new_ticket(demo._user("xa.canbo"), "KT", "corrective", "feedback",
                                     "Phiếu của xã chờ Trưởng ban ISO phân công", 1)
        demo._walk(presented, demo._steps(demo.CAM_HIEP, "KT", "present"))
        first = lambda model: db.session.scalar(select(model.id).order_by(model.id))  # noqa: E731
        ids = {
            "ticket": db.session.scalar(select(Ticket.id).where(Ticket.state == "draft").order_by(Ticket.id)),
            "presented": presented.id,
            "nc": first(Nonconformity), "plan": first(ObjectivePlan), "review": first(Review),
            "audit": first(InternalAudit), "category": first(NcCategory), "unit": first(Unit),
            "user": db.session.scalar(select(QmsUser.id).where(QmsUser.username == "xa.canbo")),
            "agency": db.session.scalar(select(Agency.id).where(Agency.code == "CAMHIEP")),
            "tickets": sorted(db.session.scalars(select(Ticket.id))),
            "ncs": sorted(db.session.scalars(select(Nonconformity.id))),
            "plans": sorted(db.session.scalars(select(ObjectivePlan.id))),
            "reviews": sorted(db.session.scalars(select(Review.id))),
            "units": sorted(db.session.scalars(select(Unit.id))),
            "users": sorted(db.session.scalars(select(QmsUser.id))),
            "categories": sorted(db.session.scalars(select(NcCategory.id))),
        }
    assert all(ids.values())
    return ids


class Caller:
    """One CAMHIEP user, through the pages (session, CSRF token) and the API (JWT)."""

    def __init__(self, username, client_as_user, api):
        self.username = username
        self.pages = client_as_user(username)
        self.rest = api(username)
        self.token = csrf_token(self.pages.get("/tickets/add").text)

    def send(self, method, url) -> int | str:
        """The answer's status code, or the exception the app let out (a 500 in production)."""
        try:
            if url.startswith("/api/"):
                return self.rest.open(url, method=method, json={} if method in ("POST", "PUT") else None).status_code
            data = {"csrf_token": self.token} if method != "GET" else None
            return self.pages.open(url, method=method, data=data).status_code
        except Exception as error:  # noqa: BLE001 — reported with the route
            return f"{type(error).__name__}: {error}"


@pytest.fixture(scope="module", params=["xa.admin", "xa.canbo"])
def caller(request, app):
    from tests.conftest import login, new_client

    def client_as_user(username):
        client = new_client(app)
        assert "/login" not in login(client, username).headers["Location"]
        return client

    def api(username):
        client = new_client(app)
        token = client.post("/api/v1/security/login", json={
            "username": username, "password": "CamLam@2026", "provider": "db"}).json["access_token"]
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return Caller(request.param, client_as_user, api)


def _missing(ids: dict) -> dict:
    return {key: MISSING for key in ids}


def test_every_route_with_an_id_answers_404_for_another_agencys_record(app, camlam, caller):
    """Each id route, each method: Cam Lâm's record is answered exactly as a record that does
    not exist, and that answer is 404 wherever the caller's role may use the route. The
    administrator holds every permission of the agency, so for them it is 404 but where every
    id is refused before any record is read: FAB's delete by GET (a mutation without CSRF
    token: 302), the permissions a view does not have (objective plans and reviews are not
    edited through FAB's form, settings are not deleted: 403) and the platform's pages (the
    agencies, the board: 403)."""
    failures = []
    walked = walked_rules(app)
    assert len(walked) > 60, "the url map looks too small: are the views registered?"
    with app.app_context():
        failures = _walk(caller, walked, camlam)
    assert not failures, "\n".join(failures)


def _platform_views() -> set[str]:
    """Views of the platform's work: an agency's Admin holds no permission on them."""
    from app.organisation import roles

    return {view for _, view in roles.PLATFORM_ONLY}


def _walk(caller, walked, camlam) -> list[str]:
    failures = []
    for rule, method in walked:
        for foreign, missing in zip(urls(rule, camlam), urls(rule, _missing(camlam))):
            answer, expected = caller.send(method, foreign), caller.send(method, missing)
            refused_for_any_id = answer in (302, 403) and (
                (rule.rule.split("/")[2], method) in REFUSED_FOR_ANY_ID or rule.endpoint.split(".")[0] in _platform_views())
            if answer != expected or (caller.username == "xa.admin" and answer != 404 and not refused_for_any_id):
                failures.append(f"{method} {foreign}: {answer} (missing id: {expected})")
    return failures


def test_own_record_with_another_agencys_child_answers_404(app, camlam, camhiep, caller):
    """A route naming two records (a ticket and an NC, a plan and its row): Cam Hiệp's own
    parent with Cam Lâm's child is answered as with a child that does not exist."""
    with app.app_context():
        failures = _walk_children(app, camlam, camhiep, caller)
    assert not failures, "\n".join(failures)


def _walk_children(app, camlam, camhiep, caller) -> list[str]:
    failures = []
    for rule, method in walked_rules(app):
        if len(rule.arguments - NOT_IDS) < 2:
            continue
        missing_child = {**_missing(camlam)}
        for foreign, missing in zip(urls(rule, camlam, own=camhiep), urls(rule, missing_child, own=camhiep)):
            answer, expected = caller.send(method, foreign), caller.send(method, missing)
            if answer != expected:
                failures.append(f"{method} {foreign}: {answer} (missing child: {expected})")
    return failures


def test_fab_file_download_serves_nothing(app, xa_admin):
    """Evidence files are records of their agency (walked above); FAB's download of a file by
    its name from a folder of the whole installation serves nothing."""
    rules = [r.rule for r in app.url_map.iter_rules() if r.rule.endswith("/download/<string:filename>")]
    assert rules
    for rule in rules:  # FAB's security views refuse it (403), ours have nothing (404)
        assert xa_admin.get(rule.replace("<string:filename>", "bang-chung-camlam.pdf")).status_code in (403, 404), rule


def test_password_reset_of_another_agencys_person_answers_404(app, camlam, client_as_user):
    """FAB's password reset takes the person's id in the query string."""
    from app.extensions import db
    from app.organisation.models import QmsUser

    with demo_agency(app, "CAMLAM"):
        before = db.session.get(QmsUser, camlam["user"]).password
    client = client_as_user("xa.admin")
    token = csrf_token(client.get(f"/resetpassword/form?pk={camlam['user']}").text)
    for pk in (camlam["user"], MISSING):
        answer = client.post(f"/resetpassword/form?pk={pk}", data={
            "csrf_token": token, "password": "MoiMat@khau12", "conf_password": "MoiMat@khau12"})
        assert answer.status_code == 404, pk
    with demo_agency(app, "CAMLAM"):
        assert db.session.get(QmsUser, camlam["user"]).password == before


def test_cam_lam_records_are_still_there(app, camlam):
    """The walk above changed and deleted nothing of Cam Lâm's."""
    from app.extensions import db
    from app.tickets.models import Attachment, Ticket

    with demo_agency(app, "CAMLAM"):
        assert sorted(db.session.scalars(select(Ticket.id))) == camlam["tickets"]
        assert sorted(db.session.scalars(select(Attachment.id))) == camlam["attachments"]
        assert db.session.get(Ticket, camlam["ticket"]).state == "implementation"


# --- lists, counts, figures, choices: none of Cam Lâm's rows ----------------------------

CAM_LAM_MARKERS = (
    "Phòng Tài nguyên và Môi trường", "Phòng Kinh tế và Hạ tầng", "Bộ phận Tiếp nhận và Trả kết quả",
    "canbo.ktht", "truongphong.tnmt", "thuky.iso", "HUYỆN CAM LÂM", "huyện Cam Lâm",
    "Trích lục thửa đất sai diện tích", "Giấy phép xây dựng ghi sai tên chủ đầu tư",
    "Hồ sơ cấp phép xây dựng số 112", "Phiếu riêng của Cam Lâm", "Nhắc việc Cam Lâm", "Cấp giấy phép xây dựng đúng hạn",
)
LINKS = {"tickets": "/tickets/show/", "ncs": "/nonconformities/show/", "plans": "/objectives/show/",
         "reviews": "/reviews/show/"}


def cam_lam_traces(text: str, camlam) -> list[str]:
    """Cam Lâm's names, texts and links to its records found in a page."""
    found = [marker for marker in CAM_LAM_MARKERS if marker in text]
    for kind, start in LINKS.items():
        linked = {int(i) for i in re.findall(re.escape(start) + r"(\d+)", text)}
        found += [f"{start}{i}" for i in sorted(linked & set(camlam[kind]))]
    return found


@pytest.fixture(scope="module")
def xa_admin(app):
    from tests.conftest import login, new_client

    client = new_client(app)
    assert "/login" not in login(client, "xa.admin").headers["Location"]
    return client


@pytest.fixture(scope="module")
def xa_api(app):
    from tests.conftest import new_client

    def make(username):
        client = new_client(app)
        token = client.post("/api/v1/security/login", json={
            "username": username, "password": "CamLam@2026", "provider": "db"}).json["access_token"]
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return make


@pytest.mark.parametrize("url", [
    "/", "/tickets/list/", "/tickets/list/?q=Cam+L%C3%A2m", "/nonconformities/list/", "/recurring/",
    "/objectives/list/", "/objectives-summary/", f"/objectives-summary/?year={day().year - 1}",
    "/reviews/list/", "/internal-audits/list/", "/nc-categories/list/", "/unitmodelview/list/",
    "/users/list/", "/settings/list/", "/retention/", "/notifications/", "/tickets/present",
])
def test_pages_hold_none_of_another_agencys_rows(xa_admin, camlam, url):
    page = xa_admin.get(url)
    assert page.status_code == 200, url
    assert not cam_lam_traces(page.text, camlam)


def test_search_by_another_agencys_ticket_number_finds_nothing(app, xa_admin, xa_api, camlam, camhiep):
    number = max(camlam["numbers"])
    assert number > len(camhiep["tickets"])  # Cam Hiệp has no ticket with this number
    page = xa_admin.get(f"/tickets/list/?q={number:03d}/{day().year}")
    assert page.status_code == 200 and not cam_lam_traces(page.text, camlam)
    assert not re.findall(r"/tickets/show/(\d+)", page.text)
    found = xa_api("xa.admin").get(f"/api/v1/tickets/?q=(filters:!((col:number,opr:eq,value:{number})))").json
    assert found["count"] == 0


@pytest.mark.parametrize("resource, kind", [
    ("tickets", "tickets"), ("nonconformities", "ncs"), ("objective-plans", "plans"), ("reviews", "reviews")])
def test_rest_lists_count_only_the_agencys_rows(xa_api, camlam, camhiep, resource, kind):
    answer = xa_api("xa.admin").get(f"/api/v1/{resource}/?q=(page_size:100)").json
    assert answer["count"] == len(camhiep[kind])
    # one page of at most 100 (other tests may have given the commune more records)
    assert len(answer["ids"]) == min(100, len(camhiep[kind])) and set(answer["ids"]) <= set(camhiep[kind])


def test_dashboard_figures_are_the_agencys(app, xa_admin, camhiep):
    """The home page's figures of xa.admin count Cam Hiệp's tickets only."""
    from app.extensions import db
    from app.tickets import workflow
    from app.tickets.models import Ticket

    with demo_agency(app, "CAMHIEP"):
        open_count = db.session.scalar(select(func.count(Ticket.id)).where(Ticket.state.in_(workflow.OPEN_STATES)))
    page = xa_admin.get("/").text
    by_state = re.search(r'<table class="table table-condensed by-state">(.*?)</table>', page, re.S).group(1)
    assert sum(int(v) for v in re.findall(r'class="figure-link"[^>]*>(\d+)<', by_state)) == open_count


def test_review_inputs_count_the_agencys_records(app, xa_api, camlam):
    start, end = datetime.date(day().year - 1, 1, 1), day()
    answer = xa_api("xa.admin").get(f"/api/v1/reviews/inputs?from={start}&to={end}")
    assert answer.status_code == 200
    figures = {f["key"]: f["value"] for rows in answer.json["result"].values() for f in rows}
    from app.extensions import db
    from app.tickets.models import Nonconformity, Ticket
    from app.tickets.services import overdue_condition

    with demo_agency(app, "CAMHIEP"):
        ncs = db.session.scalar(select(func.count(Nonconformity.id)).where(Nonconformity.detected_on >= start))
        tickets = db.session.scalar(select(func.count(Ticket.id)).where(Ticket.requested_on >= start))
        overdue = db.session.scalar(select(func.count(Ticket.id)).where(overdue_condition()))
    with demo_agency(app, "CAMLAM"):
        assert db.session.scalar(select(func.count(Ticket.id)).where(overdue_condition())) > 0  # would be counted
    assert figures["nc_total"] == ncs and figures["tickets_total"] == tickets
    assert figures["tickets_overdue_on"] == overdue
    assert not cam_lam_traces(str(answer.json), camlam)


def test_binder_of_the_ticket_list_holds_the_agencys_tickets_only(xa_admin, camlam, camhiep):
    from tests.test_binder import binder, pages_of

    answer = binder(xa_admin, year=day().year)
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    text = "\n".join(pages_of(answer.data))
    assert "CAM HIỆP" in text and not cam_lam_traces(" ".join(text.split()), camlam)
    assert f"Số phiếu: 001/{day().year}" in " ".join(text.split())


def _options(html: str, name: str) -> set[int]:
    select_ = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select_, f"no <select name={name}>"
    return {int(v) for v in re.findall(r'<option[^>]*value="(\d+)"', select_.group(1))}


@pytest.mark.parametrize("url, field, kind", [
    ("/tickets/add", "requesting_unit", "units"),
    ("/nonconformities/add", "unit", "units"),
    ("/nonconformities/add", "category", "categories"),
    ("/users/add", "unit", "units"),
    ("/unitmodelview/add", "head", "users"),
])
def test_form_choices_are_the_agencys(xa_admin, camhiep, url, field, kind):
    offered = _options(xa_admin.get(url).text, field)
    assert offered and offered <= set(camhiep[kind])


def test_fab_user_class_holds_the_agencys_people_only(app, camhiep):
    """FAB's own User class (a group's users, a role's users, FAB's forms) is limited like
    QmsUser: it once offered every agency's people in the group form."""
    from flask_appbuilder.security.sqla.models import Group, Role, User

    from app.extensions import db

    with demo_agency(app, "CAMHIEP"):
        assert sorted(u.id for u in db.session.query(User)) == camhiep["users"]
        staff = db.session.query(Role).filter_by(name="Staff").one()
        assert {u.id for u in staff.user} <= set(camhiep["users"])
        assert all(u.id in camhiep["users"] for group in db.session.query(Group) for u in group.users)


def test_transition_form_choices_are_the_agencys(app, camhiep):
    """The assign step offers the agency's units and people."""
    from tests.conftest import login, new_client

    leader = new_client(app)
    login(leader, "xa.truongban")
    page = leader.get(f"/tickets/{camhiep['presented']}/do/assign").text
    assert _options(page, "assignee_unit") <= set(camhiep["units"])
    assert _options(page, "assignee") <= set(camhiep["users"])


@pytest.mark.parametrize("resource, field, kind", [
    ("tickets", "requesting_unit", "units"), ("nonconformities", "unit", "units"),
    ("nonconformities", "category", "categories")])
def test_rest_info_choices_are_the_agencys(xa_api, camhiep, resource, field, kind):
    info = xa_api("xa.admin").get(f"/api/v1/{resource}/_info?q=(keys:!(add_columns))").json
    column = next(c for c in info["add_columns"] if c["name"] == field)
    offered = {v["id"] for v in column["values"]}
    assert offered and offered <= set(camhiep[kind])


@pytest.mark.parametrize("resource, field, kind", [
    ("tickets", "requesting_unit", "unit"), ("nonconformities", "unit", "unit"),
    ("nonconformities", "category", "category")])
def test_rest_post_naming_another_agencys_record_is_refused(app, xa_api, camlam, camhiep, resource, field, kind):
    from app.extensions import db
    from app.tickets.models import Nonconformity, Ticket

    body = {"kind": "corrective", "source": "feedback", "requesting_unit": camhiep["unit"],
            "description": "Không được lưu", "requested_on": day().isoformat()} if resource == "tickets" else {
        "unit": camhiep["unit"], "detected_on": day().isoformat(), "description": "Không được lưu",
        "source": "feedback", "category": camhiep["category"]}
    body[field] = camlam[kind]
    answer = xa_api("xa.admin").post(f"/api/v1/{resource}/", json=body)
    assert answer.status_code == 422, answer.text
    assert "không có" in answer.json["message"].lower() and str(camlam[kind]) in answer.json["message"]
    for code in ("CAMHIEP", "CAMLAM"):
        with demo_agency(app, code):
            assert not db.session.scalar(select(func.count()).select_from(Ticket).where(
                Ticket.description == "Không được lưu"))
            assert not db.session.scalar(select(func.count()).select_from(Nonconformity).where(
                Nonconformity.description == "Không được lưu"))


def test_review_content_naming_another_agencys_person_is_refused(app, xa_api, camlam):
    thuky = xa_api("xa.thuky")
    created = thuky.post("/api/v1/reviews/", json={"form": "meeting", "period_start": f"{day().year}-01-01",
                                                   "period_end": day().isoformat()})
    assert created.status_code == 201, created.text
    review_id = created.json["id"]
    answer = thuky.put(f"/api/v1/reviews/{review_id}/content", json={"attendee_ids": [camlam["user"]]})
    assert answer.status_code == 422, answer.text
    answer = thuky.put(f"/api/v1/reviews/{review_id}/content", json={"chair_id": camlam["user"]})
    assert answer.status_code == 422, answer.text
    assert thuky.get(f"/api/v1/reviews/{review_id}/content").json["result"].get("attendee_ids") in ([], None)
    assert xa_api("xa.admin").delete(f"/api/v1/reviews/{review_id}").status_code == 200


def test_the_agency_scope_is_kept_for_the_person_across_a_commit(app, count_queries):
    """A request that commits and then queries again does not read the signed-in person back
    from the database to know its agency (the commit expired every attribute of the record)."""
    from flask import g

    from app.extensions import db
    from app.organisation.models import QmsUser
    from app.tenancy import current_scope

    with app.test_request_context("/"):
        g.user = db.session.scalars(select(QmsUser).where(QmsUser.username == "canbo.ktht")).one()
        scope = current_scope()
        assert isinstance(scope, int)
        db.session.commit()
        with count_queries() as counter:
            assert current_scope() == scope
        assert counter.statements == []
        db.session.rollback()
