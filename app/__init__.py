"""Application factory for the QMS improvement panel (QT.CTCL)."""
import dataclasses
import datetime
import gc
import logging
import os
import secrets
import sys

from flask import Flask, Request, abort, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from app.extensions import appbuilder, csrf, db, migrate

log = logging.getLogger(__name__)
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


def freeze_startup_objects() -> None:
    """Once a process has built the app and is about to serve it (gunicorn's worker, the
    benchmark): the objects made so far (modules, FAB's views, SQLAlchemy's mappers, about
    240 000) live as long as the process, so Python's collector stops walking them. Otherwise
    each full collection walked them all: about 75 ms, every hundred requests or so, spent on
    whichever request was running then."""
    gc.collect()
    gc.freeze()


class FormWithoutNul(Request):
    """A request whose form values hold no NUL character: no text column can store one
    (PostgreSQL refuses the whole statement, FAB's own forms answered 500) and no one types one."""

    def _load_form_data(self) -> None:
        super()._load_form_data()
        form = self.__dict__.get("form")
        if form is not None and any("\x00" in value for _, value in form.items(multi=True)):
            self.__dict__["form"] = self.parameter_storage_class(
                [(name, value.replace("\x00", "")) for name, value in form.items(multi=True)])


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.request_class = FormWithoutNul
    app.config.from_object("config")
    if overrides:
        app.config.update(overrides)
    os.makedirs(app.instance_path, exist_ok=True)

    _register_id_converter(app)  # before any route is added
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    from app import transactions

    transactions.init_app(app)  # a request that only read ends with COMMIT (prepared statements kept)
    from app.tickets import runs  # noqa: F401  (the open runs kept as NCs and tickets change)
    with app.app_context():
        _check_database(app)
        _check_production(app)
        appbuilder.init_app(app, db.session)
        _register_template_filters(app)
        from app.record_list import read_fab_list_args_safely
        from app.ui import name_the_empty_choice

        read_fab_list_args_safely()
        name_the_empty_choice()
        _register_views()
        appbuilder.post_init()
        from app.rest import vietnamese_api_labels

        vietnamese_api_labels(appbuilder)
        from app.ui import return_after_language_switch

        return_after_language_switch(app)  # back to the page the user was on
    from app.compliance.views import register_agency_choice

    register_agency_choice(app)  # after FAB's before_request, which sets g.user
    # After FAB's before_request (which sets g.user), so a refused form renders our page.
    csrf.init_app(app)
    # The JSON API authenticates with JWT bearer tokens, not cookies: no CSRF there.
    for name, blueprint in app.blueprints.items():
        if name.endswith("Api") or name in ("SecurityApi", "OpenApi", "MenuApi"):
            csrf.exempt(blueprint)
    if app.config.get("PROXY_FIX_X_FOR"):
        # behind a reverse proxy: the client address (for login rate limits) is in X-Forwarded-For
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"])
    _register_error_pages(app)
    _register_cli(app)
    from app import observability

    observability.init_app(app)  # request log lines, /health, /ready, /metrics
    app.after_request(security_headers)
    from app.organisation.security import openapi_without_api_keys

    app.after_request(openapi_without_api_keys)
    # a global, not a context processor: FAB's widgets render their templates without them
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    if not app.config.get("TESTING"):
        from app.reminders import warn_if_no_base_url

        warn_if_no_base_url(app)
    return app


# --- refusing to run unsafely (QMS_ENV=production) -------------------------------------

# The commands that prepare or repair an installation run even while it is unsafe to serve:
# the schema (`flask db …`, `flask qms setup`), the first administrator and a password reset.
REPAIR_COMMANDS = {("db",), ("qms", "setup"), ("qms", "create-admin"), ("fab", "reset-password"),
                   ("fab", "create-admin")}
_OPTIONS_WITH_VALUE = {"-A", "--app", "-e", "--env-file"}


def _cli_command() -> tuple[str, ...]:
    """The words of the `flask` command being run (("qms", "setup")), () when not under flask
    (gunicorn, tests)."""
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    if not (program == "flask" or sys.argv[0].endswith(os.path.join("flask", "__main__.py"))):
        return ()
    words, skip = [], False
    for argument in sys.argv[1:]:
        if skip:
            skip = False
        elif argument in _OPTIONS_WITH_VALUE:
            skip = True
        elif not argument.startswith("-"):
            words.append(argument)
    return tuple(words)


def production_refusals(config) -> list[str]:
    """Why this installation must not serve in production: one Vietnamese line each, saying
    what to do. Empty outside production (QMS_ENV unset) and when all is well."""
    if config.get("QMS_ENV") != "production":
        return []
    refusals = []
    if not config.get("SECRET_KEY_FROM_ENVIRONMENT") or not config.get("SECRET_KEY"):
        refusals.append(
            "QMS_ENV=production: chưa đặt SECRET_KEY trong môi trường. Hãy tạo một khoá cố định "
            "(python -c 'import secrets; print(secrets.token_hex(32))') và ghi SECRET_KEY=… vào "
            "tệp môi trường của dịch vụ, dùng chung cho mọi máy chủ ứng dụng."
        )
    if str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        refusals.append(
            "QMS_ENV=production: không chạy trên SQLite. Hãy đặt DATABASE_URL trỏ tới PostgreSQL "
            "(postgresql+psycopg://người_dùng:mật_khẩu@máy_chủ/tên_csdl) rồi chạy flask qms setup."
        )
    elif inspect(db.engine).has_table("ab_user"):
        from sqlalchemy import bindparam
        from werkzeug.security import check_password_hash

        from app.demo import DEMO_PASSWORD, demo_usernames

        # the published password goes with the published user names: only those are checked
        # (a password hash costs tens of milliseconds; a province has thousands of accounts)
        rows = db.session.execute(
            text("SELECT username, password FROM ab_user WHERE username IN :names ORDER BY username")
            .bindparams(bindparam("names", expanding=True)), {"names": demo_usernames()}).all()
        demo = [name for name, hashed in rows if hashed and check_password_hash(hashed, DEMO_PASSWORD)]
        db.session.rollback()
        if demo:
            refusals.append(
                f"QMS_ENV=production: các tài khoản {', '.join(demo)} còn mật khẩu mẫu {DEMO_PASSWORD}. "
                f"Hãy đổi mật khẩu từng tài khoản (flask fab reset-password --username TÊN) "
                f"trước khi chạy."
            )
    return refusals


def _check_production(app: Flask) -> None:
    """In production, stop at start-up (flask commands, gunicorn) with one line per refusal,
    no stack trace — except for the commands that prepare or repair the installation."""
    command = _cli_command()
    if any(command[:len(repair)] == repair for repair in REPAIR_COMMANDS):
        return
    refusals = production_refusals(app.config)
    if refusals:
        raise SystemExit("\n".join(refusals))


# --- security headers -----------------------------------------------------------------

def csp_nonce() -> str:
    """This response's nonce for inline scripts (FAB's templates call csp_nonce())."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def security_headers(response):
    """Headers every response carries: no framing, no sniffing, scripts only from this site
    or inline with this response's nonce. Styles keep 'unsafe-inline' (style attributes in
    FAB's and our templates); HSTS only when the cookies are for HTTPS."""
    from flask import current_app

    headers = response.headers
    headers.setdefault("Content-Security-Policy", "; ".join((
        "default-src 'self'",
        f"script-src 'self' 'nonce-{csp_nonce()}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )))
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def _check_database(app: Flask) -> None:
    """Stop at start-up with a plain message (no stack trace) when the database is down."""
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        url = db.engine.url.render_as_string(hide_password=True)
        raise SystemExit(
            f"Không kết nối được cơ sở dữ liệu {url} (DATABASE_URL). "
            f"Hãy kiểm tra máy chủ CSDL đang chạy và địa chỉ, tài khoản đúng. "
            f"Chi tiết: {error.orig}"
        ) from None


def _register_template_filters(app: Flask) -> None:
    from app import translation_lookup
    from app.tickets import workflow
    from app.ui import RecordLinks, date_input_value, format_date, keep_static_urls, layout_files, row_cells, tight

    translation_lookup.install_template_gettext(app.jinja_env)  # after Flask-Babel's
    keep_static_urls(app)
    app.jinja_env.globals["layout_files"] = layout_files
    app.jinja_env.filters["vn_date"] = format_date
    app.jinja_env.filters["tight"] = tight
    app.jinja_env.globals["record_links"] = RecordLinks
    app.jinja_env.globals["row_cells"] = row_cells
    app.jinja_env.filters["date_input"] = date_input_value  # a date field's value: dd/mm/yyyy
    app.jinja_env.filters["ticket_state"] = workflow.WORKFLOW.state_label
    app.jinja_env.globals["today"] = datetime.date.today

    def vn_time(moment, form: str = "%d/%m/%Y %H:%M") -> str:
        """A moment in Vietnam's time (UTC+7); one without a zone is UTC (app.official)."""
        from app.official.signing import VIETNAM

        if moment is None:
            return "—"
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.astimezone(VIETNAM).strftime(form)

    def official_documents(record):
        from app.official.services import official_documents

        return official_documents(record)

    app.jinja_env.filters["vn_time"] = vn_time
    app.jinja_env.globals["official_documents"] = official_documents

    def conversation(record):
        """The record's comment thread as the signed-in user sees it (app.conversation)."""
        from flask import g

        from app.conversation.services import thread
        from app.conversation.views import typed_form
        from app.ui import take_typed

        found = thread(g.user, record)
        return dataclasses.replace(found, draft=take_typed(typed_form(found.kind, found.record_id)))

    def timeline(events, thread):
        from app.conversation.services import timeline

        return timeline(events, thread.comments)

    app.jinja_env.globals["conversation"] = conversation
    app.jinja_env.globals["timeline"] = timeline

    def can(permission: str, view: str) -> bool:
        """Whether the signed-in user holds a view's permission: a page offers no form its
        user may not send (the province inspector reads every page and changes nothing)."""
        return app.appbuilder.sm.has_access(f"can_{permission}", view)

    app.jinja_env.globals["can"] = can

    from app.ui import navbar, navbar_menu

    app.jinja_env.globals["navbar_menu"] = navbar_menu
    app.jinja_env.globals["navbar"] = navbar

    @app.context_processor
    def notifications():
        from flask import g

        from app.reminders.services import unread_count

        def unread_notifications():
            user = getattr(g, "user", None)
            return unread_count(user) if user is not None and user.is_authenticated else 0

        return {"unread_notifications": unread_notifications}

    @app.context_processor
    def saved_filters():
        from app.saved_filters import services
        from app.ui import take_typed

        def refused_filter_name(list_key: str) -> str:
            """The name just refused for this list's filter (once), to be typed again."""
            return take_typed(services.typed_form(list_key))

        return {"refused_filter_name": refused_filter_name}

    @app.context_processor
    def inspection():
        from app.compliance.services import inspected_agency

        return {"inspected_agency": inspected_agency}


def _register_views() -> None:
    from app.organisation.views import AgencySettingsView, UnitModelView
    from app.tickets.views import NcCategoryView, NonconformityView, RecurringNonconformityView, TicketView

    appbuilder.add_view(
        TicketView, "Tickets", label=_l("Action request tickets"), icon="fa-ticket",
        category="Improvement", category_label=_l("Improvement"), category_icon="fa-refresh",
    )
    appbuilder.add_view(
        NonconformityView, "Nonconformities", label=_l("Nonconformities"),
        icon="fa-exclamation-triangle", category="Improvement",
    )
    appbuilder.add_view(
        RecurringNonconformityView, "Recurring nonconformities",
        label=_l("Recurring nonconformities"), icon="fa-repeat", category="Improvement",
    )
    from app.objectives.views import ObjectivePlanView, ObjectiveSummaryView

    appbuilder.add_view(
        ObjectivePlanView, "Objective plans", label=_l("Quality objective plans"),
        icon="fa-bullseye", category="Improvement",
    )
    appbuilder.add_view(
        ObjectiveSummaryView, "Objectives summary", label=_l("Quality objectives of the agency"),
        icon="fa-bar-chart", category="Improvement",
    )
    from app.records.views import RetentionView
    from app.reminders.views import NotificationView
    from app.reviews.views import InternalAuditView, ReviewView

    appbuilder.add_view(
        ReviewView, "Management reviews", label=_l("Management reviews"), icon="fa-users",
        category="Improvement",
    )
    appbuilder.add_view(
        InternalAuditView, "Internal audits", label=_l("Internal audits"), icon="fa-search",
        category="Improvement",
    )
    appbuilder.add_view_no_menu(NotificationView)
    from app.conversation.views import CommentView

    appbuilder.add_view_no_menu(CommentView)  # the form under each record's history
    from app.downloads.views import DownloadView

    appbuilder.add_view_no_menu(DownloadView)  # in the user's own menu (navbar_right.html)
    from app.saved_filters.views import SavedFilterView

    appbuilder.add_view_no_menu(SavedFilterView)  # offered on the lists (macros/saved_filters.html)
    appbuilder.add_view(
        RetentionView, "Records retention", label=_l("Records past retention"), icon="fa-archive",
        category="Organisation",
    )

    appbuilder.add_view(
        UnitModelView, "Units", label=_l("Units"), icon="fa-sitemap",
        category="Organisation", category_label=_l("Organisation"), category_icon="fa-building",
    )
    appbuilder.add_view(
        AgencySettingsView, "Agency settings", label=_l("Agency settings"), icon="fa-cog",
        category="Organisation",
    )
    appbuilder.add_view(
        NcCategoryView, "Nonconformity categories", label=_l("Nonconformity categories"),
        icon="fa-tags", category="Organisation",
    )
    from app.webhooks.views import FailedJobsView, WebhookDeliveryView, WebhookView

    appbuilder.add_view(WebhookView, "Webhooks", label=_l("Webhooks"), icon="fa-plug", category="Organisation")
    appbuilder.add_view(WebhookDeliveryView, "Webhook deliveries", label=_l("Webhook deliveries"),
                        icon="fa-paper-plane", category="Organisation")
    appbuilder.add_view(FailedJobsView, "Failed jobs", label=_l("Failed background jobs"),
                        icon="fa-exclamation-circle", category="Organisation")
    from app.official.views import OfficialCopyView

    appbuilder.add_view(
        OfficialCopyView, "My signing certificate", label=_l("My signing certificate"), icon="fa-certificate",
        category="Organisation",
    )
    from app.organisation.platform import AgencyAdminView

    appbuilder.add_view(
        AgencyAdminView, "Agencies", label=_l("Agencies"), icon="fa-university",
        category="Platform", category_label=_l("Platform"), category_icon="fa-globe",
    )
    from app.compliance.views import ComplianceView

    appbuilder.add_view(
        ComplianceView, "Compliance board", label=_l("QMS application check board"), icon="fa-check-square-o",
        category="Province", category_label=_l("Province"), category_icon="fa-university",
    )
    from app.tickets.api import NonconformityApi, TicketApi

    from app.objectives.api import ObjectivePlanApi
    from app.reviews.api import ReviewApi

    appbuilder.add_api(TicketApi)
    appbuilder.add_api(NonconformityApi)
    appbuilder.add_api(ObjectivePlanApi)
    appbuilder.add_api(ReviewApi)
    from app.official.api import DocumentApi

    appbuilder.add_api(DocumentApi)
    from app.help.views import WorkflowHelpView, all_workflows

    appbuilder.add_view_no_menu(WorkflowHelpView)
    for name, workflow in all_workflows().items():
        appbuilder.add_link(
            f"Workflow {name}", href=f"/help/workflow/{name}", label=workflow.title, icon="fa-sitemap",
            category="Help", category_label=_l("Help"), category_icon="fa-question-circle",
        )


MAX_ID = 2**31 - 1  # the largest value of an id column (PostgreSQL's integer)


class DatabaseId(IntegerConverter):
    """`<int:…>` in a URL: a whole number an id column can hold. Any other whole number (zero,
    negative, beyond the column) is the path of no record: 404 at once, never a query the
    database refuses, and never 405 because another method's route (FAB's `<pk>`) matched."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=True):
        super().__init__(map, fixed_digits, min, max, signed)

    def to_python(self, value):
        from app.workflow import NUMBER_DIGITS

        if len(value) > NUMBER_DIGITS or not 1 <= int(value) <= MAX_ID:  # int() refuses 4 300 digits
            raise NotFound()
        return super().to_python(value)


def _register_id_converter(app: Flask) -> None:
    app.url_map.converters["int"] = DatabaseId


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _unreachable(error: OperationalError) -> bool:
    """Whether the database could not be reached (connection refused, lost, shut down, out of
    connections), as opposed to a statement the database refused."""
    if error.connection_invalidated:
        return True
    state = getattr(error.orig, "sqlstate", None)
    if state:  # PostgreSQL: connection exception, operator intervention, insufficient resources
        return state[:2] in ("08", "57", "53")
    text = str(error.orig).lower()
    return not any(fault in text for fault in ("no such table", "no such column", "no such function", "syntax error"))


def _register_error_pages(app: Flask) -> None:
    from app.rest import install_api_answers, rison_error
    from app.ui import ERROR_MESSAGES, render_error
    from app.workflow import looks_like_id

    install_api_answers()

    def handler(error):
        code = getattr(error, "code", None) or 500
        if getattr(error, "response", None) is not None:  # e.g. the API login's JSON 429
            return error.response
        if code >= 500:
            db.session.rollback()
        if _is_api():
            return jsonify(message=str(ERROR_MESSAGES.get(code, ERROR_MESSAGES[500]))), code
        return render_error(code)

    for code in ERROR_MESSAGES:
        app.register_error_handler(code, handler)

    @app.before_request
    def refuse_bad_arguments():
        """FAB's `<pk>` (a string) must be an id too; `q` must parse (FAB's own parser lets a
        deep nesting through as a 500)."""
        pk = (request.view_args or {}).get("pk")
        if isinstance(pk, str) and not (looks_like_id(pk) and 0 < int(pk) <= MAX_ID):
            abort(404)
        problem = rison_error(request.args.get("q")) if _is_api() else None
        return (jsonify(message=problem), 400) if problem else None

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        """The database went away after start-up: one log line, a 503 that needs no database;
        the next request tries again (a connection left idle is checked first, app.transactions).
        Any other operational error (a missing table, a bad statement) is a fault of ours: a 500,
        logged with its traceback."""
        if not _unreachable(error):
            raise error
        log.error("Cơ sở dữ liệu không truy cập được (%s %s): %s", request.method, request.path,
                  str(getattr(error, "orig", error)).splitlines()[0] if str(getattr(error, "orig", error)) else "")
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the session may be unusable too
            pass
        message = str(ERROR_MESSAGES[503])
        if _is_api():
            return jsonify(message=message), 503
        return render_template("error_unavailable.html", message=message), 503

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(400, _l(
            "The form has expired or did not come from this site (missing security "
            "token). Go back, reload the page and submit again."
        ))


def _register_cli(app: Flask) -> None:
    from app.cli import qms

    app.cli.add_command(qms)
