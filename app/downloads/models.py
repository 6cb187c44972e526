import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.tenancy import AgencyOwned

PENDING, READY, FAILED = "pending", "ready", "failed"


def _now() -> datetime.datetime:
    return datetime.datetime.now()


class GeneratedFile(AgencyOwned, Model):
    """A file a user asked for and a background job made: pending until the job ends, then
    ready (with its content) or failed (with the reason, in Vietnamese). Only its user sees it."""

    __tablename__ = "generated_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # binder
    name: Mapped[str] = mapped_column(String(200))  # the file name it downloads as
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    error: Mapped[Optional[str]] = mapped_column(String(500))
    size: Mapped[Optional[int]] = mapped_column(Integer)
    content: Mapped[Optional[bytes]] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now, index=True)
    finished_at: Mapped[Optional[datetime.datetime]] = mapped_column(DateTime)
