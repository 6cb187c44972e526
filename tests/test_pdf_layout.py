"""Type, face and pagination of every document, measured in the PDFs themselves with pdfplumber
(SPEC §6; issue 11 items 1, 2, 5 and 6)."""
import datetime
import io
import re

import pdfplumber
import pytest
from pdfplumber.utils import cluster_objects

import reports

MM = 72 / 25.4
TOP, BOTTOM, LEFT, RIGHT = 20 * MM, 20 * MM, 30 * MM, 15 * MM  # Decree 30 margins
FAMILY = {"LiberationSerif", "LiberationSerif-Bold", "LiberationSerif-Italic", "LiberationSerif-BoldItalic"}
CHECKBOXES = {"☐", "☒"}
TITLES = {
    "ticket": "PHIẾU YÊU CẦU HÀNH ĐỘNG KHẮC PHỤC/CẢI TIẾN",
    "minutes": "BIÊN BẢN",
    "report": "BÁO CÁO",
    "notice": "THÔNG BÁO",
    "plan": "KẾ HOẠCH THỰC HIỆN MỤC TIÊU CHẤT LƯỢNG",
    "plan_report": "BÁO CÁO THỰC HIỆN MỤC TIÊU CHẤT LƯỢNG",
}
# The first line of a body paragraph, for the first-line indent.
FIRST_LINES = {"minutes": "Cuộc họp được khai mạc", "notice": "Căn cứ", "report": "- "}
URL = "https://dichvucong.khanhhoa.gov.vn/tra-cuu/" + "a1b2c3d4e5" * 25 + "/ket-qua-giai-quyet.html"


# --- reading the PDF ---------------------------------------------------------------------

def face(char) -> str:
    return char["fontname"].split("+")[-1]


def is_bold(char) -> bool:
    return "Bold" in face(char)


def lines(page) -> list[list[dict]]:
    """The page's printed characters as lines, top to bottom, each left to right."""
    chars = [c for c in page.chars if c["text"].strip()]
    return [sorted(line, key=lambda c: c["x0"]) for line in cluster_objects(chars, "top", 2)]


def find(page, phrase: str) -> list[dict]:
    """The characters of the first occurrence of `phrase` on one line (spaces ignored)."""
    wanted = re.sub(r"\s", "", phrase)
    for line in lines(page):
        text = "".join(c["text"] for c in line)
        at = text.find(wanted)
        if at >= 0:
            return line[at:at + len(wanted)]
    return []


def sizes(chars) -> set[float]:
    return {round(c["size"], 2) for c in chars}


def within(chars, low: float, high: float) -> bool:
    return bool(chars) and all(low <= c["size"] <= high for c in chars)


def page_texts(pdf) -> list[str]:
    """Each page's text below the top margin (no page number) without white space, so that
    wrapped lines read on."""
    return [re.sub(r"\s", "", page.crop((0, TOP - 1, page.width, page.height)).extract_text() or "")
            for page in pdf.pages]


def unstamped(render):
    """The same document without page numbers, to compare file sizes."""
    stamp = reports._number_pages
    reports._number_pages = lambda document, landscape: document
    try:
        return render()
    finally:
        reports._number_pages = stamp


# --- the documents -----------------------------------------------------------------------

def _demo_plan(db):
    from app.objectives.models import ObjectivePlan

    return next(plan for plan in db.session.query(ObjectivePlan).order_by(ObjectivePlan.id) if plan.report)


def _review(db, form):
    from app.reviews.models import Review

    return db.session.query(Review).filter_by(form=form).order_by(Review.id).first()


@pytest.fixture
def render(db, make_ticket):
    """render(kind) → the PDF of one demo document of that kind, as the product prints it."""
    from app.objectives.documents import export
    from app.reviews.documents import review_pdf
    from app.tickets.documents import ticket_pdf

    def make(kind: str) -> bytes:
        if kind == "ticket":
            return ticket_pdf(make_ticket(state="closed", description="Hồ sơ đất đai trả trễ hạn — kiểm thử cỡ chữ"))
        if kind in ("minutes", "report"):
            return review_pdf(_review(db, "meeting"), kind)[0]
        if kind == "notice":
            return review_pdf(_review(db, "report"), "notice")[0]
        return export(_demo_plan(db), "plan" if kind == "plan" else "report", "pdf")[0]

    return make


def check_margins(pdf):
    for number, page in enumerate(pdf.pages, start=1):
        for c in page.chars:
            if not c["text"].strip():
                continue
            assert c["x0"] >= LEFT - 1 and c["x1"] <= page.width - RIGHT + 0.5, (number, c["text"], c["x0"], c["x1"])
            assert c["bottom"] <= page.height - BOTTOM + 1, (number, c["text"], c["bottom"])
            if c["top"] < TOP - 1:  # only the page number lives in the top margin
                assert number > 1 and c["text"] in str(number), (number, c["text"], c["top"])


def check_page_numbers(pdf):
    for number, page in enumerate(pdf.pages, start=1):
        digits = [c for c in page.chars if c["text"].strip() and c["top"] < TOP - 1]
        if number == 1:
            assert digits == []
            continue
        assert "".join(c["text"] for c in digits) == str(number)
        assert within(digits, 13, 14), sizes(digits)
        middle = (digits[0]["x0"] + digits[-1]["x1"]) / 2
        assert abs(middle - (LEFT + page.width - RIGHT) / 2) < 3 * MM


def check_one_face(pdf):
    """Every character in Liberation Serif 2.x (Times metrics); 1.x lacks most Vietnamese
    letters, and Qt then sets them in DejaVu."""
    faces = {face(c) for page in pdf.pages for c in page.chars if c["text"].strip() and c["text"] not in CHECKBOXES}
    assert faces <= FAMILY, faces


@pytest.mark.parametrize("kind", list(TITLES))
def test_every_document_prints_true_sizes_in_one_face(render, kind):
    with pdfplumber.open(io.BytesIO(render(kind))) as pdf:
        first = pdf.pages[0]
        check_margins(pdf)
        check_one_face(pdf)
        check_page_numbers(pdf)

        title = find(first, TITLES[kind])
        assert within(title, 13, 14) and all(map(is_bold, title)), sizes(title)
        motto = find(first, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM") or find(first, "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM")
        assert within(motto, 12, 13) and all(map(is_bold, motto)), sizes(motto)
        motto2 = find(first, "Độc lập") + find(first, "Hạnh phúc")
        assert within(motto2, 13, 14) and all(map(is_bold, motto2)), sizes(motto2)

        # the agency block: left of the motto, above the title, less the number line
        agency = [c for line in lines(first) if line[0]["bottom"] < title[0]["top"]
                  and not "".join(x["text"] for x in line).startswith("Số")
                  for c in line if c["x1"] < motto[0]["x0"] - 1]
        assert within(agency, 12, 13), sizes(agency)
        assert any(map(is_bold, agency))

        # body: every upright, regular character below the title, down to the "Nơi nhận" block
        # (11 pt by Decree 30) where there is one
        receivers = {number: find(page, "Nơi nhận") for number, page in enumerate(pdf.pages)}
        body = [c for number, page in enumerate(pdf.pages) for c in page.chars
                if c["text"].strip() and face(c) == "LiberationSerif" and c["top"] >= TOP - 1
                and (number > 0 or c["top"] > title[0]["bottom"])
                and not (receivers[number] and c["top"] >= receivers[number][0]["top"] - 1)]
        assert within(body, 13, 14), sizes(body)

        if kind in FIRST_LINES:
            line = next(line for line in lines(first) if line[0]["top"] > title[0]["bottom"]
                        and "".join(c["text"] for c in line).startswith(FIRST_LINES[kind].replace(" ", "")))
            indent = line[0]["x0"] - LEFT
            assert 1.0 * 10 * MM - 0.5 <= indent <= 1.27 * 10 * MM, indent / MM


def test_a_forty_row_plan_repeats_its_header_and_keeps_rows_whole(db, unit):
    from app.objectives.documents import export
    from app.objectives.models import ObjectivePlan, ObjectiveRow

    plan = ObjectivePlan(year=2097, unit_id=unit("KTHT").id, state="approved", approved_on=datetime.date(2097, 1, 20))
    db.session.add(plan)
    for i in range(1, 41):
        plan.rows.append(ObjectiveRow(
            position=i, objective=f"MT{i:02d} giải quyết đúng hạn hồ sơ thủ tục hành chính lĩnh vực {i}",
            measurement_method=f"Tỷ lệ hồ sơ đúng hạn trên tổng số hồ sơ của lĩnh vực {i}",
            target_kind="ge", target_value=95, target_unit="%",
            measures=f"Theo dõi hằng tháng; nhắc việc qua phần mềm một cửa HẾT{i:02d}",
            start_date=datetime.date(2097, 1, 1), end_date=datetime.date(2097, 12, 31)))
    db.session.flush()
    data = export(plan, "plan", "pdf")[0]
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        texts = page_texts(pdf)
        assert len(texts) >= 3
        for text in texts[:-1]:  # the last page may hold the signature block alone
            assert "STT" in text and "Mụctiêuchấtlượng" in text and "Cáchđolường" in text
        for i in range(1, 41):  # a row's first and last words are on one page
            first = [n for n, text in enumerate(texts) if f"MT{i:02d}" in text]
            last = [n for n, text in enumerate(texts) if f"HẾT{i:02d}" in text]
            assert len(first) == 1 and first == last, (i, first, last)
        check_margins(pdf)
        check_one_face(pdf)
        check_page_numbers(pdf)
    assert len(data) <= 1.5 * len(unstamped(lambda: export(plan, "plan", "pdf")[0]))


def test_a_long_ticket_wraps_inside_the_margins_and_keeps_its_signatures_whole(make_ticket):
    from app.tickets.documents import ticket_pdf

    sentence = "Hồ sơ đất đai của ông Nguyễn Văn Trường trả chậm vì thiếu phối hợp giữa các phòng. "
    description = (sentence * 80)[:6000]
    assert len(description) == 6000 and len(URL) >= 290
    ticket = make_ticket(state="closed", description=description, related_documents=URL)
    data = ticket_pdf(ticket)
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        texts = page_texts(pdf)
        assert len(texts) >= 2
        check_margins(pdf)  # the URL wraps instead of running off the paper
        check_one_face(pdf)
        check_page_numbers(pdf)
        assert URL in "".join(texts)
        assert re.sub(r"\s", "", description) in "".join(texts)
        for label, signer in (("Phêduyệt", ticket.approved_by), ("Ngườikiểmtra", ticket.verified_by)):
            name = re.sub(r"\s", "", signer.get_full_name())
            page = next(text for text in texts if label in text)
            assert name in page.split(label, 1)[1], label  # the signer's name under the title
    assert len(data) <= 1.5 * len(unstamped(lambda: ticket_pdf(ticket)))
