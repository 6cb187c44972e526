"""The shape shared by every record's history table (tickets, NCs, objective plans, reviews),
and `changes`, the old → new values of an edit that a history entry keeps."""
import datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy import DateTime, ForeignKey, String, Text, inspect
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from app.tenancy import AgencyOwned

if TYPE_CHECKING:
    from app.organisation.models import QmsUser


def _now() -> datetime.datetime:
    return datetime.datetime.now()


class HistoryEntry(AgencyOwned):
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


def _plain(value):
    """A value as a history entry keeps it (JSON): dates as ISO text, records by their name."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def changes(record, fields) -> dict:
    """{field: [old, new]} for the named fields of `record` given a new value since it was
    loaded. Call it before the session flushes (a flush makes the new values the old ones).
    A many-to-one field (e.g. `unit`) is compared by the foreign key loaded with the row;
    empty text and no value count as the same."""
    state = inspect(record)
    found = {}
    with state.session.no_autoflush:
        for name in fields:
            history = state.attrs[name].history
            if not history.added:
                continue
            new = history.added[0]
            relation = state.mapper.relationships.get(name)
            if relation is not None:
                [column] = relation.local_columns
                old_id = state.attrs[column.key].value
                if (inspect(new).identity if new is not None else None) == (
                        (old_id,) if old_id is not None else None):
                    continue
                old = state.session.get(relation.mapper.class_, old_id) if old_id is not None else None
            else:
                old = history.deleted[0] if history.deleted else None
            old, new = _plain(old), _plain(new)
            if old != new and not (old in (None, "") and new in (None, "")):
                found[name] = [old, new]
    return found
