"""Digital signatures of PDF documents (PAdES, pyHanko), as plain functions: read a PKCS#12,
keep its key encrypted, sign a PDF with a visible stamp, and check every signature of any PDF.

Messages are for people (translated); nothing here touches the database.
"""
import asyncio
import concurrent.futures
import dataclasses
import datetime
import functools
import io
import logging
import os
import tempfile
from zoneinfo import ZoneInfo

from asn1crypto import keys as asn1_keys, x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from flask_babel import gettext

# pyHanko logs a traceback for every certificate it cannot chain to a trust root: that is a
# verification result (reported in words), not a fault of the server.
logging.getLogger("pyhanko").setLevel(logging.ERROR)

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
STAMP_FONT = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"  # fonts-liberation2
MAX_PDF_BYTES = 20 * 1024 * 1024


class SigningError(ValueError):
    """A certificate, key or file was refused; the message says why, for the user."""


@dataclasses.dataclass
class Credential:
    """A signing certificate with its key and the certificates that chain it to its root."""

    certificate: x509.Certificate
    key: object
    chain: list

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()


def describe(certificate: x509.Certificate) -> dict:
    """What a person checks of a certificate: subject, issuer, validity."""
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "serial": format(certificate.serial_number, "X"),
        "not_before": certificate.not_valid_before_utc,
        "not_after": certificate.not_valid_after_utc,
    }


def _may_sign(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True  # no restriction written in the certificate
    return usage.digital_signature or usage.content_commitment


def load_pkcs12(data: bytes, password: str | None, now: datetime.datetime | None = None) -> Credential:
    """The credential of a PKCS#12 file, or SigningError: wrong password or not a PKCS#12,
    no key, a certificate not valid today, a certificate not meant for signing."""
    try:
        key, certificate, others = pkcs12.load_key_and_certificates(
            data, password.encode() if password else None)
    except (ValueError, TypeError):
        raise SigningError(gettext("The PKCS#12 file could not be opened: the password is wrong "
                                   "or the file is not a PKCS#12 (.p12, .pfx).")) from None
    if key is None or certificate is None:
        raise SigningError(gettext("The PKCS#12 file holds no certificate with its private key."))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if certificate.not_valid_after_utc < now:
        raise SigningError(gettext("The certificate expired on %(day)s.",
                                   day=certificate.not_valid_after_utc.astimezone(VIETNAM).strftime("%d/%m/%Y")))
    if certificate.not_valid_before_utc > now:
        raise SigningError(gettext("The certificate is valid only from %(day)s.",
                                   day=certificate.not_valid_before_utc.astimezone(VIETNAM).strftime("%d/%m/%Y")))
    if not _may_sign(certificate):
        raise SigningError(gettext("The certificate may not be used for signing (its key usage allows "
                                   "no digital signature)."))
    return Credential(certificate, key, list(others or []))


def seal_key(key, secret: str) -> bytes:
    """The private key as encrypted PKCS#8 PEM: never stored in clear."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(secret.encode()))


def open_key(sealed: bytes, secret: str):
    try:
        return serialization.load_pem_private_key(sealed, secret.encode())
    except (ValueError, TypeError):
        raise SigningError(gettext("The stored signing key cannot be opened with this server's key secret "
                                   "(QMS_SIGNING_KEY_SECRET changed?). Import the certificate again.")) from None


def certificates_pem(certificates: list) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def certificates_from_pem(data: bytes) -> list:
    return x509.load_pem_x509_certificates(data) if data else []


def load_certificates(data: bytes) -> list:
    """Certificates from a PEM file (one or several) or one DER file."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise SigningError(gettext("The file holds no certificate (PEM or DER).")) from None


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


@functools.cache
def stamp_font() -> str:
    """STAMP_FONT drawn at 1000 units per em. pyHanko writes a TrueType font's glyph widths in
    the font's own units, which PDF reads as thousandths of an em: Liberation's 2048 would set
    every letter twice as far apart (measured). Made once per machine, in the temp folder."""
    path = os.path.join(tempfile.gettempdir(), f"qms-stamp-font-{os.path.getsize(STAMP_FONT)}-1000.ttf")
    if not os.path.exists(path):
        from fontTools.ttLib import TTFont
        from fontTools.ttLib.scaleUpem import scale_upem

        font = TTFont(STAMP_FONT)
        scale_upem(font, 1000)
        handle, partial = tempfile.mkstemp(suffix=".ttf", dir=os.path.dirname(path))
        os.close(handle)
        font.save(partial)
        os.replace(partial, path)
    return path


def text_style(size: float, color: tuple):
    """A pyHanko text stamp style in the document's face, centred and shrunk to fit its box."""
    from pyhanko.pdf_utils import layout, text as pdf_text
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory

    return dict(
        text_box_style=pdf_text.TextBoxStyle(font=GlyphAccumulatorFactory(stamp_font()), font_size=size,
                                             text_color=color),
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID, y_align=layout.AxisAlignment.ALIGN_MID,
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT, margins=layout.Margins.uniform(2)),
    )


def _finish(make_coroutine):
    """Run pyHanko's asynchronous work to its end: here, or in a thread of its own when this
    thread already runs an event loop (pyHanko's own synchronous calls would fail there)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()


def is_pdf(data: bytes) -> bool:
    return data[:1024].lstrip().startswith(b"%PDF-")


def sign(pdf: bytes, credential: Credential, *, field_name: str, box: tuple | None, page: int,
         lines: list[str], tsa_url: str | None = None, reason: str | None = None) -> bytes:
    """The PDF signed in PAdES (an incremental update: the original bytes stay a prefix), with
    a visible stamp of `lines` in `box` (x1, y1, x2, y2 in points) on `page` (from 0), or an
    invisible signature when box is None. With a timestamp authority the signing time is
    its token's; otherwise the server's clock."""
    from pyhanko import stamp
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers, timestamps
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key_der = credential.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
    signer = signers.SimpleSigner(
        signing_cert=_asn1(credential.certificate),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([_asn1(c) for c in credential.chain]))
    meta = signers.PdfSignatureMetadata(field_name=field_name, md_algorithm="sha256", reason=reason,
                                        subfilter=fields.SigSeedSubFilter.PADES)
    style = stamp.TextStampStyle(stamp_text="\n".join(line.replace("%", "%%") for line in lines),
                                 border_width=1, border_color=(0.8, 0, 0), **text_style(8, (0.8, 0, 0)))
    spec = fields.SigFieldSpec(field_name, on_page=page, box=box) if box else fields.SigFieldSpec(field_name)
    timestamper = timestamps.HTTPTimeStamper(tsa_url, timeout=10) if tsa_url else None
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    try:
        pdf_signer = signers.PdfSigner(meta, signer, timestamper=timestamper, stamp_style=style,
                                       new_field_spec=spec)
        output = _finish(lambda: pdf_signer.async_sign_pdf(writer))
    except Exception:  # pyHanko raises many kinds; the person needs one sentence
        if tsa_url:
            raise SigningError(gettext("Signing failed: the timestamp authority %(url)s did not answer.",
                                       url=tsa_url)) from None
        raise
    return output.getvalue()


@dataclasses.dataclass
class SignatureCheck:
    """What a person needs to know of one signature."""

    field: str
    signer: str
    issuer: str
    signed_at: datetime.datetime | None
    intact: bool
    covers_document: bool  # nothing but further signatures or form filling came after it
    trusted: bool
    valid_at_signing: bool
    problems: list

    @property
    def good(self) -> bool:
        return self.intact and self.covers_document


@dataclasses.dataclass
class Verification:
    signatures: list
    problem: str | None = None  # the file could not be read at all

    @property
    def ok(self) -> bool:
        """At least one signature, and every signature intact and covering the document."""
        return bool(self.signatures) and all(s.good for s in self.signatures)

    @property
    def trusted(self) -> bool:
        """Every signature from a trusted certificate valid when it signed."""
        return all(s.trusted and s.valid_at_signing for s in self.signatures)

    @property
    def summary(self) -> str:
        if self.problem:
            return self.problem
        if not self.signatures:
            return gettext("Not signed")
        if self.ok:
            return gettext("Digitally signed – intact")
        return gettext("Modified after signing")

    def as_json(self) -> dict:
        return {
            "ok": self.ok, "trusted": self.trusted, "summary": self.summary, "problem": self.problem,
            "signatures": [{**dataclasses.asdict(s), "good": s.good,
                            "signed_at": s.signed_at.isoformat() if s.signed_at else None}
                           for s in self.signatures],
        }


def _name(certificate, which: str) -> str:
    """A certificate's subject or issuer in the standard notation (CN=…,O=…,C=VN)."""
    parsed = x509.load_der_x509_certificate(certificate.dump())
    return getattr(parsed, which).rfc4514_string()


def verify(pdf: bytes, trust_roots: list) -> Verification:
    """Check every signature of a PDF against the trust roots (cryptography certificates).
    Never raises for a bad file: the problem is reported."""
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    if not is_pdf(pdf):
        return Verification([], gettext("The file is not a PDF."))
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = list(reader.embedded_signatures)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError):
        return Verification([], gettext("The PDF file is damaged and cannot be read."))
    roots = [_asn1(c) for c in trust_roots]
    checks = []
    for signature in embedded:
        problems = []
        try:
            context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
            status = _finish(lambda: async_validate_pdf_signature(signature, context))
        except (SignatureValidationError, ValueError, KeyError, TypeError):
            checks.append(SignatureCheck(signature.field_name or "", "", "", None, False, False, False, False,
                                         [gettext("The signature cannot be read.")]))
            continue
        certificate = status.signing_cert
        signed_at = status.timestamp_validity.timestamp if status.timestamp_validity else status.signer_reported_dt
        covers = status.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
            status.coverage == SignatureCoverageLevel.ENTIRE_REVISION and status.diff_result is not None
            and getattr(status.diff_result, "modification_level", ModificationLevel.OTHER)
            <= ModificationLevel.FORM_FILLING)
        valid_then = bool(signed_at) and certificate.not_valid_before <= signed_at <= certificate.not_valid_after
        intact = bool(status.intact and status.valid)
        if not intact:
            problems.append(gettext("The signed content was changed after signing."))
        elif not covers:
            problems.append(gettext("The file was changed after this signature (content added or altered)."))
        if not status.trusted:
            problems.append(gettext("The certificate does not chain to a trusted root configured by the "
                                    "administrator."))
        if not valid_then:
            problems.append(gettext("The certificate was not valid at the signing time."))
        checks.append(SignatureCheck(signature.field_name or "", _name(certificate, "subject"),
                                     _name(certificate, "issuer"), signed_at, intact, bool(covers),
                                     bool(status.trusted), valid_then, problems))
    return Verification(checks)
