"""Official copies and digital signatures (SPEC §11, issue 13): made once when a document is
final, signed with the agency's certificate, served instead of a fresh rendering, verified,
and replaced only by the same copy signed personally."""
import hashlib
import io

import pytest
from pypdf import PdfReader

from pki import Authority


@pytest.fixture(scope="module")
def authority():
    return Authority("CA thử nghiệm Khánh Hòa")


@pytest.fixture
def trusted(app, authority, tmp_path, monkeypatch):
    """The throwaway CA is the administrator's trust root."""
    root = tmp_path / "root.pem"
    root.write_bytes(authority.pem)
    monkeypatch.setitem(app.config, "SIGNING_TRUST_ROOTS", [str(root)])
    return root


@pytest.fixture
def agency_certificate(db, authority, trusted):
    """Cam Lâm's signing certificate, imported as `flask qms signing import` does; retired after."""
    from app.official import services

    row = services.import_credential(authority.pkcs12("UBND huyện Cam Lâm"), "matkhau")
    yield row
    row = db.session.get(type(row), row.id)
    row.active = False
    db.session.commit()


def _copy(db, code, record):
    from app.official import services

    return services.current(code, record.id)


def test_closing_a_ticket_makes_one_signed_official_copy(db, make_ticket, agency_certificate, as_iso_secretary):
    from app.official import services

    ticket = make_ticket(state="verified")
    assert _copy(db, "ticket", ticket) is None
    from app.tickets import services as tickets
    from app.organisation.models import QmsUser

    secretary = db.session.query(QmsUser).filter_by(username="thuky.iso").one()
    tickets.apply_transition(secretary, ticket.id, "close", {"evidence": "Biên bản"})
    copy = _copy(db, "ticket", ticket)
    assert copy is not None and copy.revision == 1 and copy.signed
    assert copy.sha256 == hashlib.sha256(copy.pdf).hexdigest()
    check = services.verify(copy.pdf)
    assert check.ok and check.signatures[0].trusted and check.signatures[0].valid_at_signing
    assert "UBND huyện Cam Lâm" in check.signatures[0].signer
    # the visible signature sits in the signature block, in the agency's words
    reader = PdfReader(io.BytesIO(copy.pdf))
    widgets = [a.get_object() for page in reader.pages for a in page.get("/Annots") or []
               if a.get_object().get("/FT") == "/Sig"]
    assert len(widgets) == 1 and float(widgets[0]["/Rect"][2]) > float(widgets[0]["/Rect"][0])

    response = as_iso_secretary.get(f"/tickets/{ticket.id}/pdf")
    assert response.status_code == 200 and response.data == copy.pdf
    assert response.headers["X-Official-Copy"] == f"sha256={hashlib.sha256(response.data).hexdigest()}"
    preview = as_iso_secretary.get(f"/tickets/{ticket.id}/pdf?preview=1")
    assert preview.status_code == 200 and "X-Official-Copy" not in preview.headers
    assert "BẢN XEM" in PdfReader(io.BytesIO(preview.data)).pages[0].extract_text()


def test_renaming_the_agency_never_changes_an_official_copy(db, make_ticket, api):
    from app.organisation.services import current_agency

    as_iso_secretary = api("thuky.iso")
    ticket = make_ticket(state="closed")
    first = as_iso_secretary.get(f"/api/v1/tickets/{ticket.id}/pdf")
    assert first.status_code == 200 and first.headers["X-Official-Copy"].startswith("sha256=")
    agency = current_agency()
    old = agency.agency_name
    agency.agency_name = "ỦY BAN NHÂN DÂN XÃ CAM LÂM MỚI"
    db.session.commit()
    try:
        again = as_iso_secretary.get(f"/api/v1/tickets/{ticket.id}/pdf")
        assert again.data == first.data and again.headers["X-Official-Copy"] == first.headers["X-Official-Copy"]
        preview = as_iso_secretary.get(f"/api/v1/tickets/{ticket.id}/pdf?preview=1")
        assert "X-Official-Copy" not in preview.headers
        assert "CAM LÂM MỚI" in PdfReader(io.BytesIO(preview.data)).pages[0].extract_text()
    finally:
        agency = current_agency()
        agency.agency_name = old
        db.session.commit()
