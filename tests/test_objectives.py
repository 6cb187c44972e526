"""Quality objectives (5.9, Phụ lục 3): plans, approval by role, reports, deadlines, summary."""
import datetime
import io
import itertools
import subprocess

import pytest
from openpyxl import load_workbook

from app.objectives import services
from app.objectives.models import ObjectivePlan
from app.workflow import Conflict, Forbidden, Invalid
from tests.conftest import csrf_token

YEAR = datetime.date.today().year + 2  # a year no demo plan uses
_years = itertools.count(YEAR)
LAST_DEMO_YEAR = datetime.date.today().year - 1


def row(objective="Hồ sơ đúng hạn", kind="ge", target="95 %", **extra):
    return {"objective": objective, "measurement_method": "Tỷ lệ hồ sơ đúng hạn", "target_kind": kind,
            "target": target, "measures": "Phòng chuyên môn", **extra}


@pytest.fixture
def new_plan(db, user, unit):
    """A draft plan for a unit code (or None: the agency) in a fresh year, with rows."""
    def make(code="KTHT", rows=(row(),), year=None):
        drafter = {"KTHT": "canbo.ktht", "TNMT": "canbo.tnmt", None: "thuky.iso"}[code]
        plan = services.create_plan(user(drafter), year or next(_years), unit(code).id if code else None)
        for values in rows:
            services.save_row(user(drafter), plan.id, values)
        return plan

    yield make


def approve(plan, user, drafter="canbo.ktht", approver="truongphong.ktht"):
    services.apply_transition(user(drafter), plan, "submit", {})
    return services.apply_transition(user(approver), plan, "approve", {})


def test_targets_and_achievement():
    assert services.parse_number("≥ 95 %") == (95.0, "%")
    assert services.parse_number("2,5 ngày") == (2.5, "ngày")
    assert services.parse_number("chín mươi") is None
    assert services.is_achieved("ge", 95, 95) and not services.is_achieved("ge", 95, 94.9)
    assert services.is_achieved("le", 2, 1.5) and not services.is_achieved("le", 2, 2.1)
    assert services.is_achieved("eq", 0, 0) and not services.is_achieved("eq", 0, 1)
    assert services.is_achieved("text", None, None) is None


def test_rows_must_be_measurable_and_inside_the_year(new_plan, user):
    plan = new_plan(rows=())
    with pytest.raises(Invalid) as error:
        services.save_row(user("canbo.ktht"), plan.id, row(target="khoảng chín mươi"))
    assert "target" in error.value.errors
    with pytest.raises(Invalid) as error:
        services.save_row(user("canbo.ktht"), plan.id, {**row(), "measurement_method": ""})
    assert "measurement_method" in error.value.errors
    with pytest.raises(Invalid) as error:
        services.save_row(user("canbo.ktht"), plan.id, row(start_date=f"{plan.year - 1}-12-01"))
    assert "start_date" in error.value.errors
    saved = services.save_row(user("canbo.ktht"), plan.id, row(kind="text", target="Không có phản ánh"))
    assert services.format_target(saved) == "Không có phản ánh"
    saved = services.save_row(user("canbo.ktht"), plan.id, row(kind="le", target="2 ngày"))
    assert services.format_target(saved) == "≤ 2 ngày"


def test_who_drafts_and_who_approves(new_plan, user, unit):
    with pytest.raises(Forbidden):
        services.create_plan(user("canbo.tnmt"), 2099, unit("KTHT").id)
    with pytest.raises(Forbidden):
        services.create_plan(user("canbo.ktht"), 2099, None)
    plan = new_plan("KTHT")
    with pytest.raises(Conflict):
        services.create_plan(user("canbo.ktht"), plan.year, unit("KTHT").id)
    services.apply_transition(user("canbo.ktht"), plan, "submit", {})
    for refused in ("canbo.ktht", "truongphong.tnmt", "truongban.iso", "chutich"):
        with pytest.raises(Forbidden):
            services.apply_transition(user(refused), plan, "approve", {})
    with pytest.raises(Invalid):
        services.apply_transition(user("truongphong.ktht"), plan, "return", {})
    services.apply_transition(user("truongphong.ktht"), plan, "return", {"comment": "Bổ sung chỉ tiêu"})
    assert plan.state == "draft" and plan.events[-1].comment == "Bổ sung chỉ tiêu"
    approve(plan, user)
    assert plan.state == "approved" and plan.approved_by.username == "truongphong.ktht"

    agency = new_plan(None)
    services.apply_transition(user("thuky.iso"), agency, "submit", {})
    with pytest.raises(Forbidden):
        services.apply_transition(user("truongphong.ktht"), agency, "approve", {})
    services.apply_transition(user("chutich"), agency, "approve", {})
    assert agency.state == "approved"


def test_approved_plan_is_read_only_and_revised_by_a_new_revision(new_plan, user, db):
    plan = approve(new_plan(rows=(row(), row("Hài lòng", target="90 %"))), user)
    with pytest.raises(Conflict):
        services.save_row(user("canbo.ktht"), plan.id, row())
    revision = services.revise(user("canbo.ktht"), plan.id)
    assert revision.revision == 2 and revision.replaces_id == plan.id and len(revision.rows) == 2
    with pytest.raises(Conflict):
        services.revise(user("canbo.ktht"), plan.id)
    assert services.current_plans(plan.year)[plan.unit_id].id == plan.id  # the approved one is in force
    services.save_row(user("canbo.ktht"), revision.id, row("Mục tiêu mới", target="80 %"))
    approve(revision, user)
    db.session.refresh(plan)
    assert plan.state == "superseded" and len(plan.rows) == 2
    assert services.current_plans(plan.year)[plan.unit_id].id == revision.id


def test_copy_rows_from_last_year(db, user, unit):
    previous = db.session.query(ObjectivePlan).filter_by(
        year=LAST_DEMO_YEAR, unit_id=unit("KTHT").id, state="approved").one()
    plan = services.create_plan(user("canbo.ktht"), LAST_DEMO_YEAR + 1, unit("KTHT").id) \
        if not services.current_plans(LAST_DEMO_YEAR + 1).get(unit("KTHT").id) \
        else services.current_plans(LAST_DEMO_YEAR + 1)[unit("KTHT").id]
    before = len(plan.rows)
    count = services.copy_from_previous_year(user("canbo.ktht"), plan.id)
    assert count == len(previous.rows) and len(plan.rows) == before + count
    assert plan.rows[-1].start_date.year == plan.year
    assert plan.rows[-1].objective == previous.rows[-1].objective


def test_report_from_the_approved_plan(new_plan, user, db):
    plan = new_plan(rows=(row(), row("Thời gian", kind="le", target="2 ngày"),
                          row("Phản ánh", kind="text", target="Không có phản ánh")))
    with pytest.raises(Conflict):
        services.create_report(user("canbo.ktht"), plan.id)
    approve(plan, user)
    report = services.create_report(user("canbo.ktht"), plan.id)
    first, second, third = report.rows
    with pytest.raises(Invalid):
        services.apply_transition(user("canbo.ktht"), report, "submit", {})
    with pytest.raises(Invalid) as error:
        services.save_report_row(user("canbo.ktht"), report.id, first.id, {"actual": "nhiều"})
    assert "actual" in error.value.errors
    with pytest.raises(Invalid) as error:
        services.save_report_row(user("canbo.ktht"), report.id, first.id, {"actual": "93 %"})
    assert "direction" in error.value.errors
    services.save_report_row(user("canbo.ktht"), report.id, first.id,
                             {"actual": "93 %", "reason": "Thiếu người", "direction": "Bổ sung người"})
    services.save_report_row(user("canbo.ktht"), report.id, second.id, {"actual": "1,5 ngày"})
    services.save_report_row(user("canbo.ktht"), report.id, third.id, {"actual": "Không có", "achieved": "yes"})
    assert [r.achieved for r in report.rows] == [False, True, True]
    services.apply_transition(user("canbo.ktht"), report, "submit", {})
    with pytest.raises(Forbidden):
        services.apply_transition(user("chutich"), report, "approve", {})
    services.apply_transition(user("truongphong.ktht"), report, "approve", {})
    assert report.state == "approved"

    ticket = services.open_ticket_for_row(user("canbo.ktht"), first.id)
    assert ticket.kind == "preventive" and ticket.source == "data_analysis" and first.ticket_id == ticket.id
    assert "Hồ sơ đúng hạn" in ticket.description and "≥ 95 %" in ticket.description
    with pytest.raises(Conflict):
        services.open_ticket_for_row(user("canbo.ktht"), second.id)


def test_deadline_flags():
    assert services._flag(datetime.date(2026, 1, 30), services.plan_due(2026), datetime.date(2026, 3, 1)) == "ok"
    assert services._flag(datetime.date(2026, 1, 31), services.plan_due(2026), datetime.date(2026, 3, 1)) == "late"
    assert services._flag(None, services.plan_due(2026), datetime.date(2026, 1, 30)) == "pending"
    assert services._flag(None, services.plan_due(2026), datetime.date(2026, 1, 31)) == "missing"
    assert services._flag(None, services.report_due(2026), datetime.date(2026, 12, 31)) == "pending"
    assert services._flag(None, services.report_due(2026), datetime.date(2027, 1, 1)) == "missing"
    assert services._flag(datetime.date(2027, 1, 2), services.report_due(2026), datetime.date(2027, 1, 5)) == "late"


def test_summary_figures_match_the_demo_data(client_as_user, unit):
    data = services.summary(LAST_DEMO_YEAR, on=datetime.date(LAST_DEMO_YEAR + 1, 1, 5))
    by_owner = {(r["owner"].code if r["owner"] else None): r for r in data["rows"]}
    assert (by_owner[None]["objectives"], by_owner[None]["achieved"]) == (3, 2)
    assert (by_owner["KTHT"]["achieved"], by_owner["KTHT"]["rate"]) == (2, 67)
    assert (by_owner["TNMT"]["rate"], by_owner["TNMT"]["plan_flag"]) == (0, "late")
    assert by_owner["BPMC"]["rate"] == 100 and by_owner["BPMC"]["report_flag"] == "ok"
    assert by_owner["TP"]["plan_flag"] == "missing" and by_owner["TP"]["rate"] is None
    assert (data["objectives"], data["achieved"], data["rate"]) == (10, 6, 60)
    page = client_as_user("thuky.iso").get(f"/objectives-summary/?year={LAST_DEMO_YEAR}").text
    assert 'class="total-rate">60 %' in page and "<svg" in page and page.count('class="summary-row"') == 6
    assert "http" not in page.split("<svg", 1)[1].split("</svg>", 1)[0].replace("http://www.w3.org", "")


def test_the_summary_reads_its_years_of_rates_in_one_statement(client_as_user, count_queries, db):
    """The summary page showed the rate of each of its last six years by making each year's whole
    summary again (about five statements a year, 31 in all at the bench); the rates are now
    counted in one grouped statement (services.summary_counts), equal to each year's summary."""
    client = client_as_user("thuky.iso")
    client.get(f"/objectives-summary/?year={LAST_DEMO_YEAR}")
    with count_queries() as counter:
        page = client.get(f"/objectives-summary/?year={LAST_DEMO_YEAR}").text
    assert counter.count <= 10, counter.statements
    years = list(range(LAST_DEMO_YEAR - 5, LAST_DEMO_YEAR + 1))
    units = [row["owner"] for row in services.summary(LAST_DEMO_YEAR)["rows"] if row["owner"]]
    assert services.rates_by_year(years, units) == [(year, services.summary(year)["rate"]) for year in years]
    assert any(rate is not None for _, rate in services.rates_by_year(years, units))
    assert 'class="total-rate">60 %' in page


def _pdf_text(data: bytes) -> str:
    """The text cell by cell, each cell's lines joined: columns wrap at the true type size."""
    return " ".join(subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True,
                                   check=True).stdout.decode().split())


def test_plan_and_report_documents(client_as_user, db, unit):
    plan = db.session.query(ObjectivePlan).filter_by(year=LAST_DEMO_YEAR, unit_id=unit("TNMT").id).one()
    client = client_as_user("canbo.tnmt")
    text = _pdf_text(client.get(f"/objectives/{plan.id}/plan.pdf").data)
    for expected in ["ỦY BAN NHÂN DÂN HUYỆN CAM LÂM", "PHÒNG TÀI NGUYÊN VÀ MÔI TRƯỜNG",
                     "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", f"KẾ HOẠCH THỰC HIỆN MỤC TIÊU CHẤT LƯỢNG NĂM {plan.year}",
                     "CỦA PHÒNG TÀI NGUYÊN VÀ MÔI TRƯỜNG", "Cách đo lường", "Biện pháp thực hiện/đơn vị thực hiện",
                     "Thời gian", "Cấp giấy chứng nhận quyền sử dụng đất", "Mức mục tiêu: ≥ 95 %",
                     "TRƯỞNG PHÒNG", "Phạm Văn Hùng"]:
        assert expected in text, expected
    report = _pdf_text(client.get(f"/objectives/{plan.id}/report.pdf").data)
    for expected in [f"BÁO CÁO THỰC HIỆN MỤC TIÊU CHẤT LƯỢNG NĂM {plan.year}", "Mức đo", "Thực tế đạt",
                     "Nguyên nhân do không đạt mục tiêu", "88 % (Không", "Bổ sung nhân lực thời vụ",
                     f"Cam Lâm, ngày 22 tháng 12 năm {plan.year}"]:
        assert expected in report, expected
    book = load_workbook(io.BytesIO(client.get(f"/objectives/{plan.id}/report.xlsx").data))
    sheet = book.active
    assert sheet["A1"].value == f"BÁO CÁO THỰC HIỆN MỤC TIÊU CHẤT LƯỢNG NĂM {plan.year}"
    assert [c.value for c in sheet[4]] == ["STT", "Mục tiêu", "Mức đo lường", "Thực tế đạt được",
                                           "Nguyên nhân do không đạt mục tiêu", "Hướng giải quyết trong thời gian tới"]
    assert sheet["C5"].value == "≥ 95 %" and sheet["D5"].value == "88 % (Không đạt)"
    plan_book = load_workbook(io.BytesIO(client.get(f"/objectives/{plan.id}/plan.xlsx").data)).active
    assert plan_book["B5"].value == "Cấp giấy chứng nhận quyền sử dụng đất đúng hạn"


def test_pages_refuse_bad_rows_without_losing_text(new_plan, client_as_user):
    plan = new_plan(rows=())
    client = client_as_user("canbo.ktht")
    page = client.get(f"/objectives/show/{plan.id}")
    response = client.post(f"/objectives/{plan.id}/rows", data={
        **row(objective="Mục tiêu đã gõ dài", target="rất cao"), "csrf_token": csrf_token(page.text)})
    assert response.status_code == 422
    assert "Mục tiêu đã gõ dài" in response.text and "rất cao" in response.text
    assert "“rất cao” không phải là" in response.text
    other = client_as_user("canbo.tnmt")
    token = csrf_token(other.get("/objectives/add").text)
    refused = other.post(f"/objectives/{plan.id}/rows", data={**row(), "csrf_token": token},
                         follow_redirects=True)
    assert "Chỉ" in refused.text


def test_cli_writes_the_report(app, tmp_path):
    out = tmp_path / "bao-cao.pdf"
    result = app.test_cli_runner().invoke(args=[
        "qms", "report", "objectives", "--agency", "CAMLAM", "--year", str(LAST_DEMO_YEAR), "--unit", "KTHT",
        "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "BÁO CÁO THỰC HIỆN MỤC TIÊU CHẤT LƯỢNG" in _pdf_text(out.read_bytes())
    missing = app.test_cli_runner().invoke(args=[
        "qms", "report", "objectives", "--agency", "CAMLAM", "--year", "1999", "--out", str(tmp_path / "x.pdf")])
    assert missing.exit_code != 0 and "Chưa có kế hoạch" in missing.output


def test_objective_plans_through_the_api(api, unit):
    staff, head = api("canbo.ktht"), api("truongphong.ktht")
    year = next(_years)
    created = staff.post("/api/v1/objective-plans/", json={"year": year, "unit": unit("KTHT").id})
    assert created.status_code == 201, created.text
    plan_id = created.json["id"]
    assert staff.post("/api/v1/objective-plans/", json={"year": year, "unit": unit("KTHT").id}).status_code == 409
    assert staff.post("/api/v1/objective-plans/", json={"year": year, "unit": unit("TNMT").id}).status_code == 403
    bad = staff.post(f"/api/v1/objective-plans/{plan_id}/rows", json=row(target="cao"))
    assert bad.status_code == 422 and "target" in bad.json["errors"]
    added = staff.post(f"/api/v1/objective-plans/{plan_id}/rows", json=row())
    assert added.status_code == 201 and added.json["result"]["target"] == "≥ 95 %"
    assert [t["name"] for t in staff.get(f"/api/v1/objective-plans/{plan_id}/transitions").json["result"]] == ["submit"]
    assert staff.post(f"/api/v1/objective-plans/{plan_id}/transitions/approve", json={}).status_code == 409
    assert staff.post(f"/api/v1/objective-plans/{plan_id}/transitions/submit", json={}).status_code == 200
    assert staff.post(f"/api/v1/objective-plans/{plan_id}/transitions/approve", json={}).status_code == 403
    approved = head.post(f"/api/v1/objective-plans/{plan_id}/transitions/approve", json={})
    assert approved.json["result"]["state"] == "approved"
    report = staff.post(f"/api/v1/objective-plans/{plan_id}/report")
    assert report.status_code == 201
    row_id = report.json["result"]["rows"][0]["id"]
    saved = staff.put(f"/api/v1/objective-plans/{plan_id}/report/rows/{row_id}", json={"actual": "97 %"})
    assert saved.json["result"]["rows"][0]["achieved"] is True
    steps = staff.get(f"/api/v1/objective-plans/{plan_id}/report/transitions").json["result"]
    assert [s["name"] for s in steps] == ["submit"]
    assert staff.post(f"/api/v1/objective-plans/{plan_id}/report/transitions/submit", json={}).status_code == 200
    pdf = staff.get(f"/api/v1/objective-plans/{plan_id}/pdf?document=report")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_the_plan_list_filters_and_reads_fab_s_addresses(new_plan, client_as_user, user, unit):
    """The plan list is a page of its own (issue 15): filters by year, unit and state in its
    address; an address of FAB's list (the compliance board linked `?_flt_0_year=`) opens the same
    filter; only a draft its drafter may delete offers the delete button."""
    import re

    year = next(_years)
    ktht, tnmt = new_plan("KTHT", year=year), new_plan("TNMT", year=year)
    approve(ktht, user)
    client = client_as_user("canbo.ktht")

    def listed(**args):
        page = client.get("/objectives/list/", query_string={"year": year, **args})
        assert page.status_code == 200
        shown = [int(i) for i in re.findall(r'href="/objectives/show/(\d+)"', page.text)]
        assert page.text.split('class="record-count">')[1].startswith(f"{len(shown)}<")
        return shown, page.text

    assert sorted(listed()[0]) == sorted([ktht.id, tnmt.id])
    assert listed(unit=unit("TNMT").id)[0] == [tnmt.id]
    assert listed(state="approved")[0] == [ktht.id]
    moved = client.get(f"/objectives/list/?_flt_0_year={year}&_flt_3_state=approved")
    assert moved.status_code == 302 and moved.headers["Location"] == f"/objectives/list/?year={year}&state=approved"
    drafts = client_as_user("canbo.tnmt").get("/objectives/list/", query_string={"year": year}).text
    assert f"/objectives/delete/{tnmt.id}" in drafts and f"/objectives/delete/{ktht.id}" not in drafts
    assert 'id="delete_form"' in drafts
