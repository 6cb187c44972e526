"""Daily work on a phone (390 × 844, Chromium): no page scrolls sideways, lists are cards whose
every line carries its column's caption, the ticket's history (a comment too) is readable and its
transition buttons are within reach, the unread count shows without opening the menu
(app/static/qms/phone.css, phone.js); a long word in a comment widens no page, on a desktop either."""
import pytest

from tests import test_browser
from tests.test_browser import log_in, new_context

pytestmark = test_browser.pytestmark + [pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
LONG_WORD = "x" * 2000

# the page, and its list rows that must be cards
LISTS = {
    "/": "table.my-work tr.work-item",
    "/my-work/": "table.my-work tr.work-item",
    "/tickets/list": "tr.ticket-row",
    "/nonconformities/list/": ".table-responsive > table.table-hover > tbody > tr",
    "/objectives/list/": ".table-responsive > table.table-hover > tbody > tr",
    "/reviews/list/": ".table-responsive > table.table-hover > tbody > tr",
    "/notifications/": ".notification",
}

MEASURE = """(rows) => {
  const box = e => e.getBoundingClientRect();
  return {
    scroll: document.documentElement.scrollWidth, width: window.innerWidth,
    rows: [...document.querySelectorAll(rows)].map(r => ({
      display: getComputedStyle(r).display, left: box(r).left, right: box(r).right,
      cells: [...(r.cells || [])].filter(c => getComputedStyle(c).display !== 'none')
        .map(c => ({label: c.dataset.label || '', text: c.innerText.trim(), width: box(c).width,
                    display: getComputedStyle(c).display})),
    })),
  };
}"""


@pytest.fixture
def notification(db, user):
    """A notification for the user, with a long unbroken address in it; removed afterwards."""
    from app.reminders.models import Notification

    added = []

    def add(username):
        added.append(Notification(
            user_id=user(username).id, subject="Phiếu sắp đến hạn",
            body="Xem chi tiết tại " + "https://qms.camlam.khanhhoa.gov.vn/tickets/show/" + "0" * 60))
        db.session.add(added[-1])
        db.session.commit()
    yield add
    for row in added:
        db.session.delete(row)
    db.session.commit()


@pytest.fixture
def comment(db, user):
    """A comment by the user on a ticket, with a long unbroken word in it; removed afterwards."""
    from app.conversation import services

    added = []

    def add(username, ticket_id):
        added.append(services.add_comment(user(username), "ticket", ticket_id, "Xem giúp " + LONG_WORD))
    yield add
    for row in added:
        db.session.delete(row)
    db.session.commit()


def measure(page, url, rows):
    page.goto(url)
    page.wait_for_load_state("domcontentloaded")
    return page.evaluate(MEASURE, rows)


def assert_fits(found, url):
    assert found["scroll"] <= found["width"] == PHONE["width"], f"{url} scrolls sideways: {found['scroll']} px"


def assert_cards(found, url):
    assert found["rows"], f"no rows on {url}"
    for row in found["rows"]:
        assert row["display"] == "block" and row["left"] >= 0 and row["right"] <= found["width"], (url, row)
        for cell in row["cells"]:
            assert cell["display"] == "block", (url, cell)


@pytest.mark.parametrize("username", ["canbo.ktht", "thuky.iso"])
def test_the_main_pages_fit_a_phone_with_lists_as_cards(browser, live_server, notification, comment, username):
    notification(username)
    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.set_viewport_size(PHONE)
    log_in(page, live_server, username)

    # the unread count shows in the top bar, the menu closed; the navigation menu opens inside the screen
    page.goto(f"{live_server}/")
    badge = page.locator(".navbar-header .qms-phone-bell")
    assert badge.is_visible() and int(badge.inner_text()) >= 1
    assert_fits(page.evaluate(MEASURE, ".navbar"), "the top bar")
    assert page.locator(".navbar-collapse .notification-count").is_hidden()
    page.click(".navbar-toggle")
    page.wait_for_selector(".navbar-collapse.in")
    assert_fits(page.evaluate(MEASURE, ".navbar"), "the open menu")

    for url, rows in LISTS.items():
        found = measure(page, live_server + url, rows)
        assert_fits(found, url)
        assert_cards(found, url)

    # every line of a ticket card says what it is
    tickets = measure(page, f"{live_server}/tickets/list?state=implementation", "tr.ticket-row")
    first = {cell["label"]: cell["text"] for cell in tickets["rows"][0]["cells"]}  # being done: it has a due date
    assert {"Số phiếu", "Trạng thái", "Mô tả", "Hạn hoàn thành"} <= set(first), first
    assert "/" in first["Số phiếu"]

    # a ticket waiting for this person: readable history, buttons within reach
    page.goto(f"{live_server}/my-work/")
    page.locator("tr.work-item a[href*='/tickets/show/']").first.click()
    page.wait_for_load_state("domcontentloaded")
    url = page.url
    comment(username, int(url.split("/tickets/show/")[1].split("?")[0].split("#")[0]))
    page.reload()
    history = page.evaluate(MEASURE, "table.history tr:not(.qms-cards-head)")
    assert_fits(history, url)
    assert_cards(history, url)
    readable = [c for row in history["rows"] for c in row["cells"]]
    assert readable and all(c["width"] > 150 for c in readable), [(c["label"], c["width"]) for c in readable]
    assert {c["label"] for c in readable} >= {"Thời gian", "Thao tác", "Người thao tác"}
    [said] = [c for c in readable if LONG_WORD in c["text"]]
    assert said["label"] == "Ý kiến", said["label"]  # not the caption of the column it starts under
    buttons = page.locator(".transition-button")
    assert buttons.count() >= 1, f"nothing to do on {url}"
    for i in range(buttons.count()):
        box = buttons.nth(i).bounding_box()
        assert buttons.nth(i).is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box

    # on a desktop the long word wraps too, and the count stays in the menu bar only
    page.set_viewport_size(DESKTOP)
    wide = page.evaluate(MEASURE, "table.history tr")
    assert wide["scroll"] <= DESKTOP["width"], f"{url} scrolls sideways: {wide['scroll']} px"
    assert page.locator(".navbar-header .qms-phone-bell").is_hidden()
    context.close()
