"""BM.CTCL.01 read back with pdftotext; the report engine's safety rules."""
import datetime
import subprocess

import pytest

from reports import ReportError, date_line, date_words, render_pdf


def pdf_text(data: bytes, first=None, last=None) -> str:
    args = ["pdftotext", "-layout"]
    if first:
        args += ["-f", str(first), "-l", str(last or first)]
    result = subprocess.run(args + ["-", "-"], input=data, capture_output=True, check=True)
    return result.stdout.decode("utf-8")


def pdf_pages(data: bytes) -> int:
    info = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True).stdout.decode()
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def test_date_line_follows_decree_30():
    assert date_line("Cam Lâm", datetime.date(2026, 2, 5)) == "Cam Lâm, ngày 05 tháng 02 năm 2026"
    assert date_words(datetime.date(2026, 11, 24)) == "ngày 24 tháng 11 năm 2026"
    assert date_words(datetime.date(2026, 3, 9)) == "ngày 09 tháng 3 năm 2026"
    assert date_words(None) == "ngày ..... tháng ..... năm ....."


def test_closed_ticket_prints_every_box(make_ticket, client_as_user):
    ticket = make_ticket(state="closed", kind="preventive",
                         description="Tiếp nhận hồ sơ đất đai thiếu giấy ủy quyền — đề nghị cải tiến")
    response = client_as_user("canbo.ktht").get(f"/tickets/{ticket.id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "inline" in response.headers["Content-Disposition"]
    text = pdf_text(response.data)
    for expected in [
        # at its true size the agency's name needs two lines beside the motto
        "ỦY BAN NHÂN DÂN", "CAM LÂM", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập – Tự do – Hạnh phúc", "PHIẾU YÊU CẦU HÀNH ĐỘNG KHẮC PHỤC/CẢI TIẾN",
        f"Số phiếu: {ticket.display_number}", "Đơn vị đề nghị: Phòng Kinh tế và Hạ tầng",
        "Tiếp nhận hồ sơ đất đai thiếu giấy ủy quyền — đề nghị cải tiến",
        "1. Mô tả sự không phù hợp:", "2. Xác định nguyên nhân và đề xuất biện pháp:",
        "Nguyên nhân gốc", "Biện pháp khắc phục", "Người đề nghị: Nguyễn Văn Minh",
        "Trưởng đơn vị thực hiện: Lê Anh Tùng", "Phê duyệt", "Huỳnh Văn Nam",
        "3. Kiểm tra - Xác nhận thực hiện biện pháp khắc phục/phòng ngừa/cải tiến",
        "Biên bản kiểm tra", "Người kiểm tra", "Ngô Văn Bảo",
        date_line("Cam Lâm", ticket.requested_on),
    ]:
        assert expected in text, expected
    assert "Hành động khắc phục ☐" in text and "Hành động phòng ngừa/cải tiến ☒" in text
    assert "Đạt ☒" in text and "Không đạt ☐" in text and "Biện pháp KP/PN mới ☐" in text


def test_draft_prints_with_empty_boxes(make_ticket, client_as_user):
    ticket = make_ticket()
    text = pdf_text(client_as_user("canbo.ktht").get(f"/tickets/{ticket.id}/pdf").data)
    assert "Hành động khắc phục ☒" in text and "Đạt ☐" in text
    assert "Ngày ..... tháng ..... năm ....." in text


def test_user_text_is_escaped_and_cannot_set_pdfkit_options(make_ticket, client_as_user):
    hostile = ('<meta name="pdfkit-orientation" content="Landscape">'
               '<img src="file:///etc/passwd"><script>document.write("INJECTED")</script>')
    ticket = make_ticket(description=hostile)
    data = client_as_user("canbo.ktht").get(f"/tickets/{ticket.id}/pdf").data
    text = pdf_text(data)
    assert 'name="pdfkit-orientation"' in text.replace("\n", "")
    assert "INJECTED" not in text.replace('document.write("INJECTED")', "")
    info = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True).stdout.decode()
    assert "595.3 x 841.9" in info or "595 x 842" in info  # still A4 portrait


def test_page_numbers_from_page_two(make_ticket, client_as_user):
    ticket = make_ticket(description="\n".join(f"Dòng mô tả số {i} của một hồ sơ dài." for i in range(90)))
    data = client_as_user("canbo.ktht").get(f"/tickets/{ticket.id}/pdf").data
    assert pdf_pages(data) >= 2
    first, second = pdf_text(data, 1), pdf_text(data, 2)
    assert second.strip().splitlines()[0].strip() == "2"
    assert "Dòng mô tả số 60" in pdf_text(data)  # the stamp hides none of the body
    assert first.strip().splitlines()[0].strip() != "1"


def test_missing_wkhtmltopdf_gives_a_clear_message(make_ticket, client_as_user, monkeypatch, tmp_path):
    ticket = make_ticket()
    client = client_as_user("canbo.ktht")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ReportError, match="apt-get install"):
        render_pdf("bm_ctcl_01.html")
    response = client.get(f"/tickets/{ticket.id}/pdf")
    assert response.status_code == 503
    assert "wkhtmltopdf" in response.text and "apt-get install" in response.text
    assert "Traceback" not in response.text


def test_box2_prints_the_original_measures_and_every_amendment(make_ticket, user, client_as_user):
    from app.tickets import services

    ticket = make_ticket(state="implementation")
    change = services.request_change(user("canbo.ktht"), ticket.id, {
        "kind": "measures", "text": "Thêm một đợt tập huấn", "new_measures": "Tập huấn lại toàn bộ cán bộ"})
    services.decide_change(user("truongban.iso"), change.id, True)
    text = pdf_text(client_as_user("canbo.ktht").get(f"/tickets/{ticket.id}/pdf").data)
    assert "Biện pháp khắc phục" in text and "Tập huấn lại toàn bộ cán bộ" in text
    assert "Điều chỉnh ngày" in text
