import datetime
from typing import TYPE_CHECKING

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.organisation.models import QmsUser
from app.tenancy import AgencyOwned

if TYPE_CHECKING:
    from app.tickets.models import Attachment


def _now() -> datetime.datetime:
    return datetime.datetime.now()


class Comment(AgencyOwned, Model):
    """One message of a record's conversation: who, when, the text and its files. The record is
    named by its kind (app.conversation.kinds) and id, so one table serves every kind of
    record. A comment never changes the record; it is never edited."""

    __tablename__ = "comment"
    __table_args__ = (Index("ix_comment_record", "agency_id", "record_type", "record_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"))
    at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
    text: Mapped[str] = mapped_column(Text)

    author: Mapped[QmsUser] = relationship()
    attachments: Mapped[list["Attachment"]] = relationship(
        "Attachment", order_by="Attachment.id", back_populates="comment", cascade="all, delete-orphan")

    is_comment = True  # told apart from the history entries it is shown among
