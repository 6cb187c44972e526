"""Daily work on the lists (issue "Daily work in the panel", item 6): one step taken on several
tickets at once, each through the workflow and reported one by one; each user's saved filters
of a list, opening only on that list; the meeting's attendees as a searchable multi-select."""
import re

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token

NOTE = {"note": "Tổng hợp, trình Trưởng ban ISO phân công"}


# --- several tickets at once ----------------------------------------------------------------

def _foreign_ticket_id(app):
    """A ticket of another agency (UBND xã Cam Hiệp): for Cam Lâm's people, no ticket at all."""
    from app.extensions import db
    from app.tenancy import agency_named
    from app.tickets.models import Ticket

    with agency_named("CAMHIEP"):
        return db.session.execute(select(Ticket.id, Ticket.state).order_by(Ticket.id)).first()


def test_a_step_on_several_tickets_goes_through_the_workflow_ticket_by_ticket(app, db, make_ticket, user):
    from app.tickets import services
    from app.tickets.models import Ticket, TicketEvent

    first, second = make_ticket(state="iso_review"), make_ticket(state="iso_review")
    waiting = make_ticket(state="unit_review")  # not forwarded yet: the secretary may not present it
    foreign, foreign_state = _foreign_ticket_id(app)
    secretary = user("thuky.iso")

    outcomes = services.take_on_several(secretary, "present", [first.id, waiting.id, str(foreign), second.id], NOTE)

    assert [(o.ticket_id, o.done) for o in outcomes] == [
        (str(first.id), True), (str(waiting.id), False), (str(foreign), False), (str(second.id), True)]
    assert outcomes[1].reason == "Không thể thực hiện thao tác này ở trạng thái hiện tại “Lãnh đạo đơn vị xem xét”."
    assert outcomes[2].ticket is None and outcomes[2].reason == "Không tìm thấy phiếu."  # as an id no ticket has
    db.session.expire_all()
    states = dict(db.session.execute(select(Ticket.id, Ticket.state).where(
        Ticket.id.in_([first.id, second.id, waiting.id]))).all())
    assert states == {first.id: "leader_review", second.id: "leader_review", waiting.id: "unit_review"}
    for ticket in (first, second):  # each its own history line, with the note given once
        event = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                   .order_by(TicketEvent.id.desc())).first()
        assert (event.name, event.actor_id, event.comment) == ("present", secretary.id, NOTE["note"])
    assert _foreign_ticket_id(app) == (foreign, foreign_state)  # untouched


def test_fields_are_checked_once_before_any_ticket_changes_and_the_actor_per_ticket(db, make_ticket, user, unit):
    from app.tickets import services

    tickets = [make_ticket(state="leader_review") for _ in range(2)]
    ids = [t.id for t in tickets]
    with pytest.raises(services.Invalid) as refused:
        services.take_on_several(user("truongban.iso"), "assign", ids, {"assignee_unit": str(unit("KTHT").id)})
    assert "assignee" in refused.value.errors
    assert [t.state for t in tickets] == ["leader_review", "leader_review"]
    with pytest.raises(services.NotFound):  # a step not taken on several tickets at once
        services.take_on_several(user("truongban.iso"), "close", ids, {})
    staff = user("canbo.ktht")  # sees the tickets of the unit, but does not assign
    outcomes = services.take_on_several(staff, "assign", ids, {
        "assignee_unit": str(unit("KTHT").id), "assignee": str(staff.id)})
    assert not any(o.done for o in outcomes)
    assert outcomes[0].reason == "Chỉ Lãnh đạo Ban ISO mới được thực hiện thao tác này."


def test_the_list_offers_a_step_on_several_tickets_only_to_who_may_take_it(db, make_ticket, user):
    from app.tickets import services

    presented = make_ticket(state="leader_review")
    assert [s.name for s in services.several_steps(user("truongban.iso"), [presented])] == ["assign"]
    assert services.several_steps(user("thuky.iso"), [presented]) == []
    assert services.several_steps(user("canbo.ktht"), [presented]) == []
    assert services.several_steps(user("truongban.iso"), []) == []


def test_the_list_page_offers_the_step_and_the_result_page_reports_each_ticket(db, make_ticket, user, unit,
                                                                               as_iso_leader, as_staff):
    tickets = [make_ticket(state="leader_review") for _ in range(2)]
    listed = as_iso_leader.get("/tickets/list/?state=leader_review").text
    assert 'data-step="assign"' in listed and 'data-step="present"' not in listed
    assert 'data-step=' not in as_staff.get("/tickets/list/").text
    assert as_iso_leader.get(f"/tickets/several/close?ids={tickets[0].id}").status_code == 404  # one ticket at a time
    assert as_iso_leader.get("/tickets/several/assign?state=leader_review").headers["Location"].endswith(
        "/tickets/list/?state=leader_review")  # nothing chosen
    form = as_iso_leader.get(f"/tickets/several/assign?state=leader_review&ids={tickets[0].id}&ids={tickets[1].id}")
    assert form.status_code == 200 and form.text.count('class="several-ticket"') == 2
    staff = user("canbo.ktht")
    done = as_iso_leader.post("/tickets/several/assign", data={
        "csrf_token": csrf_token(form.text), "ids": [tickets[0].id, tickets[1].id, 10 ** 8],
        f"version-{tickets[0].id}": tickets[0].version, f"version-{tickets[1].id}": tickets[1].version - 1,
        "assignee_unit": unit("KTHT").id, "assignee": staff.id, "state": "leader_review"})
    assert done.status_code == 200
    rows = re.findall(r'class="several-outcome (done|refused)"', done.text)
    assert rows == ["done", "refused", "refused"]  # the second was changed since the form was shown
    assert "Không tìm thấy phiếu." in done.text and "Đã thực hiện 1/3 phiếu" in done.text
    assert 'href="/tickets/list/?state=leader_review"' in done.text


# --- saved filters -----------------------------------------------------------------------------

@pytest.fixture
def in_request(app, db):
    with app.test_request_context():
        yield


@pytest.fixture(autouse=True)
def no_saved_filters(request):
    """Each test starts with no saved filter (the isolation walk keeps one of its own)."""
    if "db" in request.fixturenames:
        from sqlalchemy import delete

        from app.saved_filters.models import SavedFilter

        db = request.getfixturevalue("db")
        db.session.execute(delete(SavedFilter))
        db.session.commit()


def test_a_saved_filter_keeps_only_its_own_lists_query(in_request, db, user):
    from app.saved_filters import services

    clean = services.clean_query
    assert clean("tickets", "state=iso_review&overdue=1&page=3&unit=") == "state=iso_review&overdue=1"
    assert clean("tickets", "/tickets/list/?q=tr%E1%BB%85+h%E1%BA%A1n") == "q=tr%E1%BB%85+h%E1%BA%A1n"
    assert clean("nonconformities", "/nonconformities/list/?_flt_0_source=feedback") == "_flt_0_source=feedback"
    for foreign in ("https://evil.example/tickets/list/?state=x", "//evil.example/tickets/list/?x=1",
                    "/nonconformities/list/?x=1", "/tickets/list/?x=1#y", "/tickets/show/1?x=1",
                    "javascript:alert(1)?x=1", "/tickets/list/?x=\r\nLocation: /"):
        with pytest.raises(services.Invalid):
            clean("tickets", foreign)
    staff = user("canbo.ktht")
    for name in ("", "   ", "x" * 101):
        with pytest.raises(services.Invalid):
            services.save_filter(staff, "tickets", name, "state=draft")
    with pytest.raises(services.NotFound):
        services.save_filter(staff, "users", "Người dùng", "")


def test_saved_filters_are_each_users_own(in_request, db, user):
    from app.saved_filters import services

    staff, head = user("canbo.ktht"), user("truongphong.ktht")
    mine, replaced = services.save_filter(staff, "tickets", "  Quá hạn ở   đơn vị của tôi ", "overdue=1&unit=2")
    assert not replaced
    again, replaced = services.save_filter(staff, "tickets", "Quá hạn ở đơn vị của tôi", "overdue=1")
    assert replaced and again.id == mine.id and again.name == "Quá hạn ở đơn vị của tôi"  # the same name replaces
    assert services.filter_url(again) == "/tickets/list/?overdue=1"
    theirs, replaced = services.save_filter(head, "tickets", "Quá hạn ở đơn vị của tôi", "overdue=1&kind=corrective")
    assert not replaced
    assert [f.id for f in services.own_filters(staff, "tickets")] == [mine.id]
    assert [f.id for f in services.own_filters(head, "tickets")] == [theirs.id]
    assert services.own_filters(staff, "nonconformities") == []
    with pytest.raises(services.NotFound):
        services.delete_filter(head, mine.id)
    services.delete_filter(staff, mine.id)
    services.delete_filter(head, theirs.id)
    assert services.own_filters(staff, "tickets") == [] == services.own_filters(head, "tickets")


def test_a_filter_is_saved_and_deleted_from_the_list(db, user, as_staff, as_unit_head):
    from app.saved_filters.models import SavedFilter

    page = as_staff.get("/tickets/list/?state=draft&overdue=1")
    assert 'name="query" value="state=draft&amp;overdue=1"' in page.text
    token = csrf_token(page.text)
    saved = as_staff.post("/saved-filters/save", data={
        "csrf_token": token, "list": "tickets", "name": "Nháp quá hạn", "query": "state=draft&overdue=1"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/tickets/list/?state=draft&overdue=1")
    assert "Đã lưu bộ lọc “Nháp quá hạn”." in as_staff.get(saved.headers["Location"]).text
    listed = as_staff.get("/saved-filters/menu.json?list=tickets").json
    assert [(f["name"], f["url"]) for f in listed] == [("Nháp quá hạn", "/tickets/list/?state=draft&overdue=1")]
    assert as_unit_head.get("/saved-filters/menu.json?list=tickets").json == []  # only its user sees it
    assert as_staff.get("/saved-filters/menu.json?list=nonconformities").json == []  # each list its own
    replaced = as_staff.post("/saved-filters/save", data={
        "csrf_token": token, "list": "tickets", "name": "Nháp quá hạn", "query": "state=draft"}, follow_redirects=True)
    assert "Đã thay thế bộ lọc “Nháp quá hạn”." in replaced.text and "Đã lưu bộ lọc" not in replaced.text
    for name in ("x" * 101, "  "):  # a refused name comes back in the name box, with the list's filter
        refused = as_staff.post("/saved-filters/save", data={
            "csrf_token": token, "list": "tickets", "name": name, "query": "state=draft"}, follow_redirects=True)
        box = re.search(r'<input[^>]*name="name"[^>]*>', refused.text).group(0)
        assert f'value="{name}"' in box and 'name="query" value="state=draft"' in refused.text
    assert 'value="xxx' not in as_staff.get("/tickets/list/").text  # once only
    refused = as_staff.post("/saved-filters/save", data={
        "csrf_token": token, "list": "tickets", "name": "Ra ngoài", "query": "https://evil.example/?x=1"})
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/tickets/list/")
    filter_id = db.session.scalar(select(SavedFilter.id).where(SavedFilter.name == "Nháp quá hạn"))
    head_token = csrf_token(as_unit_head.get("/tickets/list/").text)
    assert as_unit_head.post(f"/saved-filters/{filter_id}/delete", data={"csrf_token": head_token}).status_code == 404
    deleted = as_staff.post(f"/saved-filters/{filter_id}/delete", data={"csrf_token": token, "query": "state=draft"})
    assert deleted.status_code == 302 and deleted.headers["Location"].endswith("/tickets/list/?state=draft")
    db.session.expire_all()
    assert db.session.get(SavedFilter, filter_id) is None
    assert as_staff.get("/saved-filters/menu.json?list=tickets").json == []
    assert as_staff.get("/saved-filters/menu.json?list=nowhere").status_code == 404


def test_a_list_reads_its_saved_filters_only_when_their_menu_opens(in_request, db, user, as_staff, count_queries):
    """The list's bar of saved filters read them on every page (a statement of its own): its
    menu now reads them when opened, as the user menu does (app/static/qms/forms.js)."""
    from app.saved_filters import services

    services.save_filter(user("canbo.ktht"), "tickets", "Của tôi", "state=draft")
    db.session.commit()
    as_staff.get("/tickets/list/")
    for url in ("/tickets/list/", "/nonconformities/list/"):
        with count_queries() as counter:
            page = as_staff.get(url).text
        assert not [s for s in counter.statements if "saved_filter" in s], counter.statements
        assert 'class="saved-filters-slot disabled" data-src="/saved-filters/menu.json?list=' in page
        assert "Của tôi" not in page


# --- the meeting's attendees ----------------------------------------------------------------------

def test_the_attendees_are_a_searchable_multi_select(db, user, as_iso_secretary):
    import datetime

    from app.reviews import services

    review = services.create_review(user("thuky.iso"), "meeting", datetime.date(2011, 1, 1),
                                    datetime.date(2011, 12, 31))
    page = as_iso_secretary.get(f"/reviews/show/{review.id}").text
    services.delete_review(user("thuky.iso"), review.id)  # leaves the demo's reviews as they were
    select_tag = re.search(r'<select class="form-control attendees qms-multi" name="attendees" multiple[^>]*>', page)
    assert select_tag and "Gõ tên để tìm người dự họp" in select_tag.group(0)
    assert 'type="checkbox" name="attendees"' not in page


# --- in a real browser ------------------------------------------------------------------------------

def _in_the_browser(test):
    from tests import test_browser

    for mark in [pytest.mark.slow, *test_browser.pytestmark]:  # Debian's Chromium, on SQLite
        test = mark(test)
    return test


@_in_the_browser
def test_the_iso_leader_assigns_three_tickets_at_once_and_reopens_a_saved_filter(
        browser, live_server, db, make_ticket, user, unit):
    from tests.test_browser import log_in, open_page
    from app.tickets.models import Ticket

    tickets = [make_ticket(state="leader_review") for _ in range(3)]
    staff = user("canbo.ktht")
    pages = open_page(browser)
    page = next(pages)
    log_in(page, live_server, "truongban.iso")
    page.goto(f"{live_server}/tickets/list/?state=leader_review")
    page.fill(".save-filter input[name=name]", "Chờ phân công")
    page.click(".save-filter button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Đã lưu bộ lọc “Chờ phân công”." in page.content()

    for ticket in tickets:
        page.check(f"input[name=ids][value='{ticket.id}']")
    page.click("button.several-step[data-step=assign]")
    page.wait_for_load_state("networkidle")
    assert page.locator("tr.several-ticket").count() == 3
    page.select_option("select[name=assignee_unit]", str(unit("KTHT").id))
    page.select_option("select[name=assignee]", str(staff.id))
    page.fill("textarea[name=comment]", "Phân công cùng lúc")
    page.click("button.several-submit")
    page.wait_for_load_state("networkidle")
    assert page.locator("tr.several-outcome.done").count() == 3, page.content()[-3000:]
    assert "Đã thực hiện 3/3 phiếu" in page.content()

    page.goto(f"{live_server}/tickets/list/")
    page.click(".saved-filters-toggle")
    page.click("a.saved-filter:has-text('Chờ phân công')")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/tickets/list/?state=leader_review")
    assert page.locator("select[name=state]").input_value() == "leader_review"
    assert not any(page.locator(f"input[name=ids][value='{t.id}']").count() for t in tickets)  # assigned now

    page.goto(f"{live_server}/")  # the user menu, on any page, names the saved filters too
    page.click(".navbar-right .dropdown-toggle:has(.fa-user)")
    page.click("a.saved-filter-menu-item:has-text('Phiếu yêu cầu HĐKP/cải tiến: Chờ phân công')")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/tickets/list/?state=leader_review")

    page.on("dialog", lambda dialog: dialog.accept())  # "Xóa bộ lọc đã lưu “Chờ phân công”?"
    page.click(".saved-filters-toggle")
    page.click("li:has(a.saved-filter:has-text('Chờ phân công')) button.delete-saved-filter")
    page.wait_for_load_state("networkidle")
    assert "Đã xóa bộ lọc đã lưu “Chờ phân công”." in page.content()
    assert page.url.endswith("/tickets/list/?state=leader_review")
    page.click(".saved-filters-toggle")
    none = page.wait_for_selector(".saved-filters-menu li.disabled:not(.saved-filters-slot)")
    assert none.inner_text().startswith("Chưa có bộ lọc")
    pages.close()
    db.session.expire_all()
    assert {db.session.get(Ticket, t.id).state for t in tickets} == {"analysis"}
    assert {db.session.get(Ticket, t.id).assignee_id for t in tickets} == {staff.id}


def test_the_user_menu_lists_only_the_users_own_saved_filters(in_request, db, user, as_staff, as_unit_head):
    from app.saved_filters import services

    services.save_filter(user("canbo.ktht"), "nonconformities", "KPH của đơn vị", "unit=2")
    saved = services.own_filters(user("canbo.ktht"), "nonconformities")[0]
    assert as_staff.get("/saved-filters/menu.json").json == [
        {"id": saved.id, "list": "Sự không phù hợp", "name": "KPH của đơn vị", "url": "/nonconformities/list/?unit=2"}]
    assert as_unit_head.get("/saved-filters/menu.json").json == []
