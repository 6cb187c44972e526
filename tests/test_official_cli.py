"""The command line of official copies and digital signatures (SPEC §11, issue 13): the agency's
certificate (`flask qms signing import|show`), checking any PDF (`flask qms verify`), making
the missing official copies (`flask qms official make`), and official copies in the retention
archive."""
import datetime
import hashlib
import io
import json
import re

import pytest
from sqlalchemy import select


PASSWORD_ENV = "QMS_TEST_P12_PASSWORD"


def _active_rows(db):
    from app.official.models import SigningCredential

    db.session.expire_all()
    return list(db.session.scalars(select(SigningCredential).where(
        SigningCredential.user_id.is_(None), SigningCredential.active)))


def _retire(db):
    for row in _active_rows(db):
        row.active = False
    db.session.commit()


@pytest.fixture
def retire_after(db):
    """Whatever agency certificate a test imports is retired after it."""
    yield
    _retire(db)


@pytest.fixture
def signed_copy(db, make_ticket, agency_certificate):
    """A closed ticket's official copy, signed with the agency's certificate."""
    from app.official import services

    ticket = make_ticket(state="closed")
    copy = services.current("ticket", ticket.id)
    assert copy is not None and copy.signed
    return ticket, copy


def test_import_with_a_wrong_password_changes_nothing(app, db, authority, tmp_path, retire_after):
    from app.official.models import SigningCredential

    p12 = tmp_path / "coquan.p12"
    p12.write_bytes(authority.pkcs12("UBND huyện Cam Lâm", "matkhau"))
    before = db.session.query(SigningCredential).count()
    result = app.test_cli_runner().invoke(
        args=["qms", "signing", "import", "--p12", str(p12), "--password-env", PASSWORD_ENV, "--agency", "CAMLAM"],
        env={PASSWORD_ENV: "sai-mat-khau"})
    assert result.exit_code == 1, result.output
    assert "Không nhập được chứng thư số" in result.output
    assert "Traceback" not in result.output
    db.session.expire_all()
    assert db.session.query(SigningCredential).count() == before


def test_import_then_show(app, db, authority, tmp_path, retire_after):
    runner = app.test_cli_runner()
    _retire(db)
    none = runner.invoke(args=["qms", "signing", "show", "--agency", "CAMLAM"])
    assert none.exit_code == 0 and "chưa có chứng thư số" in none.output
    p12 = tmp_path / "coquan.p12"
    p12.write_bytes(authority.pkcs12("UBND huyện Cam Lâm", "matkhau"))
    result = runner.invoke(args=["qms", "signing", "import", "--p12", str(p12), "--agency", "CAMLAM"],
                           input="matkhau\n")  # the hidden prompt
    assert result.exit_code == 0, result.output
    assert "UBND huyện Cam Lâm" in result.output and "CA thử nghiệm Khánh Hòa" in result.output
    assert datetime.date.today().strftime("%d/%m/%Y") in result.output or "Hiệu lực: từ" in result.output
    assert len(_active_rows(db)) == 1
    shown = runner.invoke(args=["qms", "signing", "show", "--agency", "CAMLAM"])
    assert shown.exit_code == 0, shown.output
    assert "UBND huyện Cam Lâm" in shown.output and "Hiệu lực: từ" in shown.output


def test_verify_a_signed_official_copy(app, signed_copy, tmp_path):
    _, copy = signed_copy
    path = tmp_path / "ban-chinh-thuc.pdf"
    path.write_bytes(copy.pdf)
    result = app.test_cli_runner().invoke(args=["qms", "verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "UBND huyện Cam Lâm" in result.output and "Người ký" in result.output
    assert "nguyên vẹn" in result.output and "tin cậy" in result.output
    assert "(giờ Việt Nam)" in result.output


def test_verify_a_modified_copy_fails(app, signed_copy, tmp_path):
    _, copy = signed_copy
    data = bytearray(copy.pdf)
    at = bytes(data).index(b"\\057ticket\\057")  # the document's identity, written before signing
    assert at < int(re.search(rb"/ByteRange \[0 (\d+)", copy.pdf).group(1))  # inside the signed bytes
    data[at + 4] = ord("T")
    path = tmp_path / "da-sua.pdf"
    path.write_bytes(bytes(data))
    result = app.test_cli_runner().invoke(args=["qms", "verify", str(path)])
    assert result.exit_code == 1, result.output
    assert "ĐÃ BỊ THAY ĐỔI" in result.output


def test_verify_an_unsigned_pdf_or_not_a_pdf(app, tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    pdf = io.BytesIO()
    writer.write(pdf)
    runner = app.test_cli_runner()
    unsigned = tmp_path / "chua-ky.pdf"
    unsigned.write_bytes(pdf.getvalue())
    result = runner.invoke(args=["qms", "verify", str(unsigned)])
    assert result.exit_code == 1 and "không có chữ ký số" in result.output
    text = tmp_path / "ghi-chu.txt"
    text.write_text("không phải PDF", encoding="utf-8")
    result = runner.invoke(args=["qms", "verify", str(text)])
    assert result.exit_code == 1 and "không phải là tệp PDF" in result.output
    assert "Traceback" not in result.output
    missing = runner.invoke(args=["qms", "verify", str(tmp_path / "khong-co.pdf")])
    assert missing.exit_code == 1 and "Không có tệp" in missing.output


def test_official_make_fills_in_missing_copies(app, db, make_ticket):
    from app.official import services
    from app.official.models import OfficialCopy

    with services.deferred():  # as if closed before official copies existed
        ticket = make_ticket(state="closed")
    assert services.current("ticket", ticket.id) is None
    result = app.test_cli_runner().invoke(args=["qms", "official", "make", "--agency", "CAMLAM"])
    assert result.exit_code == 0, result.output
    assert "đã tạo" in result.output
    db.session.expire_all()
    assert services.current("ticket", ticket.id) is not None
    again = app.test_cli_runner().invoke(args=["qms", "official", "make", "--agency", "CAMLAM"])
    assert again.exit_code == 0 and "đã tạo 0 bản chính thức" in again.output
    assert db.session.query(OfficialCopy).filter_by(document="ticket", record_id=ticket.id).count() == 1


def test_the_archive_keeps_the_signed_official_copy(db, signed_copy, tmp_path):
    from app.official import services as official
    from app.official.models import OfficialCopy
    from app.records import services
    from tests.test_retention import _years_ago

    ticket, copy = signed_copy
    ticket_id, pdf = ticket.id, copy.pdf
    expected = json.loads(json.dumps(official.verify(pdf).as_json()))
    ticket.closed_on = _years_ago(5)
    db.session.commit()
    archived, failed = services.archive_past_retention(tmp_path)
    assert failed == []
    folder = next(f for f in archived if f.name.endswith(f"id{ticket_id}"))
    assert services.verify_archive(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    [listed] = manifest["official_copies"]
    assert listed["file"] == "official/BM.CTCL.01-r1.pdf" and listed["revision"] == 1
    assert listed["source"] == "issued"
    stored = (folder / listed["file"]).read_bytes()
    assert stored == pdf and listed["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert manifest["sha256"][listed["file"]] == listed["sha256"]
    assert listed["verification"] == expected and listed["verification"]["ok"]
    record = json.loads((folder / "ticket.json").read_text(encoding="utf-8"))
    [row] = record["removed"]["official_copy"]  # every column, the PDF as the same file
    assert row["pdf"] == {"file": listed["file"]} and row["sha256"] == listed["sha256"]
    db.session.expire_all()
    assert db.session.query(OfficialCopy).filter_by(document="ticket", record_id=ticket_id).count() == 0


def test_the_demo_gives_each_agency_a_trusted_demo_certificate(app, db, make_ticket, tmp_path, monkeypatch):
    """`make run` signs the demo's official copies and trusts the demo authority's root."""
    from app.official import services
    from app.official.models import SigningCredential
    from app.tenancy import ALL, agency_scope

    ticket = make_ticket(state="closed")  # while the agency has no certificate: unsigned
    unsigned = services.current("ticket", ticket.id)
    assert not unsigned.signed
    monkeypatch.setitem(app.config, "INSTANCE_DIR", str(tmp_path))
    try:
        result = app.test_cli_runner().invoke(args=["qms", "demo", "--certificates"])
        assert result.exit_code == 0, result.output
        assert "CAMLAM" in result.output and "CAMHIEP" in result.output
        root = tmp_path / "demo-root-ca.pem"
        monkeypatch.setitem(app.config, "SIGNING_TRUST_ROOTS", [str(root)])
        rows = _active_rows(db)
        assert len(rows) == 1 and "CAM LÂM" in rows[0].subject
        check = services.verify(services.sign_for_agency(None, unsigned).pdf)
        assert check.ok and check.signatures[0].trusted, check.as_json()
        again = app.test_cli_runner().invoke(args=["qms", "demo", "--certificates"])
        assert again.exit_code == 0 and "Chứng thư số thử nghiệm" not in again.output  # nothing to give
    finally:
        with agency_scope(ALL):
            for row in db.session.scalars(select(SigningCredential).where(SigningCredential.active)):
                row.active = False
            db.session.commit()
