"""The forms word for word (SPEC §6) and the details of Decree 30/2020/NĐ-CP, read back from
the PDFs themselves (pdftotext for the text, pdfplumber for where things are drawn)."""
import datetime
import io
import os
import re
import subprocess
import unicodedata

import pdfplumber
import pytest
from flask_babel import force_locale
from sqlalchemy.exc import IntegrityError

from reports import agency_in_sentence, agency_lines, signature_lines

from app.objectives import documents as objective_documents
from app.objectives.models import ObjectivePlan
from app.reviews import documents as review_documents, services as review_services
from app.reviews.models import Review
from app.tickets import services as ticket_services
from app.tickets.documents import ticket_pdf
from app.tickets.models import Box2Revision
from tests.conftest import future

SEED = "/work/shared/seed/QT.CTCL.txt"

# The fixed lines of the forms at the end of the seed, in their order; "…" stands for a blank the
# clerk fills in (dots or underscores in the seed). Whitespace is not compared: a line may wrap.
# Guidance the filled form replaces ("Ghi họ tên …", "(Ghi tên người báo cáo …)", the sample
# attendees "Họ tên, chức danh", "...TÊN CQHCNN/ ĐƠN VỊ...", the placeholder signer
# "THỦ TRƯỞNG CQHCNN/TRƯỞNG ĐƠN VỊ") is not a fixed line.
BM_CTCL_01 = [
    "ỦY BAN NHÂN DÂN", "HUYỆN CAM LÂM",
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập – Tự do – Hạnh phúc",
    "Cam Lâm, ngày … tháng … năm …",
    "PHIẾU YÊU CẦU HÀNH ĐỘNG KHẮC PHỤC/CẢI TIẾN",
    "Số phiếu:…",
    "Đơn vị đề nghị:",
    "Hành động khắc phục", "Hành động phòng ngừa/cải tiến",
    "Tài liệu liên quan (nếu có):",
    "1. Mô tả sự không phù hợp:",
    "Ngày: … Người đề nghị: …",
    "2. Xác định nguyên nhân và đề xuất biện pháp:",
    "Đơn vị thực hiện:", "Ngày hoàn thành:", "Người thực hiện:", "Trưởng đơn vị thực hiện:",
    "Ngày … tháng … năm …", "Phê duyệt",
    "3. Kiểm tra - Xác nhận thực hiện biện pháp khắc phục/phòng ngừa/cải tiến",
    "Đạt", "Không đạt", "Biện pháp KP/PN mới",
    "Ngày … tháng … năm …", "Người kiểm tra",
]
BM_CTCL_02 = [
    "UBND HUYỆN CAM LÂM", "BAN CHỈ ĐẠO ISO",
    "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập – Tự do – Hạnh phúc",
    "Số: …/BB-BCĐ ISO",  # the seed's "Số :" has a stray space; Decree 30 writes "Số:"
    "Cam Lâm, ngày … tháng … năm …",
    "BIÊN BẢN", "HỌP XEM XÉT CỦA LÃNH ĐẠO",
    "Cuộc họp được khai mạc vào hồi … giờ …, ngày … tháng … năm … tại …; "
    "gồm các nội dung cụ thể như sau:",
    "1. Thành phần tham dự:", "2. Chủ trì:", "3. Thư ký cuộc họp:", "4. Nội dung cuộc họp:",
    "4.1. Các báo cáo", "4.2. Phần thảo luận",
    "TT", "Nội dung thảo luận", "Kết luận của chủ trì",
    "Tình trạng của các hành động từ các cuộc họp xem xét trước đó.",
    "Bối cảnh hoạt động, những thay đổi vấn đề nội bộ và bên ngoài ảnh hưởng tới HTQLCL.",
    "a) Vấn đề bên ngoài:",
    "- Môi trường pháp lý bao gồm chính sách pháp luật nhà nước, các văn bản quy phạm pháp luật hiện "
    "hành có liên quan đến hoạt động của UBND huyện Cam Lâm và các lĩnh vực, quá trình nằm trong phạm "
    "vi áp dụng hệ thống.",
    "- Tình hình kinh tế, chính trị, văn hóa xã hội trong và ngoài nước, tại tỉnh, thành phố hoặc "
    "địa phương.",
    "- Các yếu tố bất thường như: thiên tai, dịch bệnh...",
    "- Sự đổi mới trong hoạt động, ứng dụng công nghệ thông tin, các phương pháp cải cách hành chính "
    "của các cơ quan cùng cấp ở các tỉnh, địa phương khác hoặc trong tỉnh, địa phương mình.",
    "- Sự tác động của các nhà thầu phụ, nhà cung cấp bên ngoài.",
    "b) Vấn đề bên trong:",
    "- Kết quả hoạt động trong nội bộ của UBND huyện Cam Lâm, có thể bao gồm: cơ cấu tổ chức, phân "
    "công chức năng, nhiệm vụ, trách nhiệm và quyền hạn, sự phối kết hợp từ trên xuống dưới, từ dưới "
    "lên trên, liên phòng, bộ phận, những vấn đề bất cập nổi bật... tác động vào các quá trình, hoạt "
    "động, hiệu quả công việc;",
    "- Sự đầy đủ của các nguồn lực bao gồm (nhân lực, vật lực, tài lực);",
    "- Tình hình văn hóa công sở;",
    "- Tri thức của nguồn nhân lực (cán bộ, công chức, viên chức, người lao động);",
    "- Các quá trình của Hệ thống quản lý chất lượng (liên quan đến chức năng quản lý Nhà nước và "
    "cung cấp các dịch vụ hành chính công).",
    "Kết quả thực hiện và hiệu lực của hệ thống:",
    "- Thỏa mãn của người dân, phản hồi bên quan tâm;",
    "- Mức độ thực hiện các MTCL;",
    "- Sự không phù hợp và HĐKP;",
    "- Kết quả thực hiện quá trình và sự phù hợp của sản phẩm và dịch vụ;",
    "- Kết quả theo dõi đo lường;",
    "- Kết quả đánh giá, kết quả thực hiện của các nhà cung cấp...",
    "Sự đầy đủ của nguồn lực",
    "Hiệu lực của hành động giải quyết rủi ro, cơ hội",
    "Các cơ hội cải tiến",
    "Các nội dung khác",
    "5. Kết luận",
    # the seed lists the three headings under its guidance "Ghi kết luận chung …" ending in ";";
    # the filled form prints each with its content, so the punctuation is not compared
    "Các yêu cầu cải tiến cần thực hiện", "Nhu cầu thay đổi HTQLCL", "Nhu cầu về nguồn lực",
    "Biên bản này được đọc trước cuộc họp và toàn bộ thành viên đã nhất trí thông qua.",
    "Cuộc họp kết thúc vào hồi: … giờ …, ngày … tháng … năm …",
    "THƯ KÝ", "CHỦ TRÌ",
]
PLAN = [
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập – Tự do – Hạnh phúc",
    "KẾ HOẠCH THỰC HIỆN MỤC TIÊU CHẤT LƯỢNG NĂM …", "CỦA …",
    "STT", "Mục tiêu chất lượng", "Cách đo lường", "Biện pháp thực hiện/đơn vị thực hiện",
    "Thời gian bắt đầu", "Thời gian hoàn thành",
    "… ngày … tháng … năm …",
]
REPORT = [
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập – Tự do – Hạnh phúc",
    "BÁO CÁO THỰC HIỆN MỤC TIÊU CHẤT LƯỢNG NĂM …", "CỦA …",
    "STT", "Mục tiêu", "Mức đo lường", "Thực tế đạt được", "Nguyên nhân do không đạt mục tiêu",
    "Hướng giải quyết trong thời gian tới",
    "…, ngày … tháng … năm …",
]


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", text))


def _pattern(line: str, blank: str) -> re.Pattern:
    return re.compile(blank.join(re.escape(piece) for piece in _flat(line).split("…")))


def _seed_forms() -> str:
    """The forms at the end of the seed as plain text, without markdown and HTML."""
    with open(SEED, encoding="utf-8") as f:
        text = f.read()
    text = text[text.index("**ỦY BAN NHÂN DÂN"):]
    return _flat(re.sub(r"<[^>]+>|\*\*|\*", "", text))


def pdf_text(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()


def body_text(data: bytes) -> str:
    """The text of the pages in order, without the page numbers stamped on pages 2, 3, …"""
    pages = pdf_text(data).split("\f")
    return "".join([pages[0]] + [re.sub(rf"^\s*{n}\s*\n", "", page) for n, page in enumerate(pages[1:], 2)])


def missing_lines(data: bytes, lines: list[str]) -> list[str]:
    """The fixed lines the PDF lacks, counting repeated ones (a blank holds ≤ 120 characters)."""
    text = _flat(body_text(data))
    missing = []
    for line in dict.fromkeys(lines):
        if len(_pattern(line, ".{0,120}?").findall(text)) < lines.count(line):
            missing.append(line)
    return missing


@pytest.mark.parametrize("lines", [BM_CTCL_01, BM_CTCL_02, PLAN, REPORT],
                         ids=["BM.CTCL.01", "BM.CTCL.02", "plan", "report"])
def test_the_fixed_lines_are_the_seeds(lines):
    seed = _seed_forms()
    assert [line for line in lines if not _pattern(line, ".{0,25}?").search(seed)] == []


def closed_ticket(make_ticket):
    return make_ticket(state="closed", related_documents="QT.CTCL", description="Hồ sơ trả trễ hạn")


def test_bm_ctcl_01_word_for_word(make_ticket, db):
    assert missing_lines(ticket_pdf(closed_ticket(make_ticket)), BM_CTCL_01) == []


def approved_meeting(db) -> Review:
    return db.session.query(Review).filter_by(form="meeting", state="minutes_approved").order_by(Review.id).first()


def test_bm_ctcl_02_word_for_word(db, user, unit):
    """A meeting with every part of the form filled in but the chair's conclusions: their column,
    printed beside the topics, would interleave with a topic that a page break splits."""
    secretary = user("thuky.iso")
    review = review_services.create_review(secretary, "meeting", datetime.date(2019, 1, 1),
                                           datetime.date(2019, 12, 31))
    review_services.save_content(secretary, review.id, {
        "meeting_date": "2019-12-20", "start_time": "08:00", "end_time": "10:30", "place": "Hội trường",
        "chair_id": user("chutich").id, "secretary_id": secretary.id,
        "attendee_ids": [user("truongban.iso").id], "other_attendees": "Đại diện các phòng",
        "presentations": [{"reporter": "Thư ký ISO", "summary": "Kết quả vận hành HTQLCL."}],
        "general_conclusion": "HTQLCL phù hợp.", "improvement_needs": "Rà soát quy trình.",
        "qms_change_needs": "Không.", "resource_needs": "Thêm 01 công chức.",
        "actions": [{"description": "Rà soát quy trình", "focal_unit_id": unit("KTHT").id,
                     "due_date": future(60)}]})
    data, _ = review_documents.review_pdf(review, "minutes")
    assert missing_lines(data, BM_CTCL_02) == []


def test_phu_luc_3_word_for_word(db, unit):
    plan = db.session.query(ObjectivePlan).filter_by(unit_id=unit("TNMT").id, state="approved").first()
    assert missing_lines(objective_documents.export(plan, "plan", "pdf")[0], PLAN) == []
    assert missing_lines(objective_documents.export(plan, "report", "pdf")[0], REPORT) == []


def test_the_review_page_shows_the_topics_of_the_form(db, client_as_user):
    page = client_as_user("thuky.iso").get(f"/reviews/show/{approved_meeting(db).id}").text
    for line in ("a) Vấn đề bên ngoài:", "b) Vấn đề bên trong:", "- Mức độ thực hiện các MTCL;",
                 "- Tình hình văn hóa công sở;"):
        assert line in page, line


# --- Decree 30 details --------------------------------------------------------------------

def test_numbers_below_ten_are_zero_padded(db):
    meeting = approved_meeting(db)
    assert meeting.number < 10 and meeting.display_number == f"{meeting.number:02d}/BB-BCĐ ISO"
    text = pdf_text(review_documents.review_pdf(meeting, "minutes")[0])
    assert f"Số: 0{meeting.number}/BB-BCĐ ISO" in text


def issued_notice(user, year: int, issue: bool = True) -> Review:
    """A report-form review walked to its notice, issued by the top leader unless `issue` is False."""
    secretary = user("thuky.iso")
    review = review_services.create_review(secretary, "report", datetime.date(year, 1, 1),
                                           datetime.date(year, 6, 30))
    review_services.apply_transition(secretary, review.id, "submit_report", {})
    review_services.apply_transition(user("truongban.iso"), review.id, "approve_report", {})
    review_services.save_content(secretary, review.id, {"general_conclusion": "HTQLCL phù hợp, có hiệu lực."})
    review_services.apply_transition(secretary, review.id, "submit_notice", {})
    assert review.notice_number is None
    if not issue:
        return review
    return review_services.apply_transition(user("chutich"), review.id, "issue_notice", {})


def test_the_notice_has_its_own_number_series(db, user):
    first, second = issued_notice(user, 2091), issued_notice(user, 2091)
    year = datetime.date.today().year  # the series runs by the year the notice is issued
    assert first.notice_year == second.notice_year == year
    assert second.notice_number == first.notice_number + 1
    assert second.notice_display_number == f"{second.notice_number:02d}/TB-UBND"
    text = pdf_text(review_documents.review_pdf(second, "notice")[0])
    assert f"Số: {second.notice_display_number}" in text
    assert "/BB-BCĐ ISO" not in text and "DỰ THẢO" not in text
    second.notice_number = first.notice_number
    with pytest.raises(IntegrityError):  # two notices of a year never share a number
        db.session.flush()
    db.session.rollback()


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="concurrency is tested on PostgreSQL (SQLite serialises writers by itself)")
def test_notices_issued_at_the_same_moment_get_consecutive_numbers(app, db, user):
    from app.extensions import db as database
    from app.organisation.models import QmsUser
    from tests.test_concurrency import run_together

    ids = [issued_notice(user, 2097, issue=False).id for _ in range(4)]
    leader_id = user("chutich").id

    def issue(review_id):
        def job():
            actor = database.session.get(QmsUser, leader_id)
            return review_services.apply_transition(actor, review_id, "issue_notice", {}).notice_number
        return job

    numbers = run_together(app, [issue(i) for i in ids])
    assert all(isinstance(n, int) for n in numbers), numbers
    assert sorted(numbers) == list(range(min(numbers), min(numbers) + 4))


def test_the_notice_is_signed_and_sent_as_decree_30_says(db, user):
    text = pdf_text(review_documents.review_pdf(issued_notice(user, 2092), "notice")[0])
    assert re.search(r"TM\. ỦY BAN NHÂN DÂN\s+CHỦ TỊCH\s+Ngô Văn Bảo", text)
    assert text.count("CHỦ TỊCH") == 1 and "UBND HUYỆN" not in text
    assert "Nơi nhận:" in text and "Lưu: VT" in text
    # the agency named in a sentence is written in ordinary case
    assert "lãnh đạo UBND huyện Cam Lâm thông báo" in re.sub(r"\s+", " ", text)


def test_an_unissued_notice_is_a_draft_without_a_number(db, user):
    secretary = user("thuky.iso")
    review = review_services.create_review(secretary, "report", datetime.date(2093, 1, 1),
                                           datetime.date(2093, 6, 30))
    text = pdf_text(review_documents.review_pdf(review, "notice")[0])
    assert "DỰ THẢO" in text and re.search(r"Số: \.+/TB-UBND", text)


def test_the_qms_report_has_recipients_and_a_draft_mark_until_approved(db, user):
    secretary = user("thuky.iso")
    review = review_services.create_review(secretary, "report", datetime.date(2094, 1, 1),
                                           datetime.date(2094, 6, 30))
    draft = pdf_text(review_documents.review_pdf(review, "report")[0])
    assert "DỰ THẢO" in draft and "Nơi nhận:" in draft and "Thành viên Ban chỉ đạo ISO" in draft
    assert "DỰ THẢO" in pdf_text(review_documents.annual_report_pdf(2094))  # approved by no one
    review_services.apply_transition(secretary, review.id, "submit_report", {})
    review_services.apply_transition(user("truongban.iso"), review.id, "approve_report", {})
    approved = pdf_text(review_documents.review_pdf(review, "report")[0])
    assert "DỰ THẢO" not in approved and "Huỳnh Văn Nam" in approved


def test_minutes_are_a_draft_until_the_chair_approves_them(db, user):
    draft = review_services.create_review(user("thuky.iso"), "meeting", datetime.date(2095, 1, 1),
                                          datetime.date(2095, 12, 31))
    assert "DỰ THẢO" in pdf_text(review_documents.review_pdf(draft, "minutes")[0])
    assert "DỰ THẢO" not in pdf_text(review_documents.review_pdf(approved_meeting(db), "minutes")[0])


def test_tickets_are_drafts_until_finished(make_ticket):
    assert "DỰ THẢO" in pdf_text(ticket_pdf(make_ticket()))
    assert "DỰ THẢO" in pdf_text(ticket_pdf(make_ticket(state="implementation")))
    assert "DỰ THẢO" not in pdf_text(ticket_pdf(closed_ticket(make_ticket)))


def test_plan_signatures_come_from_the_signers_position(db, unit):
    unit_plan = db.session.query(ObjectivePlan).filter_by(unit_id=unit("TNMT").id, state="approved").first()
    text = pdf_text(objective_documents.export(unit_plan, "plan", "pdf")[0])
    assert re.search(r"TRƯỞNG PHÒNG\s+Phạm Văn Hùng", text) and "THỦ TRƯỞNG" not in text
    assert "DỰ THẢO" not in text
    agency_plan = db.session.query(ObjectivePlan).filter_by(unit_id=None, state="approved").first()
    for document in ("plan", "report"):
        text = pdf_text(objective_documents.export(agency_plan, document, "pdf")[0])
        assert re.search(r"TM\. ỦY BAN NHÂN DÂN\s+CHỦ TỊCH\s+Ngô Văn Bảo", text), document
        assert text.count("CHỦ TỊCH") == 1 and "THỦ TRƯỞNG" not in text


def test_a_draft_plan_is_marked_and_names_the_expected_signer(db, unit):
    draft = db.session.query(ObjectivePlan).filter_by(unit_id=unit("KTHT").id, state="draft").first()
    text = pdf_text(objective_documents.export(draft, "plan", "pdf")[0])
    assert "DỰ THẢO" in text and "TRƯỞNG PHÒNG" in text and "Lê Anh Tùng" not in text


def test_signature_lines():
    agency, unit_name = "ỦY BAN NHÂN DÂN HUYỆN CAM LÂM", "Phòng Tài nguyên và Môi trường"
    assert signature_lines("Chủ tịch UBND huyện", agency, "Chủ tịch") == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]
    assert signature_lines("Phó Chủ tịch Ủy ban nhân dân huyện Cam Lâm", agency, "Chủ tịch") == [
        "TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"]
    assert signature_lines(None, agency, "Chủ tịch") == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]
    assert signature_lines("Trưởng phòng", unit_name, "Trưởng đơn vị") == ["TRƯỞNG PHÒNG"]
    assert signature_lines("Trưởng phòng Tài nguyên và Môi trường", unit_name, "Trưởng đơn vị") == ["TRƯỞNG PHÒNG"]
    assert signature_lines("Phó Trưởng phòng", unit_name, "Trưởng đơn vị") == ["KT. TRƯỞNG PHÒNG", "PHÓ TRƯỞNG PHÒNG"]
    assert signature_lines("Quyền Trưởng phòng", unit_name, "Trưởng đơn vị") == ["Q. TRƯỞNG PHÒNG"]
    assert signature_lines("Chánh Văn phòng HĐND và UBND", "Văn phòng HĐND và UBND", "x") == ["CHÁNH VĂN PHÒNG"]
    assert signature_lines("Giám đốc Sở Khoa học và Công nghệ", "SỞ KHOA HỌC VÀ CÔNG NGHỆ", "x") == ["GIÁM ĐỐC"]


def test_agency_names():
    assert agency_lines("ỦY BAN NHÂN DÂN HUYỆN CAM LÂM") == ["ỦY BAN NHÂN DÂN", "HUYỆN CAM LÂM"]
    assert agency_lines("BAN CHỈ ĐẠO ISO") == ["BAN CHỈ ĐẠO ISO"]
    assert agency_in_sentence("UBND HUYỆN CAM LÂM") == "UBND huyện Cam Lâm"
    assert agency_in_sentence("ỦY BAN NHÂN DÂN TỈNH KHÁNH HÒA") == "Ủy ban nhân dân tỉnh Khánh Hòa"
    assert agency_in_sentence("ỦY BAN NHÂN DÂN XÃ CAM LÂM") == "Ủy ban nhân dân xã Cam Lâm"
    assert agency_in_sentence("ỦY BAN NHÂN DÂN THỊ XÃ NINH HÒA") == "Ủy ban nhân dân thị xã Ninh Hòa"
    assert agency_in_sentence("BAN CHỈ ĐẠO ISO") == "Ban chỉ đạo ISO"


def _rule_under(data: bytes, name: list[str]) -> tuple[float, float]:
    """(length of the name's longest line, length of the short rule drawn under it) on page 1."""
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        page = pdf.pages[0]
        words = {" ".join(unicodedata.normalize("NFC", w["text"]).split()): w
                 for w in page.extract_words(keep_blank_chars=True, use_text_flow=True)}
        lines = [words[line] for line in name]
        rules = [r for r in page.rects + page.lines
                 if r["height"] < 2 and 0 < r["top"] - lines[-1]["bottom"] < 12
                 and r["x0"] < lines[-1]["x1"] and r["x1"] > lines[-1]["x0"]]
        assert len(rules) == 1, f"no rule under {name}"
        return max(line["x1"] - line["x0"] for line in lines), rules[0]["x1"] - rules[0]["x0"]


@pytest.mark.parametrize("document", ["ticket", "minutes", "plan"])
def test_the_agency_block_is_laid_out_as_on_the_form(document, db, make_ticket, unit):
    if document == "ticket":  # a collective body over its locality, in two lines, as on BM.CTCL.01
        data, name = ticket_pdf(closed_ticket(make_ticket)), ["ỦY BAN NHÂN DÂN", "HUYỆN CAM LÂM"]
    elif document == "minutes":
        data, name = review_documents.review_pdf(approved_meeting(db), "minutes")[0], ["BAN CHỈ ĐẠO ISO"]
    else:
        plan = db.session.query(ObjectivePlan).filter_by(unit_id=unit("TNMT").id, state="approved").first()
        data, name = objective_documents.export(plan, "plan", "pdf")[0], ["PHÒNG TÀI NGUYÊN VÀ MÔI TRƯỜNG"]
    length, rule = _rule_under(data, name)
    assert length / 3 <= rule <= length / 2, (length, rule)


def test_a_ticket_closed_as_not_effective_prints_its_follow_up(make_ticket, user):
    ticket = make_ticket(state="verification")
    with force_locale("en"):  # the verifier reads the English interface
        ticket = ticket_services.apply_transition(user("chutich"), ticket.id, "verify", {
            "result": "fail", "verified_on": datetime.date.today().isoformat()})
    assert ticket.state == "closed_ineffective"
    [follow_up] = ticket.follow_ups
    text = pdf_text(ticket_pdf(ticket))
    assert f"Phiếu yêu cầu mới số {follow_up.display_number}" in re.sub(r"\s+", " ", text)
    follow_text = re.sub(r"\s+", " ", pdf_text(ticket_pdf(follow_up)))
    assert f"Tiếp theo phiếu số {ticket.display_number}" in follow_text
    assert "Follow-up" not in follow_text and "Original description" not in follow_text


def test_box_2_amendments_print_in_order(make_ticket, user):
    ticket = make_ticket(state="implementation")
    for text in ("Điều chỉnh thứ nhất", "Điều chỉnh thứ hai"):
        change = ticket_services.request_change(user("canbo.ktht"), ticket.id, {
            "kind": "measures", "text": text, "new_measures": f"{text}: biện pháp"})
        ticket_services.decide_change(user("truongban.iso"), change.id, True)
    text = pdf_text(ticket_pdf(ticket))
    assert text.index("Biện pháp khắc phục") < text.index("Điều chỉnh thứ nhất") < text.index("Điều chỉnh thứ hai")


def test_box_2_history_is_vietnamese_whatever_the_actors_language(make_ticket, user, db):
    ticket = make_ticket(state="approval")
    with force_locale("en"):
        ticket_services.apply_transition(user("truongban.iso"), ticket.id, "reject_proposal", {"comment": "No"})
        ticket_services.apply_transition(user("canbo.ktht"), ticket.id, "propose", {
            "cause": "Nguyên nhân mới", "measures": "Biện pháp mới", "completion_date": future(40)})
    [revision] = ticket.box2_revisions
    assert revision.reason == "new_proposal"  # a code; its label is chosen at print time
    db.session.add(Box2Revision(ticket=ticket, cause="Cũ", reason="Ghi chú cũ nhập tay"))
    db.session.commit()
    with force_locale("en"):  # printed from an English screen
        text = re.sub(r"\s+", " ", pdf_text(ticket_pdf(ticket)))
    assert "Được thay thế bằng đề xuất mới" in text and "Replaced" not in text
    assert "Ghi chú cũ nhập tay" in text  # legacy free text, as it was typed
