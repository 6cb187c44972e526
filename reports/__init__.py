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

import pdfkit
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject
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


def _number_pages(document: bytes, landscape: bool) -> bytes:
    """Stamp 2, 3, … centred in the top margin; page 1 stays unnumbered (Decree 30).
    Each stamp's drawing is appended to the page's content after the page's own, kept in
    q … Q, and its resources added to the page's: cheaper than pypdf's merge_page, which
    parses the whole page. The content is compressed again and the stamps' shared font kept
    once, so that a stamped PDF stays about the size of the unstamped one."""
    reader = PdfReader(io.BytesIO(document))
    count = len(reader.pages)
    if count < 2:
        return document
    stamps = _stamps(landscape, -(-count // STAMP_PAGES) * STAMP_PAGES)
    writer = PdfWriter(clone_from=reader)
    for page, stamp_pdf in zip(writer.pages[1:], stamps[1:]):
        stamp = PdfReader(io.BytesIO(stamp_pdf)).pages[0]
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
    return _number_pages(document, landscape)
