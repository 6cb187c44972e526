"""The compliance board as an Excel workbook and a landscape A4 PDF, in Vietnamese."""
from flask_babel import force_locale, gettext, lazy_gettext as _l

from reports import render_pdf, workbook as xlsx_table

from app.compliance import services
from app.reviews import workflow as review_workflow
from app.ui import format_date
from app.workflow import today


def _headings() -> list[str]:
    return [str(label) for _, label in services.COLUMNS]


def title(year: int) -> str:
    return gettext("Application of the QMS in the agencies, year %(year)s", year=year)


# The workbook's date columns, each right after the page's column of the same key: the page
# prints "status (dd/mm/yyyy)" in one cell, the workbook the status and a date cell.
DATE_HEADINGS = {
    "plan_on": _l("Approved on"),
    "report_on": _l("Report date"),
    "audits": _l("Date of the internal audit"),
    "review_on": _l("Date of the management review"),
}


def _workbook_headings() -> list[str]:
    headings = []
    for key, label in services.COLUMNS:
        headings.append(str(label))
        if key in DATE_HEADINGS:
            headings.append(str(DATE_HEADINGS[key]))
    return headings


def workbook_cells(row: dict) -> list:
    """One agency's line for the workbook: the page's cells (services.cell_texts) with each
    dated cell split into its status and a date (a date cell), the share a fraction (a
    percent cell), the figures numbers."""
    page = services.cell_texts(row)
    if row["report_on"]:
        report = (str(services.PLAN_FLAGS[row["report_flag"]]), row["report_on"])
    elif row["report_submitted_on"]:
        report = (gettext("Submitted"), row["report_submitted_on"])
    else:
        report = (str(services.PLAN_FLAGS[row["report_flag"]]), None)
    if row["review_held"]:
        review = (gettext("Yes") + " — " + str(review_workflow.FORMS.get(row["review_form"], row["review_form"])),
                  row["review_on"])
    else:
        review = (gettext("No"), None)
    audit = (gettext("Yes"), row["audit_on"]) if row["audits"] else (gettext("No"), None)
    share = row["effective_share"] / 100 if row["effective_share"] is not None else None
    return [
        page[0], page[1], str(services.PLAN_FLAGS[row["plan_flag"]]), row["plan_on"], *report, *audit, *review,
        row["open"], row["overdue"], row["ineffective"], share, row["recurring"], page[11],
    ]


def workbook(rows: list[dict], year: int) -> bytes:
    with force_locale("vi"):
        return xlsx_table(
            f"HTQLCL {year}", [title(year).upper(), gettext("As of %(day)s", day=format_date(today()))],
            _workbook_headings(), [workbook_cells(row) for row in rows],
            (12, 36, 16, 12, 16, 12, 10, 12, 20, 12, 10, 10, 12, 12, 12, 36),
            formats={13: "0%"})


def pdf(rows: list[dict], year: int) -> bytes:
    with force_locale("vi"):
        return render_pdf("compliance_board.html", landscape=True, title=title(year), year=year,
                          as_of=gettext("As of %(day)s", day=format_date(today())),
                          province=services.province_line(), headings=_headings(), lines=[services.cell_texts(r) for r in rows],
                          late=[r["late"] for r in rows])
