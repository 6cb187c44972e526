"""The compliance board as an Excel workbook and a landscape A4 PDF, in Vietnamese."""
import io

from flask_babel import force_locale, gettext
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side

from reports import render_pdf

from app.compliance import services
from app.ui import format_date
from app.workflow import today


def _headings() -> list[str]:
    return [str(label) for _, label in services.COLUMNS]


def title(year: int) -> str:
    return gettext("Application of the QMS in the agencies, year %(year)s", year=year)


def workbook(rows: list[dict], year: int) -> bytes:
    with force_locale("vi"):
        book = Workbook()
        sheet = book.active
        sheet.title = f"HTQLCL {year}"
        sheet.append([title(year).upper()])
        sheet.append([gettext("As of %(day)s", day=format_date(today()))])
        sheet.append([])
        sheet.append(_headings())
        for row in rows:
            sheet.append(services.cell_texts(row))
    thin = Side(style="thin")
    sheet["A1"].font = Font(bold=True, size=13)
    for line in sheet.iter_rows(min_row=4, max_row=sheet.max_row):
        for cell in line:
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in sheet[4]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCDEFGHIJKL", (12, 36, 20, 20, 18, 28, 10, 10, 12, 12, 12, 36)):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pdf(rows: list[dict], year: int) -> bytes:
    with force_locale("vi"):
        return render_pdf("compliance_board.html", landscape=True, title=title(year), year=year,
                          as_of=gettext("As of %(day)s", day=format_date(today())),
                          province=services.province_line(), headings=_headings(), lines=[services.cell_texts(r) for r in rows],
                          late=[r["late"] for r in rows])
