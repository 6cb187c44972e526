"""The landing page: each user's work, and the steering figures equal the lists they link to."""
import re

from app.dashboard import services


def _list_count(client, link):
    page = client.get(link).text
    if link.startswith("/tickets/list/"):
        return int(re.search(r'class="ticket-count">(\d+)<', page).group(1))
    if link.startswith("/recurring/"):
        return page.count('class="recurring-row"')
    if link.startswith("/retention/"):
        return page.count('class="retention-row"')
    raise AssertionError(link)


def test_every_steering_figure_equals_its_list(client_as_user, user):
    client = client_as_user("truongban.iso")
    figures = services.steering(user("truongban.iso"))
    checked = 0
    singles = [figures[k] for k in ("overdue", "missing_report", "recurring", "effective", "ineffective")]
    pairs = [f for _, f in figures["by_state"] + figures["by_unit"]]
    months = [m[k] for m in figures["months"] for k in ("opened", "closed")]
    for figure in singles + pairs + months:
        assert _list_count(client, figure["link"]) == figure["value"], figure
        checked += 1
    assert checked > 30
    # the retention list is the ISO secretary's (and Admin's): the leader gets no figure for it
    assert figures["retention"] is None
    retention = services.steering(user("thuky.iso"))["retention"]
    assert _list_count(client_as_user("thuky.iso"), retention["link"]) == retention["value"]
    assert figures["overdue"]["value"] >= 1 and figures["missing_report"]["value"] >= 1  # demo data
    assert sum(m["opened"]["value"] for m in figures["months"]) >= 20


def test_dashboard_page(client_as_user):
    page = client_as_user("truongban.iso").get("/").text
    assert "Việc của tôi" in page and "<svg" in page and 'class="figure-link"' in page
    svg = page.split('<svg class="chart-months"', 1)[1].split("</svg>", 1)[0]
    assert "http" not in svg.replace("http://www.w3.org", "")  # drawn here, nothing fetched
    staff = client_as_user("canbo.ktht").get("/").text
    assert "Việc của tôi" in staff and 'class="figure-link"' not in staff


def test_my_work_names_the_action_for_each_user(user, make_ticket, db):
    waiting = make_ticket(state="unit_review", description="Chờ lãnh đạo đơn vị xem xét — dashboard")
    items = services.my_work(user("truongphong.ktht"))
    mine = [i for i in items if i.link == f"/tickets/show/{waiting.id}"]
    assert mine and "Chuyển Thư ký ISO" in mine[0].action
    assert mine[0].title == f"Phiếu {waiting.display_number}: Chờ lãnh đạo đơn vị xem xét — dashboard"
    assert not [i for i in services.my_work(user("truongphong.tnmt")) if i.link == f"/tickets/show/{waiting.id}"]
    assert not [i for i in services.my_work(user("admin")) if i.kind == "ticket"]  # may, but is not asked to
    verifying = make_ticket(state="verification")
    assert [i for i in services.my_work(user("chutich")) if i.link == f"/tickets/show/{verifying.id}"]
    drafts = [i for i in services.my_work(user("canbo.tnmt")) if i.kind == "plan"]
    assert drafts and all("Trình phê duyệt" in i.action for i in drafts)
    dues = [i.due for i in items if i.due]
    assert dues == sorted(dues)  # most urgent first


def test_my_work_is_named_in_the_language_of_the_request(app, user, make_ticket):
    """Each item is named in the request's language."""
    from flask_babel import force_locale

    waiting = make_ticket(state="unit_review", description="Ngôn ngữ của việc")
    for locale, title, action in (("vi", "Phiếu", "Chuyển Thư ký ISO"), ("en", "Ticket", "Forward to the ISO secretary")):
        with app.test_request_context("/"), force_locale(locale):
            [item] = [i for i in services.my_work(user("truongphong.ktht")) if i.link == f"/tickets/show/{waiting.id}"]
        assert item.title == f"{title} {waiting.display_number}: Ngôn ngữ của việc" and action in item.action
