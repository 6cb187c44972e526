"""Official copies and digital signatures (SPEC §11, issue 13): made once when a document is
final, signed with the agency's certificate, served instead of a fresh rendering, verified,
and replaced only by the same copy signed personally."""
import hashlib
import io

import pytest
from pypdf import PdfReader

from app.official.authority import Authority


def assert_signature_in_its_block(pdf: bytes, title: str):
    """One visible signature, on the page of the signer's block, right under its title and
    no wider than the block (the page's link that marked the place is gone)."""
    import pdfplumber

    reader = PdfReader(io.BytesIO(pdf))
    widgets = [(number, a.get_object()) for number, page in enumerate(reader.pages)
               for a in page.get("/Annots") or [] if a.get_object().get("/FT") == "/Sig"]
    assert len(widgets) == 1
    number, widget = widgets[0]
    x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
    assert 100 < x2 - x1 < 260 and 20 < y2 - y1 < 80
    assert not any(a.get_object().get("/Subtype") == "/Link" for page in reader.pages for a in page.get("/Annots") or [])
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        page = document.pages[number]
        words = page.extract_words()
        height = float(page.height)
    heading = [w for w in words if w["text"] == title.split()[-1] and x1 - 40 < w["x0"] < x2 + 40]
    assert heading, f"{title} not beside the signature"
    assert min(abs((height - w["bottom"]) - y2) for w in heading) < 15  # just above the box


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
    assert_signature_in_its_block(copy.pdf, "Người kiểm tra")

    response = as_iso_secretary.get(f"/tickets/{ticket.id}/pdf")
    assert response.status_code == 200 and response.data == copy.pdf
    assert response.headers["X-Official-Copy"] == f"sha256={hashlib.sha256(response.data).hexdigest()}"
    preview = as_iso_secretary.get(f"/tickets/{ticket.id}/pdf?preview=1")
    assert preview.status_code == 200 and "X-Official-Copy" not in preview.headers
    assert "BẢN XEM" in " ".join(PdfReader(io.BytesIO(preview.data)).pages[0].extract_text().split())


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
        assert "CAM LÂM MỚI" in " ".join(PdfReader(io.BytesIO(preview.data)).pages[0].extract_text().split())
    finally:
        agency = current_agency()
        agency.agency_name = old
        db.session.commit()


def _signed_copy(db, make_ticket):
    ticket = make_ticket(state="closed")
    return _copy(db, "ticket", ticket)


def test_one_byte_changed_after_signing_is_reported_as_modified(db, make_ticket, agency_certificate):
    from app.official import services

    copy = _signed_copy(db, make_ticket)
    assert services.verify(copy.pdf).ok
    altered = bytearray(copy.pdf)
    altered[len(altered) // 3] ^= 0x01
    check = services.verify(bytes(altered))
    assert not check.ok and not check.signatures[0].intact
    assert check.summary == "Modified after signing" or "sửa" in check.summary


def test_a_certificate_of_another_authority_is_not_trusted(db, make_ticket, agency_certificate):
    from app.official import signing

    copy = _signed_copy(db, make_ticket)
    stranger = Authority("CA khác")
    check = signing.verify(copy.pdf, [stranger.certificate])
    assert check.signatures and check.signatures[0].intact and not check.signatures[0].trusted
    assert check.signatures[0].problems


def test_without_a_certificate_the_official_copy_is_unsigned_and_says_so(db, make_ticket):
    from app.official import services

    copy = _signed_copy(db, make_ticket)
    assert not copy.signed and copy.note
    assert services.verify(copy.pdf).signatures == []


@pytest.mark.parametrize("case", ["wrong password", "expired", "no signing usage", "not a p12"])
def test_a_bad_pkcs12_is_refused_and_nothing_changes(db, authority, case):
    from app.official import services, signing
    from app.official.models import SigningCredential

    before = db.session.query(SigningCredential).count()
    data, password = {
        "wrong password": (authority.pkcs12("UBND huyện Cam Lâm"), "sai"),
        "expired": (authority.pkcs12("UBND huyện Cam Lâm", days_before=400, days_after=-1), "matkhau"),
        "no signing usage": (authority.pkcs12("UBND huyện Cam Lâm", signing=False), "matkhau"),
        "not a p12": (b"%PDF-1.4 not a certificate", "matkhau"),
    }[case]
    with pytest.raises(signing.SigningError) as refused:
        services.import_credential(data, password)
    assert str(refused.value)
    assert db.session.query(SigningCredential).count() == before


def test_the_official_copy_is_made_for_every_final_document(db, user, agency_certificate):
    """Approved minutes, an approved QMS report, an issued notice, an approved plan and report:
    each final document of the demo gets one signed official copy, whose signature box is in
    its signature block."""
    import datetime

    from app.objectives.models import ObjectivePlan
    from app.official import services
    from app.official.models import OfficialCopy
    from app.reviews import services as reviews
    from app.reviews.models import Review

    meeting = db.session.query(Review).filter_by(form="meeting", state="minutes_approved").first()
    secretary = user("thuky.iso")
    notice = reviews.create_review(secretary, "report", datetime.date(2018, 1, 1), datetime.date(2018, 12, 31))
    reviews.save_content(secretary, notice.id, {"general_conclusion": "HTQLCL phù hợp, hiệu lực."})
    reviews.apply_transition(secretary, notice.id, "submit_report", {})
    reviews.apply_transition(user("truongban.iso"), notice.id, "approve_report", {})
    assert services.current("qms_report", notice.id) is not None  # made by the approval itself
    reviews.apply_transition(secretary, notice.id, "submit_notice", {})
    reviews.apply_transition(user("chutich"), notice.id, "issue_notice", {})
    notice = db.session.get(Review, notice.id)
    assert notice.state == "issued" and db.session.query(OfficialCopy).filter_by(
        document="notice", record_id=notice.id).count() == 1
    plan = db.session.query(ObjectivePlan).filter(ObjectivePlan.report.has()).filter_by(state="approved").first()
    for record, code, title in ((meeting, "minutes", "CHỦ TRÌ"), (notice, "qms_report", "BAN CHỈ ĐẠO ISO"),
                                (notice, "notice", "CHỦ TỊCH"), (plan, "objective_plan", "CHỦ TỊCH"),
                                (plan.report, "objective_report", "CHỦ TỊCH")):
        if code in ("minutes", "objective_plan", "objective_report"):  # demo records: copies other tests
            db.session.query(OfficialCopy).filter_by(document=code, record_id=record.id).delete()  # opened
            db.session.commit()
        copy = services.official_copy(record, code)
        assert copy is not None and copy.signed, code
        check = services.verify(copy.pdf)
        assert check.ok, (code, check.summary)
        assert_signature_in_its_block(copy.pdf, title)
        assert services.official_copy(record, code).id == copy.id  # made once
