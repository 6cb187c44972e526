"""Uploads: Office files (zip containers) are checked for what they expand to before they are
stored; control and bidirectional-override characters leave file names."""
import io
import zipfile

import pytest

from app.tickets import files
from tests.conftest import demo_agency
from tests.test_uploads import PDF, _upload


def _office(extra_entries=0, zeros_mb=0) -> bytes:
    """A valid .docx, with `zeros_mb` MB of zeros in one entry and `extra_entries` tiny ones."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        if zeros_mb:
            chunk = b"\0" * (1024 * 1024)
            with archive.open("word/media/bomb.bin", "w", force_zip64=True) as entry:
                for _ in range(zeros_mb):
                    entry.write(chunk)
        for index in range(extra_entries):
            archive.writestr(f"word/x{index}.xml", "")
    return buffer.getvalue()


def test_a_zip_bomb_is_refused(app):
    bomb = _office(zeros_mb=200)
    assert len(bomb) < 1024 * 1024  # small on the wire
    with demo_agency(app), pytest.raises(files.UploadRefused) as refused:
        files.check_upload("bao-cao.docx", bomb)
    assert "bao-cao.docx" in str(refused.value)


def test_too_many_entries_are_refused(app):
    with demo_agency(app):
        with pytest.raises(files.UploadRefused) as refused:
            files.check_upload("bang-tinh.docx", _office(extra_entries=files.MAX_ZIP_ENTRIES + 10))
        assert "bang-tinh.docx" in str(refused.value)
        assert files.check_upload("nho.docx", _office(extra_entries=10))[0] == "nho.docx"


def test_zip_limits_refuse_in_vietnamese(client_as_user, make_ticket):
    ticket = make_ticket(state="unit_review")
    client = client_as_user("canbo.ktht")
    page = _upload(client, f"/tickets/{ticket.id}/files", ("bom.docx", _office(zeros_mb=200)))
    assert "bom.docx" in page.text and "giải nén" in page.text


def test_bidirectional_and_control_characters_leave_names(app, make_ticket, client_as_user, db):
    from app.tickets.models import Attachment

    assert files.safe_filename("hoa-don\u202efdp.exe.pdf") == "hoa-donfdp.exe.pdf"
    for mark in ("\u202a", "\u202b", "\u202c", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069",
                 "\u200e", "\u200f", "\x85", "\x9b", "\t"):
        assert files.safe_filename(f"bien{mark}ban.pdf") == "bienban.pdf", repr(mark)
    ticket = make_ticket(state="unit_review")
    client = client_as_user("canbo.ktht")
    _upload(client, f"/tickets/{ticket.id}/files", ("bien-ban\u202efdp.pdf", PDF))
    stored = db.session.query(Attachment).filter_by(ticket_id=ticket.id).one()
    assert stored.filename == "bien-banfdp.pdf"
