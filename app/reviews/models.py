import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, Column, Date, DateTime, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.tenancy import AgencyOwned
from app.history import HistoryEntry
from app.organisation.models import QmsUser, Unit
from app.tickets.models import Ticket


def _now() -> datetime.datetime:
    return datetime.datetime.now()


review_attendee = Table(
    "review_attendee", Model.metadata,
    Column("review_id", ForeignKey("review.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("ab_user.id"), primary_key=True),
)


class InternalAudit(AgencyOwned, Model):
    """A periodic internal audit, recorded when done; the review follows it (5.8)."""

    __tablename__ = "internal_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    done_on: Mapped[datetime.date] = mapped_column(Date)
    scope: Mapped[Optional[str]] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"{self.year} ({self.done_on:%d/%m/%Y})"


class Review(AgencyOwned, Model):
    """Xem xét của lãnh đạo for a period, as a meeting (5.8.1) or as report and notice (5.8.2)."""

    __tablename__ = "review"
    __table_args__ = (UniqueConstraint("agency_id", "year", "number", name="uq_review_agency_year_number"),
                      UniqueConstraint("agency_id", "notice_year", "notice_number",
                                       name="uq_review_agency_notice_number"))

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    number: Mapped[int] = mapped_column(Integer)
    form: Mapped[str] = mapped_column(String(10))  # meeting | report
    period_start: Mapped[datetime.date] = mapped_column(Date)
    period_end: Mapped[datetime.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    created_on: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
    # the meeting (5.8.1)
    meeting_date: Mapped[Optional[datetime.date]] = mapped_column(Date)
    start_time: Mapped[Optional[str]] = mapped_column(String(5))
    end_time: Mapped[Optional[str]] = mapped_column(String(5))
    place: Mapped[Optional[str]] = mapped_column(String(200))
    chair_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    secretary_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    other_attendees: Mapped[Optional[str]] = mapped_column(Text)
    # inputs (5.8.1.1): figures gathered from the records, and the texts that go with them
    figures: Mapped[Optional[dict]] = mapped_column(JSON)
    inputs: Mapped[Optional[dict]] = mapped_column(JSON)
    # outputs (5.8.1.2)
    general_conclusion: Mapped[Optional[str]] = mapped_column(Text)
    improvement_needs: Mapped[Optional[str]] = mapped_column(Text)
    qms_change_needs: Mapped[Optional[str]] = mapped_column(Text)
    resource_needs: Mapped[Optional[str]] = mapped_column(Text)
    # approvals
    approved_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    approved_on: Mapped[Optional[datetime.date]] = mapped_column(Date)
    report_approved_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    report_approved_on: Mapped[Optional[datetime.date]] = mapped_column(Date)
    # the notice of results (5.8.2.2) has its own series, numbered when it is issued
    notice_year: Mapped[Optional[int]] = mapped_column(Integer)
    notice_number: Mapped[Optional[int]] = mapped_column(Integer)

    created_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[created_by_id])
    chair: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[chair_id])
    secretary: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[secretary_id])
    approved_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[approved_by_id])
    report_approved_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[report_approved_by_id])
    attendees: Mapped[list[QmsUser]] = relationship(secondary=review_attendee, order_by=QmsUser.username)
    items: Mapped[list["ReviewItem"]] = relationship(
        back_populates="review", order_by="ReviewItem.position", cascade="all, delete-orphan")
    presentations: Mapped[list["ReviewPresentation"]] = relationship(
        back_populates="review", order_by="ReviewPresentation.id", cascade="all, delete-orphan")
    actions: Mapped[list["ReviewAction"]] = relationship(
        back_populates="review", order_by="ReviewAction.id", cascade="all, delete-orphan")
    comments: Mapped[list["ReviewComment"]] = relationship(
        back_populates="review", order_by="ReviewComment.id", cascade="all, delete-orphan")
    events: Mapped[list["ReviewEvent"]] = relationship(
        back_populates="review", order_by="ReviewEvent.id", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}

    @property
    def display_number(self) -> str:
        """Số: 01/BB-BCĐ ISO — numbers below 10 zero-padded (Decree 30)."""
        return self.number_text(self.number)

    @staticmethod
    def number_text(number: int) -> str:
        """display_number of a review read as a plain row."""
        return f"{number:02d}/BB-BCĐ ISO"

    @property
    def notice_display_number(self) -> str:
        """Số: 01/TB-UBND of the notice of results, once issued; the notice is the agency's."""
        return f"{self.notice_number:02d}/TB-UBND" if self.notice_number else ""

    def __repr__(self) -> str:
        return f"{self.display_number} ({self.year})"


class ReviewItem(AgencyOwned, Model):
    """One of the seven discussion items of BM.CTCL.02: discussion and the chair's conclusion."""

    __tablename__ = "review_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    discussion: Mapped[Optional[str]] = mapped_column(Text)
    conclusion: Mapped[Optional[str]] = mapped_column(Text)

    review: Mapped[Review] = relationship(back_populates="items")


class ReviewPresentation(AgencyOwned, Model):
    """4.1 Các báo cáo: who reported, and a summary."""

    __tablename__ = "review_presentation"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id"), index=True)
    reporter: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)

    review: Mapped[Review] = relationship(back_populates="presentations")


class ReviewAction(AgencyOwned, Model):
    """A follow-up action decided by the review; it becomes a ticket when the review is approved."""

    __tablename__ = "review_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    focal_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    due_date: Mapped[datetime.date] = mapped_column(Date)
    ticket_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ticket.id"))

    review: Mapped[Review] = relationship(back_populates="actions")
    focal_unit: Mapped[Unit] = relationship()
    ticket: Mapped[Optional[Ticket]] = relationship()


class ReviewComment(AgencyOwned, Model):
    """A comment of the top leader or a Ban ISO member on the QMS operation report (5.8.2.1)."""

    __tablename__ = "review_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id"), index=True)
    author_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
    text: Mapped[str] = mapped_column(Text)

    review: Mapped[Review] = relationship(back_populates="comments")
    author: Mapped[Optional[QmsUser]] = relationship()


class ReviewEvent(HistoryEntry, Model):
    __tablename__ = "review_event"

    review_id: Mapped[int] = mapped_column(ForeignKey("review.id"), index=True)

    review: Mapped[Review] = relationship(back_populates="events")
