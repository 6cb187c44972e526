"""Nothing lost, nothing bent (issue 10, items 2 and 9): no API or page path does what the
workflow forbids, related records are referenced by id only, a settled nonconformity is
read-only, and bad values are refused in Vietnamese, naming the field by its label."""
import datetime
import itertools

import pytest

from tests.conftest import csrf_token, iso_day

VIETNAMESE = set("ăâđêôơưàáảãạấầẩẫậắằẳẵặèéẻẽẹếềểễệìíỉĩịòóỏõọốồổỗộớờởỡợùúủũụứừửữựỳýỷỹỵ")
_years = itertools.count(2061)  # years no demo data or other test uses


def vietnamese(text: str) -> bool:
    return bool(VIETNAMESE & set(text.lower()))


def _refused(response, status):
    assert response.status_code == status, response.text
    assert vietnamese(response.json["message"]), response.json
    return response.json


@pytest.fixture
def plan(user, unit):
    """A plan of KTHT in a fresh year, walked to `state` by its unit's staff and head."""
    from app.objectives import services

    def make(state="draft"):
        staff = user("canbo.ktht")
        plan = services.create_plan(staff, next(_years), unit("KTHT").id)
        services.save_row(staff, plan.id, {"objective": "Hồ sơ đúng hạn", "measurement_method": "Tỷ lệ",
                                           "target_kind": "ge", "target": "95 %"})
        if state in ("submitted", "approved"):
            services.apply_transition(staff, plan, "submit", {})
        if state == "approved":
            services.apply_transition(user("truongphong.ktht"), plan, "approve", {})
        assert plan.state == state
        return plan.id

    return make


@pytest.fixture
def nonconformity(db, user, unit):
    """An NC of KTHT recorded by its staff."""
    from app.tickets.models import NcCategory, Nonconformity

    def make(**fields):
        nc = Nonconformity(
            unit_id=unit("KTHT").id, category_id=db.session.query(NcCategory).first().id,
            source="feedback", detected_on=datetime.date.today(), description="KPH kiểm thử toàn vẹn",
            created_by_id=user("canbo.ktht").id, detected_by_id=user("canbo.ktht").id, **fields)
        db.session.add(nc)
        db.session.commit()
        return nc.id

    return make


def _counts(db):
    from app.organisation.models import Unit
    from app.tickets.models import NcCategory, Nonconformity, Ticket

    return [db.session.query(model).count() for model in (Unit, NcCategory, Ticket, Nonconformity)]


# --- 1. past draft: deleted or rewritten by nobody, Admin included ------------------------

def test_objective_plans_are_deleted_only_as_drafts_by_their_drafters(api, plan, db):
    from app.objectives.models import ObjectivePlan

    approved, submitted, draft = plan("approved"), plan("submitted"), plan()
    for username in ("canbo.tnmt", "canbo.ktht", "admin"):
        _refused(api(username).delete(f"/api/v1/objective-plans/{approved}"), 409)
    _refused(api("admin").delete(f"/api/v1/objective-plans/{submitted}"), 409)
    _refused(api("canbo.tnmt").delete(f"/api/v1/objective-plans/{draft}"), 403)
    rewrite = api("admin").put(f"/api/v1/objective-plans/{approved}", json={"state": "draft", "year": 2099})
    assert rewrite.status_code == 405
    db.session.expire_all()
    assert db.session.get(ObjectivePlan, approved).state == "approved"
    assert db.session.get(ObjectivePlan, submitted).state == "submitted"
    assert api("canbo.ktht").delete(f"/api/v1/objective-plans/{draft}").status_code == 200
    assert db.session.get(ObjectivePlan, draft) is None


def test_plan_page_refuses_to_delete_an_approved_plan(as_admin, plan, db):
    from app.objectives.models import ObjectivePlan

    approved = plan("approved")
    token = csrf_token(as_admin.get(f"/objectives/show/{approved}").text)
    page = as_admin.post(f"/objectives/delete/{approved}", data={"csrf_token": token}, follow_redirects=True)
    assert "Không thể “Xóa bản dự thảo” khi đang ở trạng thái “Đã phê duyệt”" in page.text
    db.session.expire_all()
    assert db.session.get(ObjectivePlan, approved) is not None


def _issued_review(user, year):
    from app.reviews import services

    secretary = user("thuky.iso")
    review = services.create_review(secretary, "report", datetime.date(year, 1, 1), datetime.date(year, 12, 31))
    services.apply_transition(secretary, review.id, "submit_report", {})
    services.apply_transition(user("truongban.iso"), review.id, "approve_report", {})
    services.save_content(secretary, review.id, {"general_conclusion": "HTQLCL phù hợp và hiệu lực"})
    services.apply_transition(secretary, review.id, "submit_notice", {})
    services.apply_transition(user("chutich"), review.id, "issue_notice", {})
    assert review.state == "issued"
    return review.id


def test_admin_cannot_rewrite_or_delete_a_review_past_draft(api, user, db):
    from app.reviews import services
    from app.reviews.models import Review

    issued = _issued_review(user, next(_years))
    admin = api("admin")
    for body in ({"period_end": "2099-12-31"}, {"state": "draft"}, {"general_conclusion": "Viết lại"}):
        assert admin.put(f"/api/v1/reviews/{issued}", json=body).status_code in (409, 422)
    _refused(admin.put(f"/api/v1/reviews/{issued}", json={"period_end": "2099-12-31"}), 409)
    _refused(admin.delete(f"/api/v1/reviews/{issued}"), 409)
    db.session.expire_all()
    review = db.session.get(Review, issued)
    assert review.state == "issued" and review.general_conclusion == "HTQLCL phù hợp và hiệu lực"
    assert review.period_end.year != 2099

    year = next(_years)
    draft = services.create_review(user("thuky.iso"), "meeting", datetime.date(year, 1, 1),
                                   datetime.date(year, 6, 30)).id
    assert "period_end" in _refused(admin.put(f"/api/v1/reviews/{draft}", json={"period_end": f"{year + 1}-01-31"}),
                                    422)["errors"]
    assert "period_end" in _refused(admin.put(f"/api/v1/reviews/{draft}", json={"period_end": f"{year - 1}-12-31"}),
                                    422)["errors"]
    moved = admin.put(f"/api/v1/reviews/{draft}", json={"period_end": f"{year}-12-31"})
    assert moved.status_code == 200, moved.text
    db.session.expire_all()
    assert db.session.get(Review, draft).events[-1].name == "refresh_inputs"
    assert admin.delete(f"/api/v1/reviews/{draft}").status_code == 200
    assert db.session.get(Review, draft) is None


def test_admin_cannot_delete_or_rewrite_a_ticket_past_draft(api, make_ticket, db):
    from app.tickets.models import Ticket

    ticket = make_ticket(state="unit_review")
    admin = api("admin")
    _refused(admin.put(f"/api/v1/tickets/{ticket.id}", json={"description": "Viết lại"}), 409)
    _refused(admin.delete(f"/api/v1/tickets/{ticket.id}"), 409)
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).description == "Hồ sơ trả trễ hạn — kiểm thử"


# --- 2. an edit that changes the unit is checked against the new unit -------------------

def test_api_edit_cannot_move_a_draft_or_an_nc_to_another_unit(api, make_ticket, nonconformity, unit, db):
    from app.tickets.models import Nonconformity, Ticket

    ticket = make_ticket()
    staff = api("canbo.ktht")
    _refused(staff.put(f"/api/v1/tickets/{ticket.id}", json={"requesting_unit": unit("TNMT").id}), 403)
    nc_id = nonconformity()
    _refused(staff.put(f"/api/v1/nonconformities/{nc_id}", json={"unit": unit("TNMT").id}), 403)
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).requesting_unit_id == unit("KTHT").id
    assert db.session.get(Nonconformity, nc_id).unit_id == unit("KTHT").id
    kept = staff.put(f"/api/v1/tickets/{ticket.id}", json={"requesting_unit": unit("KTHT").id,
                                                           "description": "Mô tả đã sửa"})
    assert kept.status_code == 200, kept.text


def test_page_edit_cannot_move_a_draft_or_an_nc_to_another_unit(client_as_user, make_ticket, nonconformity,
                                                                 unit, db):
    from app.tickets.models import NcCategory, Nonconformity, Ticket

    client = client_as_user("canbo.ktht")
    ticket = make_ticket()
    page = client.get(f"/tickets/edit/{ticket.id}")
    client.post(f"/tickets/edit/{ticket.id}", data={
        "kind": "corrective", "source": "feedback", "requesting_unit": str(unit("TNMT").id),
        "description": "Chuyển sang đơn vị khác", "requested_on": iso_day(), "csrf_token": csrf_token(page.text)})
    nc_id = nonconformity()
    page = client.get(f"/nonconformities/edit/{nc_id}")
    client.post(f"/nonconformities/edit/{nc_id}", data={
        "unit": str(unit("TNMT").id), "detected_on": iso_day(), "description": "Chuyển đơn vị",
        "source": "feedback", "category": str(db.session.query(NcCategory).first().id),
        "csrf_token": csrf_token(page.text)})
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).requesting_unit_id == unit("KTHT").id
    assert db.session.get(Nonconformity, nc_id).unit_id == unit("KTHT").id


# --- 3. related records by id only ----------------------------------------------------------

@pytest.mark.parametrize("username", ["canbo.ktht", "thuky.iso", "admin"])
def test_nested_objects_and_unknown_ids_are_refused_without_new_rows(api, username, unit, make_ticket, db):
    from app.tickets.models import NcCategory

    client = api(username)
    before = _counts(db)
    ticket = {"kind": "corrective", "source": "feedback", "description": "Lồng đối tượng", "requested_on": iso_day()}
    for value in ({"id": 99997, "name": "Đơn vị giả"}, {"name": "Đơn vị giả"}, 99997, 2 ** 40, "abc", True,
                  [unit("KTHT").id]):
        body = _refused(client.post("/api/v1/tickets/", json={**ticket, "requesting_unit": value}), 422)
        assert "Đơn vị đề nghị" in body["errors"]["requesting_unit"], body
    category = db.session.query(NcCategory).first().id
    nc = {"unit": unit("KTHT").id, "detected_on": iso_day(), "description": "Lồng đối tượng", "source": "feedback",
          "category": category}
    for field, value in (("category", {"name": "Nội dung mới"}), ("category", 99997),
                         ("unit", {"id": 99996, "name": "Đơn vị giả"}), ("unit", 99996)):
        body = _refused(client.post("/api/v1/nonconformities/", json={**nc, field: value}), 422)
        assert field in body["errors"], body
    for value in ({"id": 99995, "code": "X"}, 99995):
        body = _refused(client.post("/api/v1/objective-plans/", json={"year": next(_years), "unit": value}), 422)
        assert "Cơ quan/đơn vị" in body["errors"]["unit"], body
    draft = make_ticket()
    assert api("canbo.ktht").put(f"/api/v1/tickets/{draft.id}", json={
        "requesting_unit": {"id": 99994, "name": "x"}}).status_code == 422
    db.session.expire_all()
    assert _counts(db) == [before[0], before[1], before[2] + 1, before[3]]
    assert db.session.query(NcCategory).filter_by(name="Nội dung mới").count() == 0


# --- 4. a settled nonconformity is read-only ------------------------------------------------

def test_nc_is_read_only_once_checked_or_its_ticket_final(api, client_as_user, nonconformity, make_ticket,
                                                         user, db):
    from app.tickets.models import Nonconformity

    checked = nonconformity(disposition="repair", correction_done=True, correction_checked=True,
                            disposition_by_id=user("truongphong.ktht").id, disposition_on=datetime.date.today())
    closed_ticket = make_ticket(state="closed")
    linked = nonconformity(ticket_id=closed_ticket.id)
    for nc_id in (checked, linked):
        for username in ("canbo.ktht", "admin"):
            _refused(api(username).put(f"/api/v1/nonconformities/{nc_id}", json={"description": "Viết lại"}), 409)
        _refused(api("admin").delete(f"/api/v1/nonconformities/{nc_id}"), 409)
        staff = client_as_user("canbo.ktht")
        assert staff.get(f"/nonconformities/edit/{nc_id}").status_code == 409
        head = client_as_user("truongphong.ktht")
        token = csrf_token(head.get(f"/nonconformities/show/{nc_id}").text)
        head.post(f"/nonconformities/{nc_id}/disposition", data={"disposition": "scrap", "csrf_token": token})
        admin = client_as_user("admin")
        admin.post(f"/nonconformities/delete/{nc_id}", data={"csrf_token": token})
    db.session.expire_all()
    for nc_id in (checked, linked):
        nc = db.session.get(Nonconformity, nc_id)
        assert nc is not None and nc.description == "KPH kiểm thử toàn vẹn" and nc.disposition != "scrap"

    open_nc = nonconformity()
    edited = api("canbo.ktht").put(f"/api/v1/nonconformities/{open_nc}", json={"description": "Đã bổ sung"})
    assert edited.status_code == 200, edited.text


# --- 5. bad values answered in Vietnamese, naming the field ---------------------------------

def test_bad_values_are_refused_in_vietnamese_naming_the_field(api, unit, make_ticket, db):
    from app.tickets.models import NcCategory

    client = api("canbo.ktht")
    ticket = {"kind": "corrective", "source": "feedback", "requesting_unit": unit("KTHT").id,
              "description": "Giá trị sai", "requested_on": iso_day()}
    for field, value, label in (("kind", "x", "Loại hành động"), ("source", "nowhere", "Nguồn thông tin đầu vào"),
                                ("requested_on", "hôm qua", "Ngày"), ("description", None, "Mô tả")):
        body = _refused(client.post("/api/v1/tickets/", json={**ticket, field: value}), 422)
        assert label in body["errors"][field] and label in body["message"], body
        assert "one of" not in str(body) and "Not a valid" not in str(body) and f"{field}:" not in body["message"]
    missing = _refused(client.post("/api/v1/tickets/", json={k: v for k, v in ticket.items() if k != "kind"}), 422)
    assert "Loại hành động" in missing["errors"]["kind"]
    draft = make_ticket()
    body = _refused(client.put(f"/api/v1/tickets/{draft.id}", json={"source": "x"}), 422)
    assert "Nguồn thông tin đầu vào" in body["errors"]["source"]
    category = db.session.query(NcCategory).first().id
    body = _refused(client.post("/api/v1/nonconformities/", json={
        "unit": unit("KTHT").id, "detected_on": iso_day(), "description": "x", "source": "?", "category": category}),
        422)
    assert "Nguồn thông tin đầu vào" in body["errors"]["source"]


def test_every_model_api_checks_bodies_and_labels_fields_in_vietnamese(app):
    from flask_appbuilder.api import ModelRestApi

    from app.rest import WorkflowErrorsAsResponses

    apis = [view for view in app.appbuilder.baseviews if isinstance(view, ModelRestApi)]
    assert {view.resource_name for view in apis} >= {"tickets", "nonconformities", "objective-plans", "reviews"}
    with app.test_request_context():
        for view in apis:
            assert isinstance(view, WorkflowErrorsAsResponses), view
            columns = set(view.add_columns)
            if "put" not in view.exclude_route_methods:
                columns |= set(view.edit_columns)
            for column in columns:
                label = str(view.label_columns[column])
                assert vietnamese(label) and label != view._prettify_column(column), (view.resource_name, column)
