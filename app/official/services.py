"""Official copies of the approved documents (SPEC §11).

When a record reaches a state in which its document is final (`Workflow.official`), the
document is rendered once, signed with the agency's certificate when the agency has one,
and stored with its SHA-256 (`issue`, called by the workflow engine in the same
transaction). From then on that copy is what every download serves; a fresh rendering is
only a preview. A personal signature adds a revision: an upload is accepted only when its
signatures are intact and it is the official copy given out with signatures added.
"""
import contextlib
import contextvars
import datetime
import functools
import hashlib
import io
import json
import logging
import os

from flask import current_app
from flask_babel import gettext, lazy_gettext as _l
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.official import signing
from app.official.documents import DOCUMENTS
from app.official.models import OfficialCopy, SigningCredential
from app.organisation.services import current_agency
from app.tenancy import agency_of
from app.workflow import Forbidden, Invalid, NotFound, WorkflowError

log = logging.getLogger(__name__)

SOURCES = {
    "issued": _l("Made when the document became final"),
    "agency_signed": _l("Signed with the agency's certificate"),
    "uploaded": _l("Signed personally (uploaded)"),
    "signed_in_panel": _l("Signed personally in the panel"),
}
IDENTITY_KEY = "/QmsDocument"  # "AGENCY/document/record id", written into each official copy
MAX_UPLOAD_BYTES = signing.MAX_PDF_BYTES

_deferred = contextvars.ContextVar("official_copies_deferred", default=False)


@contextlib.contextmanager
def deferred():
    """No official copies are made inside (the demo, which back-dates its records after each
    step): they are made on first request instead."""
    token = _deferred.set(True)
    try:
        yield
    finally:
        _deferred.reset(token)


# --- configuration -----------------------------------------------------------------------

def key_secret() -> str:
    return current_app.config["SIGNING_KEY_SECRET"]


@functools.lru_cache(maxsize=8)
def _roots_from(path: str, mtime: float) -> tuple:
    with open(path, "rb") as handle:
        return tuple(signing.load_certificates(handle.read()))


def trust_roots() -> list:
    """The certificates the administrator trusts (SIGNING_TRUST_ROOTS: PEM or DER files);
    a file that cannot be read is logged and left out."""
    roots = []
    for path in current_app.config.get("SIGNING_TRUST_ROOTS") or ():
        try:
            roots.extend(_roots_from(path, os.path.getmtime(path)))
        except (OSError, signing.SigningError) as error:
            log.error("Trust root %s cannot be read: %s", path, error)
    return roots


def verify(pdf: bytes) -> signing.Verification:
    return signing.verify(pdf, trust_roots())


# --- certificates ---------------------------------------------------------------------------

def active_credential(user=None) -> SigningCredential | None:
    """The agency's certificate (user None) or a person's, in the current agency."""
    owner = SigningCredential.user_id.is_(None) if user is None else SigningCredential.user_id == user.id
    return db.session.scalars(select(SigningCredential).where(owner, SigningCredential.active)
                              .order_by(SigningCredential.id.desc())).first()


def import_credential(p12: bytes, password: str | None, user=None) -> SigningCredential:
    """Keep a PKCS#12's certificate and key: the agency's (key sealed with the server's key
    secret, so official copies are signed unattended) or a person's (user; key sealed with
    their own password, asked again at each signature). The previous one is retired."""
    credential = signing.load_pkcs12(p12, password)
    if user is not None and not password:
        raise signing.SigningError(gettext("A personal certificate needs a password: it protects your key."))
    details = signing.describe(credential.certificate)
    for old in db.session.scalars(select(SigningCredential).where(
            SigningCredential.user_id.is_(None) if user is None else SigningCredential.user_id == user.id,
            SigningCredential.active)):
        old.active = False
    row = SigningCredential(
        user_id=user.id if user is not None else None,
        certificate=signing.certificates_pem([credential.certificate]),
        chain=signing.certificates_pem(credential.chain),
        sealed_key=signing.seal_key(credential.key, password if user is not None else key_secret()),
        subject=details["subject"], issuer=details["issuer"],
        not_before=details["not_before"].replace(tzinfo=None), not_after=details["not_after"].replace(tzinfo=None))
    db.session.add(row)
    db.session.commit()
    return row


def _credential(row: SigningCredential, secret: str) -> signing.Credential:
    certificate = signing.certificates_from_pem(row.certificate)[0]
    now = datetime.datetime.now(datetime.timezone.utc)
    if certificate.not_valid_after_utc < now:
        raise signing.SigningError(gettext("The certificate expired on %(day)s.",
                                           day=row.not_after.strftime("%d/%m/%Y")))
    return signing.Credential(certificate, signing.open_key(row.sealed_key, secret),
                              signing.certificates_from_pem(row.chain))


# --- making the official copy -------------------------------------------------------------------

def current(code: str, record_id: int) -> OfficialCopy | None:
    """The official copy: the newest revision."""
    return db.session.scalars(select(OfficialCopy).where(
        OfficialCopy.document == code, OfficialCopy.record_id == record_id)
        .order_by(OfficialCopy.revision.desc())).first()


def revisions(code: str, record_id: int) -> list[OfficialCopy]:
    return list(db.session.scalars(select(OfficialCopy).where(
        OfficialCopy.document == code, OfficialCopy.record_id == record_id).order_by(OfficialCopy.revision)))


def is_final(code: str, record) -> bool:
    document = DOCUMENTS[code]
    return isinstance(record, document.model()) and code in document.workflow(record).official.get(record.state, ())


def _identify(pdf: bytes, code: str, record, agency) -> bytes:
    """Write which document this is into the PDF, so that a signed file coming back can be
    told from another document."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_metadata({IDENTITY_KEY: f"{agency.code}/{code}/{record.id}",
                         "/Title": DOCUMENTS[code].title(record), "/Author": agency.agency_name})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def identity(pdf: bytes) -> str | None:
    try:
        return (PdfReader(io.BytesIO(pdf), strict=False).metadata or {}).get(IDENTITY_KEY)
    except Exception:  # a damaged file identifies nothing
        return None


def stamp_lines(agency, moment: datetime.datetime) -> list[str]:
    """The agency's visible signature (Decree 30, Appendix I): agency, e-mail, signing time."""
    lines = [f"Ký bởi: {agency.agency_name}"]
    if agency.email:
        lines.append(f"Email: {agency.email}")
    local = moment.astimezone(signing.VIETNAM)
    offset = local.strftime("%z")
    return lines + [f"Thời gian ký: {local:%d.%m.%Y %H:%M:%S} {offset[:3]}:{offset[3:]}"]


def _sign_for_agency(pdf: bytes, agency, row: SigningCredential) -> bytes:
    from reports import signature_box

    placed = signature_box(pdf)
    page, box = placed if placed else (0, None)
    return signing.sign(pdf, _credential(row, key_secret()), field_name="ChuKyCoQuan", box=box, page=page,
                        lines=stamp_lines(agency, datetime.datetime.now(datetime.timezone.utc)),
                        tsa_url=agency.tsa_url or None, reason="Bản chính thức")


def _store(code: str, record_id: int, pdf: bytes, filename: str, source: str, user=None,
           revision: int = 1, note: str | None = None) -> OfficialCopy:
    check = verify(pdf)
    copy = OfficialCopy(document=code, record_id=record_id, revision=revision, source=source, filename=filename,
                        pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest(), size=len(pdf),
                        signed=bool(check.signatures), verification=json.dumps(check.as_json(), ensure_ascii=False),
                        note=note, created_by_id=user.id if user is not None else None)
    db.session.add(copy)
    db.session.flush()
    return copy


def make(record, code: str, user=None) -> OfficialCopy:
    """Render, identify, sign (when the agency has a certificate) and store the document's
    official copy; the caller commits. Raises ReportError when the PDF cannot be made."""
    db.session.flush()
    with agency_of(record):
        agency = current_agency()
        data, filename = DOCUMENTS[code].render(record)
        data = _identify(data, code, record, agency)
        row, note = active_credential(), None
        if row is None:
            note = gettext("Not signed: the agency has no signing certificate.")
        else:
            try:
                data = _sign_for_agency(data, agency, row)
            except signing.SigningError as error:
                note = gettext("Not signed: %(reason)s", reason=str(error))
        return _store(code, record.id, data, filename, "issued", user, note=note)


def issue(record, codes, user=None) -> None:
    """The workflow engine's step when a record reaches a state of `Workflow.official`. A
    document that cannot be rendered now (PDF engine missing) is made on first request."""
    if _deferred.get():
        return
    from reports import ReportError

    for code in codes:
        if not isinstance(record, DOCUMENTS[code].model()) or current(code, record.id) is not None:
            continue
        try:
            with db.session.begin_nested():
                make(record, code, user)
        except ReportError as error:
            log.error("Official copy of %s %s not made now: %s", code, record.id, error)


def official_copy(record, code: str) -> OfficialCopy | None:
    """The record's official copy, made now if the document is final and has none yet (a
    record finished before official copies existed, or while the PDF engine was down)."""
    copy = current(code, record.id)
    if copy is None and is_final(code, record):
        try:
            copy = make(record, code)
            db.session.commit()
        except IntegrityError:  # someone else opened it first and made it meanwhile
            db.session.rollback()
            copy = current(code, record.id)
    return copy


def served(record, code: str, preview: bool = False) -> tuple[bytes, str, OfficialCopy | None]:
    """What a download of the record's document gives: the official copy when there is one
    (unless a preview is asked for), else a fresh rendering marked as a preview."""
    copy = None if preview else official_copy(record, code)
    if copy is not None:
        return copy.pdf, copy.filename, copy
    data, filename = DOCUMENTS[code].render(record)
    return mark_preview(data), filename.replace(".pdf", "-ban-xem.pdf"), None


PREVIEW_MARK = "BẢN XEM – KHÔNG CÓ GIÁ TRỊ PHÁP LÝ"


def mark_preview(pdf: bytes) -> bytes:
    """Print PREVIEW_MARK in red in the bottom margin of every page (the top one holds the
    page numbers)."""
    from pyhanko import stamp
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    style = stamp.TextStampStyle(stamp_text=PREVIEW_MARK, border_width=0, **signing.text_style(10, (0.8, 0, 0)))
    for number, page in enumerate(PdfReader(io.BytesIO(pdf)).pages):  # in the bottom margin
        stamp.TextStamp(writer, style).apply(number, int(float(page.mediabox.width) / 2 - 120), 22)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- the official copy page's actions -------------------------------------------------------

def get_copy(user, copy_id: int) -> tuple[OfficialCopy, object]:
    """An official copy revision and its record, for a person who may see the record (404)."""
    copy = db.session.get(OfficialCopy, copy_id)
    if copy is None or copy.document not in DOCUMENTS:
        raise NotFound(gettext("Document not found."))
    try:
        record = DOCUMENTS[copy.document].load(user, copy.record_id)
    except WorkflowError:
        raise NotFound(gettext("Document not found.")) from None
    return copy, record


PERSONAL = ("uploaded", "signed_in_panel")


def may_sign(user, copy: OfficialCopy, record) -> bool:
    """The person who approved the document adds their own signature, once, to its newest
    revision."""
    approver = DOCUMENTS[copy.document].approver(record)
    history = revisions(copy.document, copy.record_id)
    return (approver is not None and approver.id == user.id and history[-1].id == copy.id
            and not signed_personally(user, history))


def signed_personally(user, history) -> bool:
    return any(r.source in PERSONAL and r.created_by_id == user.id for r in history)


def _check_may_sign(user, copy, record) -> OfficialCopy:
    if signed_personally(user, revisions(copy.document, copy.record_id)):
        raise Invalid(gettext("You have already signed this document."))
    if not may_sign(user, copy, record):
        approver = DOCUMENTS[copy.document].approver(record)
        raise Forbidden(gettext("Only the person who approved the document (%(name)s) may sign its newest "
                                "official copy.", name=approver.get_full_name() if approver else "—"))
    return copy


def upload_signed(user, copy: OfficialCopy, record, data: bytes, size: int | None = None) -> OfficialCopy:
    """Accept the official copy signed outside the panel (a USB token) as its next revision,
    or raise Invalid saying why not; nothing is changed on refusal. `size` is the whole
    file's when only its start was read."""
    _check_may_sign(user, copy, record)
    if len(data) > MAX_UPLOAD_BYTES:
        raise Invalid(gettext("The file is too large (%(size)s MB; at most %(limit)s MB).",
                              size=round((size or len(data)) / 1048576, 1), limit=MAX_UPLOAD_BYTES // 1048576))
    if not signing.is_pdf(data):
        raise Invalid(gettext("The file is not a PDF."))
    check = verify(data)
    if check.problem:
        raise Invalid(check.problem)
    if not check.signatures:
        raise Invalid(gettext("The file has no digital signature. Sign the official copy with your token, "
                              "then upload the signed file."))
    if not data.startswith(copy.pdf):
        if identity(data) == identity(copy.pdf):
            raise Invalid(gettext("This is the same document, but its content differs from the official copy "
                                  "given out (it was changed, or made from a preview). Download the official "
                                  "copy again, sign it without changing it, and upload it."))
        raise Invalid(gettext("This file is another document, not the official copy of %(document)s.",
                              document=DOCUMENTS[copy.document].title(record)))
    bad = [s for s in check.signatures if not s.good]
    if bad:
        raise Invalid(gettext("The file was modified after signing: %(problems)s",
                              problems=" ".join(bad[0].problems)))
    before = len(verify(copy.pdf).signatures)
    if len(check.signatures) <= before:
        raise Invalid(gettext("The file carries no new signature: sign the official copy, then upload it."))
    expired = [s for s in check.signatures[before:] if not s.valid_at_signing]
    if expired:
        raise Invalid(gettext("The certificate of %(signer)s was not valid at the signing time.",
                              signer=expired[0].signer))
    return _next_revision(copy, data, "uploaded", user)


def _next_revision(copy: OfficialCopy, data: bytes, source: str, user) -> OfficialCopy:
    """The signed bytes become the official copy, the revision after `copy`."""
    new = _store(copy.document, copy.record_id, data, copy.filename, source, user, revision=copy.revision + 1)
    db.session.commit()
    return new


def sign_in_panel(user, copy: OfficialCopy, record, password: str) -> OfficialCopy:
    """Add the approver's own signature with the certificate they imported."""
    _check_may_sign(user, copy, record)
    row = active_credential(user)
    if row is None:
        raise Invalid(gettext("Import your own certificate (PKCS#12) first."))
    try:
        credential = _credential(row, password or "")
    except signing.SigningError:
        raise Invalid(gettext("The password of your certificate is wrong.")) from None
    try:
        data = signing.sign(copy.pdf, credential, field_name=f"ChuKyCaNhan{copy.revision + 1}", box=None, page=0,
                            lines=[], reason="Phê duyệt")
    except signing.SigningError as error:
        raise Invalid(str(error)) from None
    return _next_revision(copy, data, "signed_in_panel", user)


def sign_for_agency(user, copy: OfficialCopy) -> OfficialCopy:
    """Sign an unsigned official copy with the agency's certificate imported since (a new
    revision: the first stays as it was)."""
    newest = current(copy.document, copy.record_id)
    if newest.id != copy.id or copy.signed:
        raise Invalid(gettext("Only an unsigned newest official copy can be signed with the agency's certificate."))
    row = active_credential()
    if row is None:
        raise Invalid(gettext("The agency has no signing certificate. Import one with "
                              "flask qms signing import."))
    try:
        data = _sign_for_agency(copy.pdf, current_agency(), row)
    except signing.SigningError as error:
        raise Invalid(str(error)) from None
    return _next_revision(copy, data, "agency_signed", user)


def official_documents(record) -> list[tuple[str, object]]:
    """(code, document) of each document of the record that has an official copy, or is
    final and gets one when first opened."""
    return [(code, document) for code, document in DOCUMENTS.items()
            if isinstance(record, document.model())
            and (is_final(code, record) or current(code, record.id) is not None)]
