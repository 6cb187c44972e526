"""The official copy in a real browser (Debian's Chromium driven by Playwright): the ISO
secretary closes a verified ticket, opens its official copy from the ticket page, and reads
that it is digitally signed and intact."""
import pytest

from app.official.authority import Authority
from tests import test_browser

# Skipped as the other browser tests are: without Debian's chromium, and on PostgreSQL.
pytestmark = test_browser.pytestmark
# The same live server and browser as tests/test_browser.py.
live_server = test_browser.live_server
browser = test_browser.browser


@pytest.fixture
def agency_certificate(app, db, tmp_path, monkeypatch):
    """Cam Lâm's certificate, from a throwaway CA the administrator trusts; retired after."""
    from app.official import services

    authority = Authority("CA thử nghiệm trình duyệt")
    root = tmp_path / "root.pem"
    root.write_bytes(authority.pem)
    monkeypatch.setitem(app.config, "SIGNING_TRUST_ROOTS", [str(root)])
    row = services.import_credential(authority.pkcs12("UBND huyện Cam Lâm"), "matkhau")
    yield row
    db.session.rollback()
    row = db.session.get(type(row), row.id)
    row.active = False
    db.session.commit()


def test_the_secretary_closes_a_ticket_and_opens_its_signed_official_copy(
        browser, live_server, db, make_ticket, agency_certificate):
    from app.official import services

    ticket = make_ticket(state="verified")
    context = test_browser.new_context(browser)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        test_browser.log_in(page, live_server, "thuky.iso")
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
        assert "/official/" in page.url, page.content()[-2000:]
        status = page.locator(".official-status .label-success")
        assert status.count() == 1 and status.is_visible()
        # the Vietnamese of "Digitally signed – intact" (translations compiled)
        assert "Đã ký số – nguyên vẹn" in status.inner_text()
        copy = services.current("ticket", ticket.id)
        assert copy is not None and copy.signed and page.url.endswith(f"/official/{copy.id}")
        assert copy.sha256 in page.locator(".official-sha256").inner_text()
    finally:
        context.close()
