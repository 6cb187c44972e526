"""Official copies of the approved documents, and the certificates they are signed with."""
import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.tenancy import AgencyOwned


def _now() -> datetime.datetime:
    """UTC, without its zone (shown in Vietnam's time: the `vn_time` filter)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class SigningCredential(AgencyOwned, Model):
    """A signing certificate with its key, encrypted (app.official.signing.seal_key): the
    agency's own (no user) or a person's. Importing a new one retires the previous."""

    __tablename__ = "signing_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"), index=True)
    certificate: Mapped[bytes] = mapped_column(LargeBinary)  # PEM
    chain: Mapped[bytes] = mapped_column(LargeBinary)  # PEM of the issuing certificates
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    subject: Mapped[str] = mapped_column(String(500))
    issuer: Mapped[str] = mapped_column(String(500))
    not_before: Mapped[datetime.datetime] = mapped_column(DateTime)
    not_after: Mapped[datetime.datetime] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)

    user = relationship("QmsUser", foreign_keys=[user_id])


class OfficialCopy(AgencyOwned, Model):
    """One revision of a document's official copy: revision 1 is the PDF rendered when the
    record reached its final state (signed by the agency when it has a certificate); each
    personal signature adds a revision. The newest revision is the official copy; the bytes
    are never changed."""

    __tablename__ = "official_copy"
    __table_args__ = (UniqueConstraint("agency_id", "document", "record_id", "revision",
                                       name="uq_official_copy_revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document: Mapped[str] = mapped_column(String(30))  # app.official.documents.DOCUMENTS
    record_id: Mapped[int] = mapped_column(Integer, index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(20))  # SOURCES
    filename: Mapped[str] = mapped_column(String(200))
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    signed: Mapped[bool] = mapped_column(Boolean, default=False)
    verification: Mapped[Optional[str]] = mapped_column(Text)  # JSON of the check when stored
    note: Mapped[Optional[str]] = mapped_column(String(500))  # why it is unsigned, when it is
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))

    created_by = relationship("QmsUser", foreign_keys=[created_by_id])
