"""Security manager: FAB's, with our user model, user views and a permission cache."""
import functools
import secrets
import time

from flask import abort, current_app, flash, g, has_request_context, jsonify, make_response, request, session
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_appbuilder.widgets import ListWidget, ShowWidget
from flask_appbuilder.fieldwidgets import Select2ManyWidget
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import AuthDBView, RoleModelView, UserDBModelView, UserGroupModelView
from flask_babel import gettext as _, lazy_gettext as _l
from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config as jwt_config
from flask_limiter.util import get_remote_address
from flask_login import current_user
from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import joinedload, with_expression
from werkzeug.security import check_password_hash
from wtforms import validators

from app.organisation import roles
from app.organisation.role_page import format_permissions, format_role_name
from app.organisation.models import QmsUser
from app.organisation.unit_filter import UnitFilterField
from app.reminders.services import unread_of_person
from app.ui import ModelInterface, QmsInterface, RecordActions, VietnameseDisplayMixin


def _role_query():
    from flask_appbuilder.security.sqla.models import Role
    from app.extensions import db

    # The platform's roles are held by people of no agency: an agency's administrator
    # cannot give them (a posted id outside this list is refused as an invalid choice).
    hidden = ("Public", *roles.PLATFORM_ROLES)
    return db.session.query(Role).filter(Role.name.notin_(hidden)).order_by(Role.name)


def _roles_field():
    return QuerySelectMultipleField(
        _l("Role"),
        query_func=_role_query,
        get_pk_func=lambda role: role.id,
        get_label=lambda role: roles.role_label(role.name),
        widget=Select2ManyWidget(),
        validators=[validators.DataRequired(message=_l("Choose at least one role"))],
    )


def _format_roles(user_roles) -> str:
    return ", ".join(roles.role_label(r.name) for r in user_roles)


class QmsUserDBModelView(RecordActions, VietnameseDisplayMixin, UserDBModelView):
    """User admin with unit and position; roles shown by their Vietnamese labels."""

    label_columns = {
        **UserDBModelView.label_columns,
        "unit": _l("Unit"),
        "position": _l("Position"),
        "notify_email": _l("Notifications by e-mail"),
    }
    list_columns = ["username", "last_name", "first_name", "unit", "position", "roles", "active"]
    search_columns = ["username", "first_name", "last_name", "email", "unit", "position", "active"]
    search_form_extra_fields = {"unit": UnitFilterField(_l("Unit"))}
    show_fieldsets = [
        (_l("User info"), {"fields": ["username", "active", "roles", "login_count"]}),
        (
            _l("Personal Info"),
            {"fields": ["last_name", "first_name", "email", "unit", "position", "notify_email"],
             "expanded": True},
        ),
        (
            _l("Audit Info"),
            {
                "fields": ["last_login", "fail_login_count", "created_on", "changed_on"],
                "expanded": False,
            },
        ),
    ]
    user_show_fieldsets = [
        (_l("User info"), {"fields": ["username", "active", "roles", "login_count"]}),
        (
            _l("Personal Info"),
            {"fields": ["last_name", "first_name", "email", "unit", "position", "notify_email"],
             "expanded": True},
        ),
    ]
    add_columns = [
        "last_name", "first_name", "username", "active", "email", "unit", "position",
        "roles", "password", "conf_password",
    ]
    edit_columns = ["last_name", "first_name", "username", "active", "email", "unit", "position", "roles"]
    add_form_extra_fields = {**UserDBModelView.add_form_extra_fields, "roles": _roles_field()}
    edit_form_extra_fields = {"roles": _roles_field()}
    validators_columns = {}
    formatters_columns = {"roles": _format_roles, "position": lambda value: value or "",
                          "notify_email": lambda value: _email_choice(value)}


def _email_choice(code) -> str:
    """The person's choice of hand-off mail, in words (changed under *Thông báo qua thư*)."""
    from app.reminders.handoff import EMAIL_CHOICES  # it reaches the workflow, which imports this module's users

    return str(EMAIL_CHOICES.get(code, code or ""))


class QmsRoleModelView(RecordActions, VietnameseDisplayMixin, RoleModelView):
    """Roles listed by their Vietnamese label; the stable name stays in code.

    Read-only for everyone: a role's permissions are shared by every agency and are
    defined in app/organisation/roles.py (written by `flask qms sync-roles`)."""

    base_permissions = ["can_list", "can_show"]
    include_route_methods = {"list", "show"}

    label_columns = {
        "name": _l("Role"),
        "permissions": _l("Permissions"),
        "user": _l("User"),
        "groups": _l("Groups"),
    }
    # The roles an agency works with; the platform's two and FAB's Public are not theirs.
    base_filters = [["name", FilterInFunction, lambda: roles.AGENCY_ROLES]]
    search_columns = ["name"]
    list_columns = ["name", "permissions"]
    show_columns = ["name", "permissions", "user"]
    # FAB's role widgets print the stable names and the permissions' English names: the role
    # is shown by its label and description, its permissions in words grouped by screen.
    list_widget = ListWidget
    show_widget = ShowWidget
    formatters_columns = {"name": format_role_name, "permissions": format_permissions}

    def copy_role(self, items):  # FAB's "copy role" action: not offered (read-only)
        abort(403)


class QmsGroupModelView(RecordActions, VietnameseDisplayMixin, UserGroupModelView):
    """FAB's groups belong to the whole installation (members of any agency, any role):
    read-only, and given to nobody (roles.INSTALLATION_WIDE), so no agency's administrator can
    give roles through them."""

    base_permissions = ["can_list", "can_show"]
    include_route_methods = {"list", "show"}
    label_columns = {
        "name": _l("Name"),
        "label": _l("Label"),
        "description": _l("Description"),
        "users": _l("Users"),
        "roles": _l("Roles"),
    }


AGENCY_INACTIVE = _l("Your agency has been deactivated on this platform: you cannot sign in. "
                     "Please contact the platform administrator.")


class QmsAuthDBView(AuthDBView):
    """FAB's sign-in page; a person whose agency is deactivated is told so (only once the
    password is right, so it reveals nothing to a stranger)."""

    @property
    def invalid_login_message(self):
        return g.pop("login_refusal", None) or AuthDBView.invalid_login_message


class QmsSecurityApi(SecurityApi):
    """FAB's JWT login. API keys are off (FAB_API_KEY_ENABLED): their scheme is not advertised."""

    def add_apispec_components(self, api_spec):
        super().add_apispec_components(api_spec)
        api_spec.components.security_schemes.pop("api_key", None)


def openapi_without_api_keys(response):
    """FAB lists {"api_key": []} beside JWT on every protected operation; API keys are off."""
    if request.endpoint != "OpenApi.get" or response.status_code != 200 or not response.is_json:
        return response
    spec = response.get_json()
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "security" in operation:
                operation["security"] = [r for r in operation["security"] if "api_key" not in r]
    response.set_data(current_app.json.dumps(spec))
    return response


SESSION_TOKEN = "qms_session_token"
API_LOGIN_ENDPOINT = "QmsSecurityApi.login"  # the blueprint is named after the class
PAGE_LOGIN_ENDPOINT = "QmsAuthDBView.login"


def _not_api_login() -> bool:
    return request.endpoint != API_LOGIN_ENDPOINT


def _login_account() -> str:
    """The account an API login names (its JSON body), for the per-account limit."""
    body = request.get_json(silent=True)
    username = body.get("username") if isinstance(body, dict) else None
    return "account:" + (str(username).strip().lower() if username else "")


def _not_page_login() -> bool:
    return request.endpoint != PAGE_LOGIN_ENDPOINT


def _page_login_account() -> str:
    """The account a page login names (its form), for the per-account limit."""
    return "account:" + (request.form.get("username") or "").strip().lower()


def _failed_login(_response) -> bool:
    return g.get("login_failed", False)


def _too_many_page_logins(_limit):
    from app.ui import render_error

    return make_response(render_error(429, _("Too many sign-in attempts. Please wait a minute and try again.")))


def _too_many_logins(_limit):
    response = jsonify(message=_("Too many sign-in attempts. Please wait a minute and try again."))
    response.status_code = 429
    return response


PERMISSIONS_TTL = 60.0  # seconds a worker keeps the permissions of a set of roles
_PERMISSIONS: dict[frozenset | None, tuple[float, frozenset]] = {}  # role ids -> (until, {(permission, view)})
PUBLIC = None  # the key of the Public role's permissions (someone not signed in)


def _kept_permissions(key, read) -> frozenset:
    """The (permission, view) pairs kept under `key` (a set of role ids, or PUBLIC), read again
    with `read()` once PERMISSIONS_TTL has passed."""
    kept = _PERMISSIONS.get(key)
    if kept is None or kept[0] < time.monotonic():
        kept = _PERMISSIONS[key] = (time.monotonic() + PERMISSIONS_TTL, frozenset(read()))
    return kept[1]


def forget_permissions() -> None:
    """After roles changed (`flask qms sync-roles`): this process reads them again on the next
    check; other running workers do within PERMISSIONS_TTL."""
    _PERMISSIONS.clear()


class KeptTokensJWTManager(JWTManager):
    """flask_jwt_extended's manager, keeping the claims of the tokens it verified (up to 1 024
    per worker): PyJWT checked every character of a token in Python, four times on every API
    request. A token is still refused once expired; any other token is verified in full."""

    @functools.lru_cache(maxsize=1024)
    def _verified(self, encoded_token: str, csrf_value) -> dict:
        return super()._decode_jwt_from_config(encoded_token, csrf_value)

    def _decode_jwt_from_config(self, encoded_token, csrf_value=None, allow_expired=False) -> dict:
        if not allow_expired:
            claims = self._verified(encoded_token, csrf_value)
            if "exp" not in claims or time.time() < claims["exp"] + jwt_config.leeway:
                return dict(claims)
        return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)


@functools.cache
def _person_statement():
    """The signed-in person's statement (QmsSecurityManager.get_user_by_id), built once: building
    it, its options and its cache key cost about a third of running it."""
    return (select(QmsUser).where(QmsUser.id == bindparam("pk", type_=Integer))
            .options(joinedload(QmsUser.agency), joinedload(QmsUser.unit), joinedload(QmsUser.roles),
                     joinedload(QmsUser.groups), with_expression(QmsUser.unread_notifications, unread_of_person())))


class QmsSecurityManager(SecurityManager):
    user_model = QmsUser
    security_api = QmsSecurityApi
    authdbview = QmsAuthDBView
    userdbmodelview = QmsUserDBModelView
    rolemodelview = QmsRoleModelView
    groupmodelview = QmsGroupModelView

    @staticmethod
    def before_request():
        """g.user is the signed-in person's record itself, not flask-login's proxy to it (FAB
        sets the proxy): the rules read it dozens of times a page (about 175 times for a list
        of 25 NCs), each read through two proxies. A static file needs nobody: it keeps the
        proxy, which loads no one unless asked."""
        g.user = current_user if request.endpoint in ("static", "appbuilder.static") \
            else current_user._get_current_object()

    def __init__(self, appbuilder):
        super().__init__(appbuilder)
        self.userdbmodelview.datamodel = QmsInterface(QmsUser, eager=("unit", "roles"))
        if self.userstatschartview:
            self.userstatschartview.datamodel = ModelInterface(QmsUser)

    def register_views(self):
        """FAB's views; the API login limited like the page login (AUTH_RATE_LIMIT): per client
        address, every attempt; per account, only the failed ones (what stops guessing: the
        people and integrations who sign in rightly are never locked out by their own logins).
        The page login: FAB's limit per address, and ours per account on failed attempts, in
        the same storage (RATELIMIT_STORAGE_URI), so every worker counts them together."""
        super().register_views()
        if not self.is_auth_limited:
            return
        if self.auth_view is not None and self.auth_view.blueprint is not None:
            self.limiter.limit(
                self.auth_rate_limit, key_func=_page_login_account, methods=["POST"],
                exempt_when=_not_page_login, on_breach=_too_many_page_logins, deduct_when=_failed_login,
            )(self.auth_view.blueprint)
        api = next((view for view in self.appbuilder.baseviews if isinstance(view, QmsSecurityApi)), None)
        if api is None or api.blueprint is None:
            return
        blueprint = api.blueprint
        self.limiter.limit(
            self.auth_rate_limit, key_func=get_remote_address, methods=["POST"],
            exempt_when=_not_api_login, on_breach=_too_many_logins,
        )(blueprint)
        self.limiter.limit(
            self.auth_rate_limit, key_func=_login_account, methods=["POST"],
            exempt_when=_not_api_login, on_breach=_too_many_logins,
            deduct_when=lambda response: response.status_code == 401,
        )(blueprint)

    def create_jwt_manager(self, app) -> JWTManager:
        """FAB's, keeping the tokens it verified."""
        manager = KeptTokensJWTManager()
        manager.init_app(app)
        manager.user_lookup_loader(self.load_user_jwt)
        return manager

    def get_user_by_id(self, pk):
        """With the agency, which decides whether the person may work (is_active), their unit,
        the roles and groups every page checks, and the bell's count: one statement, not five
        on each request."""
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            return None
        if not 0 < pk < 2 ** 31:  # no such person (and no integer PostgreSQL would take)
            return None
        return self.session.execute(_person_statement(), {"pk": pk}).unique().scalar_one_or_none()

    def auth_user_db(self, username, password):
        """FAB's check; a refusal because the agency is deactivated is kept for the page."""
        user = super().auth_user_db(username, password)
        if user is None and has_request_context():
            g.login_failed = True  # counted by the page login's per-account limit
        if user is None and username and password:
            person = self.find_user(username=username)
            if (person is not None and person.active and person.agency is not None
                    and not person.agency.active and check_password_hash(person.password, password)):
                g.login_refusal = AGENCY_INACTIVE
        return user

    def reset_password(self, userid, password):
        """An administrator's reset of someone's password (/resetpassword/form?pk=…): a person
        of another agency is not found by the query layer, and answers 404 like anyone missing."""
        if self.get_user_by_id(userid) is None:
            abort(404)
        super().reset_password(userid, password)

    def on_user_login(self, user) -> None:
        """A page sign-in keeps the person's session token in the session (made at the first
        sign-in); the API's JWT sign-in has no session."""
        super().on_user_login(user)
        if not has_request_context() or request.path.startswith("/api/"):
            return
        if not user.session_token:
            user.session_token = secrets.token_hex(32)
            self.session.commit()
        session[SESSION_TOKEN] = user.session_token

    def on_user_logout(self, user) -> None:
        """Signing out replaces the token: every session cookie of this person, this one and
        any copy of it, stops working (signing out ends the person's sessions everywhere)."""
        super().on_user_logout(user)
        person = self.get_user_by_id(user.id)
        if person is not None:
            person.session_token = secrets.token_hex(32)
            self.session.commit()
        session.pop(SESSION_TOKEN, None)

    def load_user_jwt(self, _jwt_header, jwt_data):
        """A JWT request: the token's own expiry rules, not the session's."""
        g._jwt_user = True
        return super().load_user_jwt(_jwt_header, jwt_data)

    def load_user(self, pk):
        """The session user's look-up runs before the agency scope is known (it decides it)."""
        g._loading_user = True
        try:
            user = self.get_user_by_id(int(pk))
        finally:
            g._loading_user = False
        if (user is not None and has_request_context() and not g.pop("_jwt_user", False)
                and session.get(SESSION_TOKEN) != user.session_token):
            # a session from before a sign-out (a copied cookie): no longer signed in
            session.pop("_user_id", None)
            session.pop("_fresh", None)
            return None
        if user is None or user.is_active:
            return user
        if user.active and has_request_context() and not request.path.startswith("/api/"):
            # a session open when the agency was deactivated ends here; the sign-in page says why
            flash(AGENCY_INACTIVE, "warning")
            session.pop("_user_id", None)  # signed out: said once, not on every later page
            session.pop("_fresh", None)
        return None

    def is_item_public(self, permission_name, view_name) -> bool:
        """FAB asks this first on every protected request, with two queries (the Public role,
        then its permissions): the Public role's permissions are read once per PERMISSIONS_TTL,
        like any set of roles (see permissions_of)."""
        def read():
            role = self.get_public_role()
            return ((p.permission.name, p.view_menu.name) for p in (role.permissions if role else ()))

        return (permission_name, view_name) in _kept_permissions(PUBLIC, read)

    def _has_view_access(self, user, permission_name: str, view_name: str) -> bool:
        """Check against the permissions of the user's roles (held directly or through a group)."""
        return (permission_name, view_name) in self.permissions_of(user)

    def permissions_of(self, user) -> frozenset:
        """The (permission, view) pairs of the user's roles, held directly or through a group.

        FAB runs one query per check, and a page checks every menu item and button; the
        permissions of a set of roles are read once per PERMISSIONS_TTL in each worker (roles
        are defined in code: only `flask qms sync-roles` changes them, and forgets them here).
        """
        cached = g.get("qms_permissions")
        if cached is None or cached[0] != user.id:
            held = frozenset(role.id for role in roles.held_by(user))

            def read():
                by_role = self.get_user_roles_permissions(user) if held else {}
                return (pair for pairs in by_role.values() for pair in pairs)

            cached = (user.id, _kept_permissions(held, read))
            g.qms_permissions = cached
        return cached[1]
