import datetime

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.tenancy import AgencyOwned


def _now() -> datetime.datetime:
    return datetime.datetime.now()


class SavedFilter(AgencyOwned, Model):
    """The filter of one list (its query string) kept by one user under a name of theirs,
    e.g. "Quá hạn ở đơn vị của tôi". Only its user sees it."""

    __tablename__ = "saved_filter"
    __table_args__ = (UniqueConstraint("user_id", "list_key", "name", name="uq_saved_filter_user_list_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), index=True)
    list_key: Mapped[str] = mapped_column(String(30))  # a key of app.saved_filters.services.LISTS
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(1000), default="")  # the list URL's query string
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
