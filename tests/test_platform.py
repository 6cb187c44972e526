"""The platform admin (SPEC §10): agencies and their first administrator, by page and by
command; a deactivated agency's people are shut out; an agency's administrator cannot reach
above their agency (platform roles, the shared role permissions, the installation's groups)."""
import re
from contextlib import contextmanager

import pytest

from app.organisation import roles
from tests.conftest import DEMO_PASSWORD, csrf_token, login, new_client

NEW_PASSWORD = "XaMoi@2026ab"


def _form_post(client, url, data):
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    return client.post(url, data={**data, "csrf_token": csrf_token(page.text)})


def _post(client, url, data=None):
    """A POST from a page's button: the token is the one of the agencies page."""
    page = client.get("/agencies/")
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(page.text)})


@contextmanager
def _cleanup(app, *codes):
    """Remove the agencies a test made (and their people), whatever happened."""
    try:
        yield
    finally:
        from app.extensions import db
        from app.organisation.models import Agency, QmsUser
        from app.tenancy import ALL, agency_scope

        with app.app_context(), agency_scope(ALL):
            for agency in db.session.query(Agency).filter(Agency.code.in_(codes)).all():
                for person in db.session.query(QmsUser).filter_by(agency_id=agency.id).all():
                    person.roles = []
                    db.session.delete(person)
                db.session.flush()
                db.session.delete(agency)
            db.session.commit()


def _agency(app, code):
    from app.extensions import db
    from app.organisation.models import Agency
    from app.tenancy import ALL, agency_scope

    with app.app_context(), agency_scope(ALL):
        agency = db.session.query(Agency).filter_by(code=code).one_or_none()
        if agency is not None:
            db.session.expunge(agency)
        return agency


def _user(app, username):
    from app.extensions import db
    from app.organisation.models import QmsUser
    from app.tenancy import ALL, agency_scope

    with app.app_context(), agency_scope(ALL):
        person = db.session.query(QmsUser).filter_by(username=username).one_or_none()
        return None if person is None else (person.agency_id, sorted(r.name for r in person.roles))


def _new_agency_form(code, username, **changes):
    return {
        "code": code, "agency_name": "ỦY BAN NHÂN DÂN XÃ CAM NGHĨA",
        "parent_body": "ỦY BAN NHÂN DÂN TỈNH KHÁNH HÒA", "place_name": "",
        "steering_committee": "BAN CHỈ ĐẠO ISO", "procedure_code": "QT.CTCL",
        "procedure_issue": "02", "procedure_date": "28/02/2022", "retention_years": "3",
        "recurrence_threshold": "3", "report_interval_days": "30", "max_upload_mb": "10",
        "admin_username": username, "admin_last_name": "Nguyễn Văn", "admin_first_name": "Nghĩa",
        "admin_email": f"{username}@camnghia.example.vn", "admin_password": NEW_PASSWORD,
        "admin_conf_password": NEW_PASSWORD, **changes,
    }


def _create(app, code, username):
    from app.organisation import agencies

    with app.app_context():
        agencies.create_agency(code, f"ỦY BAN NHÂN DÂN XÃ {code}", admin_username=username,
                               admin_password=NEW_PASSWORD, admin_email=f"{username}@x.example.vn",
                               admin_last_name="Trần Thị", admin_first_name="Mai")


# --- the page ---------------------------------------------------------------------------

def test_platform_admin_lists_agencies_with_their_people_in_one_query(client_as, count_queries):
    client = client_as(roles.PLATFORM_ADMIN)
    with count_queries() as counter:
        page = client.get("/agencies/")
    assert page.status_code == 200
    rows = {code: int(users) for code, users in re.findall(
        r'data-code="(\w+)">.*?class="agency-users">(\d+)<', page.text, re.S)}
    assert rows["CAMLAM"] == 9 and rows["CAMHIEP"] == 6
    assert "ỦY BAN NHÂN DÂN XÃ CAM HIỆP" in page.text
    grouped = [s for s in counter.statements if "GROUP BY" in s.upper() and "agency" in s]
    assert len(grouped) == 1
    per_row = [s for s in counter.statements if "count(" in s.lower() and "ab_user" in s and s not in grouped
               and "count(notification" not in s]  # the signed-in person's statement, with the bell's count
    assert not per_row, per_row


def test_platform_admin_creates_renames_deactivates_and_reactivates_an_agency(app, client_as):
    client = client_as(roles.PLATFORM_ADMIN)
    with _cleanup(app, "CAMNGHIA"):
        response = _form_post(client, "/agencies/add", _new_agency_form("camnghia", "xn.admin"))
        assert response.status_code == 302, response.text
        agency = _agency(app, "CAMNGHIA")
        assert agency.agency_name == "ỦY BAN NHÂN DÂN XÃ CAM NGHĨA" and agency.active
        assert agency.place_name == "Cam Nghĩa"  # read from the name when left empty
        assert _user(app, "xn.admin") == (agency.id, [roles.ADMIN])
        page = client.get("/agencies/")
        assert "CAMNGHIA" in page.text and "Đã tạo cơ quan CAMNGHIA" in page.text

        # Rename (edit the lines)
        response = _form_post(client, f"/agencies/edit/{agency.id}", {
            **{k: v for k, v in _new_agency_form("X", "x").items() if not k.startswith(("admin", "code"))},
            "agency_name": "ỦY BAN NHÂN DÂN PHƯỜNG CAM NGHĨA", "place_name": "Cam Nghĩa",
        })
        assert response.status_code == 302
        assert _agency(app, "CAMNGHIA").agency_name == "ỦY BAN NHÂN DÂN PHƯỜNG CAM NGHĨA"
        response = _form_post(client, f"/agencies/edit/{agency.id}", {
            "agency_name": "", "retention_years": "0"})
        assert response.status_code == 200
        assert "Nhập tên cơ quan" in response.text and "Nhập số nguyên từ 1 đến 100" in response.text
        assert _agency(app, "CAMNGHIA").agency_name == "ỦY BAN NHÂN DÂN PHƯỜNG CAM NGHĨA"
        assert client.get("/agencies/edit/999999").status_code == 404

        # Deactivate, reactivate
        assert _post(client, f"/agencies/deactivate/{agency.id}").status_code == 302
        assert not _agency(app, "CAMNGHIA").active
        assert "đã ngừng hoạt động" in client.get("/agencies/").text
        assert _post(client, f"/agencies/activate/{agency.id}").status_code == 302
        assert _agency(app, "CAMNGHIA").active


def test_a_refused_agency_leaves_nothing_behind(app, client_as):
    client = client_as(roles.PLATFORM_ADMIN)
    with _cleanup(app, "CAMNGHIA", "CAMLAM2"):
        cases = [
            ({"code": "CAMLAM"}, "Đã có cơ quan mã CAMLAM"),
            ({"code": "cam lâm"}, "chữ in hoa hoặc chữ số"),
            ({"admin_username": "admin"}, "Tên đăng nhập admin đã có người dùng"),
            ({"admin_email": "admin@camlam.example.vn"}, "đã được tài khoản khác dùng"),
            ({"admin_password": "abc", "admin_conf_password": "abc"}, "ít nhất hai chữ in hoa"),
            ({"admin_conf_password": "Khac@2026ab"}, "phải trùng khớp"),
            ({"agency_name": ""}, "Nhập tên cơ quan"),
        ]
        for changes, message in cases:
            data = {**_new_agency_form("CAMNGHIA", "xn.admin2"), **changes}
            response = _form_post(client, "/agencies/add", data)
            assert response.status_code == 200, changes
            assert message in response.text, (changes, message)
            assert 'value="xn.admin2"' in response.text or "admin_username" in changes
            assert _agency(app, "CAMNGHIA") is None
            assert _user(app, "xn.admin2") is None


def test_first_admin_signs_in_to_an_empty_agency_and_sees_only_its_people(app, client_as_user):
    with _cleanup(app, "CAMNGHIA"):
        _create(app, "CAMNGHIA", "xn.admin")
        client = new_client(app)
        response = login(client, "xn.admin", NEW_PASSWORD)
        assert response.status_code == 302 and "/login" not in response.headers["Location"]
        assert client.get("/").status_code == 200
        tickets = client.get("/tickets/list/")
        assert tickets.status_code == 200
        assert "canbo.ktht" not in tickets.text
        units = client.get("/unitmodelview/list/")
        assert units.status_code == 200 and "KTHT" not in units.text and "PVHCC" not in units.text
        people = client.get("/users/list/")
        assert people.status_code == 200 and "xn.admin" in people.text
        for other in ("canbo.ktht", "chutich", "xa.admin", "quantri", "so.khcn"):
            assert other not in people.text
        settings = client.get("/settings/list/")
        assert "XÃ CAMNGHIA" in settings.text and "CAM LÂM" not in settings.text

        from app.extensions import db
        from app.organisation.models import Unit
        from app.tenancy import agency_named
        from app.tickets.models import Ticket

        with app.app_context(), agency_named("CAMNGHIA"):
            assert db.session.query(Ticket).count() == 0
            assert db.session.query(Unit).count() == 0

    # A second agency's administrator does not see Cam Lâm's people either
    people = client_as_user("xa.admin").get("/users/list/")
    assert people.status_code == 200 and "xa.canbo" in people.text and "canbo.ktht" not in people.text


def test_platform_admin_sees_no_agency_records(client_as, app):
    client = client_as(roles.PLATFORM_ADMIN)
    for url in ("/tickets/list/", "/users/list/", "/nonconformities/list/", "/unitmodelview/list/",
                "/settings/list/", "/roles/list/", "/groups/list/", "/objectives/list/",
                "/reviews/list/", "/internal-audits/list/", "/nc-categories/list/", "/recurring/",
                "/retention/", "/objectives-summary/"):
        assert client.get(url).status_code in (403, 404), url
    home = client.get("/")
    assert home.status_code == 200
    assert 'href="/agencies/"' in home.text and "cơ quan đang hoạt động" in home.text
    assert "HUYỆN CAM LÂM" not in home.text  # no agency's lines on the platform's home
    for name in ("canbo.ktht", "xa.canbo", "Hồ sơ trả trễ hạn"):
        assert name not in home.text
    assert client.get("/users/userinfo/").status_code == 200


def test_no_agency_role_reaches_the_agencies_page(client_as, client_as_user):
    for role in roles.ALL_ROLES:
        if role == roles.PLATFORM_ADMIN:
            continue
        client = client_as(role)
        assert client.get("/agencies/").status_code == 403, role
        assert client.get("/agencies/add").status_code == 403, role
    assert client_as_user("xa.admin").get("/agencies/").status_code == 403


# --- deactivation --------------------------------------------------------------------------

def test_deactivated_agency_cannot_sign_in_and_open_sessions_stop(app):
    from app.organisation import agencies

    with _cleanup(app, "CAMTAN"):
        _create(app, "CAMTAN", "ct.admin")
        session = new_client(app)
        assert "/login" not in login(session, "ct.admin", NEW_PASSWORD).headers["Location"]
        assert session.get("/unitmodelview/list/").status_code == 200
        token = new_client(app).post("/api/v1/security/login", json={
            "username": "ct.admin", "password": NEW_PASSWORD, "provider": "db"}).json["access_token"]
        bearer = new_client(app)
        bearer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        assert bearer.get("/api/v1/tickets/").status_code == 200

        with app.app_context():
            agencies.set_active(agencies.agency_by_code("CAMTAN"), False)

        # the open session stops at its next request
        response = session.get("/unitmodelview/list/")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        assert session.get(response.headers["Location"]).text.count("Cơ quan của bạn đã ngừng hoạt động") == 1
        assert "ngừng hoạt động" not in session.get("/login/").text  # said once
        # the API token too
        assert bearer.get("/api/v1/tickets/").status_code in (401, 403, 422)
        # signing in again: refused, with the reason (the password is right)
        client = new_client(app)
        response = login(client, "ct.admin", NEW_PASSWORD)
        assert "/login" in response.headers["Location"]
        page = client.get(response.headers["Location"])
        assert "Cơ quan của bạn đã ngừng hoạt động" in page.text
        # a wrong password learns nothing about the agency
        client = new_client(app)
        login(client, "ct.admin", "Sai@2026abcd")
        page = client.get("/login/")
        assert "ngừng hoạt động" not in page.text
        # the API refuses too
        response = new_client(app).post("/api/v1/security/login", json={
            "username": "ct.admin", "password": NEW_PASSWORD, "provider": "db"})
        assert response.status_code == 401
        # records stay; reactivating lets them in again
        assert _user(app, "ct.admin") is not None
        with app.app_context():
            agencies.set_active(agencies.agency_by_code("CAMTAN"), True)
        client = new_client(app)
        assert "/login" not in login(client, "ct.admin", NEW_PASSWORD).headers["Location"]


# --- the command line --------------------------------------------------------------------

def test_agency_commands(app):
    runner = app.test_cli_runner()
    with _cleanup(app, "CAMPHUOC"):
        result = runner.invoke(args=[
            "qms", "agency", "create", "--code", "CAMPHUOC", "--name", "ỦY BAN NHÂN DÂN XÃ CAM PHƯỚC",
            "--admin", "cp.admin", "--email", "cp.admin@camphuoc.example.vn"],
            input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
        assert result.exit_code == 0, result.output
        assert "Đã tạo cơ quan CAMPHUOC" in result.output
        assert NEW_PASSWORD not in result.output  # the prompt hides it
        agency = _agency(app, "CAMPHUOC")
        assert agency.place_name == "Cam Phước" and agency.active
        assert _user(app, "cp.admin") == (agency.id, [roles.ADMIN])

        result = runner.invoke(args=["qms", "agency", "list"])
        assert result.exit_code == 0
        line = next(line for line in result.output.splitlines() if line.startswith("CAMPHUOC"))
        assert line.split()[1:3] == ["có", "1"]

        # refusals: Vietnamese, no stack trace, nothing made
        for args, message in [
            (["--code", "CAMPHUOC", "--admin", "cp.other", "--password", NEW_PASSWORD], "Đã có cơ quan mã CAMPHUOC"),
            (["--code", "CAMPHUOC2", "--admin", "cp.admin", "--password", NEW_PASSWORD], "đã có người dùng"),
            (["--code", "CAMPHUOC3", "--admin", "cp.third", "--password", "yeu"], "ít nhất hai chữ in hoa"),
        ]:
            result = runner.invoke(args=["qms", "agency", "create", "--name", "UBND xã Thử",
                                         "--email", f"{args[3]}@x.example.vn", *args])
            assert result.exit_code == 1, result.output
            assert message in result.output and "Traceback" not in result.output
            assert result.exception is None or isinstance(result.exception, SystemExit)
        assert _agency(app, "CAMPHUOC3") is None and _user(app, "cp.third") is None

        result = runner.invoke(args=["qms", "agency", "deactivate", "--code", "CAMPHUOC"])
        assert result.exit_code == 0 and "ngừng hoạt động" in result.output
        assert not _agency(app, "CAMPHUOC").active
        client = new_client(app)
        assert "/login" in login(client, "cp.admin", NEW_PASSWORD).headers["Location"]
        result = runner.invoke(args=["qms", "agency", "activate", "--code", "camphuoc"])
        assert result.exit_code == 0 and _agency(app, "CAMPHUOC").active
        result = runner.invoke(args=["qms", "agency", "deactivate", "--code", "KHONGCO"])
        assert result.exit_code == 1 and "Không có cơ quan mã KHONGCO" in result.output


# --- an agency's administrator stays inside the agency ---------------------------------------

def test_agency_admin_is_not_offered_platform_roles_and_a_crafted_post_is_refused(as_admin, app, db):
    from app.organisation.models import QmsUser

    page = as_admin.get("/users/add")
    assert page.status_code == 200
    sm = app.appbuilder.sm

    def offered(html):
        return {int(v) for v in re.findall(r'<option[^>]*value="(\d+)"', html)}

    platform_ids = {sm.find_role(role).id for role in roles.PLATFORM_ROLES}
    assert sm.find_role(roles.STAFF).id in offered(page.text)
    assert not offered(page.text) & platform_ids
    for role in roles.PLATFORM_ROLES:
        response = as_admin.post("/users/add", data={
            "first_name": "Leo", "last_name": "Quyền", "username": "leo.quyen", "active": "y",
            "email": "leo@camlam.example.vn", "roles": [str(sm.find_role(role).id)],
            "password": DEMO_PASSWORD, "conf_password": DEMO_PASSWORD,
            "csrf_token": csrf_token(page.text)})
        assert response.status_code == 200, role
        assert db.session.query(QmsUser).filter_by(username="leo.quyen").count() == 0
    # editing an existing person: the same refusal
    canbo = db.session.query(QmsUser).filter_by(username="canbo.ktht").one()
    edit = as_admin.get(f"/users/edit/{canbo.id}")
    assert not offered(edit.text) & platform_ids
    response = as_admin.post(f"/users/edit/{canbo.id}", data={
        "first_name": canbo.first_name, "last_name": canbo.last_name, "username": canbo.username,
        "active": "y", "email": canbo.email, "roles": [str(sm.find_role(roles.PLATFORM_ADMIN).id)],
        "csrf_token": csrf_token(edit.text)})
    db.session.expire_all()
    assert [r.name for r in db.session.get(QmsUser, canbo.id).roles] == [roles.STAFF], response.status_code


def test_roles_page_is_read_only_and_groups_are_nobodys(as_admin, app, db):
    sm = app.appbuilder.sm
    staff = sm.find_role(roles.STAFF)
    assert as_admin.get("/roles/list/").status_code == 200
    assert as_admin.get(f"/roles/show/{staff.id}").status_code == 200
    listing = as_admin.get("/roles/list/").text
    assert "/roles/add" not in listing and "/roles/edit/" not in listing and "/roles/delete/" not in listing
    assert as_admin.get("/roles/add").status_code == 404
    assert as_admin.get(f"/roles/edit/{staff.id}").status_code == 404
    before = len(staff.permissions)
    page = as_admin.get("/roles/list/")
    for url in ("/roles/add", f"/roles/edit/{staff.id}", f"/roles/delete/{staff.id}"):
        response = as_admin.post(url, data={"name": "Staff", "permissions": [],
                                            "csrf_token": csrf_token(page.text)})
        assert response.status_code in (404, 405), url
    response = as_admin.post("/roles/action_post", data={
        "action": "copyrole", "rowid": [str(staff.id)], "csrf_token": csrf_token(page.text)})
    assert response.status_code in (403, 404, 405)
    db.session.expire_all()
    assert len(sm.find_role(roles.STAFF).permissions) == before
    assert sm.find_role("Staff copy") is None
    # groups: installation-wide, so no agency's administrator has them
    assert as_admin.get("/groups/list/").status_code == 403
    assert as_admin.get("/groups/add").status_code == 404
    assert "/groups/list/" not in as_admin.get("/").text


def test_admin_holds_every_permission_but_the_platforms(app, db):
    sm = app.appbuilder.sm
    admin = {(pv.permission.name, pv.view_menu.name) for pv in sm.find_role(roles.ADMIN).permissions}
    assert not admin & roles.PLATFORM_ONLY
    assert not admin & roles.INSTALLATION_WIDE
    assert roles.AGENCY_ADMINISTRATION <= roles.PLATFORM_WORK
    every = {(pv.permission.name, pv.view_menu.name) for pv in db.session.query(sm.permissionview_model)}
    assert admin == every - roles.PLATFORM_ONLY - roles.INSTALLATION_WIDE
    assert not any(view == "QmsRoleModelView" and perm not in ("can_list", "can_show") for perm, view in every)


@pytest.mark.parametrize("name, place", [
    ("ỦY BAN NHÂN DÂN XÃ CAM HIỆP", "Cam Hiệp"),
    ("UBND phường Cam Nghĩa", "Cam Nghĩa"),
    ("Sở Tư pháp", "Sở Tư pháp"),
])
def test_place_read_from_the_name(name, place):
    from app.organisation.agencies import default_place

    assert default_place(name) == place


def test_role_page_lists_only_the_agencys_own_people(client_as_user, app, db):
    sm = app.appbuilder.sm
    client = client_as_user("xa.admin")
    for role, own, other in [(roles.UNIT_HEAD, "xa.truongphong", "truongphong.ktht"),
                             (roles.ADMIN, "xa.admin", "quantri")]:
        page = client.get(f"/roles/show/{sm.find_role(role).id}")
        assert page.status_code == 200
        assert own in page.text and other not in page.text, role
    chart = client.get("/userstatschartview/chart/")
    assert chart.status_code in (200, 403, 404)
    assert "truongphong.ktht" not in chart.text
