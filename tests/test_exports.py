"""Excel exports: user text is never a formula, dates are date cells, numbers are numbers; the
ticket and nonconformity lists export with the list's own filters and visibility."""
import datetime
import io
import uuid

from openpyxl import load_workbook

from reports import workbook

TRAPS = ['=HYPERLINK("http://evil.example/","Bấm vào đây")', "+1+2", "-3+4", "@SUM(A1:A2)",
         "\t=1+1", "\r=1+1", "=1+1"]


def _sheet(data: bytes):
    return load_workbook(io.BytesIO(data)).active


def test_workbook_keeps_text_as_text_and_writes_dates_and_numbers():
    day = datetime.date(2026, 2, 5)
    data = workbook("Thu", ["=TITLE()"], ["=A", "Ngày", "Số"],
                    [[trap, day, 12] for trap in TRAPS] + [["thường", None, 2.5]], (10, 10, 10))
    sheet = _sheet(data)
    assert sheet["A1"].value == "=TITLE()" and sheet["A1"].data_type == "s"
    assert sheet["A3"].value == "=A" and sheet["A3"].data_type == "s"
    for index, trap in enumerate(TRAPS, start=4):
        cell = sheet.cell(row=index, column=1)
        assert cell.value == trap and cell.data_type == "s", trap
        date = sheet.cell(row=index, column=2)
        assert date.is_date and date.value.date() == day and date.number_format == "DD/MM/YYYY"
        number = sheet.cell(row=index, column=3)
        assert number.value == 12 and number.data_type == "n"
    last = 4 + len(TRAPS)
    assert sheet.cell(row=last, column=2).value is None
    assert sheet.cell(row=last, column=3).value == 2.5


def test_objective_plan_dates_are_date_cells(client_as_user, db, unit):
    from app.objectives.models import ObjectivePlan

    plan = db.session.query(ObjectivePlan).filter(ObjectivePlan.unit_id == unit("TNMT").id).first()
    client = client_as_user("truongphong.tnmt")
    sheet = _sheet(client.get(f"/objectives/{plan.id}/plan.xlsx").data)
    start, end = sheet["E5"], sheet["F5"]
    assert start.is_date and end.is_date and start.number_format == "DD/MM/YYYY"
    assert start.value.date() == plan.rows[0].start_date


def _rows(sheet):
    """The table below the title lines and the heading row, as {first cell: row of cells}."""
    heading = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(row=r, column=1).value == "Số phiếu"
                   or sheet.cell(row=r, column=1).value == "Ngày phát hiện")
    return [list(row) for row in sheet.iter_rows(min_row=heading + 1)]


def test_ticket_list_exports_with_its_filters(make_ticket, client_as_user):
    marker = uuid.uuid4().hex[:10]
    trap = f'=HYPERLINK("http://evil.example/","x") {marker}'
    ticket = make_ticket(state="implementation", description=trap)
    make_ticket(state="draft", description=f"khác {marker}")
    client = client_as_user("canbo.ktht")
    page = client.get(f"/tickets/list/?q={marker}&state=implementation")
    assert "/tickets/export.xlsx?" in page.text and "Xuất Excel" in page.text
    response = client.get(f"/tickets/export.xlsx?q={marker}&state=implementation")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert ".xlsx" in response.headers["Content-Disposition"]
    sheet = _sheet(response.data)
    rows = _rows(sheet)
    assert len(rows) == 1
    headings = [c.value for c in sheet[rows[0][0].row - 1]]
    values = dict(zip(headings, rows[0]))
    assert values["Số phiếu"].value == ticket.display_number
    assert values["Mô tả"].value == trap and values["Mô tả"].data_type == "s"
    assert values["Trạng thái"].value == "Đang thực hiện"
    due = values["Hạn hoàn thành"]
    assert due.is_date and due.value.date() == ticket.due_date and due.number_format == "DD/MM/YYYY"
    assert values["Ngày đề nghị"].is_date
    # another unit's staff see none of these KTHT tickets, as on their list; without the state filter both come
    other = client_as_user("canbo.tnmt")
    assert _rows(_sheet(other.get(f"/tickets/export.xlsx?q={marker}").data)) == []
    assert len(_rows(_sheet(client.get(f"/tickets/export.xlsx?q={marker}").data))) == 2


def test_nonconformity_list_exports_with_its_filters(client_as_user, db, unit, user):
    from app.tickets.models import NcCategory, Nonconformity

    marker = uuid.uuid4().hex[:10]
    category = db.session.query(NcCategory).first()
    for code in ("KTHT", "TNMT"):
        db.session.add(Nonconformity(
            unit_id=unit(code).id, category_id=category.id, source="internal_audit",
            detected_on=datetime.date(2026, 3, 4), description=f"=1+1 {marker} {code}",
            created_by_id=user("thuky.iso").id))
    db.session.commit()
    client = client_as_user("thuky.iso")
    page = client.get(f"/nonconformities/list/?q={marker}")
    assert f"/nonconformities/export.xlsx?q={marker}" in page.text
    sheet = _sheet(client.get(f"/nonconformities/export.xlsx?q={marker}").data)
    rows = _rows(sheet)
    assert len(rows) == 2
    headings = [c.value for c in sheet[rows[0][0].row - 1]]
    values = dict(zip(headings, rows[0]))
    assert values["Ngày phát hiện"].is_date and values["Ngày phát hiện"].number_format == "DD/MM/YYYY"
    assert values["Mô tả"].value.startswith("=1+1") and values["Mô tả"].data_type == "s"
    assert values["Nguồn thông tin đầu vào (5.1.2)"].value == "Kết quả đánh giá chất lượng nội bộ"
    staff = client_as_user("canbo.ktht")
    sheet = _sheet(staff.get(f"/nonconformities/export.xlsx?q={marker}").data)
    assert [row[1].value for row in _rows(sheet)] == ["Phòng Kinh tế và Hạ tầng"]


def test_export_permissions_are_given():
    from app.organisation import roles

    assert ("can_export", "TicketView") in roles.TICKET_WORK & roles.INSPECTION
    assert ("can_export", "NonconformityView") in roles.TICKET_WORK & roles.INSPECTION
