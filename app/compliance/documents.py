"""The compliance board as an Excel workbook and a landscape A4 PDF, in Vietnamese."""
import io

from flask_babel import force_locale, gettext
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side

from reports import render_pdf

from app.compliance import services
from app.reviews import workflow as review_workflow
from app.workflow import today


def _vn(day) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def _yes_no(done: bool, day=None) -> str:
    answer = gettext("Yes") if done else gettext("No")
    return f"{answer} ({_vn(day)})" if day else answer


def cells(row: dict) -> list:
    """One agency's line, as the board shows it (current locale)."""
    if row["report_on"]:
        report = _yes_no(row["report_flag"] == "ok", row["report_on"])
    elif row["report_submitted_on"]:
        report = gettext("Submitted on %(day)s", day=_vn(row["report_submitted_on"]))
    else:
        report = gettext("No")
    review = _yes_no(row["review_held"], row["review_on"])
    if row["review_held"]:
        review += " — " + str(review_workflow.FORMS.get(row["review_form"], row["review_form"]))
    share = f"{row['effective_share']} %" if row["effective_share"] is not None else "—"
    late = "; ".join(str(services.LATE_REASONS[r]) for r in row["reasons"])
    return [row["code"], row["name"], _yes_no(row["plan_flag"] == "ok", row["plan_on"]), report,
            _yes_no(bool(row["audits"]), row["audit_on"]), review, row["open"], row["overdue"],
            row["ineffective"], share, row["recurring"], late or gettext("No")]


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
        sheet.append([gettext("As of %(day)s", day=_vn(today()))])
        sheet.append([])
        sheet.append(_headings())
        for row in rows:
            sheet.append(cells(row))
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
                          as_of=gettext("As of %(day)s", day=_vn(today())), headings=_headings(), lines=[cells(r) for r in rows],
                          late=[r["late"] for r in rows])
