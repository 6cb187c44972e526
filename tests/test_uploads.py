"""Evidence files: stored in the database, checked by content, capped, safely named."""
import io
import zipfile

import pytest

from app.tickets import files
from tests.conftest import csrf_token, demo_agency

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def _upload(client, url, *uploads, form_page="/tickets/add"):
    token = csrf_token(client.get(form_page).text)
    data = {"csrf_token": token, "files": [(io.BytesIO(content), name) for name, content in uploads]}
    return client.post(url, data=data, content_type="multipart/form-data", follow_redirects=True)


def test_check_upload_rules(app):
    with demo_agency(app):
        assert files.check_upload("bien-ban.pdf", PDF) == ("bien-ban.pdf", "application/pdf")
        assert files.check_upload("anh.PNG", PNG)[1] == "image/png"
        assert files.check_upload("bao-cao.docx", docx_bytes())[1].endswith("wordprocessingml.document")
        with pytest.raises(files.UploadRefused):
            files.check_upload("virus.pdf", b"MZ\x90\x00 this is an exe")
        with pytest.raises(files.UploadRefused):
            files.check_upload("script.sh", b"#!/bin/sh\n")
        with pytest.raises(files.UploadRefused):
            files.check_upload("fake.docx", PDF)
        with pytest.raises(files.UploadRefused):
            files.check_upload("empty.pdf", b"")
    assert files.safe_filename("../../etc/passwd.pdf") == "passwd.pdf"
    assert files.safe_filename("..\\..\\windows\\evil.pdf") == "evil.pdf"
    assert files.safe_filename('bad"<name>.pdf') == "badname.pdf"
    assert files.safe_filename("../") == "tep-dinh-kem"


def test_upload_and_download_on_a_ticket(make_ticket, client_as_user, db):
    from app.tickets.models import Attachment

    ticket = make_ticket(state="unit_review")
    client = client_as_user("canbo.ktht")
    page = _upload(client, f"/tickets/{ticket.id}/files",
                   ("../../Biên bản kiểm tra.pdf", PDF), ("ảnh hiện trường.png", PNG))
    assert "2 tệp" in page.text
    stored = db.session.query(Attachment).filter_by(ticket_id=ticket.id).order_by(Attachment.id).all()
    assert [a.filename for a in stored] == ["Biên bản kiểm tra.pdf", "ảnh hiện trường.png"]
    response = client.get(f"/tickets/file/{stored[0].id}")
    assert response.data == PDF and response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "/" not in disposition.split("filename*=")[0]
    assert "filename*=UTF-8''Bi%C3%AAn%20b%E1%BA%A3n" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # someone who may not see the ticket may not fetch its files either
    assert client_as_user("canbo.tnmt").get(f"/tickets/file/{stored[0].id}").status_code == 404


def test_bad_files_are_refused_and_nothing_is_stored(make_ticket, client_as_user, db):
    from app.organisation.models import Agency
    from app.tickets.models import Attachment

    ticket = make_ticket(state="unit_review")
    client = client_as_user("canbo.ktht")
    disguised = _upload(client, f"/tickets/{ticket.id}/files", ("hop-dong.pdf", b"MZ\x90\x00binary"))
    assert "không khớp" in disguised.text
    settings = db.session.query(Agency).one()
    settings.max_upload_mb = 1
    db.session.commit()
    try:
        big = _upload(client, f"/tickets/{ticket.id}/files", ("lon.pdf", PDF + b"0" * (1024 * 1024 + 10)))
        assert "lớn hơn 1 MB" in big.text
    finally:
        settings.max_upload_mb = 10
        db.session.commit()
    wrong_type = _upload(client, f"/tickets/{ticket.id}/files", ("chay.exe", b"MZ"))
    assert "không được chấp nhận" in wrong_type.text
    assert db.session.query(Attachment).filter_by(ticket_id=ticket.id).count() == 0


def test_progress_report_with_files(make_ticket, client_as_user, db):
    ticket = make_ticket(state="implementation")
    client = client_as_user("canbo.ktht")
    token = csrf_token(client.get(f"/tickets/show/{ticket.id}").text)
    page = client.post(f"/tickets/{ticket.id}/progress", data={
        "csrf_token": token, "text": "Đã hoàn thành 60% khối lượng",
        "files": [(io.BytesIO(PDF), "tien-do.pdf")]}, content_type="multipart/form-data",
        follow_redirects=True)
    assert "Đã hoàn thành 60% khối lượng" in page.text and "tien-do.pdf" in page.text
    db.session.refresh(ticket)
    [report] = ticket.progress_reports
    assert report.attachments[0].ticket_id == ticket.id
    refused = client.post(f"/tickets/{ticket.id}/progress", data={
        "csrf_token": token, "text": "Báo cáo kèm tệp giả",
        "files": [(io.BytesIO(b"MZ"), "gia.pdf")]}, content_type="multipart/form-data",
        follow_redirects=True)
    assert "không khớp" in refused.text
    db.session.refresh(ticket)
    assert len(ticket.progress_reports) == 1


def test_nonconformity_files(client_as_user, db):
    from app.tickets.models import Nonconformity

    nc = db.session.query(Nonconformity).filter(Nonconformity.unit.has(code="KTHT")).first()
    client = client_as_user("canbo.ktht")
    page = _upload(client, f"/nonconformities/{nc.id}/files", ("ho-so.docx", docx_bytes()))
    assert "ho-so.docx" in page.text
