"""The compliance board's pages (province inspector only). Thin: figures in services."""
from flask import flash, g, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext

from app.compliance import documents, services
from app.objectives.documents import xlsx_response
from app.tenancy import INSPECTED_AGENCY, NONE, current_scope
from app.tickets.views import pdf_response
from app.ui import render_error
from app.workflow import today


def _choices() -> dict:
    """The board's arguments: year, sort column and order, late agencies only."""
    args = request.args
    year = args.get("year", type=int)
    if year is None or not 2000 <= year <= 2100:
        year = today().year
    sort = args.get("sort") if args.get("sort") in services.SORT_KEYS else "code"
    return {"year": year, "sort": sort, "desc": bool(args.get("desc", type=int)),
            "late": bool(args.get("late", type=int))}


def _rows(choices: dict) -> list[dict]:
    """Every agency's row, as the exports print them."""
    return services.arrange(services.board(choices["year"]), choices["sort"], choices["desc"],
                            choices["late"])


def end_inspection() -> None:
    """The board is cross-agency: opening it ends the inspection of the agency chosen before
    (the banner goes, the record pages wait for the next choice)."""
    agency = services.inspected_agency()
    if session.pop(INSPECTED_AGENCY, None) is not None:
        g.pop("_user_scope", None)
        if agency is not None:
            flash(gettext("The inspection of %(agency)s has ended.", agency=agency.agency_name), "info")


def open_without_agency(appbuilder) -> set[str]:
    """The pages a province inspector opens before choosing an agency: the board, the home
    page, their own account, help, the language, signing in and out, static files."""
    sm = appbuilder.sm

    def name(view) -> str:  # the views FAB instantiated, or the class given to it
        return getattr(view, "endpoint", None) or view.__name__

    return {"ComplianceView", "static", "appbuilder", "LocaleView", "UtilView", "WorkflowHelpView",
            name(appbuilder.indexview), name(sm.auth_view), name(sm.resetmypasswordview),
            name(sm.userinfoeditview), f"{name(sm.user_view)}.userinfo"}


def register_agency_choice(app) -> None:
    """Before an agency is chosen on the board, the inspector's record pages would list
    nothing (or a row for no agency): they go to the board, asked to choose one. Runs after
    FAB's before_request, which sets g.user; JSON API calls, writes and the pages the
    inspector may not open are left to their own checks (empty lists, 403)."""
    from flask_appbuilder.const import PERMISSION_PREFIX

    from app.organisation import roles
    from app.workflow import has_role

    appbuilder = app.appbuilder
    allowed = open_without_agency(appbuilder)
    views = {view.endpoint: view for view in appbuilder.baseviews}

    def may_open(endpoint: str) -> bool:
        view_name, _, method = endpoint.partition(".")
        view = views.get(view_name)
        try:
            permission = PERMISSION_PREFIX + view.get_method_permission(method)
        except AttributeError:  # not one of FAB's protected pages
            return False
        return appbuilder.sm.has_access(permission, view.class_permission_name)

    @app.before_request
    def choose_an_agency_first():
        endpoint = request.endpoint or ""
        if request.method not in ("GET", "HEAD") or request.path.startswith("/api/") \
                or endpoint in allowed or endpoint.split(".")[0] in allowed:
            return None
        if current_scope() != NONE or not has_role(g.user, roles.PROVINCE_INSPECTOR) or not may_open(endpoint):
            return None  # the scope decides: an inspector who chose no agency works in none
        flash(gettext("Choose an agency on the check board to see its records."), "info")
        return redirect(url_for("ComplianceView.index"))


class ComplianceView(BaseView):
    """Bảng kiểm tra việc áp dụng HTQLCL: every agency's figures for a year, each opening the
    agency's list behind it, read-only."""

    route_base = "/compliance"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        end_inspection()
        choices = _choices()
        rows, page, pages = services.board_page(choices["year"], choices["sort"], choices["desc"], choices["late"],
                                                request.args.get("page", 1, type=int))
        return self.render_template(
            "compliance/board.html", rows=rows, page=page, pages=pages, choices=choices,
            columns=services.COLUMNS, years=services.years(), cell_texts=services.cell_texts, zip=zip,
        )

    @expose("/inspect/<code>")
    @has_access
    def inspect(self, code):
        """Inspect one agency: from now on every page shows its records, read-only."""
        agency = services.find_agency(code)
        if agency is None:
            return render_error(404)
        target = request.args.get("next") or "/"
        if services.safe_next(target) is None:
            return render_error(400)
        session[INSPECTED_AGENCY] = agency.id
        g.pop("_user_scope", None)
        return redirect(target)

    @expose("/export.<any(xlsx, pdf):kind>")
    @has_access
    @permission_name("export")
    def export(self, kind):
        from reports import ReportError

        choices = _choices()
        rows = _rows(choices)
        filename = f"BangKiemTra-HTQLCL-{choices['year']}.{kind}"
        if kind == "xlsx":
            return xlsx_response(documents.workbook(rows, choices["year"]), filename)
        try:
            return pdf_response(documents.pdf(rows, choices["year"]), filename)
        except ReportError as error:
            return render_error(503, str(error))
