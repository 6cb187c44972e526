import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.tenancy import AgencyOwned


def _now() -> datetime.datetime:
    return datetime.datetime.now()


class Notification(AgencyOwned, Model):
    """A digest shown in the panel, unread until the user opens it."""

    __tablename__ = "notification"
    # the bell's count on every page (QmsUser.unread_notifications) reads the unread ones only:
    # a person's notifications of ten years would otherwise be read on every request
    __table_args__ = (Index("ix_notification_unread", "user_id", "agency_id",
                            postgresql_where=text("read_at IS NULL"), sqlite_where=text("read_at IS NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[Optional[str]] = mapped_column(String(300))  # where it leads (a file ready to download)
    read_at: Mapped[Optional[datetime.datetime]] = mapped_column(DateTime)


class ReminderLog(AgencyOwned, Model):
    """What was reminded to whom on which day, so a lead is sent once a day; `emailed` stays
    false until the mail went out, so a failed mail is retried by the next run."""

    __tablename__ = "reminder_log"
    __table_args__ = (UniqueConstraint("user_id", "key", "sent_on", name="uq_reminder_user_key_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), index=True)
    key: Mapped[str] = mapped_column(String(120))
    sent_on: Mapped[datetime.date] = mapped_column(Date, index=True)
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[Optional[str]] = mapped_column(String(300))
    emailed: Mapped[bool] = mapped_column(Boolean, default=False)
