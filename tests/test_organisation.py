"""Admin work on settings, units and users; role permissions; security settings."""
import re

import pytest

from app.organisation import roles
from tests.conftest import ROLE_USERS, csrf_token, login, new_client


def _form_post(client, url, data):
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    return client.post(url, data={**data, "csrf_token": csrf_token(page.text)})


def test_admin_edits_agency_settings(as_admin, db):
    from app.organisation.models import Agency

    settings = db.session.query(Agency).one()
    data = {c: getattr(settings, c) for c in (
        "agency_name", "parent_body", "place_name", "steering_committee", "procedure_code",
        "procedure_issue", "procedure_date", "retention_years", "recurrence_threshold",
        "report_interval_days", "max_upload_mb",
    )}
    response = _form_post(as_admin, f"/settings/edit/{settings.id}", {**data, "recurrence_threshold": 4})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.query(Agency).one().recurrence_threshold == 4

    # A bad number is refused in Vietnamese and nothing is saved; typed text is kept.
    response = _form_post(
        as_admin, f"/settings/edit/{settings.id}",
        {**data, "place_name": "Cam Đức", "retention_years": 0},
    )
    assert response.status_code == 200
    assert "Nhập số nguyên từ 1 đến 100" in response.text
    assert 'value="Cam Đức"' in response.text
    db.session.expire_all()
    saved = db.session.query(Agency).one()
    assert saved.place_name == "Cam Lâm" and saved.retention_years == 3

    _form_post(as_admin, f"/settings/edit/{settings.id}", data)  # restore


def test_settings_cannot_be_added_or_deleted(as_admin):
    assert as_admin.get("/settings/add").status_code in (403, 404)
    assert as_admin.get("/settings/delete/1").status_code in (403, 404, 405)


def test_admin_manages_units(as_admin, db):
    from app.organisation.models import QmsUser, Unit

    head = db.session.query(QmsUser).filter_by(username="truongphong.ktht").one()
    response = _form_post(as_admin, "/unitmodelview/add", {
        "code": "NV", "name": "Phòng Nội vụ", "head": str(head.id),
        "in_qms_scope": "y", "active": "y",
    })
    assert response.status_code == 302
    unit = db.session.query(Unit).filter_by(code="NV").one()
    assert unit.name == "Phòng Nội vụ" and unit.head_id == head.id and unit.in_qms_scope

    # Duplicate code: refused with a Vietnamese message, no second row.
    response = _form_post(as_admin, "/unitmodelview/add", {"code": "NV", "name": "Phòng khác"})
    assert response.status_code == 200
    assert "Đã tồn tại" in response.text
    assert db.session.query(Unit).filter_by(code="NV").count() == 1
    assert db.session.query(Unit).filter_by(name="Phòng khác").count() == 0

    db.session.delete(unit)
    db.session.commit()


def test_admin_creates_user_with_unit_position_and_several_roles(as_admin, db, app):
    from app.organisation.models import QmsUser, Unit

    sm = app.appbuilder.sm
    tnmt = db.session.query(Unit).filter_by(code="TNMT").one()
    role_ids = [str(sm.find_role(r).id) for r in (roles.STAFF, roles.AUDITOR)]
    response = _form_post(as_admin, "/users/add", {
        "first_name": "Bình", "last_name": "Lê Thị", "username": "binh.tnmt", "active": "y",
        "email": "binh@camlam.example.vn", "unit": str(tnmt.id), "position": "Chuyên viên",
        "roles": role_ids, "password": "CamLam@2026x", "conf_password": "CamLam@2026x",
    })
    assert response.status_code == 302, response.text
    user = db.session.query(QmsUser).filter_by(username="binh.tnmt").one()
    assert user.unit_id == tnmt.id and user.position == "Chuyên viên"
    assert sorted(r.name for r in user.roles) == sorted([roles.STAFF, roles.AUDITOR])

    show = as_admin.get(f"/users/show/{user.id}")
    assert "Phòng Tài nguyên và Môi trường" in show.text
    assert "Chuyên gia đánh giá nội bộ" in show.text  # role shown by its Vietnamese label

    client = new_client(app)
    assert "/login" not in login(client, "binh.tnmt", "CamLam@2026x").headers["Location"]
    db.session.delete(user)
    db.session.commit()


def test_weak_password_is_refused_in_vietnamese(as_admin, db):
    from app.organisation.models import QmsUser

    response = _form_post(as_admin, "/users/add", {
        "first_name": "A", "last_name": "B", "username": "weak.user", "active": "y",
        "email": "weak@camlam.example.vn", "roles": ["1"], "position": "Chuyên viên",
        "password": "abc", "conf_password": "abc",
    })
    assert response.status_code == 200
    assert "ít nhất" in response.text
    assert 'value="weak.user"' in response.text
    assert db.session.query(QmsUser).filter_by(username="weak.user").count() == 0


# Which role may open which screen: (url, roles that get 200; all others get 403).
ALL = set(roles.ALL_ROLES)
MATRIX = [
    ("/", ALL),
    ("/users/userinfo/", ALL),
    ("/resetmypassword/form", ALL),
    ("/unitmodelview/list/", ALL - {roles.PLATFORM_ADMIN}),  # the platform admin sees no agency
    ("/unitmodelview/add", {roles.ADMIN}),
    ("/settings/list/", {roles.ADMIN}),
    ("/users/list/", {roles.ADMIN}),
    ("/users/add", {roles.ADMIN}),
    ("/roles/list/", {roles.ADMIN}),  # read-only: roles are defined in code
    ("/groups/list/", set()),  # installation-wide: nobody
    ("/agencies/", {roles.PLATFORM_ADMIN}),
    ("/agencies/add", {roles.PLATFORM_ADMIN}),
]

# An agency's records: the province inspector opens them once an agency is chosen on the board.
INSPECTOR_CHOOSES_FIRST = {"/unitmodelview/list/"}


@pytest.mark.parametrize("role", roles.ALL_ROLES)
def test_role_permission_matrix(client_as, role):
    client = client_as(role)
    for url, allowed in MATRIX:
        expected = 200 if role in allowed else 403
        if expected == 200 and role == roles.PROVINCE_INSPECTOR and url in INSPECTOR_CHOOSES_FIRST:
            expected = 302  # to the check board: choose an agency first (test_compliance)
        assert client.get(url).status_code == expected, (role, url)


def test_forbidden_page_is_a_vietnamese_403(as_staff):
    response = as_staff.get("/users/list/")
    assert response.status_code == 403
    assert "Bạn không có quyền" in response.text


def test_anonymous_is_sent_to_login(anonymous):
    response = anonymous.get("/users/list/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_sync_roles_is_idempotent(app, db):
    from app.organisation.services import sync_roles

    sm = app.appbuilder.sm

    def snapshot():
        return {
            role.name: sorted((pv.permission.name, pv.view_menu.name) for pv in role.permissions)
            for role in sm.get_all_roles()
        }

    first_counts = sync_roles()
    before = snapshot()
    staff = sm.find_role(roles.STAFF)
    staff.permissions = staff.permissions + [sm.find_permission_view_menu("can_list", "QmsUserDBModelView")]
    db.session.commit()
    assert sync_roles() == first_counts
    assert snapshot() == before
    for role, perms in roles.ROLE_PERMISSIONS.items():
        assert set(before[role]) == perms
    everything = {(pv.permission.name, pv.view_menu.name) for pv in db.session.query(sm.permissionview_model)}
    # all but the platform's own and the installation-wide groups
    assert set(before[roles.ADMIN]) == everything - roles.PLATFORM_ONLY - roles.INSTALLATION_WIDE


def test_form_post_without_csrf_token_is_refused(as_admin, db):
    from app.organisation.models import Unit

    response = as_admin.post("/unitmodelview/add", data={"code": "X1", "name": "Không token"})
    assert response.status_code == 400
    assert "mã bảo mật" in response.text
    assert db.session.query(Unit).filter_by(code="X1").count() == 0


def test_login_is_rate_limited(app):
    client = new_client(app)
    statuses = [login(client, "admin", "wrong-password").status_code for _ in range(12)]
    assert statuses[0] == 302 and 429 in statuses
    page = login(client, "admin")
    assert page.status_code == 429 and "Quá nhiều lần thử" in page.text


def test_session_cookie_is_httponly_and_samesite(app):
    client = new_client(app)
    response = login(client, ROLE_USERS["Staff"])
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_user_list_uses_a_fixed_number_of_queries(as_admin, app, db, count_queries):
    from app.organisation.models import QmsUser, Unit

    with count_queries() as few:
        assert as_admin.get("/users/list/").status_code == 200
    sm = app.appbuilder.sm
    unit = db.session.query(Unit).filter_by(code="TP").one()
    extra = []
    for i in range(15):
        user = sm.add_user(f"tmp.user{i}", "Tạm", str(i), f"tmp{i}@x.vn", [sm.find_role(roles.STAFF)], "CamLam@2026")
        user.unit = unit
        extra.append(user)
    db.session.commit()
    with count_queries() as many:
        assert as_admin.get("/users/list/").status_code == 200
    assert many.count == few.count <= 11, "\n".join(many.statements)  # incl. the unread-reminder count
    with count_queries() as units:
        assert as_admin.get("/unitmodelview/list/").status_code == 200
    assert units.count <= few.count
    for user in extra:
        db.session.delete(db.session.get(QmsUser, user.id))
    db.session.commit()


def test_procedure_date_must_be_a_date(as_admin, db):
    """It is printed on every form and the home page: text that is not dd/mm/yyyy is refused."""
    from app.organisation import agencies
    from app.organisation.models import Agency

    settings = db.session.query(Agency).one()
    data = {c: getattr(settings, c) for c in agencies.LINES}
    for bad in ("abc", "31/02/2025", "2025-13-45"):
        response = _form_post(as_admin, f"/settings/edit/{settings.id}", {**data, "procedure_date": bad})
        assert response.status_code == 200 and "Nhập ngày dạng dd/mm/yyyy" in response.text, bad
    db.session.expire_all()
    assert db.session.query(Agency).one().procedure_date == "28/02/2022"
    assert set(agencies.line_errors({**data, "procedure_date": "abc"})) == {"procedure_date"}


def test_roles_page_shows_the_agencys_roles_in_vietnamese(as_admin):
    page = as_admin.get("/roles/list/").text
    for label in ("Quản trị hệ thống", "Thư ký ISO", "Lãnh đạo Ban ISO", "Lãnh đạo / Trưởng đơn vị"):
        assert label in page
    for hidden in ("PlatformAdmin", "ProvinceInspector", "Quản trị nền tảng", "Sở KHCN", "UserInfoEditView"):
        assert hidden not in page, hidden


@pytest.mark.parametrize("url", ["/permissions/list/", "/viewmenus/list/", "/permissionviews/list/",
                                 "/userstatschartview/chart/", "/groups/list/"])
def test_installation_wide_screens_are_nobodys(as_admin, url):
    """FAB's registries and log-in statistics span every agency and speak English."""
    assert as_admin.get(url).status_code == 403


def test_users_list_shows_no_none(as_admin, db):
    from app.organisation.models import QmsUser

    user = db.session.query(QmsUser).filter_by(username="canbo.tnmt").one()
    position, user.position = user.position, None
    db.session.commit()
    try:
        page = as_admin.get("/users/list/?psize_UserDBModelView=100").text
        cells = re.findall(r"<td[^>]*>\s*None\s*</td>", page)
        assert cells == []
    finally:
        user.position = position
        db.session.commit()


def test_the_agency_email_and_timestamp_authority_are_checked(as_admin, db):
    """Printed in the agency's digital signature: a real address or nothing; the timestamp
    authority an http(s) address or nothing."""
    from app.organisation.models import Agency

    settings = db.session.query(Agency).one()
    data = {c: getattr(settings, c) for c in (
        "agency_name", "parent_body", "place_name", "steering_committee", "procedure_code",
        "procedure_issue", "procedure_date", "retention_years", "recurrence_threshold",
        "report_interval_days", "max_upload_mb", "email", "tsa_url",
    )}
    response = _form_post(as_admin, f"/settings/edit/{settings.id}",
                          {**data, "email": "không phải thư", "tsa_url": "ftp://tsa"})
    assert response.status_code == 200
    assert "Hãy nhập địa chỉ thư điện tử" in response.text and "http:// hoặc https://" in response.text
    db.session.expire_all()
    assert db.session.query(Agency).one().email == settings.email
    response = _form_post(as_admin, f"/settings/edit/{settings.id}",
                          {**data, "email": " vanthu@camlam.khanhhoa.gov.vn ", "tsa_url": ""})
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.query(Agency).one()
    assert saved.email == "vanthu@camlam.khanhhoa.gov.vn" and saved.tsa_url == ""
    saved.email = data["email"]
    db.session.commit()


def test_permissions_of_a_set_of_roles_are_read_once_and_forgotten_by_sync_roles(app, client_as_user, count_queries, db):
    """A page checks every menu item and button: the permissions of the user's roles are read
    once per worker (roles are defined in code), and read again after `sync-roles`."""
    from app.organisation import security
    from app.organisation.services import sync_roles

    client = client_as_user("canbo.ktht")
    client.get("/tickets/list/")
    with count_queries() as counter:
        assert client.get("/tickets/list/").status_code == 200
    assert not [s for s in counter.statements if "ab_permission_view" in s]
    # the user comes with their roles and groups in one statement
    assert len([s for s in counter.statements if "ab_role" in s or "ab_group" in s]) == 1, counter.statements
    with app.app_context():
        sync_roles()
    assert security._PERMISSIONS == {}
    with count_queries() as counter:
        assert client.get("/tickets/list/").status_code == 200
    assert [s for s in counter.statements if "ab_permission_view" in s]


def test_the_public_roles_permissions_are_read_once_and_forgotten_by_sync_roles(app, api, anonymous, count_queries):
    """FAB asks on every REST call whether the resource is public: the Public role's
    permissions are read once per worker like any role's, and again after `sync-roles`;
    someone not signed in still opens only the public pages."""
    from app.organisation import security
    from app.organisation.services import sync_roles

    def public_role_read(statements):
        return [s for s in statements if "FROM ab_role" in s and "ab_role.name =" in s]

    rest = api("canbo.ktht")
    rest.get("/api/v1/tickets/")
    with count_queries() as counter:
        assert rest.get("/api/v1/tickets/").status_code == 200
        assert rest.get("/api/v1/nonconformities/").status_code == 200
    assert not public_role_read(counter.statements), counter.statements
    assert anonymous.get("/login/").status_code == 200
    assert anonymous.get("/recurring/").status_code in (302, 401)
    assert anonymous.get("/api/v1/tickets/").status_code == 401
    with app.app_context():
        sync_roles()
    assert security.PUBLIC not in security._PERMISSIONS
    with count_queries() as counter:
        assert rest.get("/api/v1/tickets/").status_code == 200
    assert public_role_read(counter.statements)
