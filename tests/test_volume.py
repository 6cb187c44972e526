"""Performance at a province's volume (issue 15): every dashboard and list runs a fixed, small
number of queries whatever the number of tickets and NCs, and the home page stays small."""
import datetime
import os
import re

import pytest
import sqlalchemy as sa

from tests.conftest import day, demo_agency

MARK = "VOLUME-I15 "


def _add_volume(app, tickets: int, ncs: int, seed: int, creator: str | None) -> None:
    """Bulk rows (Core inserts, no ORM objects): tickets in every state over several years and
    units, NCs in runs per unit and category, some linked to corrective tickets closed in between."""
    from app.extensions import db
    from app.organisation.models import QmsUser, Unit
    from app.tickets import workflow
    from app.tickets.models import NcCategory, Nonconformity, Ticket

    with demo_agency(app) as _:
        from app.tenancy import current_agency_id

        agency_id = current_agency_id()
        units = db.session.scalars(sa.select(Unit.id).order_by(Unit.id)).all()
        categories = db.session.scalars(sa.select(NcCategory.id).order_by(NcCategory.id)).all()
        people = db.session.scalars(sa.select(QmsUser.id).where(QmsUser.agency_id == agency_id)).all()
        author = db.session.scalar(sa.select(QmsUser.id).where(QmsUser.username == creator)) if creator else None
        states = list(workflow.STATES)
        rows = []
        for i in range(tickets):
            n = seed + i
            state = states[n % len(states)]
            requested = day() - datetime.timedelta(days=(n * 7) % 1500)
            final = state in workflow.FINAL_STATES
            rows.append({
                "agency_id": agency_id, "kind": "corrective" if n % 3 else "preventive",
                "source": "internal_audit", "state": state, "version": 1,
                "requesting_unit_id": units[n % len(units)], "implementing_unit_id": units[(n + 1) % len(units)],
                "description": f"{MARK}phiếu {n}", "requested_on": requested,
                "created_by_id": author or people[n % len(people)], "requester_id": author or people[n % len(people)],
                "assignee_id": people[(n + 1) % len(people)], "implementer_id": people[(n + 2) % len(people)],
                "due_date": day() + datetime.timedelta(days=(n % 60) - 30),
                "approved_on": requested if state == "implementation" else None,
                "closed_on": requested + datetime.timedelta(days=30) if final else None,
                "created_on": datetime.datetime.combine(requested, datetime.time(8)),
                "updated_at": datetime.datetime.now(),
            })
        db.session.execute(sa.insert(Ticket), rows)
        closed = db.session.execute(sa.select(Ticket.id, Ticket.requesting_unit_id).where(
            Ticket.description.startswith(MARK), Ticket.state == "closed", Ticket.kind == "corrective")).all()
        nc_rows = []
        for i in range(ncs):
            n = seed + i
            unit_id, category_id = units[n % len(units)], categories[(n // len(units)) % len(categories)]
            link = next((t for t, u in closed if u == unit_id), None) if n % 11 == 0 else None
            nc_rows.append({
                "agency_id": agency_id, "unit_id": unit_id, "category_id": category_id,
                "detected_on": day() - datetime.timedelta(days=(n * 3) % 1400),
                "description": f"{MARK}KPH {n}", "source": ("feedback", "internal_audit", "process_monitoring")[n % 3],
                "ticket_id": link, "correction_done": False, "correction_checked": False,
                "beyond_authority": False, "created_on": datetime.datetime.now(),
                "updated_at": datetime.datetime.now(),
            })
        if nc_rows:
            db.session.execute(sa.insert(Nonconformity), nc_rows)
        db.session.commit()


@pytest.fixture
def volume(app):
    """volume(tickets, ncs, creator=None): adds that many more rows (the tickets opened by
    `creator`, a username, when given); all are removed after the test."""
    added = []

    def add(tickets, ncs, creator=None):
        _add_volume(app, tickets, ncs, seed=sum(added), creator=creator)
        added.append(tickets + ncs)

    yield add
    from app.extensions import db
    from app.tickets.models import Nonconformity, Ticket

    with demo_agency(app):
        db.session.execute(sa.delete(Nonconformity).where(Nonconformity.description.startswith(MARK)))
        db.session.execute(sa.delete(Ticket).where(Ticket.description.startswith(MARK)))
        db.session.commit()


def _measure(count_queries, fetch):
    fetch()  # warm: permissions and the like are cached per process
    with count_queries() as counter:
        response = fetch()
    assert response.status_code == 200
    return counter, response


PAGES = [("truongban.iso", "/"), ("thuky.iso", "/"), ("canbo.ktht", "/"), ("truongphong.ktht", "/"),
         ("truongban.iso", "/recurring/")]


def _short(counter) -> str:
    return "\n".join(s.split("\n")[0][:150] for s in counter.statements)


@pytest.mark.parametrize("username,path", PAGES)
def test_pages_run_the_same_few_queries_at_any_volume(client_as_user, count_queries, volume, username, path):
    client = client_as_user(username)
    volume(400, 400, creator=username)  # already more work than the home page shows
    small, page = _measure(count_queries, lambda: client.get(path))
    small_size = len(page.data)
    volume(1200, 1200, creator=username)
    large, page = _measure(count_queries, lambda: client.get(path))
    print(username, path, small.count, large.count, small_size, len(page.data))
    # bounded at both volumes; a panel's eager load runs only when the panel has rows, so which
    # of the two is one statement more depends on what earlier tests left
    assert small.count <= 12 and large.count <= 12, _short(large)
    if path == "/recurring/":  # a row per series (unit × NC content); the latest dates of each
        from app.tickets.views import RECURRING_DATES

        rows = page.text.split('class="recurring-row"')[1:]
        assert rows and max(row.count("/nonconformities/show/") for row in rows) == RECURRING_DATES
        assert "lần trước đó" in page.text
    else:  # bounded panels, not one row per record: three times the records, about the same page
        assert len(page.data) <= small_size * 1.1, (small_size, len(page.data))


def test_home_page_shows_the_most_urgent_work_and_links_to_the_rest(client_as_user, volume, count_queries):
    from app.dashboard import services

    volume(300, 0)
    page = client_as_user("truongban.iso").get("/").text
    table = page.split('class="table table-condensed my-work qms-cards"', 1)[1].split("</table>", 1)[0]
    assert table.count('class="work-item') == services.HOME_ROWS
    assert 'href="/my-work/"' in page
    client = client_as_user("truongban.iso")
    counter, full = _measure(count_queries, lambda: client.get("/my-work/?page=1"))
    assert counter.count <= 12, _short(counter)
    full = full.text
    total = int(re.search(r'class="badge my-work-count">(\d+)<', full).group(1))
    assert total > services.PAGE_ROWS and full.count('class="work-item') == services.PAGE_ROWS
    last = client.get(f"/my-work/?page={-(-total // services.PAGE_ROWS)}").text
    assert last.count('class="work-item') == total - (total - 1) // services.PAGE_ROWS * services.PAGE_ROWS
    assert "?page=2" in full and "Trang sau" in full and "Trang trước" in last


def test_review_inputs_run_the_same_few_queries_at_any_volume(app, api, count_queries, volume, user, db):
    from app.reviews import services

    client, secretary = api("thuky.iso"), user("thuky.iso")
    secretary.roles, secretary.groups  # loaded before counting: the caller has them
    start, end = datetime.date(day().year - 3, 1, 1), day()
    url = f"/api/v1/reviews/inputs?from={start}&to={end}"
    volume(30, 30)
    small, first = _measure(count_queries, lambda: client.get(url))
    with count_queries() as service_small:
        services.gather_inputs(start, end, secretary)
    volume(300, 300)
    large, second = _measure(count_queries, lambda: client.get(url))
    with count_queries() as service_large:
        services.gather_inputs(start, end, secretary)
    print("inputs", small.count, large.count, service_small.count, service_large.count)
    assert first.json["result"] != second.json["result"]  # the figures did count the new records
    assert service_large.count == service_small.count <= 4, _short(service_large)
    assert large.count == small.count <= 10, _short(large)


def _runs_as_before(threshold):
    """The recurrence rule as it was computed before issue 15 (a Python walk over every NC),
    kept here as the reference the grouped query must agree with."""
    from app.extensions import db
    from app.tickets.models import Nonconformity, Ticket

    ncs = db.session.scalars(sa.select(Nonconformity).order_by(
        Nonconformity.unit_id, Nonconformity.category_id, Nonconformity.detected_on, Nonconformity.id)).all()
    effective: dict = {}
    for unit_id, closed_on, category_id in db.session.execute(
            sa.select(Ticket.requesting_unit_id, Ticket.closed_on, Nonconformity.category_id)
            .join(Nonconformity, Nonconformity.ticket_id == Ticket.id)
            .where(Ticket.state == "closed", Ticket.kind == "corrective")):
        effective.setdefault((unit_id, category_id), []).append(closed_on)
    runs: dict = {}
    for nc in ncs:
        key = (nc.unit_id, nc.category_id)
        run = runs.setdefault(key, [])
        if run and any(run[-1].detected_on <= d <= nc.detected_on for d in effective.get(key, [])):
            run.clear()
        run.append(nc)
    return {key: [nc.id for nc in run] for key, run in runs.items()
            if run and not any(d >= run[-1].detected_on for d in effective.get(key, []))
            and any(nc.ticket_id is None for nc in run) and len(run) > threshold}


def test_recurring_series_in_sql_agree_with_the_rule_walked_nc_by_nc(app, volume):
    from app.tickets import services

    volume(300, 600)
    with demo_agency(app):
        for threshold in (1, 3, 8):
            expected = _runs_as_before(threshold)
            found = {(s["unit"].id, s["category"].id): [nc.id for nc in s["nonconformities"]]
                     for s in services.recurring_series(threshold=threshold)}
            assert found == expected and found, threshold
            assert services.count_recurring(threshold=threshold) == len(expected)


def test_recurring_page_shows_a_page_of_series_with_their_latest_dates(app, volume, client_as_user, monkeypatch):
    """KPH lặp lại weighs what it shows: a page of series, each with its size and only its
    latest NCs (loaded as such, not every NC of every run), the rest on the next pages."""
    from app.tickets import services, views

    volume(30, 600)
    with demo_agency(app):
        every = services.recurring_series(threshold=3)
        latest = services.recurring_series(threshold=3, last=4)
        second = services.recurring_series(threshold=3, last=4, page=2, per_page=2)
    assert len(every) > 4
    for whole, cut in zip(every, latest):
        assert cut["size"] == len(whole["nonconformities"]) > 3
        assert [nc.id for nc in cut["nonconformities"]] == [nc.id for nc in whole["nonconformities"][-4:]]
    assert [(s["unit"].id, s["category"].id) for s in second] == \
        [(s["unit"].id, s["category"].id) for s in every[2:4]]

    monkeypatch.setattr(views, "RECURRING_ROWS", 2)
    client = client_as_user("truongban.iso")
    with demo_agency(app):
        total = services.count_recurring()
    first = client.get("/recurring/").text
    assert first.count('class="recurring-row"') == 2 and "Trang 1 / " in first and "?page=2" in first
    last = client.get(f"/recurring/?page={-(-total // 2)}").text
    assert 1 <= last.count('class="recurring-row"') <= 2 and "Trang sau" not in last
    assert client.get("/recurring/?page=9999").status_code == 200


def test_recurring_page_links_each_latest_nc_by_its_date_reading_only_what_it_shows(
        app, volume, client_as_user, count_queries):
    """The page shows each series' latest NCs as dated links: it reads their id and day, not
    their records (250 NCs a page, a third of the page's time as records)."""
    from app.tickets import services, views

    volume(30, 600)
    with demo_agency(app):
        series = services.recurring_series(threshold=services.current_agency().recurrence_threshold,
                                           last=views.RECURRING_DATES, per_page=views.RECURRING_ROWS)
    client = client_as_user("truongban.iso")
    client.get("/recurring/")
    with count_queries() as counter:
        page = client.get("/recurring/").text
    assert series
    for s in series:
        for nc in s["nonconformities"]:
            assert f'<a href="/nonconformities/show/{nc.id}">{nc.detected_on:%d/%m/%Y}</a>' in page
    read = [" ".join(s.split()) for s in counter.statements if "row_number()" in s]
    assert len(read) == 1 and "nonconformity.description" not in read[0], read


def test_static_file_addresses_kept_per_mount_point_are_flasks_own(app):
    """A template's static file addresses, and those of pages that take no value, are built
    once per address and mount point (app.ui.keep_static_urls), the layout's files once per
    mount point (app.ui.layout_files): the same as Flask's, under a prefix or not."""
    from flask import url_for

    from app.ui import LAYOUT_FILES, layout_files

    template = app.jinja_env.from_string(
        "{{ url_for('static', filename='qms/forms.js') }} {{ url_for('appbuilder.static', filename='css/ab.css') }} "
        "{{ url_for('static', filename='qms/forms.js', _external=True) }} {{ url_for('TicketView.list') }}")
    for prefix in ("", "/qms", ""):
        with app.test_request_context("/", base_url=f"http://localhost{prefix}/"):
            expected = " ".join([url_for("static", filename="qms/forms.js"),
                                 url_for("appbuilder.static", filename="css/ab.css"),
                                 url_for("static", filename="qms/forms.js", _external=True),
                                 url_for("TicketView.list")])
            assert template.render() == expected
            assert template.render().startswith(prefix + "/static/qms/forms.js ")
            assert layout_files() == {kind: [url_for(*file[:1], filename=file[1]) for file in files if file != "THEME"]
                                      for kind, files in LAYOUT_FILES.items()}  # no theme set (APP_THEME)
            assert layout_files()["tail_scripts"][-1] == prefix + "/static/qms/phone.js"


def test_the_layout_links_fab_s_files_in_fab_s_order():
    """appbuilder/init.html stands for FAB's: LAYOUT_FILES lists the style sheets and scripts
    of the installed FAB's init.html, in its order (a FAB upgrade that changes them fails
    here), the theme's place among them, then ours."""
    import flask_appbuilder

    from app.ui import LAYOUT_FILES

    fab = open(os.path.join(os.path.dirname(flask_appbuilder.__file__), "templates/appbuilder/init.html")).read()
    named = re.findall(r"url_for\('appbuilder\.static',\s*filename='([^']*)'\s*(\+)?", fab)
    theirs = ["THEME" if plus else name for name, plus in named]
    ours = [file if file == "THEME" else file[1] for kind in ("stylesheets", "head_scripts", "tail_scripts")
            for file in LAYOUT_FILES[kind] if file == "THEME" or file[0] == "appbuilder.static"]
    assert ours == theirs and len(theirs) == 19


def test_a_theme_s_style_sheet_comes_where_fab_puts_it(app, monkeypatch):
    from flask import url_for

    from app.ui import layout_files

    monkeypatch.setitem(app.config, "APP_THEME", "cerulean.css")
    monkeypatch.setattr("app.ui._LAYOUT_ADDRESSES", {})  # those kept without a theme stay as they were
    with app.test_request_context("/"):
        sheets = layout_files()["stylesheets"]
        assert sheets[5:8] == [url_for("appbuilder.static", filename=f"css/{name}") for name in (
            "fontawesome/v4-shims.min.css", "themes/cerulean.css",
            "bootstrap-datepicker/bootstrap-datepicker3.min.css")]


def _menu(html: str) -> str:
    return re.search(r'<ul class="nav navbar-nav">(.*?)</ul>\s*<ul class="nav navbar-nav navbar-right">', html, re.S).group(1)


def test_the_menu_kept_per_permissions_and_language_is_each_users_own(app, as_admin, as_staff, client_as_user):
    """The menu is rendered once per set of permissions and language (app.ui.navbar_menu):
    each role still sees its own, in its language, whatever was rendered before it."""
    from app.ui import _MENUS, _NAVBARS

    _MENUS.clear()
    _NAVBARS.clear()  # each navbar kept holds its menu
    admin, staff = _menu(as_admin.get("/").text), _menu(as_staff.get("/").text)
    inspector = _menu(client_as_user("so.khcn").get("/compliance/").text)
    assert "/users/list/" in admin and "/users/list/" not in staff
    assert "/compliance/" in inspector and "/compliance/" not in staff and "/tickets/list/" in staff
    assert _menu(as_staff.get("/tickets/list/").text) == staff  # the same menu, from the kept one
    as_admin.get("/lang/en")
    english = _menu(as_admin.get("/").text)
    as_admin.get("/lang/vi")
    assert english != admin and "Security" in english and "Security" not in admin
    assert _menu(as_admin.get("/").text) == admin
    assert len(_MENUS) == 4


def test_the_navbar_kept_per_person_count_and_language_is_each_persons_own(db, client_as_user, user):
    """The navbar is rendered once per person, name, unread count, permissions and language
    (app.ui.navbar): each person sees their own name and count, a new notification or a new
    name shows at once, and the language changes its texts."""
    from app.reminders.models import Notification
    from app.ui import _NAVBARS

    def navbar(client, address="/tickets/list/"):
        return re.search(r'<header class="top" role="header">(.*?)</header>', client.get(address).text, re.S).group(1)

    def read_all():
        db.session.execute(sa.update(Notification).where(Notification.user_id == leader.id,
                                                         Notification.read_at.is_(None)).values(read_at=sa.func.now()))
        db.session.commit()

    leader, staff = user("truongban.iso"), user("canbo.ktht")
    read_all()
    _NAVBARS.clear()
    as_leader, as_staff = client_as_user("truongban.iso"), client_as_user("canbo.ktht")
    first = navbar(as_leader)
    assert leader.get_full_name() in first and "notification-count" not in first and "Đăng xuất" in first
    assert navbar(as_leader, "/nonconformities/list/") == first  # the kept one, on another page
    theirs = navbar(as_staff)
    assert staff.get_full_name() in theirs and leader.get_full_name() not in theirs
    db.session.add(Notification(user_id=leader.id, subject="Thanh điều hướng", body="Thử"))
    db.session.commit()
    assert '<span class="badge notification-count">1</span>' in navbar(as_leader)
    family = leader.last_name
    leader.last_name = "Họ Mới Đổi"
    db.session.commit()
    try:
        assert "Họ Mới Đổi" in navbar(as_leader)
    finally:
        leader.last_name = family
        db.session.commit()
    as_leader.get("/lang/en")
    english = navbar(as_leader)
    as_leader.get("/lang/vi")
    assert "Logout" in english and "Đăng xuất" not in english
    assert len(_NAVBARS) == 5
    read_all()
