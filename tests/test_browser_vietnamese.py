"""Issue 16 (3, 4): an English-language browser (Chromium, locale en-US) sees Vietnamese
dates, a Vietnamese calendar, Vietnamese file inputs and dropdowns, and no English anywhere."""
import datetime
import re

import pytest

from tests import test_browser
from tests.test_browser import log_in, open_page

pytestmark = test_browser.pytestmark  # Debian's Chromium, on SQLite (browser, live_server: conftest.py)

ENGLISH_PHRASES = (
    "Choose File", "No file chosen", "__None", "Remove all items", "Select a State", "mm/dd/yyyy",
    "--:--", "can edit", "can list", "can show", "can add", "can delete", "menu access", "can_",
    "View", "Api", "Click to toggle", "Scroll to increment", "No results found",
)
ENGLISH_WORDS = re.compile(
    r"\b(Search|Add|Edit|Delete|Save|Back|Remove|Select|Choose|Cancel|Submit|List|Show|Filter|"
    r"Files?|Records?|Actions?|Permissions?|Roles?|Users?|Year|Month|Hour|Minute|January|February|"
    r"December|Monday|Sunday|AM|PM)\b")

COLLECT = """() => {
  const shown = e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const texts = [document.body.innerText];
  for (const e of document.querySelectorAll('[placeholder],[title],[data-original-title],[aria-label]')) {
    for (const name of ['placeholder', 'title', 'data-original-title', 'aria-label']) {
      if (e.getAttribute(name)) texts.push(e.getAttribute(name));
    }
  }
  for (const o of document.querySelectorAll('option')) texts.push(o.textContent);
  const natives = [...document.querySelectorAll('input')]
    .filter(e => ['date', 'time', 'datetime-local', 'month', 'week', 'file'].includes(e.type) && shown(e))
    .map(e => e.type + ' ' + e.name);
  const fileLabels = [...document.querySelectorAll('input[type=file]')]
    .map(e => (e.closest('.qms-file') || {innerText: ''}).innerText);
  return {texts, natives, fileLabels};
}"""


@pytest.fixture
def english_page(browser):
    """A browser whose language is English."""
    yield from open_page(browser, "en-US")


def english_on(page) -> list[str]:
    """English UI strings on the page as a person sees it, and the browser's own date, time
    and file controls left visible."""
    found = page.evaluate(COLLECT)
    english = []
    for text in found["texts"]:
        english += [phrase for phrase in ENGLISH_PHRASES if phrase in text]
        english += ENGLISH_WORDS.findall(text)
    english += [f"browser's own input: {native}" for native in found["natives"]]
    english += [f"file input without a Vietnamese label: {label!r}" for label in found["fileLabels"]
                if "Chọn" not in label]
    return sorted(set(english))


def _choose(page, name, value):
    page.select_option(f"select[name={name}]", str(value), force=True)


def test_a_date_typed_dd_mm_yyyy_in_an_english_browser_is_saved_as_typed(
        english_page, live_server, db, unit):
    from app.tickets.models import NcCategory, Nonconformity

    page = english_page
    log_in(page, live_server, "canbo.ktht")
    page.goto(f"{live_server}/nonconformities/add")
    field = page.locator("input[name=detected_on]")
    assert field.get_attribute("type") == "text" and field.get_attribute("placeholder") == "dd/mm/yyyy"
    field.click()  # the bundled calendar opens, in Vietnamese, Monday first
    calendar = page.locator(".flatpickr-calendar.open")
    assert calendar.is_visible()
    weekdays = calendar.locator(".flatpickr-weekdays").inner_text().split()
    assert weekdays[:2] == ["T2", "T3"] and weekdays[-1] == "CN", weekdays
    assert "Tháng" in calendar.locator(".flatpickr-month").inner_text()
    field.fill("05/02/2026")
    page.keyboard.press("Tab")
    description = f"KPH ngày gõ tay trong trình duyệt tiếng Anh {id(db)}"
    category = db.session.query(NcCategory).filter_by(active=True).first()
    _choose(page, "unit", unit("KTHT").id)
    _choose(page, "source", "feedback")
    _choose(page, "category", category.id)
    page.fill("textarea[name=description]", description)
    assert field.input_value() == "05/02/2026"
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/nonconformities/show/" in page.url, page.content()[-2000:]
    assert "05/02/2026" in page.locator("body").inner_text()
    nc = db.session.query(Nonconformity).filter_by(description=description).one()
    assert nc.detected_on == datetime.date(2026, 2, 5)  # 5 February, not 2 May


def test_a_refused_form_keeps_the_typed_date(english_page, live_server, db, unit):
    from app.tickets.models import Ticket

    page = english_page
    log_in(page, live_server, "canbo.ktht")
    page.goto(f"{live_server}/tickets/add")
    future = (datetime.date.today() + datetime.timedelta(days=400)).strftime("%d/%m/%Y")
    description = f"Phiếu đề ngày sau, trình duyệt tiếng Anh {id(db)}"
    _choose(page, "kind", "corrective")
    _choose(page, "source", "feedback")
    _choose(page, "requesting_unit", unit("KTHT").id)
    page.fill("textarea[name=description]", description)
    page.fill("input[name=requested_on]", future)
    page.keyboard.press("Tab")
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "không được sau ngày hôm nay" in page.locator("body").inner_text()
    assert page.input_value("input[name=requested_on]") == future
    assert page.input_value("textarea[name=description]") == description
    assert not db.session.query(Ticket).filter_by(description=description).count()


def test_a_meeting_time_is_typed_in_24_hours(english_page, live_server, db):
    from app.reviews.models import Review

    page = english_page
    log_in(page, live_server, "thuky.iso")
    page.goto(f"{live_server}/reviews/add")
    page.check("input[name=form][value=meeting]")
    page.fill("input[name=period_start]", "01/01/2084")
    page.fill("input[name=period_end]", "31/12/2084")
    page.keyboard.press("Tab")
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/reviews/show/" in page.url, page.content()[-2000:]
    page.locator("input[name=start_time]").click()
    assert page.locator(".flatpickr-calendar.open .flatpickr-am-pm").count() == 0  # 24-hour
    page.fill("input[name=start_time]", "14:30")
    page.fill("input[name=end_time]", "16:45")
    page.locator("input[name=meeting_date]").press_sequentially("31/02/2026")  # no 31 February
    page.keyboard.press("Tab")
    assert page.input_value("input[name=meeting_date]") == "31/02/2026"  # not rolled over to 03/03
    page.click("button[form=review-content]")
    page.wait_for_load_state("networkidle")
    assert "Nhập ngày theo định dạng dd/mm/yyyy" in page.locator("body").inner_text()
    assert page.input_value("input[name=meeting_date]") == "31/02/2026"
    page.fill("input[name=meeting_date]", "05/02/2026")
    page.keyboard.press("Tab")
    page.click("button[form=review-content]")
    page.wait_for_load_state("networkidle")
    assert page.input_value("input[name=start_time]") == "14:30"
    assert page.input_value("input[name=meeting_date]") == "05/02/2026"
    review = db.session.query(Review).filter_by(year=2084).one()
    db.session.refresh(review)
    assert (review.start_time, review.end_time, review.meeting_date) == ("14:30", "16:45", datetime.date(2026, 2, 5))


def _walk(page, live_server, urls):
    misses = {}
    for url in urls:
        page.goto(f"{live_server}{url}", wait_until="load")
        english = english_on(page)
        for picker in ("input.qms-date", "input.qms-time"):  # the calendar and the clock, open
            if page.locator(picker).count() and page.locator(picker).first.is_visible():
                page.locator(picker).first.click()
                english += english_on(page)
                page.keyboard.press("Escape")
        if english:
            misses[url] = sorted(set(english))
    return misses


def test_an_english_browser_finds_no_english_on_the_main_pages(english_page, live_server, db):
    from app.objectives.models import ObjectivePlan
    from app.reviews.models import Review
    from app.tickets.models import Nonconformity, Ticket

    def first(model, **where):
        record = db.session.query(model).filter_by(**where).order_by(model.id).first()
        return record.id

    implementation = first(Ticket, state="implementation")
    analysis = first(Ticket, state="analysis")
    urls = [
        "/", "/tickets/list/", f"/tickets/show/{implementation}", f"/tickets/show/{analysis}",
        f"/tickets/{analysis}/do/propose", "/tickets/add", "/nonconformities/list/", "/nonconformities/add",
        f"/nonconformities/show/{first(Nonconformity)}", "/recurring/", "/reviews/list/", "/reviews/add",
        *(f"/reviews/show/{review.id}" for review in db.session.query(Review).order_by(Review.id).limit(3)),
        "/internal-audits/add", "/objectives/list/", "/objectives/add",
        f"/objectives/show/{first(ObjectivePlan)}", "/objectives-summary/",
        "/roles/list/", "/roles/show/1", "/users/list/", "/users/add", "/unitmodelview/list/",
        "/notifications/", "/official/certificate",
    ]
    page = english_page
    assert _walk(page, live_server, ["/login/"]) == {}
    log_in(page, live_server, "admin")
    assert _walk(page, live_server, urls) == {}
