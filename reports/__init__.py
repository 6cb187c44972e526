"""The one report engine of the product: Jinja HTML templates → wkhtmltopdf (pdfkit) → PDF.

Page set-up follows Decree 30/2020/NĐ-CP, Appendix I (SPEC §6): A4, margins 20/20/30/15 mm,
Liberation Serif 2.x (Times-metric, every Vietnamese letter) 13 pt, page numbers centred in
the top margin from page 2.
Debian's wkhtmltopdf is built on unpatched Qt: it ignores --disable-smart-shrinking and --zoom
and draws every CSS length at 0.768 of its size while the page margins stay true, so each run
zooms the HTML back (QT_ZOOM). It also ignores --header-html, so the page numbers come from a
page-numbers PDF, made once per process, stamped onto the pages with pypdf.
User text is escaped by Jinja's autoescape, so it can never inject a `<meta name="pdfkit-…">`
option; wkhtmltopdf runs with local file access disabled and a time limit.
"""
import datetime
import functools
import io
import os
import re
import shutil
import subprocess
import unicodedata

import pdfkit
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")
# Leaves Debian's fonts-liberation 1.x out, so that Liberation Serif is the 2.x face.
FONTCONFIG_FILE = os.path.join(HERE, "fonts.conf")
TIMEOUT_SECONDS = 60
INSTALL_HINT = "sudo apt-get install -y wkhtmltopdf fonts-liberation2 fonts-dejavu-core"
# Unpatched Qt draws 100 mm of CSS as 76.84 mm (measured on Debian's 0.12.6); the CSS zoom
# brings it back to 100 mm. Qt rounds font sizes to whole pixels, so 13 pt prints as 13.25 pt.
QT_ZOOM = 1.3014
# Page numbers are stamped from a PDF of this many numbered pages (more when needed).
STAMP_PAGES = 100
A4_MM = (210, 297)
MARGINS_MM = {"top": 20, "bottom": 20, "left": 30, "right": 15}  # Decree 30, Appendix I
with open(os.path.join(HERE, "paginate.js"), encoding="utf-8") as _script:
    PAGINATE_JS = _script.read()

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


class ReportError(RuntimeError):
    """The PDF could not be made; the message is for the user (Vietnamese)."""


def date_words(on: datetime.date | None) -> str:
    """'ngày 05 tháng 02 năm 2026' — day < 10 and months 1–2 zero-padded (Decree 30)."""
    if on is None:
        return "ngày ..... tháng ..... năm ....."
    month = f"{on.month:02d}" if on.month <= 2 else str(on.month)
    return f"ngày {on.day:02d} tháng {month} năm {on.year}"


def date_line(place: str, on: datetime.date | None) -> str:
    """'Cam Lâm, ngày 05 tháng 02 năm 2026'."""
    return f"{place}, {date_words(on)}"


def vn_date(on) -> str:
    return on.strftime("%d/%m/%Y") if on else ""


# --- names and signers as Decree 30/2020/NĐ-CP, Appendix I writes them -------------------
# Bodies run collectively sign "TM." (on behalf of) and are abbreviated in a parent line.
COLLECTIVE_BODIES = {"ỦY BAN NHÂN DÂN": "UBND", "HỘI ĐỒNG NHÂN DÂN": "HĐND"}
# Where a locality begins in a name ("… HUYỆN CAM LÂM").
LEVELS = ("THÀNH PHỐ", "THỊ XÃ", "THỊ TRẤN", "ĐẶC KHU", "TỈNH", "HUYỆN", "QUẬN", "XÃ", "PHƯỜNG")
# What a unit is; its head's title keeps it ("Trưởng phòng"), the rest of the name is dropped.
UNIT_KINDS = ("VĂN PHÒNG", "PHÒNG", "BỘ PHẬN", "TRUNG TÂM", "THANH TRA", "BAN", "ĐỘI", "TỔ")
KEPT_CAPITALS = {"UBND", "HĐND", "ISO", "BCĐ", "HTQLCL"}


def _upper(text: str | None) -> str:
    return " ".join((text or "").split()).upper()


def _collective(name: str) -> str | None:
    """The collective body a name begins with: 'ỦY BAN NHÂN DÂN' for 'ỦY BAN NHÂN DÂN HUYỆN …'."""
    upper = _upper(name)
    return next((body for body in COLLECTIVE_BODIES if upper.startswith(body + " ")), None)


def agency_lines(name: str) -> list[str]:
    """An agency's name as the heading of a form sets it: a collective body on its own line above
    its locality ('ỦY BAN NHÂN DÂN' / 'HUYỆN CAM LÂM', BM.CTCL.01); any other name on one line."""
    body = _collective(name)
    return [body, _upper(name)[len(body):].strip()] if body else [_upper(name)]


def agency_heading(issuer: str, parent: str | None = None) -> dict:
    """The agency block of a form: under a parent line the issuer takes one line (Phụ lục 3,
    BM.CTCL.02); alone, a collective body stands over its locality (BM.CTCL.01)."""
    return {"parent": _upper(parent) or None, "lines": [_upper(issuer)] if parent else agency_lines(issuer)}


def abbreviate(name: str) -> str:
    """'ỦY BAN NHÂN DÂN HUYỆN CAM LÂM' → 'UBND HUYỆN CAM LÂM' (a parent line, as on BM.CTCL.02)."""
    body = _collective(name)
    return COLLECTIVE_BODIES[body] + _upper(name)[len(body):] if body else _upper(name)


def agency_in_sentence(name: str) -> str:
    """A name kept in capitals in the settings, as written inside a sentence:
    'UBND HUYỆN CAM LÂM' → 'UBND huyện Cam Lâm'; the locality's own name keeps its capitals."""
    upper = _upper(name)
    level = re.search(r"(?<!\S)(" + "|".join(LEVELS) + r")(?!\S)", upper)
    head, place = (upper[:level.end()], upper[level.end():]) if level else (upper, "")
    text = " ".join([w if w in KEPT_CAPITALS else w.lower() for w in head.split()]
                    + [w.capitalize() for w in place.split()])
    return text[:1].upper() + text[1:]


def _title(position: str, issuer: str) -> str:
    """The signer's title without the name of the body they sign for (Decree 30: the title
    names no agency): 'Chủ tịch UBND huyện' → 'CHỦ TỊCH', 'Trưởng phòng Tài nguyên và Môi
    trường' → 'TRƯỞNG PHÒNG'."""
    upper, name = _upper(position), _upper(issuer)
    kind = next((k for k in UNIT_KINDS if name.startswith(k + " ")), None)
    if kind:  # a unit: its kind stays in the title, its own name goes
        names = [name[len(kind):].strip()]
    else:
        body = _collective(name)
        names = [name, abbreviate(name)] + ([body, COLLECTIVE_BODIES[body]] if body else [])
    cuts = [match.start() for n in names
            for match in re.finditer(r"(?<=\s)" + re.escape(n) + r"(?!\S)", upper)]
    return upper[:min(cuts)].strip() if cuts else upper


def signature_lines(position: str | None, issuer: str, default: str) -> list[str]:
    """The capital lines above a signer's name (Decree 30, Appendix I): 'TM.' when the issuer is
    a collective body, 'KT.' when a deputy signs for the head, 'Q.' for an acting head; the
    title from the signer's position, or `default` when it has none."""
    title = _title(position, issuer) if position else ""
    title = title or _upper(default)
    body = _collective(issuer)
    lines = [f"TM. {body}"] if body else []
    if title.startswith("PHÓ "):
        return lines + [f"KT. {title[4:]}", title]
    if title.startswith("QUYỀN "):
        return lines + [f"Q. {title[6:]}"]
    return lines + [title]


_env.filters["vn_date"] = vn_date
_env.globals["date_line"] = date_line
_env.globals["date_words"] = date_words


def render_html(template: str, **context) -> str:
    return _env.get_template(template).render(**context)


def _executable() -> str:
    executable = shutil.which("wkhtmltopdf")
    if executable is None:
        raise ReportError(
            "Máy chủ chưa cài chương trình tạo PDF wkhtmltopdf. "
            f"Quản trị viên hãy cài bằng lệnh: {INSTALL_HINT}"
        )
    return executable


@functools.cache
def _zoom(executable: str) -> float:
    """1 for a wkhtmltopdf on patched Qt, which prints CSS lengths true; QT_ZOOM otherwise."""
    version = subprocess.run([executable, "--version"], capture_output=True, text=True,
                             timeout=TIMEOUT_SECONDS).stdout
    return 1.0 if "patched qt" in version.lower() else QT_ZOOM


def environment() -> dict:
    """wkhtmltopdf's environment: no display, and the engine's font set-up."""
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "FONTCONFIG_FILE": FONTCONFIG_FILE}


def _command(html: str, landscape: bool, margins: dict) -> tuple[list[str], str]:
    """The wkhtmltopdf command line for A4 with margins in mm, and the page to send it. The
    engine completes the page: in <head> the zoom and the body's width (the printed width, so
    that the layout the script measures is the printed one), at the end of <body> the
    pagination script (paginate.js). The script runs inline, so nothing has to wait for it
    (javascript-delay 0)."""
    executable = _executable()
    width, height = (A4_MM[1], A4_MM[0]) if landscape else A4_MM
    style = (f"<style>html {{ zoom: {_zoom(executable)}; }} "
             f"body {{ width: {width - margins['left'] - margins['right']}mm; }}</style>")
    script = f"<script>{PAGINATE_JS}\npaginate({height - margins['top'] - margins['bottom']});</script>"
    html = html.replace("<head>", "<head>" + style, 1)
    before, body_end, after = html.rpartition("</body>")
    html = before + script + body_end + after
    options = {
        "page-size": "A4",
        "orientation": "Landscape" if landscape else "Portrait",
        **{f"margin-{side}": f"{mm}mm" for side, mm in margins.items()},
        "encoding": "UTF-8",
        "disable-smart-shrinking": None,
        "disable-local-file-access": None,
        "javascript-delay": "0",
        "no-outline": None,
        "quiet": None,
    }
    config = pdfkit.configuration(wkhtmltopdf=executable)
    return pdfkit.PDFKit(html, "string", options=options, configuration=config).command(), html


def _wkhtmltopdf(html: str, landscape: bool, margins: dict) -> bytes:
    """One wkhtmltopdf run, with a time limit."""
    command, html = _command(html, landscape, margins)
    try:
        result = subprocess.run(
            command, input=html.encode("utf-8"), capture_output=True, timeout=TIMEOUT_SECONDS,
            env=environment(),
        )
    except subprocess.TimeoutExpired:
        raise ReportError(f"Tạo PDF quá {TIMEOUT_SECONDS} giây nên đã dừng. Hãy thử lại sau.") from None
    if result.returncode not in (0, 1) or not result.stdout.startswith(b"%PDF"):
        raise ReportError(
            "Không tạo được PDF (wkhtmltopdf báo lỗi). Chi tiết: "
            + result.stderr.decode("utf-8", "replace")[-300:]
        )
    return result.stdout


@functools.cache
def _stamps(landscape: bool, count: int) -> tuple[bytes, ...]:
    """One-page PDFs, the n-th holding only the number n (the first blank), from one
    wkhtmltopdf run that serves every document of that orientation and length up to `count`.
    Their resources are renamed /Stamp… so that they can join any page's resources."""
    numbers = PdfReader(io.BytesIO(_wkhtmltopdf(
        render_html("page_numbers.html", count=count, landscape=landscape),
        landscape, {**MARGINS_MM, "top": 10, "bottom": 0})))
    stamps = []
    for page in numbers.pages:
        writer = PdfWriter()
        stamp = writer.add_page(page)
        # Qt fills every page with white even with --no-background: turn filled
        # rectangles into no-op paths so the stamp keeps only its digits.
        data = stamp.get_contents().get_data().replace(b" re\nf\n", b" re\nn\n")
        resources = stamp["/Resources"].get_object()
        for category, entries in list(resources.items()):
            if isinstance(entries.get_object(), DictionaryObject):
                resources[NameObject(category)] = DictionaryObject(
                    {NameObject("/Stamp" + name[1:]): value for name, value in entries.get_object().items()})
                for name in entries.get_object():
                    data = re.sub(re.escape(name.encode()) + rb"(?=[\s/\[\]<>(){}%]|$)",
                                  b"/Stamp" + name[1:].encode(), data)
        content = stamp.get_contents()
        content.set_data(data)
        stamp.replace_contents(content)
        out = io.BytesIO()
        writer.write(out)
        stamps.append(out.getvalue())
    return tuple(stamps)


def _number_pages(document: bytes, landscape: bool, starts=(0,)) -> bytes:
    """Stamp 2, 3, … centred in the top margin; page 1 stays unnumbered (Decree 30). In a
    batch (the records binder) each document, starting at the pages `starts`, is numbered
    from its own page 1.
    Each stamp's drawing is appended to the page's content after the page's own, kept in
    q … Q, and its resources added to the page's: cheaper than pypdf's merge_page, which
    parses the whole page. The content is compressed again and the stamps' shared font kept
    once, so that a stamped PDF stays about the size of the unstamped one."""
    reader = PdfReader(io.BytesIO(document))
    ends = list(starts[1:]) + [len(reader.pages)]
    longest = max(end - start for start, end in zip(starts, ends))
    if longest < 2:
        return document
    stamps = _stamps(landscape, -(-longest // STAMP_PAGES) * STAMP_PAGES)
    writer = PdfWriter(clone_from=reader)
    for start, end in zip(starts, ends):
        for offset in range(1, end - start):
            page = writer.pages[start + offset]
            stamp = PdfReader(io.BytesIO(stamps[offset])).pages[0]
            resources = page["/Resources"].get_object()
            for category, entries in stamp["/Resources"].items():
                if isinstance(entries.get_object(), DictionaryObject):
                    target = resources.setdefault(NameObject(category), DictionaryObject()).get_object()
                    for name, value in entries.get_object().items():
                        target[NameObject(name)] = value.clone(writer)
            content = page.get_contents()
            content.set_data(b"q\n" + content.get_data() + b"\nQ\n" + stamp.get_contents().get_data())
            page.replace_contents(content)
            page.compress_content_streams()
    writer.compress_identical_objects()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def render_pdf(template: str, landscape: bool = False, **context) -> bytes:
    """Render a report template to PDF bytes, or raise ReportError."""
    _executable()
    document = _wkhtmltopdf(render_html(template, **context), landscape, MARGINS_MM)
    return _number_pages(_place_signature(document), landscape)


# The approving signature's space in a template (the `signature_box` macro) is a link to this
# address: wkhtmltopdf writes its rectangle as a link annotation, which is taken out of the PDF
# and kept in the document information as "page x1 y1 x2 y2" (points), where a visible
# digital signature goes (app.official).
SIGNATURE_LINK = b"https://qms.invalid/signature"
SIGNATURE_BOX_KEY = "/QmsSignatureBox"


def _place_signature(document: bytes, keep: bool = True) -> bytes:
    """Take the signature-space links out of wkhtmltopdf's PDF (whose strings are written
    plain); with `keep`, write the first one's rectangle into the document information
    (SIGNATURE_BOX_KEY)."""
    if SIGNATURE_LINK not in document:
        return document
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(document)))
    box = None
    for number, page in enumerate(writer.pages):
        annotations = page.get("/Annots")
        if annotations is None:
            continue
        kept = ArrayObject()
        for reference in annotations.get_object():
            annotation = reference.get_object()
            action = annotation.get("/A")
            if action is not None and action.get_object().get("/URI") == SIGNATURE_LINK.decode():
                if box is None:
                    box = (number, *[float(v) for v in annotation["/Rect"]])
            else:
                kept.append(reference)
        page[NameObject("/Annots")] = kept
    if keep and box:
        writer.add_metadata({SIGNATURE_BOX_KEY: " ".join(f"{v:g}" for v in box)})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signature_box(document: bytes) -> tuple[int, tuple[float, float, float, float]] | None:
    """(page from 0, (x1, y1, x2, y2)) of the document's signature space, if it has one."""
    value = (PdfReader(io.BytesIO(document)).metadata or {}).get(SIGNATURE_BOX_KEY)
    if not value:
        return None
    page, *box = value.split()
    return int(page), tuple(float(v) for v in box)


def _page_texts(document: bytes) -> list[str]:
    """The text of each page (pdftotext, one process for the whole file), without spaces."""
    executable = shutil.which("pdftotext")
    if executable is None:
        raise ReportError("Máy chủ chưa cài chương trình đọc PDF pdftotext. "
                          "Quản trị viên hãy cài bằng lệnh: sudo apt-get install -y poppler-utils")
    try:
        result = subprocess.run([executable, "-enc", "UTF-8", "-", "-"], input=document, capture_output=True,
                                timeout=TIMEOUT_SECONDS, check=True)
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError):
        raise ReportError("Không đọc lại được PDF vừa tạo (pdftotext). Hãy thử lại sau.") from None
    pages = result.stdout.decode("utf-8", "replace").split("\f")[:-1]
    return [_folded(page) for page in pages]


def _folded(text: str) -> str:
    """Text compared without its spacing, which the layout may change ("Số phiếu:…")."""
    return "".join(unicodedata.normalize("NFC", text).split())


def _first_pages(document: bytes, marks: list[tuple[str, ...]]) -> list[int]:
    """Index of the first page of each document of a batch: the first page after the previous
    document's first page whose text holds every one of that document's marks."""
    texts = _page_texts(document)
    starts, page = [], 0
    for index, wanted in enumerate(marks):
        wanted = [_folded(mark) for mark in wanted]
        while page < len(texts) and not all(mark in texts[page] for mark in wanted):
            page += 1
        if page == len(texts) or (index == 0 and page != 0):
            raise ReportError(f"Không xác định được trang đầu của tài liệu thứ {index + 1} trong tập.")
        starts.append(page)
        page += 1
    return starts


def render_pdf_parts(template: str, contexts: list[dict], marks: list[tuple[str, ...]],
                     landscape: bool = False) -> tuple[bytes, list[int]]:
    """Several documents of one template in ONE wkhtmltopdf run (the records binder): each
    starts on a new page and is numbered from its own page 1. `marks[i]` are texts printed on
    the first page of document i, by which its first page is found in the PDF read back.
    Returns the PDF and the index (from 0) of each document's first page."""
    _executable()
    pages = [render_html(template, **context) for context in contexts]
    head = pages[0][:pages[0].index("<body")]
    bodies = [page[page.index(">", page.index("<body")) + 1:page.rindex("</body>")] for page in pages]
    html = head + "<body>" + "".join(
        f'<div style="page-break-before:always">{body}</div>' if index else f"<div>{body}</div>"
        for index, body in enumerate(bodies)) + "</body></html>"
    document = _wkhtmltopdf(html, landscape, MARGINS_MM)
    starts = _first_pages(document, marks)
    return _number_pages(_place_signature(document, keep=False), landscape, starts), starts


# A text cell beginning with one of these is read as a formula by a spreadsheet (or turns into
# one when the cell is edited): such text is stored as an explicit text cell, quote-prefixed.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "DD/MM/YYYY"
DATETIME_FORMAT = "DD/MM/YYYY HH:MM"


def _put(cell, value) -> None:
    """One value into a cell: text stays text (never a formula), a date is a date cell written
    dd/mm/yyyy, a number a number."""
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"  # openpyxl makes any text beginning with "=" a formula
        if value.startswith(FORMULA_STARTS):
            cell.quotePrefix = True
        return
    cell.value = value
    if isinstance(value, datetime.datetime):
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, datetime.date):
        cell.number_format = DATE_FORMAT


def workbook(sheet_title: str, title_lines: list[str], headers: list[str], rows: list[list],
             widths: tuple[int, ...], formats: dict[int, str] | None = None) -> bytes:
    """An .xlsx of one table: bold title lines, a blank line, the bold heading row, then the
    rows, every cell of the table bordered and wrapped; `widths` of the columns in order.
    Text is stored as text whatever it begins with; pass dates as datetime.date (date cells,
    dd/mm/yyyy) and figures as numbers; `formats`: a number format by column index (from 0)
    for the table's numbers, e.g. {3: "0%"}."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title
    row_number = 0

    def write(values):
        nonlocal row_number
        row_number += 1
        for column, value in enumerate(values, start=1):
            if value is not None:
                _put(sheet.cell(row=row_number, column=column), value)

    for line in title_lines:
        write([line])
        sheet.cell(row=row_number, column=1).font = Font(bold=True, size=13)
    row_number += 1  # a blank line
    heading_row = row_number + 1
    write(headers)
    for row in rows:
        write(row)
        for column, number_format in (formats or {}).items():
            cell = sheet.cell(row=row_number, column=column + 1)
            if isinstance(cell.value, (int, float)):
                cell.number_format = number_format
    thin = Side(style="thin")
    for line in sheet.iter_rows(min_row=heading_row, max_row=row_number, max_col=len(headers)):
        for cell in line:
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in sheet[heading_row]:
        cell.font = Font(bold=True)
    for number, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
