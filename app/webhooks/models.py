import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.tenancy import AgencyOwned


def _now() -> datetime.datetime:
    return datetime.datetime.now()


class Webhook(AgencyOwned, Model):
    """A URL of another system that is told about transitions and new NCs, signed with `secret`."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)

    def __repr__(self) -> str:
        return self.url


class WebhookDelivery(AgencyOwned, Model):
    """One event sent (or being sent) to one webhook: the delivery log."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)  # the JSON body exactly as signed and sent
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending / sent / failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[Optional[int]] = mapped_column(Integer)
    last_error: Mapped[Optional[str]] = mapped_column(String(300))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now, index=True)
    sent_at: Mapped[Optional[datetime.datetime]] = mapped_column(DateTime)

    webhook: Mapped[Webhook] = relationship()
