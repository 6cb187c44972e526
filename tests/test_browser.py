"""A real browser (Debian's Chromium driven by Playwright) against the running app."""
import datetime
import itertools
import os

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (make install installs it)",
    ),
    # The pages are the same on both databases: CI walks them once, on SQLite (make test).
    pytest.mark.skipif(os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                       reason="the browser walk runs on SQLite; the rules are tested on both databases"),
]


# live_server and browser (session fixtures, shared with tests/test_browser_vietnamese.py): conftest.py


_addresses = itertools.count(1)


def new_context(browser, locale="vi-VN"):
    """A browser of its own person: its language, and its own client address (the login limit
    counts per address)."""
    n = next(_addresses)
    return browser.new_context(locale=locale, extra_http_headers={"X-Forwarded-For": f"10.77.{n // 256}.{n % 256}"})


def open_page(browser, locale="vi-VN"):
    context = new_context(browser, locale)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def page(browser):
    yield from open_page(browser)


def log_in(page, live_server, username, password="CamLam@2026"):
    page.goto(f"{live_server}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")


def signed_in(browser, live_server, username):
    """A person of their own, signed in: (their browser context, their page)."""
    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(15000)
    log_in(page, live_server, username)
    return context, page


def test_login_through_the_page_shows_the_vietnamese_menu(page, live_server):
    page.goto(f"{live_server}/login/")
    assert "Đăng nhập" in page.content()
    log_in(page, live_server, "admin")
    navbar = page.locator(".navbar").inner_text()
    assert "Tổ chức" in navbar and "Bảo mật" in navbar
    assert "Hệ thống Quản trị" in navbar  # the signed-in user's name
    page.click("text=Tổ chức")
    page.click("a:has-text('Đơn vị')")
    page.wait_for_load_state("networkidle")
    assert "Phòng Kinh tế và Hạ tầng" in page.content()


def test_wrong_password_is_told_in_vietnamese(page, live_server):
    log_in(page, live_server, "canbo.ktht", "wrong-password")
    assert "/login" in page.url
    assert "Đăng nhập không hợp lệ. Vui lòng thử lại." in page.content()


def test_a_ticket_walks_from_draft_to_closed_through_the_pages(browser, live_server, db, user, unit):
    import datetime

    from app.tickets.models import Ticket

    today = datetime.date.today()
    soon = (today + datetime.timedelta(days=14)).strftime("%d/%m/%Y")  # as the pages take dates
    description = f"Hồ sơ cấp phép trả trễ — kiểm thử trình duyệt {today:%H%M%S}{id(db)}"

    def act(username, ticket_id, transition, fill=lambda page: None):
        context, page = signed_in(browser, live_server, username)
        page.goto(f"{live_server}/tickets/show/{ticket_id}")
        page.click(f"a[data-transition={transition}]")
        page.wait_for_load_state("networkidle")
        fill(page)
        page.click("form button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "/tickets/show/" in page.url, page.content()[-2000:]
        state = page.locator(".ticket-state").inner_text()
        context.close()
        return state

    # Staff opens the ticket in the real form
    context, page = signed_in(browser, live_server, "canbo.ktht")
    page.goto(f"{live_server}/tickets/add")
    page.select_option("select[name=kind]", "corrective", force=True)
    page.select_option("select[name=source]", "feedback", force=True)
    page.select_option("select[name=requesting_unit]", str(unit("KTHT").id), force=True)
    page.fill("textarea[name=description]", description)
    page.fill("input[name=requested_on]", today.strftime("%d/%m/%Y"))
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    context.close()
    ticket_id = db.session.query(Ticket.id).filter_by(description=description).scalar()
    assert ticket_id, "the ticket was not saved"

    assert act("canbo.ktht", ticket_id, "submit") == "Lãnh đạo đơn vị xem xét"
    assert act("truongphong.ktht", ticket_id, "forward",
               lambda p: p.check("input[name=signs][value=recurring]")) == "Thư ký ISO đang tổng hợp"
    assert act("thuky.iso", ticket_id, "present",
               lambda p: p.fill("textarea[name=note]", "Tổng hợp, trình phân công")) == "Đã trình Lãnh đạo Ban ISO"

    def assign(p):
        p.select_option("select[name=assignee_unit]", str(unit("KTHT").id))
        p.select_option("select[name=assignee]", str(user("canbo.ktht").id))
    act("truongban.iso", ticket_id, "assign", assign)

    def propose(p):
        p.fill("textarea[name=cause]", "Chưa kiểm tra chéo hồ sơ trước khi trả")
        p.fill("textarea[name=measures]", "Bổ sung bước kiểm tra chéo")
        p.fill("input[name=completion_date]", soon)
    act("canbo.ktht", ticket_id, "propose", propose)

    def approve(p):
        p.select_option("select[name=implementing_unit]", str(unit("KTHT").id))
        p.select_option("select[name=implementer]", str(user("canbo.ktht").id))
        p.fill("input[name=due_date]", soon)
    assert act("truongban.iso", ticket_id, "approve", approve) == "Đang thực hiện"
    act("canbo.ktht", ticket_id, "report_done",
        lambda p: p.fill("textarea[name=result_summary]", "Đã áp dụng kiểm tra chéo"))

    def verify(p):
        p.select_option("select[name=result]", "pass")
        p.fill("input[name=verified_on]", today.strftime("%d/%m/%Y"))
    act("chutich", ticket_id, "verify", verify)
    assert act("thuky.iso", ticket_id, "close",
               lambda p: p.fill("textarea[name=evidence]", "Sổ theo dõi kiểm tra chéo")) == "Đã đóng"

    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    assert ticket.state == "closed" and ticket.evidence_text == "Sổ theo dõi kiểm tra chéo"
    assert [e.name for e in ticket.events][-9:] == [
        "submit", "forward", "present", "assign", "propose", "approve", "report_done", "verify", "close"]


def test_a_unit_drafts_and_its_head_approves_a_plan_through_the_pages(browser, live_server, db, unit):
    from app.objectives.models import ObjectivePlan

    year = 2090
    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(15000)
    log_in(page, live_server, "canbo.tnmt")
    page.goto(f"{live_server}/objectives/add")
    page.fill("input[name=year]", str(year))
    page.select_option("select[name=unit]", str(unit("TNMT").id))
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.fill("textarea[name=objective]", "Trả kết quả đúng hạn")
    page.fill("textarea[name=measurement_method]", "Tỷ lệ hồ sơ trả đúng hạn")
    page.select_option("select[name=target_kind]", "ge")
    page.fill("input[name=target]", "ba mươi")  # not a number: refused, nothing lost
    page.click("#row-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.input_value("textarea[name=objective]") == "Trả kết quả đúng hạn"
    page.fill("input[name=target]", "96 %")
    page.fill("input[name=start_date]", f"01/01/{year}")
    page.fill("input[name=end_date]", f"31/12/{year}")
    page.click("#row-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "≥ 96 %" in page.locator(".objective-rows").inner_text()
    page.click("button[data-step=submit]")
    page.wait_for_load_state("networkidle")
    plan_url = page.url.split("#")[0]
    context.close()

    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(15000)
    log_in(page, live_server, "truongphong.tnmt")
    page.goto(plan_url)
    page.click("button[data-step=approve]")
    page.wait_for_load_state("networkidle")
    state = page.locator(".plan-state").inner_text()
    context.close()
    plan = db.session.query(ObjectivePlan).filter_by(year=year, unit_id=unit("TNMT").id).one()
    assert plan.state == "approved" and plan.approved_by.username == "truongphong.tnmt"
    assert len(plan.rows) == 1 and plan.rows[0].target_value == 96
    assert state == "Đã phê duyệt"


def test_a_meeting_is_held_and_its_minutes_approved_through_the_pages(browser, live_server, db, user):
    from app.reviews.models import Review

    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(15000)
    log_in(page, live_server, "thuky.iso")
    page.goto(f"{live_server}/reviews/add")
    page.check("input[name=form][value=meeting]")
    page.fill("input[name=period_start]", "01/01/2085")
    page.fill("input[name=period_end]", "31/12/2085")
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
    review_url = page.url
    page.fill("input[name=meeting_date]", datetime.date.today().strftime("%d/%m/%Y"))  # held, not to come
    page.fill("input[name=start_time]", "08:00")
    page.fill("input[name=end_time]", "10:30")
    page.fill("input[name=place]", "Hội trường UBND huyện")
    page.select_option("select[name=chair_id]", str(user("chutich").id))
    page.select_option("select[name=secretary_id]", str(user("thuky.iso").id))
    page.fill("textarea[name=item_6_conclusion]", "Số hóa toàn bộ hồ sơ lưu")
    page.click("button[form=review-content]")
    page.wait_for_load_state("networkidle")
    page.click("button[data-step=hold]")
    page.wait_for_load_state("networkidle")
    context.close()

    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(15000)
    log_in(page, live_server, "chutich")
    page.goto(review_url)
    page.click("button[data-step=approve_minutes]")
    page.wait_for_load_state("networkidle")
    state = page.locator(".review-state").inner_text()
    context.close()

    review = db.session.query(Review).filter_by(year=2085).one()
    assert review.state == "minutes_approved" and review.approved_by.username == "chutich"
    assert review.items[5].conclusion == "Số hóa toàn bộ hồ sơ lưu" and review.place == "Hội trường UBND huyện"
    assert state == "Biên bản đã được phê duyệt"


def test_the_secretary_closes_a_ticket_and_opens_its_signed_official_copy(
        page, live_server, db, make_ticket, agency_certificate):
    """Official copies (issue 13): the ISO secretary closes a verified ticket, opens its
    official copy from the ticket page, and reads that it is digitally signed and intact."""
    from app.official import services

    ticket = make_ticket(state="verified")
    log_in(page, live_server, "thuky.iso")
    page.goto(f"{live_server}/tickets/show/{ticket.id}")
    assert page.locator(".official-link").count() == 0  # not final yet: no official copy
    page.click("a[data-transition=close]")
    page.wait_for_load_state("networkidle")
    page.fill("textarea[name=evidence]", "Biên bản kiểm tra hiệu lực")
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert f"/tickets/show/{ticket.id}" in page.url, page.content()[-2000:]
    assert page.locator(".ticket-state").inner_text() == "Đã đóng"

    page.click(".official-link[data-document=ticket]")
    page.wait_for_load_state("networkidle")
    status = page.locator(".official-status .label-success")
    assert status.count() == 1 and status.is_visible(), page.content()[-2000:]
    assert "Đã ký số – nguyên vẹn" in status.inner_text()
    copy = services.current("ticket", ticket.id)
    assert copy is not None and copy.signed and page.url.endswith(f"/official/{copy.id}")
    assert copy.sha256 in page.locator(".official-sha256").inner_text()


@pytest.mark.slow
def test_a_forward_rings_the_secretarys_bell_and_so_does_a_mention(browser, live_server, make_ticket):
    """Hand-off and mention notifications (app.reminders.handoff, app.conversation) as people see them."""
    ticket = make_ticket(state="unit_review")

    def bell(page):
        page.goto(f"{live_server}/")
        badge = page.locator(".notification-count")
        return int(badge.inner_text()) if badge.count() else 0

    secretary_context, secretary = signed_in(browser, live_server, "thuky.iso")
    secretary.goto(f"{live_server}/notifications/")  # a page read reads what it shows; the button, all
    if secretary.locator("button.read-all").count():
        secretary.click("button.read-all")
        secretary.wait_for_load_state("networkidle")
        assert "Đã đánh dấu mọi thông báo là đã đọc." in secretary.content()
    assert bell(secretary) == 0

    head_context, head = signed_in(browser, live_server, "truongphong.ktht")
    head.goto(f"{live_server}/tickets/show/{ticket.id}")
    head.click("a[data-transition=forward]")
    head.wait_for_load_state("networkidle")
    head.check("input[name=signs][value=recurring]")
    head.click("form button[type=submit]")
    head.wait_for_load_state("networkidle")
    assert head.locator(".ticket-state").inner_text() == "Thư ký ISO đang tổng hợp"
    assert bell(secretary) == 1  # the secretary acts next: told at once

    head.goto(f"{live_server}/tickets/show/{ticket.id}")
    head.fill("#comment-text", "@thuky.iso nhờ chị tổng hợp sớm")
    head.click(".conversation-form button[type=submit]")
    head.wait_for_load_state("networkidle")
    assert "@thuky.iso nhờ chị tổng hợp sớm" in head.locator("table.history").inner_text()
    head_context.close()
    assert bell(secretary) == 2  # and mentioned

    secretary.click("a:has(.notification-count)")
    secretary.wait_for_load_state("networkidle")
    text = secretary.locator(".panel-body").inner_text()
    assert "nhắc đến bạn" in text and "Chuyển Thư ký ISO" in text and ticket.display_number in text
    secretary_context.close()


def test_the_ticket_list_s_unit_filter_offers_the_units_when_opened(browser, live_server, unit):
    """The unit filter reads its units when opened (issue 15, 3), the first ones at once: one
    is chosen without typing, the list filtered by it, and it stays shown as chosen."""
    known = unit("KTHT").id
    context, page = signed_in(browser, live_server, "truongban.iso")
    try:
        page.goto(f"{live_server}/tickets/list/")
        page.click(".select2-selection:near(select[name=unit])")
        page.click(".select2-results__option:has-text('KTHT')")
        page.click("form.form-inline button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert f"unit={known}" in page.url
        assert "KTHT" in page.locator("form.form-inline .select2-selection").first.inner_text()
    finally:
        context.close()


def test_a_list_of_an_agency_of_many_units_finds_its_unit_filter_as_one_types(browser, live_server, db):
    """400 units: no list carries them. The NC list's unit filter, and FAB's on the users'
    list, find one as it is typed (app.organisation.unit_filter), filter the list by it and show
    it chosen afterwards."""
    from app.organisation.models import Unit

    db.session.add_all(Unit(code=f"PX{n:04d}", name=f"Phường Xã thứ {n:04d} Đông Hải") for n in range(400))
    db.session.commit()
    chosen = db.session.query(Unit).filter_by(code="PX0123").one().id
    context, page = signed_in(browser, live_server, "admin")
    try:
        def choose_unit(form, field):  # the unit the filter finds as it is typed, then the filter applied
            page.click(f"{form} {field}")
            page.fill(".select2-search__field", "thu 0123 dong")
            page.click(".select2-results__option:has-text('PX0123')")
            page.click(f"{form} button[type=submit]")
            page.wait_for_load_state("networkidle")
            assert "PX0123 — Phường Xã thứ 0123 Đông Hải" in page.locator(form).inner_text()

        page.goto(f"{live_server}/nonconformities/list/")
        assert "PX0001" not in page.content()
        choose_unit(".list-filters", ".select2-selection:near(select[name=unit])")
        assert f"unit={chosen}" in page.url and page.locator(".record-count").inner_text() == "0"

        page.goto(f"{live_server}/users/list/")
        assert "PX0001" not in page.content()
        page.click("a.accordion-toggle[href='#accordion1_href']")  # FAB's search panel
        page.click("#filter_form .dropdown-toggle")
        page.click("#filter_form a.filter[name=unit]")
        choose_unit("#filter_form", "td.filter .select2-selection:near(select.remote-choices)")
        assert f"_flt_0_unit={chosen}" in page.url
    finally:
        context.close()
        db.session.query(Unit).filter(Unit.code.like("PX%")).delete(synchronize_session=False)
        db.session.commit()


def test_a_draft_plan_is_deleted_from_the_list_and_the_nc_list_filters(browser, live_server, db, unit):
    """The lists of our own (app/record_list.py): a row's delete button asks, then deletes
    (FAB's confirmation and its POST with the CSRF token); the NC list's filter form filters,
    its dates typed as Vietnamese write them."""
    from app.objectives import services as objectives
    from app.objectives.models import ObjectivePlan
    from app.organisation.models import QmsUser

    drafter = db.session.query(QmsUser).filter_by(username="canbo.tnmt").one()
    plan_id = objectives.create_plan(drafter, 2091, unit("TNMT").id).id
    context, page = signed_in(browser, live_server, "canbo.tnmt")
    page.goto(f"{live_server}/objectives/list/?year=2091")
    page.click(f"#btn-delete-\\/objectives\\/delete\\/{plan_id}")
    page.click("#modal-confirm-ok")
    page.wait_for_load_state("networkidle")
    db.session.expire_all()
    assert db.session.get(ObjectivePlan, plan_id) is None
    page.goto(f"{live_server}/nonconformities/list/")
    page.fill("input[name=from]", "01/01/2000")
    page.fill("input[name=to]", "31/12/2000")
    page.keyboard.press("Escape")
    page.click(".list-filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "from=01%2F01%2F2000" in page.url and page.locator(".record-count").inner_text() == "0"
    assert page.locator("input[name=from]").input_value() == "01/01/2000"
    context.close()
