"""Issue 10, the record as people use it: links that survive a save, the NC's history, dates
that cannot be in the future, work that reaches the right person, pages that open, and
landing on the saved record."""
import datetime
import re
from html.parser import HTMLParser

import pytest
from flask_babel import force_locale

from tests.conftest import ROLE_USERS, csrf_token, day, iso_day


class _Form(HTMLParser):
    """The values a browser would send for the page's main form, as the page shows them."""

    def __init__(self, action):
        super().__init__()
        self.action, self.inside, self.values = action, False, {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = self.action in (a.get("action") or "") or (self.action == "" and not self.values)
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.values[a["name"]] = a.get("value", "y")
            else:
                self.values[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
            if "multiple" in a:
                self.values.setdefault(self._select, [])
        elif tag == "option" and self._select and "selected" in a:
            if isinstance(self.values.get(self._select), list):
                self.values[self._select].append(a.get("value"))
            else:
                self.values[self._select] = a.get("value")
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.values[self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def form_values(html, action=""):
    parser = _Form(action)
    parser.feed(html)
    return parser.values


def _new_nc(db, user, unit, unit_code="KTHT", creator="canbo.ktht", **fields):
    from app.tickets.models import NcCategory, Nonconformity

    nc = Nonconformity(
        unit_id=unit(unit_code).id, detected_on=fields.pop("detected_on", day()),
        description=fields.pop("description", "KPH kiểm thử giao diện"), source="nonconforming_activity",
        category_id=db.session.query(NcCategory).first().id, created_by_id=user(creator).id,
        detected_by_id=user(creator).id, **fields,
    )
    db.session.add(nc)
    db.session.commit()
    return nc


# --- 1. linked NCs survive a save; linking and unlinking are explicit and recorded -------

def test_saving_a_draft_unchanged_keeps_its_nonconformities(make_ticket, client_as_user, db, user, unit):
    ticket = make_ticket()
    ncs = [_new_nc(db, user, unit, description=f"KPH gắn phiếu {n}") for n in range(2)]
    for nc in ncs:
        nc.ticket_id = ticket.id
    db.session.commit()
    client = client_as_user("canbo.ktht")
    page = client.get(f"/tickets/edit/{ticket.id}")
    assert page.status_code == 200
    response = client.post(f"/tickets/edit/{ticket.id}", data=form_values(page.text))
    assert response.status_code == 302
    db.session.expire_all()
    assert sorted(nc.id for nc in db.session.get(type(ticket), ticket.id).nonconformities) == sorted(
        nc.id for nc in ncs)


def test_saving_a_draft_through_the_api_keeps_its_nonconformities(make_ticket, api, db, user, unit):
    ticket = make_ticket()
    nc = _new_nc(db, user, unit, ticket_id=ticket.id)
    response = api("canbo.ktht").put(f"/api/v1/tickets/{ticket.id}", json={"description": "Sửa qua API"})
    assert response.status_code == 200, response.text
    db.session.expire_all()
    assert [n.id for n in db.session.get(type(ticket), ticket.id).nonconformities] == [nc.id]


def test_link_and_unlink_on_the_ticket_page_are_recorded(make_ticket, client_as_user, db, user, unit):
    from app.tickets.models import Nonconformity

    ticket = make_ticket()
    nc = _new_nc(db, user, unit, description="KPH sẽ gắn vào phiếu qua trang")
    client = client_as_user("canbo.ktht")
    page = client.get(f"/tickets/show/{ticket.id}").text
    assert f'action="/tickets/{ticket.id}/nonconformities"' in page and f'value="{nc.id}"' in page
    assert "nonconformities" not in form_values(client.get(f"/tickets/edit/{ticket.id}").text)
    response = client.post(f"/tickets/{ticket.id}/nonconformities",
                           data={"nonconformity": nc.id, "csrf_token": csrf_token(page)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/tickets/show/{ticket.id}")
    db.session.expire_all()
    nc = db.session.get(Nonconformity, nc.id)
    assert nc.ticket_id == ticket.id
    assert [e.name for e in nc.ticket.events][-1] == "link_nc"
    assert nc.events[-1].name == "link_ticket" and nc.events[-1].actor.username == "canbo.ktht"
    page = client.get(f"/tickets/show/{ticket.id}").text
    assert f'action="/tickets/{ticket.id}/nonconformities/{nc.id}/unlink"' in page
    response = client.post(f"/tickets/{ticket.id}/nonconformities/{nc.id}/unlink",
                           data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    db.session.expire_all()
    nc = db.session.get(Nonconformity, nc.id)
    assert nc.ticket_id is None and nc.events[-1].name == "unlink_ticket"
    assert db.session.get(type(ticket), ticket.id).events[-1].name == "unlink_nc"
    nc_page = client.get(f"/nonconformities/show/{nc.id}").text
    assert "Gắn với phiếu" in nc_page and "Gỡ khỏi phiếu" in nc_page


def test_link_rules_through_the_api(make_ticket, api, db, user, unit):
    from app.tickets import services

    ticket = make_ticket()
    nc = _new_nc(db, user, unit)
    other_unit_nc = _new_nc(db, user, unit, unit_code="TNMT", creator="canbo.tnmt")
    taken = _new_nc(db, user, unit, ticket_id=make_ticket().id)
    staff = api("canbo.ktht")
    url = f"/api/v1/tickets/{ticket.id}/nonconformities"
    assert api("truongphong.ktht").post(f"{url}/{nc.id}").status_code == 403  # not the author
    assert staff.post(f"{url}/{other_unit_nc.id}").status_code == 404  # NC not visible to the user
    assert staff.post(f"{url}/{taken.id}").status_code == 409  # linked to another ticket
    assert staff.post(f"{url}/999999").status_code == 404
    linked = staff.post(f"{url}/{nc.id}")
    assert linked.status_code == 200 and linked.json["nonconformities"] == [nc.id]
    assert staff.post(f"{url}/{nc.id}").status_code == 409  # already linked
    assert staff.delete(f"{url}/{taken.id}").status_code == 409  # not linked to this ticket
    assert staff.delete(f"{url}/{nc.id}").json["nonconformities"] == []
    staff.post(f"{url}/{nc.id}")
    services.apply_transition(user("canbo.ktht"), ticket.id, "submit", {})
    assert staff.delete(f"{url}/{nc.id}").status_code == 409  # no longer a draft
    assert staff.post(f"/api/v1/tickets/{ticket.id}/nonconformities/{taken.id}").status_code == 409
    db.session.expire_all()
    assert [n.id for n in db.session.get(type(ticket), ticket.id).nonconformities] == [nc.id]


def test_opening_a_ticket_from_an_nc_is_recorded_on_the_nc(client_as_user, db, user, unit):
    nc = _new_nc(db, user, unit, description="KPH mở phiếu có ghi lịch sử")
    client = client_as_user("canbo.ktht")
    page = client.get(f"/nonconformities/show/{nc.id}").text
    client.post(f"/nonconformities/{nc.id}/open-ticket", data={"csrf_token": csrf_token(page)})
    db.session.expire_all()
    nc = db.session.get(type(nc), nc.id)
    assert nc.ticket_id and nc.events[-1].name == "link_ticket"
    assert [e.name for e in nc.ticket.events] == ["create", "link_nc"]


# --- 2. the NC's history: creation and every field edit with old → new values -----------

def test_history_changes_helper(db, user, unit):
    from app.history import changes
    from app.tickets.models import NcCategory

    nc = _new_nc(db, user, unit, description="Trước khi sửa")
    other = db.session.query(NcCategory).filter(NcCategory.id != nc.category_id).first()
    assert changes(nc, ("description", "category")) == {}
    nc.description = "Sau khi sửa"
    nc.category = other
    nc.detected_on = day(-3)
    assert changes(nc, ("description", "category", "detected_on", "source")) == {
        "description": ["Trước khi sửa", "Sau khi sửa"],
        "category": [db.session.get(NcCategory, nc.category_id).name, other.name],
        "detected_on": [day().isoformat(), (day(-3)).isoformat()],
    }
    db.session.rollback()


def test_nc_history_records_creation_edits_and_disposition(client_as_user, db, unit):
    from app.tickets.models import NcCategory, Nonconformity

    client = client_as_user("canbo.ktht")
    page = client.get("/nonconformities/add").text
    category = db.session.query(NcCategory).filter_by(active=True).first()
    client.post("/nonconformities/add", data={
        "unit": unit("KTHT").id, "detected_on": day().isoformat(), "description": "KPH có lịch sử",
        "source": "feedback", "category": category.id, "csrf_token": csrf_token(page)})
    nc = db.session.query(Nonconformity).filter_by(description="KPH có lịch sử").one()
    assert [e.name for e in nc.events] == ["create"] and nc.events[0].actor.username == "canbo.ktht"

    edit = client.get(f"/nonconformities/edit/{nc.id}").text
    values = form_values(edit)
    values.update(description="KPH có lịch sử (đã sửa)", source="internal_audit")
    assert client.post(f"/nonconformities/edit/{nc.id}", data=values).status_code == 302
    db.session.expire_all()
    nc = db.session.get(Nonconformity, nc.id)
    assert [e.name for e in nc.events] == ["create", "edit"]
    assert nc.events[1].data == {"changes": {"description": ["KPH có lịch sử", "KPH có lịch sử (đã sửa)"],
                                             "source": ["feedback", "internal_audit"]}}

    head = client_as_user("truongphong.ktht")
    shown = head.get(f"/nonconformities/show/{nc.id}").text
    head.post(f"/nonconformities/{nc.id}/disposition",
              data={"disposition": "rework", "correction_checked": "1", "csrf_token": csrf_token(shown)})
    db.session.expire_all()
    nc = db.session.get(Nonconformity, nc.id)
    assert nc.events[-1].name == "disposition" and nc.events[-1].actor.username == "truongphong.ktht"
    assert nc.events[-1].data["changes"]["disposition"] == [None, "rework"]
    assert nc.events[-1].data["changes"]["correction_checked"] == [False, True]

    history = head.get(f"/nonconformities/show/{nc.id}").text.split('nc-history')[1].split("</table>")[0]
    for shown_text in ("Ghi nhận KPH", "Sửa thông tin", "Quyết định hình thức xử lý", "Mô tả",
                       "Nguồn thông tin đầu vào (5.1.2)", "Kết quả đánh giá chất lượng nội bộ", "Làm lại", "Có"):
        assert shown_text in history, shown_text
    for raw in ("description", "internal_audit", "rework", "correction_checked", "edit"):
        assert raw not in re.sub(r"<[^>]+>", " ", history), raw


def test_nc_edit_through_the_api_is_recorded(api, db, user, unit):
    nc = _new_nc(db, user, unit, description="KPH sửa qua API")
    response = api("canbo.ktht").put(f"/api/v1/nonconformities/{nc.id}", json={"description": "Đã sửa qua API"})
    assert response.status_code == 200, response.text
    db.session.expire_all()
    event = db.session.get(type(nc), nc.id).events[-1]
    assert event.name == "edit" and event.data == {"changes": {"description": ["KPH sửa qua API", "Đã sửa qua API"]}}


# --- 3. dates that cannot be in the future ------------------------------------------------

def test_nc_detected_on_cannot_be_in_the_future(client_as_user, api, db, user, unit):
    from app.tickets.models import NcCategory, Nonconformity

    category = db.session.query(NcCategory).filter_by(active=True).first()
    client = client_as_user("canbo.ktht")
    page = client.get("/nonconformities/add").text
    data = {"unit": unit("KTHT").id, "detected_on": iso_day(1), "description": "KPH phát hiện ngày mai",
            "source": "feedback", "category": category.id, "csrf_token": csrf_token(page)}
    refused = client.post("/nonconformities/add", data=data, follow_redirects=True)
    assert "Ngày phát hiện không được sau ngày hôm nay" in refused.text
    assert not db.session.query(Nonconformity).filter_by(description="KPH phát hiện ngày mai").count()

    nc = _new_nc(db, user, unit)
    values = {**form_values(client.get(f"/nonconformities/edit/{nc.id}").text), "detected_on": iso_day(1)}
    refused = client.post(f"/nonconformities/edit/{nc.id}", data=values, follow_redirects=True)
    assert "Ngày phát hiện không được sau ngày hôm nay" in refused.text
    db.session.expire_all()
    assert db.session.get(Nonconformity, nc.id).detected_on == day()

    staff = api("canbo.ktht")
    created = staff.post("/api/v1/nonconformities/", json={
        "unit": unit("KTHT").id, "detected_on": iso_day(1), "description": "KPH qua API ngày mai",
        "source": "feedback", "category": category.id})
    assert created.status_code == 422 and "Ngày phát hiện" in created.json["message"]
    assert "detected_on" in created.json["errors"]
    edited = staff.put(f"/api/v1/nonconformities/{nc.id}", json={"detected_on": iso_day(1)})
    assert edited.status_code == 422 and "Ngày phát hiện" in edited.json["message"]


def test_ticket_date_cannot_be_in_the_future(client_as_user, api, make_ticket, db, unit):
    from app.tickets.models import Ticket

    client = client_as_user("canbo.ktht")
    page = client.get("/tickets/add").text
    data = {"kind": "corrective", "source": "feedback", "requesting_unit": unit("KTHT").id,
            "description": "Phiếu đề ngày mai", "requested_on": iso_day(1), "csrf_token": csrf_token(page)}
    refused = client.post("/tickets/add", data=data, follow_redirects=True)
    assert "Ngày đề nghị không được sau ngày hôm nay" in refused.text
    assert not db.session.query(Ticket).filter_by(description="Phiếu đề ngày mai").count()

    ticket = make_ticket()
    values = {**form_values(client.get(f"/tickets/edit/{ticket.id}").text), "requested_on": iso_day(1)}
    refused = client.post(f"/tickets/edit/{ticket.id}", data=values, follow_redirects=True)
    assert "Ngày đề nghị không được sau ngày hôm nay" in refused.text
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).requested_on == day()

    staff = api("canbo.ktht")
    created = staff.post("/api/v1/tickets/", json={
        "kind": "corrective", "source": "feedback", "requesting_unit": unit("KTHT").id,
        "description": "Phiếu API đề ngày mai", "requested_on": iso_day(1)})
    assert created.status_code == 422 and "Ngày đề nghị" in created.json["message"]
    edited = staff.put(f"/api/v1/tickets/{ticket.id}", json={"requested_on": iso_day(1)})
    assert edited.status_code == 422 and "requested_on" in edited.json["errors"]


# --- 4. change requests and dispositions reach "Việc của tôi" and the digest -------------

def test_pending_change_request_waits_for_the_iso_leader(make_ticket, db, user):
    from app.dashboard.services import my_work
    from app.reminders.services import leads_for
    from app.tickets import services

    ticket = make_ticket(state="implementation")
    change = services.request_change(user("canbo.ktht"), ticket.id, {"kind": "resources", "text": "Cần thêm máy scan"})
    leader = user("truongban.iso")
    with force_locale("vi"):
        mine = [i for i in my_work(leader) if i.key == f"change-{change.id}"]
        assert mine and mine[0].link == f"/tickets/show/{ticket.id}"
        assert mine[0].action == "Quyết định yêu cầu thay đổi"
        assert ticket.display_number and ticket.display_number in mine[0].title  # the ticket's number, not "(nháp)"
        assert mine[0].since == change.requested_at
        assert any(lead.key == f"work:change-{change.id}" for lead in leads_for(leader, day()))
    assert not [i for i in my_work(user("thuky.iso")) if i.key == f"change-{change.id}"]
    assert not [i for i in my_work(user("admin")) if i.key == f"change-{change.id}"]
    services.decide_change(leader, change.id, True, "Đồng ý")
    assert not [i for i in my_work(leader) if i.key == f"change-{change.id}"]


def test_nc_waiting_for_disposition_waits_for_the_unit_head(db, user, unit):
    from app.dashboard.services import my_work
    from app.reminders.services import leads_for
    from app.tickets import services

    nc = _new_nc(db, user, unit, description="KPH chờ quyết định xử lý")
    head = user("truongphong.ktht")
    with force_locale("vi"):
        mine = [i for i in my_work(head) if i.key == f"nc-{nc.id}"]
        assert mine and mine[0].link == f"/nonconformities/show/{nc.id}"
        assert "KPH chờ quyết định xử lý" in mine[0].title and mine[0].action == "Quyết định hình thức xử lý"
        assert any(lead.key == f"work:nc-{nc.id}" for lead in leads_for(head, day()))
    for other in ("truongphong.tnmt", "canbo.ktht", "admin"):
        assert not [i for i in my_work(user(other)) if i.key == f"nc-{nc.id}"], other
    services.decide_disposition(head, nc.id, {"disposition": "repair"})
    assert not [i for i in my_work(head) if i.key == f"nc-{nc.id}"]


# --- 5. every reminder text is Vietnamese -------------------------------------------------

def test_every_reminder_text_has_a_vietnamese_translation():
    import os

    from babel.messages.extract import extract_from_file

    from tests.test_i18n import ROOT, _catalogue

    translated = {m.id for m in _catalogue() if m.id and m.string}
    sources = [("python", os.path.join(ROOT, "app", "reminders", name))
               for name in ("services.py", "views.py", "handoff.py")]
    sources += [("python", os.path.join(ROOT, "app", "conversation", name)) for name in ("kinds.py", "services.py")]
    sources += [("python", os.path.join(ROOT, "app", "dashboard", "services.py")),
                ("jinja2", os.path.join(ROOT, "app", "templates", "notifications.html")),
                ("jinja2", os.path.join(ROOT, "app", "templates", "notification_settings.html")),
                ("jinja2", os.path.join(ROOT, "app", "templates", "macros", "conversation.html"))]
    missing = []
    for method, path in sources:
        for _, message, _, _ in extract_from_file(method, path, keywords={"gettext": None, "_": None, "_l": None}):
            if message not in translated:
                missing.append((os.path.basename(path), message))
    assert missing == []


def test_reminder_with_a_due_date_speaks_vietnamese(make_ticket, db, user):
    from app.reminders.services import leads_for

    ticket = make_ticket(state="approval")
    ticket.due_date = day(9)
    db.session.commit()
    with force_locale("vi"):
        [lead] = [lead for lead in leads_for(user("truongban.iso"), day()) if lead.link == f"/tickets/show/{ticket.id}"]
    assert f"{ticket.due_date:%d/%m/%Y}" in lead.text and "hạn" in lead.text
    assert not re.search(r"\bdue\b", lead.text)


# --- 6. every dashboard figure opens a page the viewer may see -----------------------------

@pytest.mark.parametrize("username", sorted(set(ROLE_USERS.values()) | {"truongphong.tnmt", "canbo.tnmt"}))
def test_every_dashboard_link_opens(client_as_user, username):
    client = client_as_user(username)
    page = client.get("/").text
    content = page.split('<div class="container-fluid">', 1)[1]
    links = set(re.findall(r'href="(/[^"#]*)"', content))
    assert links or username in ("danhgia", "canbo.tnmt", "canbo.ktht")  # they may have nothing to do
    for link in links:
        assert client.get(link).status_code == 200, (username, link)


# --- 7. the recurring-NC list honours row visibility ---------------------------------------

def test_recurring_series_honours_visibility(client_as_user, db, user, unit):
    from app.tickets.models import NcCategory, Nonconformity, Ticket

    category = NcCategory(name="Lặp lại chỉ đơn vị TNMT thấy", active=True)
    db.session.add(category)
    db.session.flush()
    for days in (9, 7, 5, 3):
        db.session.add(Nonconformity(
            unit_id=unit("TNMT").id, category_id=category.id, source="internal_audit",
            detected_on=day() - datetime.timedelta(days=days), description=f"KPH lặp lại TNMT {days}",
            created_by_id=user("canbo.tnmt").id))
    db.session.commit()
    assert category.name in client_as_user("canbo.tnmt").get("/recurring/").text
    assert category.name in client_as_user("thuky.iso").get("/recurring/").text
    outsider = client_as_user("canbo.ktht")
    page = outsider.get("/recurring/").text
    assert category.name not in page and "Bộ phận Tiếp nhận và Trả kết quả" not in page
    response = outsider.post("/recurring/open", data={
        "unit_id": unit("TNMT").id, "category_id": category.id,
        "csrf_token": csrf_token(outsider.get("/tickets/add").text)})
    assert response.status_code == 404
    assert not db.session.query(Ticket).filter(Ticket.description.contains(category.name)).count()


# --- 8. the return reason shows at the top, and on the edit form ---------------------------

def test_return_reason_shows_at_the_top_and_on_the_edit_form(make_ticket, client_as_user, user):
    from app.tickets import services

    ticket = make_ticket(state="unit_review")
    services.apply_transition(user("truongphong.ktht"), ticket.id, "return", {"comment": "Bổ sung số hồ sơ 77/XD"})
    client = client_as_user("canbo.ktht")
    page = client.get(f"/tickets/show/{ticket.id}").text
    assert page.index("Bổ sung số hồ sơ 77/XD") < page.index('class="well well-sm next-step"')
    assert 'class="alert alert-warning return-reason"' in page
    edit = client.get(f"/tickets/edit/{ticket.id}").text
    assert 'class="alert alert-warning return-reason"' in edit and "Bổ sung số hồ sơ 77/XD" in edit
    head = user("truongphong.ktht").get_full_name()
    assert f"{head} đã trả lại phiếu để bổ sung" in page and f"{head} đã trả lại phiếu để bổ sung" in edit
    services.apply_transition(user("canbo.ktht"), ticket.id, "submit", {})
    assert 'return-reason' not in client.get(f"/tickets/show/{ticket.id}").text


# --- 9. after saving, the user lands on the saved record -----------------------------------

def test_after_saving_the_user_lands_on_the_record(make_ticket, client_as_user, db, unit):
    from app.tickets.models import NcCategory, Nonconformity, Ticket

    client = client_as_user("canbo.ktht")
    elsewhere = make_ticket()
    client.get(f"/tickets/edit/{elsewhere.id}")  # an earlier page in FAB's history
    page = client.get("/tickets/add").text
    added = client.post("/tickets/add", data={
        "kind": "corrective", "source": "feedback", "requesting_unit": unit("KTHT").id,
        "description": "Phiếu chuyển về trang của nó", "requested_on": day().isoformat(),
        "csrf_token": csrf_token(page)})
    ticket = db.session.query(Ticket).filter_by(description="Phiếu chuyển về trang của nó").one()
    assert added.headers["Location"].endswith(f"/tickets/show/{ticket.id}")
    client.get(f"/tickets/edit/{elsewhere.id}")
    edit = client.get(f"/tickets/edit/{ticket.id}").text
    edited = client.post(f"/tickets/edit/{ticket.id}", data=form_values(edit))
    assert edited.headers["Location"].endswith(f"/tickets/show/{ticket.id}")

    client.get(f"/tickets/edit/{elsewhere.id}")
    page = client.get("/nonconformities/add").text
    category = db.session.query(NcCategory).filter_by(active=True).first()
    added = client.post("/nonconformities/add", data={
        "unit": unit("KTHT").id, "detected_on": day().isoformat(), "description": "KPH về trang của nó",
        "source": "feedback", "category": category.id, "csrf_token": csrf_token(page)})
    nc = db.session.query(Nonconformity).filter_by(description="KPH về trang của nó").one()
    assert added.headers["Location"].endswith(f"/nonconformities/show/{nc.id}")
    client.get(f"/tickets/edit/{elsewhere.id}")
    edit = client.get(f"/nonconformities/edit/{nc.id}").text
    edited = client.post(f"/nonconformities/edit/{nc.id}", data=form_values(edit))
    assert edited.headers["Location"].endswith(f"/nonconformities/show/{nc.id}")
