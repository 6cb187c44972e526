"""Management review content (5.8): one save for the whole page, nothing typed is lost,
the REST API fills every part, dates are checked, figures equal the lists they open, and a
finished review is frozen for everybody."""
import datetime
import re
from urllib.parse import parse_qs, urlparse

import pytest

from app.objectives import services as objectives
from app.organisation.models import QmsUser, Unit
from app.reviews import services
from app.reviews.models import Review, ReviewAction
from app.tickets.models import Ticket
from tests.conftest import csrf_token, day, iso_day
from tests.test_i18n import english_left


def _meeting(user, year):
    return services.create_review(user("thuky.iso"), "meeting", datetime.date(year, 1, 1),
                                  datetime.date(year, 12, 31))


def _page_form(user, unit, version):
    """Everything the review page holds, as the browser posts it."""
    return {
        "version": str(version),
        "meeting_date": iso_day(-3), "start_time": "08:00", "end_time": "10:30", "place": "Hội trường tầng 2",
        "chair_id": str(user("chutich").id), "secretary_id": str(user("thuky.iso").id),
        "attendees": [str(user("truongban.iso").id), str(user("truongphong.ktht").id)],
        "other_attendees": "Đại diện Mặt trận Tổ quốc",
        "input_context": "Bối cảnh: sắp xếp bộ máy", "input_resources": "Thiếu 01 công chức",
        **{f"item_{n}_discussion": f"Thảo luận mục {n}" for n in range(1, 8)},
        **{f"item_{n}_conclusion": f"Kết luận mục {n}" for n in range(1, 8)},
        "presentation-0-reporter": "Thư ký ISO", "presentation-0-summary": "Báo cáo vận hành HTQLCL",
        "presentation-1-reporter": "Trưởng phòng KTHT", "presentation-1-summary": "Báo cáo MTCL",
        "action-0-description": "Rà soát quy trình cấp phép", "action-0-focal_unit_id": str(unit("KTHT").id),
        "action-0-due_date": iso_day(40),
        "action-1-description": "Bổ sung nhân lực một cửa", "action-1-focal_unit_id": str(unit("VP").id),
        "action-1-due_date": iso_day(40),
        "general_conclusion": "HTQLCL phù hợp, có hiệu lực", "improvement_needs": "Cải tiến quy trình đất đai",
        "qms_change_needs": "Cập nhật phạm vi", "resource_needs": "Thêm 01 công chức",
    }


def _post(client, review_id, data):
    page = client.get(f"/reviews/show/{review_id}")
    return client.post(f"/reviews/{review_id}/content", data={"csrf_token": csrf_token(page.text), **data})


# --- 1. one form, one submit, nothing lost ----------------------------------------------

def test_the_page_saves_all_its_content_with_one_submit(db, client_as_user, user, unit):
    review = _meeting(user, 2071)
    client = client_as_user("thuky.iso")
    page = client.get(f"/reviews/show/{review.id}").text
    # the page has one content form: rows are added inside it, never by a form of their own
    assert page.count('id="review-content"') == 1
    assert "/presentations" not in page and "/actions" not in page and "/refresh" not in page
    assert english_left(page) == []
    response = _post(client, review.id, _page_form(user, unit, review.version))
    assert response.status_code == 302, response.text
    db.session.expire_all()
    review = db.session.get(Review, review.id)
    assert review.meeting_date.isoformat() == iso_day(-3) and review.place == "Hội trường tầng 2"
    assert {u.username for u in review.attendees} == {"truongban.iso", "truongphong.ktht"}
    assert review.inputs["context"] == "Bối cảnh: sắp xếp bộ máy"
    assert [i.conclusion for i in review.items] == [f"Kết luận mục {n}" for n in range(1, 8)]
    assert [p.reporter for p in review.presentations] == ["Thư ký ISO", "Trưởng phòng KTHT"]
    assert [(a.description, a.focal_unit.code) for a in review.actions] == [
        ("Rà soát quy trình cấp phép", "KTHT"), ("Bổ sung nhân lực một cửa", "VP")]
    assert review.resource_needs == "Thêm 01 công chức"

    # remove a row of each, add a row of each, in the same single submit
    first_presentation, first_action = review.presentations[0].id, review.actions[0].id
    form = _page_form(user, unit, review.version)
    form.update({
        "presentation-0-id": str(first_presentation), "presentation-0-remove": "1",
        "presentation-1-id": str(review.presentations[1].id),
        "presentation-2-reporter": "Lãnh đạo Ban ISO", "presentation-2-summary": "Ý kiến chỉ đạo",
        "action-0-id": str(first_action), "action-0-remove": "1",
        "action-1-id": str(review.actions[1].id),
        "action-2-description": "Số hóa hồ sơ lưu", "action-2-focal_unit_id": str(unit("TNMT").id),
        "action-2-due_date": iso_day(40),
    })
    assert _post(client, review.id, form).status_code == 302
    db.session.expire_all()
    review = db.session.get(Review, review.id)
    assert [p.reporter for p in review.presentations] == ["Trưởng phòng KTHT", "Lãnh đạo Ban ISO"]
    assert [a.description for a in review.actions] == ["Bổ sung nhân lực một cửa", "Số hóa hồ sơ lưu"]
    assert db.session.get(ReviewAction, first_action) is None


def test_a_refused_save_shows_the_page_again_with_everything_typed(db, client_as_user, user, unit):
    review = _meeting(user, 2072)
    client = client_as_user("thuky.iso")
    form = _page_form(user, unit, review.version)
    # typed as the page takes dates, dd/mm/yyyy
    tomorrow = datetime.date.fromisoformat(iso_day(1)).strftime("%d/%m/%Y")
    form["meeting_date"] = tomorrow  # the meeting cannot have been held tomorrow
    form["action-1-due_date"] = datetime.date.fromisoformat(iso_day(-1)).strftime("%d/%m/%Y")  # nor due yesterday
    response = _post(client, review.id, form)
    assert response.status_code == 422
    text = response.text
    for typed in ("Hội trường tầng 2", "Bối cảnh: sắp xếp bộ máy", "Kết luận mục 7", "Báo cáo MTCL",
                  "Bổ sung nhân lực một cửa", "Thêm 01 công chức", tomorrow, "Đại diện Mặt trận Tổ quốc"):
        assert typed in text, typed
    assert re.search(rf'value="{user("truongban.iso").id}"\s+selected', text)  # attendee still chosen
    assert "Ngày họp" in text and "tương lai" in text  # the field by its label
    assert "Hạn hoàn thành" in text and "quá khứ" in text
    visible = re.sub(r"<[^>]+>", " ", text)
    assert "meeting_date" not in visible and "due_date" not in visible
    assert english_left(text) == []
    db.session.expire_all()
    review = db.session.get(Review, review.id)
    assert review.place is None and review.presentations == [] and review.actions == []


def test_gathering_the_inputs_again_keeps_what_was_typed(db, client_as_user, user, unit):
    review = _meeting(user, 2073)
    client = client_as_user("thuky.iso")
    form = {"version": str(review.version), "input_feedback": "Người dân hài lòng 95 %",
            "general_conclusion": "Kết luận gõ trước khi tổng hợp lại", "regather": "1"}
    response = _post(client, review.id, form)
    assert response.status_code == 302, response.text
    db.session.expire_all()
    review = db.session.get(Review, review.id)
    assert review.inputs["feedback"] == "Người dân hài lòng 95 %"
    assert review.general_conclusion == "Kết luận gõ trước khi tổng hợp lại"
    assert review.events[-1].name == "refresh_inputs"


def test_a_stale_page_is_refused_and_shown_again_with_what_was_typed(db, client_as_user, user, unit):
    review = _meeting(user, 2074)
    client = client_as_user("thuky.iso")
    form = {"version": str(review.version), "general_conclusion": "Bản của người thứ nhất"}
    assert _post(client, review.id, form).status_code == 302
    form["general_conclusion"] = "Bản của người thứ hai, mở trang trước"  # the same old version
    response = _post(client, review.id, form)
    assert response.status_code == 409 and "Bản của người thứ hai" in response.text


# --- 4. dates ---------------------------------------------------------------------------

def test_meeting_date_cannot_be_in_the_future_and_actions_not_due_in_the_past(db, user, unit):
    review = _meeting(user, 2075)
    secretary = user("thuky.iso")
    with pytest.raises(services.Invalid) as refused:
        services.save_content(secretary, review.id, {"meeting_date": iso_day(1)})
    assert "meeting_date" in refused.value.errors and "Ngày họp" in refused.value.errors["meeting_date"]
    with pytest.raises(services.Invalid) as refused:
        services.save_content(secretary, review.id, {"actions": [
            {"description": "Việc trễ", "focal_unit_id": unit("KTHT").id, "due_date": iso_day(-1)}]})
    assert "Hạn hoàn thành" in " ".join(refused.value.errors.values())
    services.save_content(secretary, review.id, {"meeting_date": day().isoformat(), "actions": [
        {"description": "Việc đúng hạn", "focal_unit_id": unit("KTHT").id, "due_date": day().isoformat()}]})


# --- 2. the REST API runs a whole review ---------------------------------------------------

def _content(user, unit):
    return {
        "meeting_date": iso_day(-3), "start_time": "14:00", "end_time": "16:00", "place": "Phòng họp số 1",
        "chair_id": user("chutich").id, "secretary_id": user("thuky.iso").id,
        "attendee_ids": [user("truongban.iso").id, user("truongphong.tnmt").id],
        "other_attendees": "Khách mời",
        "inputs": {"context": "Bối cảnh qua API", "suppliers": "Nhà cung cấp đạt yêu cầu"},
        "items": [{"position": n, "discussion": f"Thảo luận {n}", "conclusion": f"Kết luận {n}"}
                  for n in range(1, 8)],
        "presentations": [{"reporter": "Thư ký ISO", "summary": "Báo cáo qua API"}],
        "actions": [{"description": "Hành động qua API 1", "focal_unit_id": unit("TNMT").id, "due_date": iso_day(40)},
                    {"description": "Hành động qua API 2", "focal_unit_id": unit("KTHT").id, "due_date": iso_day(40)}],
        "general_conclusion": "Kết luận qua API", "improvement_needs": "Cải tiến",
        "qms_change_needs": "Thay đổi", "resource_needs": "Nguồn lực",
    }


def test_a_whole_meeting_review_through_the_api(db, api, user, unit):
    secretary, chair = api("thuky.iso"), api("chutich")
    created = secretary.post("/api/v1/reviews/", json={"form": "meeting", "period_start": "2076-01-01",
                                                       "period_end": "2076-12-31"})
    assert created.status_code == 201, created.text
    review_id = created.json["id"]
    url = f"/api/v1/reviews/{review_id}/content"

    # references are ids only: a nested object or an unknown id is refused, nothing is created
    users, units = db.session.query(QmsUser).count(), db.session.query(Unit).count()
    for bad in ({"chair_id": {"id": 99997, "username": "moi"}}, {"attendee_ids": [99998]},
                {"actions": [{"description": "x", "focal_unit_id": {"id": 99999, "name": "Đơn vị mới"},
                              "due_date": iso_day(40)}]},
                {"actions": [{"description": "x", "focal_unit_id": 99999, "due_date": iso_day(40)}]},
                {"secretary_id": 10 ** 30}, {"attendee_ids": ["١٢"]}, {"items": [{"position": "²"}]},
                {"items": [{"position": 9, "conclusion": "x"}]}, {"no_such_part": 1}, {"place": ["x"]}):
        answer = secretary.put(url, json=bad)
        assert answer.status_code == 422, (bad, answer.status_code, answer.text)
        assert answer.json["message"] and "_id" not in answer.json["message"]
    assert secretary.put(url, json={"meeting_date": iso_day(1)}).json["errors"]["meeting_date"].startswith("Ngày họp")
    assert (db.session.query(QmsUser).count(), db.session.query(Unit).count()) == (users, units)
    assert api("canbo.ktht").put(url, json={"place": "x"}).status_code == 403

    saved = secretary.put(url, json=_content(user, unit))
    assert saved.status_code == 200, saved.text
    content = secretary.get(url).json["result"]
    assert content["place"] == "Phòng họp số 1" and content["chair_id"] == user("chutich").id
    assert sorted(content["attendee_ids"]) == sorted([user("truongban.iso").id, user("truongphong.tnmt").id])
    assert content["inputs"]["suppliers"] == "Nhà cung cấp đạt yêu cầu"
    assert content["items"][6] == {"position": 7, "discussion": "Thảo luận 7", "conclusion": "Kết luận 7"}
    assert [p["summary"] for p in content["presentations"]] == ["Báo cáo qua API"]
    assert [a["description"] for a in content["actions"]] == ["Hành động qua API 1", "Hành động qua API 2"]
    # what GET returns can be sent back as it is; a row given twice is refused
    assert secretary.put(url, json=content).status_code == 200
    assert secretary.put(url, json={"presentations": content["presentations"] * 2}).status_code == 422

    assert chair.post(f"/api/v1/reviews/{review_id}/transitions/hold", json={}).status_code == 403
    held = secretary.post(f"/api/v1/reviews/{review_id}/transitions/hold", json={})
    assert held.status_code == 200, held.text
    approved = chair.post(f"/api/v1/reviews/{review_id}/transitions/approve_minutes",
                          json={"comment": "Thông qua"})
    assert approved.status_code == 200 and approved.json["result"]["state"] == "minutes_approved"

    actions = secretary.get(url).json["result"]["actions"]
    tickets = [db.session.get(Ticket, a["ticket_id"]) for a in actions]
    assert all(t is not None and t.source == "management_review" and t.state == "iso_review" for t in tickets)
    assert {t.requesting_unit.code for t in tickets} == {"TNMT", "KTHT"}
    # approved minutes are frozen, Admin included
    assert secretary.put(url, json={"place": "khác"}).status_code == 409
    assert api("admin").put(url, json={"place": "khác"}).status_code == 409


def test_the_report_and_notice_form_through_the_api(db, api, user, unit):
    secretary, leader, top = api("thuky.iso"), api("truongban.iso"), api("chutich")
    review_id = secretary.post("/api/v1/reviews/", json={
        "form": "report", "period_start": "2077-01-01", "period_end": "2077-06-30"}).json["id"]
    url = f"/api/v1/reviews/{review_id}/content"
    assert secretary.put(url, json={"place": "x"}).status_code == 422  # a meeting's part
    assert secretary.put(url, json={"inputs": {"feedback": "Phản hồi tốt"}}).status_code == 200
    assert secretary.put(f"{url}?regather=1", json={}).status_code == 200
    step = f"/api/v1/reviews/{review_id}/transitions"
    assert secretary.post(f"{step}/submit_report", json={}).status_code == 200
    assert secretary.put(url, json={"inputs": {"feedback": "x"}}).status_code == 409
    assert leader.post(f"{step}/approve_report", json={}).status_code == 200
    comment = top.post(f"/api/v1/reviews/{review_id}/comments", json={"text": "Cần nêu rõ nguồn lực"})
    assert comment.status_code == 201, comment.text
    assert api("canbo.ktht").post(f"/api/v1/reviews/{review_id}/comments", json={"text": "x"}).status_code == 403
    # once the QMS report is approved only the notice (the outputs) may still change
    assert secretary.put(url, json={"inputs": {"feedback": "đổi"}}).status_code == 409
    assert secretary.put(f"{url}?regather=1", json={}).status_code == 409
    assert secretary.put(url, json={"general_conclusion": "HTQLCL phù hợp", "actions": [
        {"description": "Rà soát phạm vi", "focal_unit_id": unit("VP").id, "due_date": iso_day(40)}]}).status_code == 200
    assert secretary.post(f"{step}/submit_notice", json={}).status_code == 200
    assert top.post(f"{step}/issue_notice", json={}).status_code == 200
    result = secretary.get(url).json["result"]
    assert result["inputs"]["feedback"] == "Phản hồi tốt" and result["actions"][0]["ticket_id"]
    assert secretary.get(f"/api/v1/reviews/{review_id}").json["result"]["state"] == "issued"
    assert api("admin").put(url, json={"general_conclusion": "khác"}).status_code == 409


# --- 6. a finished review is frozen ---------------------------------------------------------

def test_a_finished_review_is_changed_by_nobody_admin_included(db, client_as_user, user):
    approved = db.session.query(Review).filter_by(form="meeting", state="minutes_approved").order_by(Review.id).first()
    before = (approved.version, approved.place, len(approved.actions), dict(approved.figures))
    for name in ("thuky.iso", "admin"):
        with pytest.raises(services.Conflict):
            services.save_content(user(name), approved.id, {"place": "khác"})
        with pytest.raises(services.Conflict):
            services.save_content(user(name), approved.id, {}, regather=True)
        client = client_as_user(name)
        page = client.get(f"/reviews/show/{approved.id}").text
        assert 'id="review-content"' not in page
        token = csrf_token(client.get("/reviews/add").text)
        response = client.post(f"/reviews/{approved.id}/content", data={
            "csrf_token": token, "place": "khác", "regather": "1", "action-0-description": "x"})
        assert response.status_code in (302, 409)
        assert client.get(f"/reviews/edit/{approved.id}").status_code in (403, 404, 302)
        client.post(f"/reviews/delete/{approved.id}", data={"csrf_token": token})
    db.session.expire_all()
    approved = db.session.get(Review, approved.id)
    assert (approved.version, approved.place, len(approved.actions), dict(approved.figures)) == before


# --- 5. the list's period columns ----------------------------------------------------------

def test_the_review_list_labels_its_period_columns_as_dates(client_as_user):
    page = client_as_user("thuky.iso").get("/reviews/list/").text
    assert "Từ ngày" in page and "Đến ngày" in page
    assert "Từ trạng thái" not in page and "Sang trạng thái" not in page


# --- 3. every figure that links to a list equals that list ------------------------------------

def _list_count(client, link):
    page = client.get(link)
    assert page.status_code == 200, link
    shown = "ticket-count" if link.startswith("/tickets/list/") else "record-count"
    return int(page.text.split(f'class="{shown}">')[1].split("<")[0])


def test_every_linked_figure_equals_its_list_over_the_demo_data(db, client_as_user, user):
    # a period over the demo records that ends before today: overdue is not "at the period end"
    start, end = day(-120), day(-10)
    review = services.create_review(user("thuky.iso"), "report", start, end)
    client = client_as_user("thuky.iso")
    checked = set()
    for section, figures in review.figures.items():
        for figure in figures:
            link = figure["link"]
            if not link or link.startswith("/tickets/show/"):
                continue
            if link.startswith("/objectives-summary/"):
                year = int(parse_qs(urlparse(link).query)["year"][0])
                data = objectives.summary(year)
                assert figure["value"].startswith(f"{data['achieved']}/{data['objectives']}")
                assert client.get(link).status_code == 200
                continue
            assert _list_count(client, link) == figure["value"], (section, figure)
            checked.add(figure["key"])
    assert {"nc_total", "nc_unit", "nc_feedback", "nc_source", "nc_audit", "tickets_total",
            "tickets_of_unit", "tickets_source", "tickets_state", "tickets_overdue_on"} <= checked
    overdue = next(f for f in review.figures["nonconformities"] if f["key"] == "tickets_overdue_on")
    assert overdue["value"] >= 1  # the demo has an overdue ticket: the figure is not trivially 0
    # "found by monitoring" is not all the NCs of the period: it is the sum of its sources' lists
    monitoring, *by_source = review.figures["monitoring"]
    assert monitoring["key"] == "nc_monitoring" and monitoring["value"] == sum(f["value"] for f in by_source)
    assert 0 < monitoring["value"] < next(
        f for f in review.figures["nonconformities"] if f["key"] == "nc_total")["value"]
