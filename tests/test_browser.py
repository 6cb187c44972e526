"""A real browser (Debian's Chromium driven by Playwright) against the running app."""
import os
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (make install installs it)",
)


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def log_in(page, live_server, username, password="CamLam@2026"):
    page.goto(f"{live_server}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")


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
