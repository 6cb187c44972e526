"""`flask qms create-admin`: an agency's administrator attached to a unit, from the command
line (the README's production section makes the first one with it)."""
import pytest
from sqlalchemy import select

from tests.conftest import demo_agency, login, new_client

STRONG = "Quan-Tri#2026x"
MADE_USERS = ("qt.ktht", "qt.hoi", "qt.x", "qt.vp", "ctb.admin")


@pytest.fixture(autouse=True)
def _cleanup(app):
    """Remove what these tests made, so the shared demo database stays as other tests expect."""
    yield
    from app.extensions import db
    from app.organisation.models import Agency, QmsUser, Unit
    from app.tenancy import ALL, agency_scope

    with app.app_context(), agency_scope(ALL):
        for person in db.session.scalars(select(QmsUser).where(QmsUser.username.in_(MADE_USERS))).all():
            person.roles = []
            db.session.delete(person)
        db.session.flush()
        for unit in db.session.scalars(select(Unit).where(Unit.code == "VPMOI")).all():
            db.session.delete(unit)
        for agency in db.session.scalars(select(Agency).where(Agency.code == "CAMTHANHBAC")).all():
            db.session.delete(agency)
        db.session.commit()


def _run(app, *args, env=None):
    return app.test_cli_runner().invoke(args=["qms", "create-admin", *args], env=env or {})


def _user(app, username):
    from app.extensions import db
    from app.organisation.models import QmsUser
    from app.tenancy import ALL, agency_scope

    with app.app_context(), agency_scope(ALL):
        user = db.session.scalar(select(QmsUser).where(QmsUser.username == username))
        return user and (user.agency.code, user.unit and user.unit.code, [r.name for r in user.roles],
                         user.first_name, user.last_name, user.email)


def test_create_admin_with_agency_and_unit_signs_in(app):
    result = _run(app, "--username", "qt.ktht", "--password-env", "QMS_TEST_PW", "--first-name", "Hoa",
                  "--last-name", "Trần Thị", "--email", "qt.ktht@camlam.gov.vn", "--agency", "CAMLAM",
                  "--unit", "KTHT", env={"QMS_TEST_PW": STRONG})
    assert result.exit_code == 0, result.output
    assert "Đã tạo quản trị qt.ktht" in result.output and "CAMLAM" in result.output
    assert _user(app, "qt.ktht") == ("CAMLAM", "KTHT", ["Admin"], "Hoa", "Trần Thị", "qt.ktht@camlam.gov.vn")
    response = login(new_client(app), "qt.ktht", STRONG)
    assert response.status_code == 302 and "/login" not in response.headers["Location"]


def test_create_admin_asks_the_password_when_no_variable_is_named(app):
    result = app.test_cli_runner().invoke(
        args=["qms", "create-admin", "--username", "qt.hoi", "--first-name", "Lan", "--last-name", "Võ",
              "--email", "qt.hoi@camlam.gov.vn", "--agency", "CAMLAM", "--unit", "KTHT"],
        input=f"{STRONG}\n{STRONG}\n")
    assert result.exit_code == 0, result.output
    assert _user(app, "qt.hoi")[0:2] == ("CAMLAM", "KTHT")


def test_create_admin_refuses_unknown_agency_unit_weak_password_and_taken_name(app):
    base = ["--username", "qt.x", "--password-env", "QMS_TEST_PW", "--first-name", "X",
            "--last-name", "Y", "--email", "qt.x@camlam.gov.vn"]
    env = {"QMS_TEST_PW": STRONG}
    cases = [
        (["--agency", "KHONGCO", "--unit", "KTHT"], env, "Không có cơ quan mã KHONGCO"),
        (["--agency", "CAMLAM", "--unit", "KHONGCO"], env, "Cơ quan CAMLAM không có đơn vị mã KHONGCO"),
        (["--agency", "CAMLAM", "--unit", "KTHT"], {"QMS_TEST_PW": "abc"}, "Mật khẩu chưa đạt"),
        (["--agency", "CAMLAM", "--unit", "KTHT"], {}, "Biến môi trường QMS_TEST_PW chưa được đặt"),
    ]
    for extra, environment, message in cases:
        result = _run(app, *base, *extra, env=environment)
        assert result.exit_code == 1, result.output
        assert message in result.output and "Traceback" not in result.output
    taken = _run(app, "--username", "admin", "--password-env", "QMS_TEST_PW", "--first-name", "X",
                 "--last-name", "Y", "--email", "khac@camlam.gov.vn", "--agency", "CAMLAM", "--unit", "KTHT",
                 env=env)
    assert taken.exit_code == 1 and "admin" in taken.output and "đã có" in taken.output, taken.output
    assert _user(app, "qt.x") is None


def test_create_admin_can_create_the_first_unit(app):
    result = _run(app, "--username", "qt.vp", "--password-env", "QMS_TEST_PW", "--first-name", "Bình",
                  "--last-name", "Lê", "--email", "qt.vp@camhiep.gov.vn", "--agency", "CAMHIEP",
                  "--unit", "VPMOI", "--unit-name", "Văn phòng thử", env={"QMS_TEST_PW": STRONG})
    assert result.exit_code == 0, result.output
    assert "Đã tạo đơn vị VPMOI" in result.output
    assert _user(app, "qt.vp")[0:2] == ("CAMHIEP", "VPMOI")
    from app.extensions import db
    from app.organisation.models import Unit

    with demo_agency(app, "CAMHIEP"):
        assert db.session.scalar(select(Unit.name).where(Unit.code == "VPMOI")) == "Văn phòng thử"


def test_agency_create_reads_the_password_from_a_variable(app):
    result = app.test_cli_runner().invoke(
        args=["qms", "agency", "create", "--code", "CAMTHANHBAC", "--name", "ỦY BAN NHÂN DÂN XÃ CAM THÀNH BẮC",
              "--admin", "ctb.admin", "--email", "ctb.admin@example.vn", "--password-env", "QMS_TEST_PW"],
        env={"QMS_TEST_PW": STRONG})
    assert result.exit_code == 0, result.output
    assert STRONG not in result.output
    assert _user(app, "ctb.admin")[0] == "CAMTHANHBAC"
    assert login(new_client(app), "ctb.admin", STRONG).status_code == 302
