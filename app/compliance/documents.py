"""The compliance board as an Excel workbook and a landscape A4 PDF, in Vietnamese."""
from flask_babel import force_locale, gettext

from reports import render_pdf, workbook as xlsx_table

from app.compliance import services
from app.ui import format_date
from app.workflow import today


def _headings() -> list[str]:
    return [str(label) for _, label in services.COLUMNS]


def title(year: int) -> str:
    return gettext("Application of the QMS in the agencies, year %(year)s", year=year)


def workbook(rows: list[dict], year: int) -> bytes:
    with force_locale("vi"):
        return xlsx_table(
            f"HTQLCL {year}", [title(year).upper(), gettext("As of %(day)s", day=format_date(today()))],
            _headings(), [services.cell_texts(row) for row in rows],
            (12, 36, 20, 20, 18, 28, 10, 10, 12, 12, 12, 36))


def pdf(rows: list[dict], year: int) -> bytes:
    with force_locale("vi"):
        return render_pdf("compliance_board.html", landscape=True, title=title(year), year=year,
                          as_of=gettext("As of %(day)s", day=format_date(today())),
                          province=services.province_line(), headings=_headings(), lines=[services.cell_texts(r) for r in rows],
                          late=[r["late"] for r in rows])
