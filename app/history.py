"""The shape shared by every record's history table (tickets, objective plans, reviews)."""
import datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

if TYPE_CHECKING:
    from app.organisation.models import QmsUser


def _now() -> datetime.datetime:
    return datetime.datetime.now()


class HistoryEntry:
    """One line of a history: which transition, from and to which state, who, when, and the
    comment. Written by the rules, never edited."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[Optional[str]] = mapped_column(String(30))
    to_state: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
    comment: Mapped[Optional[str]] = mapped_column(Text)

    @declared_attr
    def actor(cls) -> Mapped[Optional["QmsUser"]]:
        return relationship("QmsUser")
