"""The official copy pages through HTTP (SPEC §11, issue 13): what the page shows, the download,
the other agency kept out, the verification API, the approver's personal signature (upload or
in the panel) and what is refused, the personal certificate page, and the agency settings."""
import hashlib
import html
import io
import re

import pytest
from markupsafe import escape

from tests.conftest import csrf_token

PASSWORD = "matkhau"


@pytest.fixture
def retire_personal(db, user):
    """Whatever personal certificate a test imports for these people is retired after it."""
    from app.official.models import SigningCredential

    people = []
    yield people.append
    db.session.rollback()
    for username in people:
        for row in db.session.query(SigningCredential).filter_by(user_id=user(username).id, active=True):
            row.active = False
    db.session.commit()


def _said(app, text, msgid, **values):
    """The flashed message, in the language the page is in (the app's default locale)."""
    from flask_babel import gettext

    with app.test_request_context():
        message = gettext(msgid, **values)
    assert str(escape(message)) in text, message


def _closed_copy(db, make_ticket):
    from app.official import services

    ticket = make_ticket(state="closed")
    copy = services.current("ticket", ticket.id)
    assert copy is not None and copy.revision == 1
    return ticket, copy


def _revisions(db, ticket):
    from app.official import services

    db.session.expire_all()
    return [c.revision for c in services.revisions("ticket", ticket.id)]


def _personal(authority, name="Nguyễn Văn Chủ Tịch", **options):
    from app.official import signing

    return signing.load_pkcs12(authority.pkcs12(name, PASSWORD, **options), PASSWORD)


def _signed(pdf, credential):
    from app.official import signing

    return signing.sign(pdf, credential, field_name="CaNhan", box=None, page=0, lines=[])


def _token(client, *paths):
    """A CSRF token of the signed-in session, from the first of these pages that has a form."""
    for path in paths + ("/official/certificate", "/tickets/add"):
        page = client.get(path)
        if page.status_code == 200 and 'name="csrf_token"' in page.text:
            return csrf_token(page.text)
    raise AssertionError("no page with a form")


def _upload(client, copy_id, data, filename="ban-ky.pdf"):
    return client.post(f"/official/{copy_id}/upload",
                       data={"file": (io.BytesIO(data), filename), "csrf_token": _token(client, f"/official/{copy_id}")},
                       content_type="multipart/form-data", follow_redirects=True)


# --- what the page shows --------------------------------------------------------------------------

def test_the_official_copy_page_shows_status_hash_and_download(db, make_ticket, client_as_user):
    ticket, copy = _closed_copy(db, make_ticket)
    client = client_as_user("thuky.iso")
    page = client.get(f"/official/{copy.id}")
    assert page.status_code == 200
    assert 'class="official-status' in page.text and "label label-" in page.text
    assert copy.sha256 in page.text and f"/official/{copy.id}/pdf" in page.text

    # the ticket page's button leads to it
    ticket_page = client.get(f"/tickets/show/{ticket.id}")
    link = re.search(r'class="[^"]*official-link[^"]*" data-document="ticket" href="([^"]+)"', ticket_page.text)
    assert link, "no official copy button on the ticket page"
    via_record = client.get(html.unescape(link.group(1)))
    assert via_record.status_code == 302 and via_record.headers["Location"].endswith(f"/official/{copy.id}")

    download = client.get(f"/official/{copy.id}/pdf")
    assert download.status_code == 200 and download.data == copy.pdf
    assert download.headers["X-Official-Copy"] == f"sha256={hashlib.sha256(download.data).hexdigest()}"
    assert hashlib.sha256(download.data).hexdigest() == copy.sha256


def test_another_agency_sees_nothing_of_a_cam_lam_copy(db, make_ticket, client_as_user, api):
    _, copy = _closed_copy(db, make_ticket)
    commune = client_as_user("xa.canbo")
    assert commune.get(f"/official/{copy.id}").status_code == 404
    assert commune.get(f"/official/{copy.id}/pdf").status_code == 404
    assert api("xa.canbo").get(f"/api/v1/documents/{copy.id}/verify").status_code == 404


def test_the_verify_api_says_who_signed_and_whether_it_is_trusted(db, make_ticket, api, agency_certificate):
    _, copy = _closed_copy(db, make_ticket)
    response = api("thuky.iso").get(f"/api/v1/documents/{copy.id}/verify")
    assert response.status_code == 200, response.text
    body = response.json
    assert body["id"] == copy.id and body["sha256"] == copy.sha256
    result = body["result"]
    assert result["ok"] is True
    [signature] = result["signatures"]
    assert "UBND huyện Cam Lâm" in signature["signer"]
    assert "CA thử nghiệm Khánh Hòa" in signature["issuer"]
    assert signature["signed_at"] and signature["trusted"] is True


# --- the approver's upload ------------------------------------------------------------------------

def test_the_approver_uploads_the_official_copy_signed_personally(
        app, db, make_ticket, client_as_user, authority, agency_certificate):
    from app.official import services

    ticket, copy = _closed_copy(db, make_ticket)
    assert copy.signed
    chutich = client_as_user("chutich")
    assert "official-upload" in chutich.get(f"/official/{copy.id}").text
    mine = _personal(authority)

    # not a PDF
    page = _upload(chutich, copy.id, b"Bien ban kiem tra\n", "ghi-chu.txt")
    assert page.status_code == 200 and "alert-danger" in page.text
    _said(app, page.text, "The file is not a PDF.")
    assert _revisions(db, ticket) == [1]

    # another document, signed
    other, other_copy = _closed_copy(db, make_ticket)
    page = _upload(chutich, copy.id, _signed(other_copy.pdf, mine))
    assert "alert-danger" in page.text and _revisions(db, ticket) == [1]
    from app.official.documents import DOCUMENTS

    _said(app, page.text, "This file is another document, not the official copy of %(document)s.",
          document=DOCUMENTS["ticket"].title(ticket))

    # the official copy changed, then signed
    altered = bytearray(copy.pdf)
    at = copy.pdf.index(b"\n") + 2  # in the binary comment after the header: still a readable PDF
    altered[at] ^= 0x01
    page = _upload(chutich, copy.id, _signed(bytes(altered), mine))
    assert "alert-danger" in page.text and _revisions(db, ticket) == [1]
    _said(app, page.text, "This is the same document, but its content differs from the official copy given out (it "
          "was changed, or made from a preview). Download the official copy again, sign it without changing it, "
          "and upload it.")

    # far too large
    huge = copy.pdf + b"\0" * (50 * 1024 * 1024)
    page = _upload(chutich, copy.id, huge)
    assert "alert-danger" in page.text and _revisions(db, ticket) == [1]
    _said(app, page.text, "The file is too large (%(size)s MB; at most %(limit)s MB).",
          size=round(len(huge) / 1048576, 1), limit=services.MAX_UPLOAD_BYTES // 1048576)

    # the official copy, signed as given out
    signed = _signed(copy.pdf, mine)
    page = _upload(chutich, copy.id, signed)
    assert page.status_code == 200 and "alert-success" in page.text, page.text[-3000:]
    assert _revisions(db, ticket) == [1, 2]
    newest = services.current("ticket", ticket.id)
    assert newest.revision == 2 and newest.pdf == signed and newest.source == "uploaded"
    assert newest.created_by.username == "chutich"
    assert page.text.count("official-signature") == 2
    assert "Nguyễn Văn Chủ Tịch" in page.text and "UBND huyện Cam Lâm" in page.text
    # the first revision stays as it was, and says it is not the official copy any more
    earlier = chutich.get(f"/official/{copy.id}")
    assert earlier.status_code == 200 and "alert-warning" in earlier.text
    assert f"/official/{newest.id}" in earlier.text


def test_only_the_approver_may_upload(db, make_ticket, client_as_user, authority):
    ticket, copy = _closed_copy(db, make_ticket)
    secretary = client_as_user("thuky.iso")
    assert "official-upload" not in secretary.get(f"/official/{copy.id}").text
    page = _upload(secretary, copy.id, _signed(copy.pdf, _personal(authority, "Thư ký ISO")))
    assert page.status_code in (200, 403)
    if page.status_code == 200:
        assert "alert-danger" in page.text
    assert _revisions(db, ticket) == [1]


# --- the personal certificate and signing in the panel ---------------------------------------------

def _import(client, p12, password):
    token = csrf_token(client.get("/official/certificate").text)
    return client.post("/official/certificate", data={"file": (io.BytesIO(p12), "toi.p12"), "password": password,
                                                      "csrf_token": token},
                       content_type="multipart/form-data", follow_redirects=True)


def test_a_personal_certificate_is_checked_when_imported(db, user, client_as_user, authority, retire_personal):
    from app.official import services

    retire_personal("chutich")
    chutich = client_as_user("chutich")
    assert chutich.get("/official/certificate").status_code == 200
    for p12, password in [
        (authority.pkcs12("Chủ tịch", PASSWORD), "sai-mat-khau"),
        (authority.pkcs12("Chủ tịch", PASSWORD, days_before=400, days_after=-1), PASSWORD),
        (authority.pkcs12("Chủ tịch", PASSWORD, signing=False), PASSWORD),
        (b"not a certificate", PASSWORD),
    ]:
        page = _import(chutich, p12, password)
        assert page.status_code == 200 and "alert-danger" in page.text
        db.session.expire_all()
        assert services.active_credential(user("chutich")) is None
    assert "official-certificate" not in page.text


def test_the_approver_signs_in_the_panel(app, db, user, make_ticket, client_as_user, authority,
                                         agency_certificate, retire_personal):
    from app.official import services

    retire_personal("chutich")
    ticket, copy = _closed_copy(db, make_ticket)
    chutich = client_as_user("chutich")
    page = _import(chutich, authority.pkcs12("Trần Thị Chủ Tịch", PASSWORD), PASSWORD)
    assert "alert-success" in page.text and "official-certificate" in page.text
    assert "Trần Thị Chủ Tịch" in page.text
    db.session.expire_all()
    assert services.active_credential(user("chutich")).subject.find("Trần Thị Chủ Tịch") >= 0

    shown = chutich.get(f"/official/{copy.id}")
    assert "official-sign" in shown.text

    wrong = chutich.post(f"/official/{copy.id}/sign", data={"password": "sai", "csrf_token": csrf_token(shown.text)},
                         follow_redirects=True)
    assert "alert-danger" in wrong.text
    _said(app, wrong.text, "The password of your certificate is wrong.")
    assert _revisions(db, ticket) == [1]

    done = chutich.post(f"/official/{copy.id}/sign", data={"password": PASSWORD, "csrf_token": csrf_token(shown.text)},
                        follow_redirects=True)
    assert done.status_code == 200 and "alert-success" in done.text
    assert _revisions(db, ticket) == [1, 2]
    newest = services.current("ticket", ticket.id)
    assert newest.source == "signed_in_panel" and newest.created_by.username == "chutich"
    assert newest.pdf.startswith(copy.pdf)
    check = services.verify(newest.pdf)
    assert check.ok and len(check.signatures) == 2
    assert "Trần Thị Chủ Tịch" in check.signatures[-1].signer and check.signatures[-1].trusted
    assert done.text.count("official-signature") == 2

    # the first revision is no longer the one to sign, and the newest is signed by them already
    again = chutich.post(f"/official/{copy.id}/sign", data={"password": PASSWORD, "csrf_token": csrf_token(shown.text)},
                         follow_redirects=True)
    assert "alert-danger" in again.text and _revisions(db, ticket) == [1, 2]
    assert f'/official/{newest.id}/sign"' not in chutich.get(f"/official/{newest.id}").text
    twice = chutich.post(f"/official/{newest.id}/sign", data={"password": PASSWORD, "csrf_token": csrf_token(shown.text)},
                         follow_redirects=True)
    _said(app, twice.text, "You have already signed this document.")
    assert _revisions(db, ticket) == [1, 2]


def test_an_untrusted_personal_signature_is_flagged_and_times_are_vietnams(
        app, db, user, make_ticket, client_as_user, agency_certificate, retire_personal):
    import datetime

    from app.official import services
    from app.official.authority import Authority

    retire_personal("chutich")
    ticket, copy = _closed_copy(db, make_ticket)
    chutich = client_as_user("chutich")
    _import(chutich, Authority("CA cá nhân không tin cậy").pkcs12("Ngô Văn Bảo", PASSWORD), PASSWORD)
    shown = chutich.get(f"/official/{copy.id}")
    assert "official-untrusted" not in shown.text  # the agency's signature is trusted
    local = (copy.created_at.replace(tzinfo=datetime.timezone.utc) + datetime.timedelta(hours=7))
    assert local.strftime("%d/%m/%Y %H:%M") in shown.text
    done = chutich.post(f"/official/{copy.id}/sign", data={"password": PASSWORD, "csrf_token": csrf_token(shown.text)},
                        follow_redirects=True)
    assert "official-untrusted" in done.text and ".label-success" not in done.text
    assert services.verify(services.current("ticket", ticket.id).pdf).ok


def test_an_unreachable_timestamp_authority_leaves_the_copy_unsigned_until_the_admin_signs(
        app, db, make_ticket, client_as_user, agency_certificate):
    from app.official import services
    from app.organisation.services import current_agency

    agency = current_agency()
    agency.tsa_url = "http://127.0.0.1:9/tsa"
    db.session.commit()
    try:
        ticket = make_ticket(state="closed")
    finally:
        agency = current_agency()
        agency.tsa_url = ""
        db.session.commit()
    copy = services.current("ticket", ticket.id)
    assert not copy.signed and "127.0.0.1:9" in copy.note and "Error" not in copy.note
    secretary = client_as_user("thuky.iso").get(f"/official/{copy.id}")
    _said(app, secretary.text, "The agency's administrator can sign it with the agency's certificate from this page.")
    admin = client_as_user("admin")
    page = admin.get(f"/official/{copy.id}")
    signed = admin.post(f"/official/{copy.id}/sign-agency", data={"csrf_token": csrf_token(page.text)},
                        follow_redirects=True)
    assert "alert-success" in signed.text and _revisions(db, ticket) == [1, 2]
    newest = services.current("ticket", ticket.id)
    assert newest.source == "agency_signed" and newest.signed and services.verify(newest.pdf).ok


def test_the_objective_report_copy_is_named_by_its_year_and_owner(db, client_as_user):
    from app.objectives.models import ObjectiveReport

    report = db.session.query(ObjectiveReport).filter_by(state="approved").first()
    page = client_as_user("thuky.iso").get(f"/official/of?document=objective_report&record={report.id}",
                                           follow_redirects=True)
    assert page.status_code == 200 and "object at" not in page.text
    assert f"{report.plan.year} – " in page.text


# --- the agency settings say with which certificate copies are signed ---------------------------------

def test_the_settings_say_no_certificate_is_configured(app, client_as_user):
    admin = client_as_user("admin")
    listing = admin.get("/settings/list/")
    assert listing.status_code == 200 and "agency-certificate-missing" in listing.text
    assert "flask qms signing import --p12 FILE --agency CAMLAM" in listing.text
    pk = _settings_pk(app)
    page = admin.get(f"/settings/show/{pk}")
    assert page.status_code == 200 and "agency-certificate-missing" in page.text
    _said(app, page.text, "No signing certificate is configured: official copies are made unsigned.")


def test_the_settings_show_the_agency_certificate(app, client_as_user, agency_certificate):
    admin = client_as_user("admin")
    page = admin.get(f"/settings/show/{_settings_pk(app)}")
    assert page.status_code == 200 and "agency-certificate-details" in page.text
    assert "agency-certificate-missing" not in page.text
    assert str(escape(agency_certificate.subject)) in page.text
    assert str(escape(agency_certificate.issuer)) in page.text
    vn_time = app.jinja_env.filters["vn_time"]  # stored UTC, shown in Vietnam time (+07:00)
    assert vn_time(agency_certificate.not_before, "%d/%m/%Y") in page.text
    assert vn_time(agency_certificate.not_after, "%d/%m/%Y") in page.text
    assert "agency-certificate-details" in admin.get("/settings/list/").text


def _settings_pk(app):
    from app.organisation.services import current_agency
    from tests.conftest import demo_agency

    with demo_agency(app):
        return current_agency().id
