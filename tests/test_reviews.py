"""Management review (5.8): inputs from the records, both forms, follow-up tickets, PDFs."""
import datetime
import re
import subprocess

import pytest

from app.reviews import services
from app.reviews.models import InternalAudit, Review
from app.tickets.models import Nonconformity, Ticket
from app.workflow import Conflict, Forbidden, Invalid
from tests.conftest import csrf_token

# A period of its own, far from the demo data, so the figures can be computed by hand.
START, END = datetime.date(2081, 1, 1), datetime.date(2081, 12, 31)


def _values(figures, section):
    return {(f["key"], f["name"]): f["value"] for f in figures[section]}


def test_inputs_of_an_empty_period(app, db, user):
    figures = services.gather_inputs(datetime.date(2070, 1, 1), datetime.date(2070, 12, 31), user("thuky.iso"))
    assert set(figures) == set(services.INPUT_SECTIONS)
    nc = _values(figures, "nonconformities")
    assert nc[("nc_total", None)] == 0 and nc[("tickets_total", None)] == 0
    assert _values(figures, "feedback")[("nc_feedback", None)] == 0
    assert _values(figures, "audit")[("audits", None)] == 0
    assert figures["objectives"][0]["value"] == "0/0"


def test_inputs_match_a_known_data_set(db, user, unit):
    admin = user("admin")
    category_id = db.session.execute(db.text("SELECT id FROM nc_category LIMIT 1")).scalar()

    def nc(code, source, day):
        db.session.add(Nonconformity(unit_id=unit(code).id, category_id=category_id, source=source,
                                     detected_on=day, description="KPH kiểm thử", created_by_id=admin.id))

    nc("KTHT", "feedback", datetime.date(2081, 3, 1))
    nc("KTHT", "internal_audit", datetime.date(2081, 5, 1))
    nc("TNMT", "feedback", datetime.date(2081, 6, 1))
    nc("TNMT", "data_analysis", datetime.date(2081, 7, 1))
    nc("TNMT", "feedback", datetime.date(2082, 1, 5))  # outside the period

    def ticket(code, source, state, kind="corrective", day=datetime.date(2081, 4, 1)):
        db.session.add(Ticket(kind=kind, source=source, requesting_unit_id=unit(code).id, description="x",
                              requested_on=day, created_by_id=admin.id, state=state))

    ticket("KTHT", "internal_audit", "closed")
    ticket("KTHT", "risk_analysis", "closed")
    ticket("TNMT", "risk_analysis", "closed_ineffective")
    ticket("TNMT", "feedback", "analysis", kind="preventive")
    ticket("TNMT", "feedback", "analysis", day=datetime.date(2080, 12, 31))  # outside
    db.session.add(InternalAudit(year=2081, done_on=datetime.date(2081, 11, 2), scope="Kiểm thử"))
    db.session.commit()

    figures = services.gather_inputs(START, END, user("thuky.iso"))
    nc_rows = _values(figures, "nonconformities")
    assert nc_rows[("nc_total", None)] == 4
    assert nc_rows[("nc_unit", "Phòng Tài nguyên và Môi trường")] == 2
    assert nc_rows[("tickets_total", None)] == 4
    assert nc_rows[("tickets_of_unit", "Phòng Kinh tế và Hạ tầng")] == 2
    assert nc_rows[("tickets_source", "Kết quả phân tích rủi ro")] == 2
    assert nc_rows[("tickets_state", "Đã đóng")] == 2
    assert nc_rows[("tickets_ineffective", None)] == 1
    assert _values(figures, "feedback")[("nc_feedback", None)] == 2
    assert _values(figures, "monitoring")[("nc_monitoring", None)] == 1
    audit = _values(figures, "audit")
    assert audit[("audits", None)] == 1 and audit[("nc_audit", None)] == 1 and audit[("tickets_audit", None)] == 1
    risks = _values(figures, "risks")
    assert risks[("risk_tickets", None)] == 2 and risks[("risk_closed", None)] == 1
    assert _values(figures, "opportunities")[("improvement_tickets", None)] == 1

    # every figure with a link opens a list that shows the same number
    for section in ("nonconformities", "audit", "risks"):
        for figure in figures[section]:
            assert figure["link"] is None or figure["link"].startswith(("/tickets/list/", "/nonconformities/list/"))


def test_inputs_of_each_person_and_period(db, user, unit):
    """The counting statement is built once per way of seeing the records and run with the
    period: each person, each period and each day still gets its own figures, in any order."""
    category_id = db.session.execute(db.text("SELECT id FROM nc_category LIMIT 1")).scalar()
    staff, secretary = user("canbo.ktht"), user("thuky.iso")
    for code, day in (("KTHT", datetime.date(2083, 2, 1)), ("TNMT", datetime.date(2083, 3, 1)),
                      ("KTHT", datetime.date(2084, 2, 1))):
        db.session.add(Nonconformity(unit_id=unit(code).id, source="feedback", detected_on=day,
                                     description="Kiểm thử theo người", created_by_id=user("admin").id,
                                     category_id=category_id))
        db.session.add(Ticket(kind="corrective", source="feedback", requesting_unit_id=unit(code).id,
                              description="x", requested_on=day, created_by_id=user("admin").id, state="analysis",
                              due_date=day))
    db.session.commit()

    def totals(person, year):
        rows = _values(services.gather_inputs(datetime.date(year, 1, 1), datetime.date(year, 12, 31), person),
                       "nonconformities")
        return rows[("nc_total", None)], rows[("tickets_total", None)]

    for _ in range(2):
        assert totals(staff, 2083) == (1, 1)  # the staff member's unit only
        assert totals(secretary, 2083) == (2, 2)
        assert totals(staff, 2084) == (1, 1) and totals(secretary, 2084) == (1, 1)
        assert totals(secretary, 2085) == (0, 0)


def test_figure_links_open_lists_with_the_same_count(db, client_as_user, user):
    figures = services.gather_inputs(START, END, user("thuky.iso"))
    client = client_as_user("thuky.iso")
    for figure in figures["nonconformities"] + figures["risks"] + figures["audit"] + figures["monitoring"]:
        if not figure["link"]:
            continue
        page = client.get(figure["link"]).text
        shown = "ticket-count" if figure["link"].startswith("/tickets/") else "record-count"
        count = int(page.split(f'class="{shown}">')[1].split("<")[0])
        assert count == figure["value"], (figure, count)


def test_meeting_form_roles_and_follow_up_tickets(db, user, unit):
    secretary = user("thuky.iso")
    with pytest.raises(Forbidden):
        services.create_review(user("canbo.ktht"), "meeting", START, END)
    with pytest.raises(Invalid):
        services.create_review(secretary, "meeting", END, START)
    review = services.create_review(secretary, "meeting", START, END)
    assert review.number >= 1 and len(review.items) == 7 and review.figures
    with pytest.raises(Invalid):  # date, time, place, chair missing
        services.apply_transition(secretary, review.id, "hold", {})
    with pytest.raises(Invalid):
        services.save_content(secretary, review.id, {"start_time": "8 giờ"})
    services.save_content(secretary, review.id, {
        "meeting_date": datetime.date.today().isoformat(), "start_time": "08:00", "end_time": "10:00",
        "place": "Hội trường", "chair_id": user("chutich").id, "secretary_id": secretary.id,
        "items": [{"position": 1, "conclusion": "Đã hoàn thành"}], "inputs": {"context": "Bối cảnh mới"},
        "actions": [{"description": "Rà soát quy trình", "focal_unit_id": unit("KTHT").id, "due_date": "2082-03-01"}]})
    with pytest.raises(Forbidden):
        services.apply_transition(user("truongban.iso"), review.id, "hold", {})
    services.apply_transition(secretary, review.id, "hold", {})
    with pytest.raises(Forbidden):  # only the chair approves the minutes
        services.apply_transition(user("truongban.iso"), review.id, "approve_minutes", {})
    services.apply_transition(user("chutich"), review.id, "approve_minutes", {})
    db.session.refresh(review)
    assert review.state == "minutes_approved" and review.items[0].conclusion == "Đã hoàn thành"
    [action] = review.actions
    ticket = action.ticket
    assert ticket.source == "management_review" and ticket.state == "iso_review"
    assert ticket.requesting_unit.code == "KTHT" and review.display_number in ticket.description
    assert ticket.number and ticket.events[0].name == "create_from_review"
    with pytest.raises(Conflict):  # approved minutes are final
        services.save_content(secretary, review.id, {"place": "khác"})

    # the next review lists this one's action among "earlier actions"
    later = services.create_review(secretary, "report", datetime.date(2082, 1, 1), datetime.date(2082, 6, 30))
    earlier = _values(later.figures, "earlier_actions")
    assert earlier[("actions_total", None)] >= 1
    assert any(f["link"] == f"/tickets/show/{ticket.id}" for f in later.figures["earlier_actions"])
    # read as plain rows (gather_inputs): what the action's and its ticket's records say
    from app.tickets import workflow as ticket_workflow

    [shown] = [f for f in later.figures["earlier_actions"] if f["link"] == f"/tickets/show/{ticket.id}"]
    assert (shown["key"], shown["value"], shown["name"]) == (
        "action", str(ticket_workflow.STATES[ticket.state]), f"{action.description[:80]} ({ticket.display_number})")


def test_report_and_notice_form(db, user):
    secretary = user("thuky.iso")
    review = services.create_review(secretary, "report", datetime.date(2083, 1, 1), datetime.date(2083, 6, 30))
    with pytest.raises(Conflict):  # comments are taken once the QMS report is approved
        services.add_comment(user("chutich"), review.id, "Chưa đến lúc")
    services.apply_transition(secretary, review.id, "submit_report", {})
    with pytest.raises(Forbidden):
        services.apply_transition(user("chutich"), review.id, "approve_report", {})
    services.apply_transition(user("truongban.iso"), review.id, "approve_report", {})
    services.add_comment(user("chutich"), review.id, "Cần nêu rõ nguồn lực.")
    services.add_comment(user("truongphong.ktht"), review.id, "Đồng ý.")
    with pytest.raises(Forbidden):
        services.add_comment(user("canbo.ktht"), review.id, "x")
    with pytest.raises(Invalid):  # the notice needs the outputs
        services.apply_transition(secretary, review.id, "submit_notice", {})
    services.save_content(secretary, review.id, {"general_conclusion": "HTQLCL phù hợp",
                                                 "resource_needs": "Thêm 01 công chức"})
    services.apply_transition(secretary, review.id, "submit_notice", {})
    with pytest.raises(Forbidden):
        services.apply_transition(user("truongban.iso"), review.id, "issue_notice", {})
    services.apply_transition(user("chutich"), review.id, "issue_notice", {})
    assert review.state == "issued" and len(review.comments) == 2


def _pdf_text(data):
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()


def test_minutes_report_and_notice_pdfs(db, client_as_user):
    meeting = db.session.query(Review).filter_by(form="meeting", state="minutes_approved").order_by(Review.id).first()
    client = client_as_user("canbo.ktht")  # units read the reviews
    text = _pdf_text(client.get(f"/reviews/{meeting.id}/minutes.pdf").data)
    for expected in ["UBND HUYỆN CAM LÂM", "BAN CHỈ ĐẠO ISO", f"Số: {meeting.display_number}", "BIÊN BẢN",
                     "HỌP XEM XÉT CỦA LÃNH ĐẠO", "1. Thành phần tham dự:", "2. Chủ trì: Ngô Văn Bảo",
                     "3. Thư ký cuộc họp: Đinh Thị Thu Thủy", "4.2. Phần thảo luận", "Kết luận của chủ trì",
                     "Các cơ hội cải tiến", "5. Kết luận", "Nhu cầu về nguồn lực",
                     "Biên bản này được đọc trước cuộc họp", "THƯ KÝ", "CHỦ TRÌ"]:
        assert expected in text, expected
    assert re.search(r"^ +7 +Các nội dung khác", text, re.M)  # the seventh discussion row
    report = _pdf_text(client.get(f"/reviews/{meeting.id}/report.pdf").data)
    assert "Kết quả hoạt động vận hành duy trì HTQLCL" in report and "Nhu cầu" not in report.split("BÁO CÁO")[0]
    assert client.get(f"/reviews/{meeting.id}/notice.pdf").status_code == 404


def test_cli_reports(app, db, tmp_path):
    meeting = db.session.query(Review).filter_by(form="meeting").first()
    runner = app.test_cli_runner()
    out = tmp_path / "bb.pdf"
    result = runner.invoke(args=["qms", "report", "review", "--agency", "CAMLAM", "--id", str(meeting.id),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "BIÊN BẢN" in _pdf_text(out.read_bytes())
    annual = tmp_path / "annual.pdf"
    result = runner.invoke(args=["qms", "report", "annual", "--agency", "CAMLAM",
                                 "--year", str(datetime.date.today().year), "--out", str(annual)])
    assert result.exit_code == 0, result.output
    text = _pdf_text(annual.read_bytes())
    assert "Sự không phù hợp và hành động khắc phục" in text and "Số phiếu đã mở" in text


def test_reviews_api(api, db):
    secretary, top = api("thuky.iso"), api("chutich")
    inputs = secretary.get("/api/v1/reviews/inputs?from=2081-01-01&to=2081-12-31")
    assert inputs.status_code == 200 and "nonconformities" in inputs.json["result"]
    assert inputs.json["result"]["nonconformities"][0]["label"]
    assert secretary.get("/api/v1/reviews/inputs?from=x&to=y").status_code == 422
    created = secretary.post("/api/v1/reviews/", json={"form": "report", "period_start": "2084-01-01",
                                                       "period_end": "2084-12-31"})
    assert created.status_code == 201, created.text
    review_id = created.json["id"]
    assert api("canbo.ktht").post("/api/v1/reviews/", json={"form": "report", "period_start": "2084-01-01",
                                                            "period_end": "2084-12-31"}).status_code == 403
    assert top.post(f"/api/v1/reviews/{review_id}/transitions/submit_report", json={}).status_code == 403
    assert secretary.post(f"/api/v1/reviews/{review_id}/transitions/issue_notice", json={}).status_code == 409
    assert secretary.post(f"/api/v1/reviews/{review_id}/transitions/submit_report", json={}).status_code == 200
    pdf = secretary.get(f"/api/v1/reviews/{review_id}/pdf?document=report")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_home_page_warns_about_the_year(client_as_user, db):
    page = client_as_user("thuky.iso").get("/").text
    year = datetime.date.today().year
    assert f"{year}" in page and "procedure-warning" in page
    assert "procedure-warning" not in client_as_user("canbo.ktht").get("/").text


def test_review_page_and_secretary_edits(client_as_user, db):
    draft = db.session.query(Review).filter_by(form="report", state="draft").order_by(Review.id).first()
    client = client_as_user("thuky.iso")
    page = client.get(f"/reviews/show/{draft.id}")
    assert page.status_code == 200 and 'form="review-content"' in page.text
    response = client.post(f"/reviews/{draft.id}/content", data={
        "csrf_token": csrf_token(page.text), "input_suppliers": "Nhà cung cấp phần mềm một cửa đáp ứng tốt"})
    assert response.status_code == 302
    db.session.refresh(draft)
    assert draft.inputs["suppliers"] == "Nhà cung cấp phần mềm một cửa đáp ứng tốt"
    staff_page = client_as_user("canbo.ktht").get(f"/reviews/show/{draft.id}").text
    assert 'form="review-content"' not in staff_page


def test_the_review_page_reads_its_actions_with_their_units_and_tickets_at_once(
        db, user, unit, client_as_user, count_queries):
    """A review whose minutes decided many follow-up actions costs its page no more statements
    than one with a single action: each action's focal unit and ticket are not read one by one."""
    secretary = user("thuky.iso")

    def approved_review(actions):
        review = services.create_review(secretary, "meeting", START, END)
        services.save_content(secretary, review.id, {
            "meeting_date": datetime.date.today().isoformat(), "start_time": "08:00", "end_time": "10:00",
            "place": "Hội trường", "chair_id": user("chutich").id, "secretary_id": secretary.id,
            "actions": [{"description": f"Hành động số {n}", "focal_unit_id": unit(code).id, "due_date": "2082-03-01"}
                        for n, code in zip(range(actions), ["KTHT", "TNMT"] * actions)]})
        services.apply_transition(secretary, review.id, "hold", {})
        services.apply_transition(user("chutich"), review.id, "approve_minutes", {})
        return review.id

    client = client_as_user("truongban.iso")

    def statements(review_id):
        client.get(f"/reviews/show/{review_id}")
        with count_queries() as counter:
            page = client.get(f"/reviews/show/{review_id}")
        assert page.status_code == 200
        return counter.count, page.text

    one, _ = statements(approved_review(1))
    many, page = statements(approved_review(6))
    assert "Hành động số 5" in page and page.count('class="review-ticket"') == 6
    assert many == one, (one, many)


def test_the_review_list_filters_and_reads_fab_s_addresses(db, client_as_user, user):
    """The review list is a page of its own (issue 15): filters by year, form and state in its
    address, the latest period first; an address of FAB's list (the compliance board linked
    `?_flt_0_year=`) opens the same filter."""
    meeting = services.create_review(user("thuky.iso"), "meeting", datetime.date(2082, 1, 1),
                                     datetime.date(2082, 6, 30))
    report = services.create_review(user("thuky.iso"), "report", datetime.date(2082, 7, 1),
                                    datetime.date(2082, 12, 31))
    client = client_as_user("thuky.iso")

    def listed(**args):
        page = client.get("/reviews/list/", query_string={"year": 2082, **args})
        assert page.status_code == 200
        mine = (meeting.id, report.id)  # other tests may leave reviews of that year
        return [int(i) for i in re.findall(r'href="/reviews/show/(\d+)"', page.text) if int(i) in mine]

    assert listed() == [report.id, meeting.id]
    assert listed(form="meeting") == [meeting.id]
    assert listed(state="draft") == [report.id, meeting.id] and listed(state="minutes_approved") == []
    moved = client.get("/reviews/list/?_flt_0_year=2082&_flt_0_form=report")
    assert moved.status_code == 302 and moved.headers["Location"] == "/reviews/list/?year=2082&form=report"


def test_the_objectives_of_every_year_of_a_period_are_inputs(app, db, user):
    """A period over several years gives the objectives of each of its years, those between its
    first and last too (they were left out), each as the objectives summary counts them."""
    from flask import g

    from app.objectives import services as objectives

    today = datetime.date.today()
    years = range(today.year - 2, today.year + 2)
    with app.test_request_context():
        g.user = user("thuky.iso")
        figures = services.gather_inputs(datetime.date(years[0], 1, 1), datetime.date(years[-1], 12, 31), g.user)
        rates = {f["name"]: f["value"] for f in figures["objectives"] if f["key"] == "objectives_rate"}
        assert list(rates) == [str(year) for year in years]
        counted = 0
        for year in years:
            summary = objectives.summary(year)
            assert rates[str(year)].startswith(f"{summary['achieved']}/{summary['objectives']}"), year
            counted += summary["objectives"]
        assert counted  # the demo's plans have objectives


def test_the_inputs_name_their_agency_s_units_and_earlier_actions_only(db, user):
    """The units the figures name and the earlier reviews' actions are read as statements kept
    per agency (app.tenancy.kept_rows on PostgreSQL): each agency's own, never another's."""
    import sqlalchemy as sa

    from app.organisation.models import Agency, Unit
    from app.reviews.models import ReviewAction
    from app.tenancy import ALL, agency_named, agency_scope, kept_rows

    with agency_scope(ALL):  # the other agency asks first: its statements are kept too
        with agency_named("CAMHIEP"):
            services.gather_inputs(datetime.date(2100, 1, 1), datetime.date(2100, 12, 31), user("xa.thuky"))
            assert kept_rows(services._units_statement(), {})
        everyone_s_actions = db.session.scalar(sa.select(sa.func.count(ReviewAction.id)))
        other_units = set(db.session.scalars(sa.select(Unit.name).join(Agency, Agency.id == Unit.agency_id)
                                             .where(Agency.code != "CAMLAM")))
    own_actions = db.session.scalar(sa.select(sa.func.count(ReviewAction.id)))
    own_units = set(db.session.scalars(sa.select(Unit.name)))
    # every earlier review's actions are earlier than a period of 2100
    figures = services.gather_inputs(datetime.date(2100, 1, 1), datetime.date(2100, 12, 31), user("thuky.iso"))
    earlier = _values(figures, "earlier_actions")
    assert 0 < earlier[("actions_total", None)] == own_actions < everyone_s_actions
    named = {row.name for row in kept_rows(services._units_statement(), {})}  # what the figures name units by
    assert named == own_units and other_units - own_units
