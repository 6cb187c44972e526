"""The platform admin's rules (SPEC §10): agencies and their first administrator.

Plain functions used by the page (app/organisation/platform.py) and by
`flask qms agency …`. They work across agencies on purpose, so each one runs its queries
in `agency_scope(ALL)`; refusals are AgencyError with a message for people (and, for a
form, the message per field).
"""
import datetime
import re

from flask import current_app
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_appbuilder.security.sqla.models import Role
from flask_appbuilder.validators import default_password_complexity
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.organisation import roles
from app.organisation.models import Agency, QmsUser
from app.tenancy import ALL, agency_scope

CODE_PATTERN = re.compile(r"^[A-Z0-9]{2,20}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The lines of an agency that the platform admin sets (the code is fixed once created).
LINES = ("agency_name", "parent_body", "place_name", "steering_committee", "procedure_code",
         "procedure_issue", "procedure_date", "retention_years", "recurrence_threshold",
         "report_interval_days", "max_upload_mb", "email", "tsa_url")
NUMBERS = ("retention_years", "recurrence_threshold", "report_interval_days", "max_upload_mb")
_PLACE_PREFIX = re.compile(
    r"^\s*(ỦY BAN NHÂN DÂN|ủy ban nhân dân|Ủy ban nhân dân|UBND)?\s*"
    r"(XÃ|xã|Xã|PHƯỜNG|phường|Phường|THỊ TRẤN|thị trấn|Thị trấn|HUYỆN|huyện|Huyện|"
    r"THÀNH PHỐ|thành phố|Thành phố|TỈNH|tỉnh|Tỉnh|ĐẶC KHU|đặc khu|Đặc khu)?\s*")


class AgencyError(ValueError):
    """A refused platform action: `message` for people, `errors` per form field."""

    def __init__(self, message, errors: dict | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.errors = errors or {}


def default_lines() -> dict:
    """The lines a new agency starts with (every one can be changed afterwards)."""
    return {c.key: c.default.arg for c in Agency.__table__.columns
            if c.key in LINES and c.default is not None}


def default_place(name: str) -> str:
    """The place for date lines, read from the agency's name: "ỦY BAN NHÂN DÂN XÃ CAM HIỆP"
    → "Cam Hiệp"; a name without an administrative prefix is kept whole."""
    place = _PLACE_PREFIX.sub("", name or "", count=1).strip() or (name or "").strip()
    return place.title() if place.isupper() else place


def normal_code(code: str) -> str:
    return (code or "").strip().upper()


def agency_list() -> list[tuple[Agency, int]]:
    """Every agency with its number of people, by code: one grouped query."""
    with agency_scope(ALL):
        rows = db.session.execute(
            select(Agency, func.count(QmsUser.id))
            .outerjoin(QmsUser, QmsUser.agency_id == Agency.id)
            .group_by(Agency.id)
            .order_by(Agency.code)
        ).all()
    return [(agency, count) for agency, count in rows]


def get_agency(pk: int) -> Agency:
    with agency_scope(ALL):
        agency = db.session.get(Agency, pk)
    if agency is None:
        raise AgencyError(gettext("No agency has this id."))
    return agency


def agency_by_code(code: str) -> Agency:
    with agency_scope(ALL):
        agency = db.session.scalar(select(Agency).where(Agency.code == normal_code(code)))
    if agency is None:
        raise AgencyError(gettext("No agency has the code %(code)s.", code=normal_code(code)))
    return agency


def line_errors(lines: dict) -> dict:
    errors = {}
    if not (lines.get("agency_name") or "").strip():
        errors["agency_name"] = gettext("Enter the agency's name.")
    for name in NUMBERS:
        value = lines.get(name)
        if value is None:
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if not 1 <= number <= 100:
            errors[name] = gettext("Enter a whole number from 1 to 100.")
    if (lines.get("email") or "").strip() and not EMAIL_PATTERN.match(lines["email"].strip()):
        errors["email"] = gettext("Enter an e-mail address, e.g. ubnd@camlam.khanhhoa.gov.vn.")
    if (lines.get("tsa_url") or "").strip() and not re.match(r"^https?://\S+$", lines["tsa_url"].strip()):
        errors["tsa_url"] = gettext("Enter the timestamp authority's address, beginning with http:// or https://.")
    if lines.get("procedure_date") is not None and not is_procedure_date(lines["procedure_date"]):
        errors["procedure_date"] = gettext("Enter a date as dd/mm/yyyy, e.g. 28/02/2022.")
    return errors


def is_procedure_date(text) -> bool:
    """The procedure's issue date is printed on every form and the home page: a real
    date written dd/mm/yyyy."""
    try:
        datetime.datetime.strptime(str(text).strip(), "%d/%m/%Y")
    except ValueError:
        return False
    return re.fullmatch(r"\d{2}/\d{2}/\d{4}", str(text).strip()) is not None


def _clean_lines(lines: dict) -> dict:
    cleaned = {}
    for name in LINES:
        if name not in lines or lines[name] is None:
            continue
        value = lines[name]
        cleaned[name] = int(value) if name in NUMBERS else str(value).strip()
    return cleaned


def password_problem(password: str) -> str | None:
    """Why the password does not meet the installation's rules (config.py), or None."""
    if not password:
        return gettext("Enter a password.")
    if not current_app.config.get("FAB_PASSWORD_COMPLEXITY_ENABLED", False):
        return None
    check = current_app.config.get("FAB_PASSWORD_COMPLEXITY_VALIDATOR") or default_password_complexity
    try:
        check(password)
    except PasswordComplexityValidationError as error:
        return str(error)
    return None


def create_agency(code: str, name: str, admin_username: str, admin_password: str,
                  admin_email: str, admin_last_name: str = "", admin_first_name: str = "",
                  **lines) -> Agency:
    """A new agency with its first administrator (role Admin, of that agency), in one
    transaction: either both exist afterwards or neither does."""
    code = normal_code(code)
    admin_username = (admin_username or "").strip()
    admin_email = (admin_email or "").strip()
    given = {k: v for k, v in lines.items() if k in LINES and v not in (None, "")}
    lines = {**default_lines(), **given, "agency_name": (name or "").strip()}
    if not given.get("place_name"):  # the model's default place is the first agency's
        lines["place_name"] = default_place(lines["agency_name"])
    errors = line_errors(lines)
    with agency_scope(ALL):
        if not CODE_PATTERN.match(code):
            errors["code"] = gettext("The code is 2 to 20 capital letters or digits, without spaces or accents.")
        elif db.session.scalar(select(func.count(Agency.id)).where(Agency.code == code)):
            errors["code"] = gettext("An agency with the code %(code)s already exists.", code=code)
    errors.update({f"admin_{field}": message for field, message in _admin_errors(
        admin_username, admin_email, admin_last_name, admin_first_name, admin_password).items()})
    if errors:
        raise AgencyError(gettext("The agency was not created:") + " " + " ".join(errors.values()), errors)

    with agency_scope(ALL):
        admin_role = _admin_role()
        try:
            agency = Agency(code=code, active=True, **_clean_lines(lines))
            db.session.add(agency)
            db.session.flush()
            db.session.add(_admin_user(admin_role, agency, admin_username, admin_email, admin_last_name,
                                       admin_first_name, admin_password))
            db.session.commit()
        except IntegrityError:  # another request took the code, the name or the email meanwhile
            db.session.rollback()
            raise AgencyError(gettext(
                "The agency was not created: its code, the user name or the email was taken "
                "meanwhile. Check them and try again.")) from None
        except Exception:
            db.session.rollback()
            raise
    return agency


def _admin_errors(username: str, email: str, last_name, first_name, password) -> dict:
    """What is wrong with a new administrator, by field (username, email, last_name,
    first_name, password); the user name and the email must be free in the installation."""
    errors = {}
    with agency_scope(ALL):
        if not username:
            errors["username"] = gettext("Enter the administrator's user name.")
        elif db.session.scalar(select(func.count(QmsUser.id)).where(QmsUser.username == username)):
            errors["username"] = gettext("The user name %(name)s is already taken.", name=username)
        if not EMAIL_PATTERN.match(email):
            errors["email"] = gettext("Enter a valid email address.")
        elif db.session.scalar(select(func.count(QmsUser.id)).where(QmsUser.email == email)):
            errors["email"] = gettext("The email %(email)s is already used by another account.", email=email)
    if not (last_name or "").strip():
        errors["last_name"] = gettext("Enter the administrator's family and middle name.")
    if not (first_name or "").strip():
        errors["first_name"] = gettext("Enter the administrator's given name.")
    problem = password_problem(password)
    if problem:
        errors["password"] = problem
    return errors


def _admin_role() -> Role:
    role = db.session.scalar(select(Role).where(Role.name == roles.ADMIN))
    if role is None:
        raise AgencyError(gettext("The roles are missing: run 'flask qms setup' first."))
    return role


def _admin_user(role: Role, agency: Agency, username, email, last_name, first_name, password) -> QmsUser:
    """An administrator of the agency, the password hashed as FAB hashes it."""
    admin = QmsUser(
        username=username, email=email, active=True, last_name=last_name.strip(), first_name=first_name.strip(),
        password=generate_password_hash(
            password, method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
            salt_length=current_app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16)),
        roles=[role],
    )
    admin.agency_id = agency.id
    return admin


def update_agency(agency: Agency, **lines) -> Agency:
    """Rename the agency or change its lines (the code stays). Documents already made
    official keep the lines they were made with (§11)."""
    merged = {**{name: getattr(agency, name) for name in LINES}, **{k: v for k, v in lines.items() if k in LINES}}
    if not (merged.get("place_name") or "").strip():
        merged["place_name"] = default_place(merged.get("agency_name") or "")
    errors = line_errors(merged)
    if errors:
        raise AgencyError(gettext("The agency was not saved:") + " " + " ".join(errors.values()), errors)
    with agency_scope(ALL):
        for name, value in _clean_lines(merged).items():
            setattr(agency, name, value)
        db.session.commit()
    return agency


def set_active(agency: Agency, active: bool) -> Agency:
    """Deactivate an agency (its people can no longer sign in, by page or API; every record
    stays) or make it active again."""
    with agency_scope(ALL):
        agency.active = bool(active)
        db.session.commit()
    return agency


def create_admin(agency: Agency, unit_code: str, username: str, password: str, email: str,
                 first_name: str, last_name: str, unit_name: str | None = None) -> tuple[QmsUser, bool]:
    """An administrator (role Admin) of an existing agency who works in one of its units
    (`flask qms create-admin`). The unit must exist, unless `unit_name` is given: then a
    missing unit is created with that name in the same transaction. Returns the user and
    whether the unit was created."""
    from app.organisation.models import Unit

    username, email = (username or "").strip(), (email or "").strip()
    unit_code = (unit_code or "").strip().upper()
    errors = {}
    with agency_scope(ALL):
        unit = db.session.scalar(select(Unit).where(Unit.agency_id == agency.id, Unit.code == unit_code))
    if unit is None and not (unit_name or "").strip():
        errors["unit"] = gettext("The agency %(agency)s has no unit with the code %(code)s.",
                                 agency=agency.code, code=unit_code)
    errors.update(_admin_errors(username, email, last_name, first_name, password))
    if "password" in errors:
        errors["password"] = gettext("The password is not accepted: %(problem)s", problem=errors["password"])
    if errors:
        raise AgencyError(gettext("The administrator was not created:") + " " + " ".join(errors.values()), errors)

    with agency_scope(ALL):
        admin_role = _admin_role()
        created = unit is None
        try:
            if created:
                unit = Unit(code=unit_code, name=unit_name.strip(), in_qms_scope=True, active=True)
                unit.agency_id = agency.id
                db.session.add(unit)
                db.session.flush()
            admin = _admin_user(admin_role, agency, username, email, last_name, first_name, password)
            admin.unit_id = unit.id
            db.session.add(admin)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise AgencyError(gettext(
                "The administrator was not created: the user name, the email or the unit was taken "
                "meanwhile. Check them and try again.")) from None
        except Exception:
            db.session.rollback()
            raise
    return admin, created
