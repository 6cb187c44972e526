"""Every screen speaks Vietnamese: no string of the catalogue is left in English."""
import os
import re
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOGUE = os.path.join(ROOT, "translations", "vi", "LC_MESSAGES", "messages.po")


def _catalogue():
    with open(CATALOGUE, "rb") as f:
        return read_po(f)


def _english_strings() -> set[str]:
    """English msgids whose Vietnamese differs: seeing one on a page is a miss."""
    return {
        m.id.strip() for m in _catalogue()
        if m.id and isinstance(m.id, str) and m.string and m.string.strip() != m.id.strip()
        and "%" not in m.id and "{" not in m.id
    }


class _VisibleText(HTMLParser):
    """Text nodes and human-facing attributes, outside scripts and styles."""

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("title", "placeholder", "aria-label", "alt") and value:
                self.texts.append(value.strip())
            if tag == "input" and name == "value" and dict(attrs).get("type") in ("submit", "button"):
                self.texts.append(value.strip())

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(re.sub(r"\s+", " ", data.strip()))


# English words FAB prints without passing them through gettext.
UNTRANSLATED_BY_FAB = {"True", "False", "Cancel", "OK", "None"}


def english_left(html: str) -> list[str]:
    parser = _VisibleText()
    parser.feed(html)
    english = _english_strings() | UNTRANSLATED_BY_FAB
    return sorted({t for t in parser.texts if t in english or t.rstrip(":").strip() in english})


def test_catalogue_is_complete():
    catalogue = _catalogue()
    messages = [m for m in catalogue if m.id]
    missing = [m.id for m in messages if not m.string]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert not missing and not fuzzy, (missing, fuzzy)
    assert len(messages) > 150  # FAB's own strings are part of it
    assert os.path.exists(CATALOGUE[:-3] + ".mo")


# /nonconformities/edit/5: the demo's first NC still open (a settled NC is read-only, 409)
ADMIN_SCREENS = [
    "/", "/users/list/", "/users/add", "/users/show/1", "/users/edit/1", "/users/userinfo/",
    "/userinfoeditview/form", "/resetmypassword/form", "/resetpassword/form?pk=2",
    "/roles/list/", "/roles/add", "/roles/show/1", "/roles/edit/1",
    "/unitmodelview/list/", "/unitmodelview/add", "/unitmodelview/show/1",
    "/unitmodelview/edit/1", "/unitmodelview/list/?_flt_0_code=KTHT",
    "/settings/list/", "/settings/show/1", "/settings/edit/1",
    "/users/list/?_flt_0_username=admin", "/no-such-page",
    "/tickets/list/", "/tickets/list/?overdue=1&state=implementation", "/tickets/add",
    "/nonconformities/list/", "/nonconformities/add", "/nonconformities/show/1",
    "/nonconformities/edit/5", "/recurring/", "/help/workflow", "/nc-categories/list/",
    "/nc-categories/add",
    "/objectives/list/", "/objectives/add", "/objectives/show/1", "/objectives/show/2",
    "/objectives-summary/", "/objectives-summary/?year=2025",
    "/reviews/list/", "/reviews/add", "/reviews/show/1", "/reviews/show/2", "/internal-audits/list/",
    "/internal-audits/add", "/retention/", "/notifications/",
]


@pytest.mark.parametrize("state", ["draft", "iso_review", "approval", "implementation", "verified",
                                   "closed", "closed_ineffective", "declined"])
def test_ticket_pages_are_vietnamese(as_admin, db, state):
    from app.tickets import workflow
    from app.tickets.models import Ticket

    ticket = db.session.query(Ticket).filter_by(state=state).first()
    page = as_admin.get(f"/tickets/show/{ticket.id}")
    assert page.status_code == 200 and english_left(page.text) == []
    for step in workflow.WORKFLOW.next_steps(state):
        form = as_admin.get(f"/tickets/{ticket.id}/do/{step.name}")
        assert form.status_code == 200 and english_left(form.text) == []
# FAB's registries (/permissions/, /viewmenus/, /permissionviews/) and log-in statistics
# are nobody's screens (roles.INSTALLATION_WIDE; tests/test_organisation.py).


@pytest.mark.parametrize("url", ADMIN_SCREENS)
def test_admin_screens_are_vietnamese(as_admin, url):
    response = as_admin.get(url)
    assert response.status_code in (200, 404), (url, response.status_code)
    assert english_left(response.text) == []
    assert "Tìm kiếm" in response.text or "Đăng xuất" in response.text


PLATFORM_SCREENS = ["/", "/agencies/", "/agencies/add", "/agencies/edit/1", "/users/userinfo/"]


@pytest.mark.parametrize("url", PLATFORM_SCREENS)
def test_platform_admin_screens_are_vietnamese(client_as, url):
    response = client_as("PlatformAdmin").get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert english_left(response.text) == []
    assert "Đăng xuất" in response.text


def test_login_and_forbidden_pages_are_vietnamese(anonymous, as_staff):
    login = anonymous.get("/login/")
    assert english_left(login.text) == []
    assert "Đăng nhập" in login.text and "Tên đăng nhập" in login.text
    forbidden = as_staff.get("/users/list/")
    assert forbidden.status_code == 403 and english_left(forbidden.text) == []


def test_flash_messages_are_vietnamese(app, as_admin):
    from tests.conftest import csrf_token, demo_agency

    page = as_admin.get("/unitmodelview/add")
    response = as_admin.post(
        "/unitmodelview/add",
        data={"code": "TMP1", "name": "Đơn vị tạm", "csrf_token": csrf_token(page.text)},
        follow_redirects=True,
    )
    assert "Đã thêm bản ghi" in response.text and english_left(response.text) == []
    from app.extensions import db
    from app.organisation.models import Unit

    with demo_agency(app):
        unit = db.session.query(Unit).filter_by(code="TMP1").one()
        page = as_admin.get("/unitmodelview/list/")
        deleted = as_admin.post(
            f"/unitmodelview/delete/{unit.id}", data={"csrf_token": csrf_token(page.text)},
            follow_redirects=True,
        )
    assert "Đã xóa bản ghi" in deleted.text


def test_english_can_be_chosen(app):
    from tests.conftest import login, new_client

    client = new_client(app)
    login(client, "admin")
    client.get("/lang/en")
    page = client.get("/unitmodelview/list/")
    assert "Organisation" in page.text and "Units" in page.text
    client.get("/lang/vi")
    assert "Tổ chức" in client.get("/unitmodelview/list/").text


def test_dates_show_as_day_month_year(as_admin):
    page = as_admin.get("/users/show/1")
    assert re.search(r"\b\d{2}/\d{2}/\d{4}\b", page.text)
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", page.text)


def test_a_forced_language_and_a_refresh_change_the_texts_at_once(app):
    """The request keeps its translations (app.translation_lookup): a forced language, its
    end, and a change of language followed by Flask-Babel's refresh each give that
    language's texts, in code and in templates; outside a request a text stays as written."""
    from flask import session
    from flask_babel import force_locale, gettext, lazy_gettext, refresh

    template = app.jinja_env.from_string("{{ _('Save') }}")
    with app.test_request_context("/"):
        assert gettext("Save") == "Lưu" and template.render() == "Lưu"
        with force_locale("en"):
            assert gettext("Save") == "Save" and str(lazy_gettext("Save")) == "Save"
            assert template.render() == "Save"
        assert gettext("Save") == "Lưu" and str(lazy_gettext("Save")) == "Lưu"
        session["locale"] = "en"
        refresh()
        assert gettext("Save") == "Save" and template.render() == "Save"
    assert gettext("Save") == "Save"


@pytest.mark.parametrize("source, shown", [
    ("{{ _('Save') }}", "Lưu"),
    ("{{ gettext('Save') }}{{ _('Save') }}", "LưuLưu"),
    ("{% trans %}Save{% endtrans %}", "Lưu"),
    ("{{ _('100%% sure') }}", "100% sure"),
    ("{{ _('Hello %(name)s', name='<b>') }}", "Hello &lt;b&gt;"),
    ("{{ _('Save') ~ '<i>' }}", "Lưu&lt;i&gt;"),
    ("{{ _('a <b>bold</b> word') }}", "a <b>bold</b> word"),
])
def test_a_templates_texts_are_translated_formatted_and_escaped_as_jinja_does(app, source, shown):
    """A template's texts without variables are kept translated per language
    (app.translation_lookup); they read exactly as Jinja's own `_()` gives them."""
    template = app.jinja_env.from_string(source)
    with app.test_request_context("/"):
        assert template.render() == shown
        assert template.render() == shown  # kept, the same
