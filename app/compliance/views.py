"""The compliance board's pages (province inspector only). Thin: figures in services."""
from flask import g, redirect, request, session
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name

from app.compliance import documents, services
from app.objectives.documents import xlsx_response
from app.reviews import workflow as review_workflow
from app.tenancy import INSPECTED_AGENCY
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
    return services.arrange(services.board(choices["year"]), choices["sort"], choices["desc"],
                            choices["late"])


class ComplianceView(BaseView):
    """Bảng kiểm tra việc áp dụng HTQLCL: every agency's figures for a year, each opening the
    agency's list behind it, read-only."""

    route_base = "/compliance"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        choices = _choices()
        return self.render_template(
            "compliance/board.html", rows=_rows(choices), choices=choices, columns=services.COLUMNS,
            years=services.years(), reasons=services.LATE_REASONS, flags=services.PLAN_FLAGS,
            review_forms=review_workflow.FORMS,
            inspected=session.get(INSPECTED_AGENCY),
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
