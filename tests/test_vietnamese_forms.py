"""Issue 16 (3, 4) without a browser: forms take and show dd/mm/yyyy, empty choices and the
roles page speak Vietnamese (tests/test_browser_vietnamese.py drives an English browser)."""
import datetime
import re

import pytest

from tests.conftest import csrf_token
from tests.test_i18n import english_left


def test_a_new_nc_takes_its_date_as_dd_mm_yyyy(client_as_user, db, unit):
    from app.tickets.models import NcCategory, Nonconformity

    client = client_as_user("canbo.ktht")
    page = client.get("/nonconformities/add").text
    field = re.search(r'<input[^>]*name="detected_on"[^>]*>', page).group(0)
    assert 'type="text"' in field and "qms-date" in field and 'placeholder="dd/mm/yyyy"' in field
    assert re.search(r'value="\d{2}/\d{2}/\d{4}"', field)  # today, as a Vietnamese date
    category = db.session.query(NcCategory).filter_by(active=True).first()
    description = "KPH ngày dạng dd/mm/yyyy"
    saved = client.post("/nonconformities/add", data={
        "unit": unit("KTHT").id, "detected_on": "05/02/2026", "description": description,
        "source": "feedback", "category": category.id, "csrf_token": csrf_token(page)})
    assert saved.status_code == 302
    nc = db.session.query(Nonconformity).filter_by(description=description).one()
    assert nc.detected_on == datetime.date(2026, 2, 5)
    assert "05/02/2026" in client.get(f"/nonconformities/edit/{nc.id}").text


def test_a_refused_date_is_shown_as_typed(client_as_user, db, unit):
    client = client_as_user("canbo.ktht")
    page = client.get("/tickets/add").text
    refused = client.post("/tickets/add", data={
        "kind": "corrective", "source": "feedback", "requesting_unit": unit("KTHT").id,
        "description": "Phiếu ngày sai", "requested_on": "31/02/2026", "csrf_token": csrf_token(page)},
        follow_redirects=True)
    assert 'value="31/02/2026"' in refused.text


def test_an_impossible_date_is_refused_not_rolled_over(db, user):
    from app.reviews.services import create_review, save_content
    from app.workflow import Invalid, parse_date

    assert parse_date("31/02/2026") is None and parse_date("2026-02-31") is None
    assert parse_date("29/02/2028") == datetime.date(2028, 2, 29)
    secretary = user("thuky.iso")
    review = create_review(
        secretary, "meeting", datetime.date(2085, 1, 1), datetime.date(2085, 12, 31))
    with pytest.raises(Invalid) as refused:
        save_content(secretary, review.id, {"meeting_date": "31/02/2026"})
    assert "Nhập ngày theo định dạng dd/mm/yyyy" in str(refused.value.errors)


def test_transition_and_review_dates_are_shown_dd_mm_yyyy(db, make_ticket, client_as_user):
    from app.ui import date_input_value

    assert date_input_value(datetime.date(2026, 2, 5)) == "05/02/2026"
    assert date_input_value("2026-02-05") == "05/02/2026"
    assert date_input_value("31/02/2026") == "31/02/2026" and date_input_value(None) == ""
    ticket = make_ticket(state="analysis")
    page = client_as_user(ticket.assignee.username).get(f"/tickets/{ticket.id}/do/propose").text
    field = re.search(r'<input[^>]*name="completion_date"[^>]*>', page).group(0)
    assert 'type="text"' in field and "qms-date" in field
    assert 'type="date"' not in page and 'type="time"' not in page


def test_an_empty_choice_is_named_in_vietnamese(as_admin):
    page = as_admin.get("/users/add").text
    assert "__None</option>" not in page and ">— Chọn —</option>" in page


def test_the_roles_page_shows_labels_descriptions_and_permissions_in_words(app, as_admin):
    from app.organisation import roles

    with app.app_context():
        staff = app.appbuilder.sm.find_role(roles.STAFF).id
    for url in ("/roles/list/", f"/roles/show/{staff}"):
        page = as_admin.get(url).text
        assert "Cán bộ, công chức, viên chức, người lao động (CBCCVCLĐ)" in page
        assert "Ghi nhận sự không phù hợp và lập phiếu cho đơn vị mình" in page  # what the role is for
        assert "<strong>Sự không phù hợp</strong>: xem danh sách, xem chi tiết, thêm, sửa" in page
        assert "Mục trình đơn" in page
        for raw in ("can_", "menu_access", "NonconformityView", "can edit", "menu access", "TicketApi"):
            assert raw not in page, (url, raw)
        assert english_left(page) == []
    assert "/roles/edit/" not in as_admin.get("/roles/list/").text  # read-only
