"""Phụ lục 3 plan and report as PDF (shared report engine) and as Excel workbooks."""
from flask import Response
from flask_babel import force_locale

from reports import agency_heading, render_pdf, signature_lines, workbook as xlsx_table

from app.objectives import services
from app.organisation import roles
from app.organisation.services import current_agency, holder_of
from app.tenancy import agency_of

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The columns of the forms in Phụ lục 3, word for word.
PLAN_HEADERS = ["STT", "Mục tiêu chất lượng", "Cách đo lường",
                "Biện pháp thực hiện/đơn vị thực hiện", "Thời gian bắt đầu", "Thời gian hoàn thành"]
REPORT_HEADERS = ["STT", "Mục tiêu", "Mức đo lường", "Thực tế đạt được",
                  "Nguyên nhân do không đạt mục tiêu", "Hướng giải quyết trong thời gian tới"]


def _vn(day) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def plan_rows(plan, day=_vn) -> list[list]:
    """The form has no target column: the target goes with the measurement method. Dates as
    `day` writes them: dd/mm/yyyy text for the PDF, the dates themselves for the workbook."""
    return [[row.position, row.objective,
             f"{row.measurement_method}\nMức mục tiêu: {services.format_target(row)}",
             row.measures or "", day(row.start_date), day(row.end_date)] for row in plan.rows]


def report_rows(report) -> list[list]:
    verdict = {True: " (Đạt)", False: " (Không đạt)", None: ""}
    return [[index, row.objective_row.objective, services.format_target(row.objective_row),
             f"{row.actual or ''}{verdict[row.achieved]}", row.reason or "", row.direction or ""]
            for index, row in enumerate(report.rows, start=1)]


def _context(plan, document: str = "plan") -> dict:
    """The unit's documents are headed by the agency over the unit, the agency's by its parent
    body over the agency (Phụ lục 3). The signer is the one who approved, or until then the one
    who will (the unit's head, the agency's top leader), whose name is left blank."""
    settings = current_agency()
    record = plan if document == "plan" else plan.report
    issuer = plan.unit.name if plan.unit else settings.agency_name
    signer = record.approved_by or (plan.unit.head if plan.unit else holder_of(roles.TOP_LEADER))
    return {
        "settings": settings, "plan": plan,
        "agency": agency_heading(issuer, settings.agency_name if plan.unit else settings.parent_body),
        "owner": issuer,
        "draft": record.state in ("draft", "submitted"), "signed_on": record.approved_on,
        "signature": signature_lines(signer.position if signer else None, issuer,
                                     "Trưởng đơn vị" if plan.unit else "Chủ tịch"),
        "signer_name": record.approved_by.get_full_name() if record.approved_by else "",
    }


def export(plan, document: str, kind: str) -> tuple[bytes, str]:
    """(bytes, file name) of the plan or its report as pdf or xlsx, headed by the plan's own
    agency."""
    with agency_of(plan):
        return _export(plan, document, kind)


def _export(plan, document: str, kind: str) -> tuple[bytes, str]:
    owner = plan.unit.code if plan.unit else "CQHCNN"
    filename = f"{'KeHoach' if document == 'plan' else 'BaoCao'}-MTCL-{plan.year}-{owner}.{kind}"
    if kind == "pdf":
        rows = plan_rows(plan) if document == "plan" else report_rows(plan.report)
        with force_locale("vi"):
            data = render_pdf(f"phu_luc_3_{document}.html", landscape=True, rows=rows, report=plan.report,
                              **_context(plan, document))
        return data, filename
    return workbook(plan, document), filename


def workbook(plan, document: str) -> bytes:
    owner = plan.unit.name if plan.unit else current_agency().agency_name
    if document == "plan":
        sheet_title = "Ke hoach MTCL"
        title = f"KẾ HOẠCH THỰC HIỆN MỤC TIÊU CHẤT LƯỢNG NĂM {plan.year}"
        headers, rows = PLAN_HEADERS, plan_rows(plan, day=lambda value: value)  # date cells
    else:
        sheet_title = "Bao cao MTCL"
        title = f"BÁO CÁO THỰC HIỆN MỤC TIÊU CHẤT LƯỢNG NĂM {plan.year}"
        headers, rows = REPORT_HEADERS, report_rows(plan.report)
    return xlsx_table(sheet_title, [title, f"CỦA {owner.upper()}"], headers, rows, (6, 40, 35, 35, 25, 30))


def xlsx_response(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype=XLSX_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
