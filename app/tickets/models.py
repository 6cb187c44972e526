import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import (
    JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text,
    UniqueConstraint, text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, query_expression, relationship

from app.conversation.models import Comment
from app.tenancy import AgencyOwned
from app.history import HistoryEntry
from app.organisation.models import QmsUser, Unit


CLOSES_A_RUN = (("state", "closed"), ("kind", "corrective"))
"""The tickets that end a run of NCs (services._last_closings): a partial index holds only them.
Queries write these values into the SQL, not as parameters: a prepared statement's generic plan
could not tell that its parameters match the index's condition."""
CORRECTIVE_CLOSING = " AND ".join(f"{column} = '{value}'" for column, value in CLOSES_A_RUN)
PERIOD_FIGURES = ("source", "state", "kind", "requesting_unit_id", "implementing_unit_id")
"""What the review inputs count the tickets of a period by (reviews.services.input_counts_query)."""
STATE_FIGURES = ("due_date", "approved_on", "requesting_unit_id", "implementing_unit_id")
"""What the home page counts an agency's tickets of each state by (dashboard.services._ticket_counts)."""


def _now() -> datetime.datetime:
    return datetime.datetime.now()


class NcCategory(AgencyOwned, Model):
    """Nội dung KPH: the controlled list the recurrence rule counts by."""

    __tablename__ = "nc_category"
    __table_args__ = (UniqueConstraint("agency_id", "name", name="uq_nc_category_agency_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return self.name


class ExternalRecord:
    """A record another system may send (the one-stop-shop "DVC", …): its code and its own
    id, unique per agency, so the same record sent twice is found rather than duplicated;
    and the time of its last change, for those who poll (`updated_at`)."""

    external_source: Mapped[Optional[str]] = mapped_column(String(20))
    external_ref: Mapped[Optional[str]] = mapped_column(String(100))
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now, onupdate=_now, index=True)


class Nonconformity(ExternalRecord, AgencyOwned, Model):
    """Sự không phù hợp (5.1), corrected on the spot; may lead to a ticket."""

    __tablename__ = "nonconformity"
    __table_args__ = (
        UniqueConstraint("agency_id", "external_source", "external_ref", name="uq_nonconformity_agency_external"),
        # the list's order; the NCs of a period counted from the index alone (review inputs, 0020)
        Index("ix_nonconformity_list_order", "agency_id", "detected_on", "id",
              postgresql_include=["source", "unit_id"]),
        # the recurrence rule's runs, read from the index alone (tickets.services.open_runs_query)
        Index("ix_nonconformity_runs", "agency_id", "unit_id", "category_id", "detected_on",
              postgresql_include=["ticket_id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    detected_on: Mapped[datetime.date] = mapped_column(Date)
    detected_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    related_process: Mapped[Optional[str]] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(40))
    category_id: Mapped[int] = mapped_column(ForeignKey("nc_category.id"), index=True)
    disposition: Mapped[Optional[str]] = mapped_column(String(20))
    disposition_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    disposition_on: Mapped[Optional[datetime.date]] = mapped_column(Date)
    correction_done: Mapped[bool] = mapped_column(Boolean, default=False)
    correction_checked: Mapped[bool] = mapped_column(Boolean, default=False)
    beyond_authority: Mapped[bool] = mapped_column(Boolean, default=False)
    ticket_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ticket.id"), index=True)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"), index=True)
    created_on: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)

    unit: Mapped[Unit] = relationship()
    detected_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[detected_by_id])
    disposition_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[disposition_by_id])
    created_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[created_by_id])
    category: Mapped[NcCategory] = relationship()
    ticket: Mapped[Optional["Ticket"]] = relationship(back_populates="nonconformities")
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="nonconformity", cascade="all, delete-orphan"
    )
    events: Mapped[list["NonconformityEvent"]] = relationship(
        back_populates="nonconformity", order_by="NonconformityEvent.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"KPH #{self.id}"


class OpenRun(AgencyOwned, Model):
    """The open run of NCs of one unit and category (SPEC §2, 5.2.2): the NCs detected after the
    last effective corrective action of that unit and category closed (all of them, when none
    has), how many, and how many of them no ticket deals with. Kept by app.tickets.runs as the
    NCs and tickets change, when the transaction commits; the home page, the compliance board and the
    recurring series read it instead of every NC of the agency. A pair with no NC has no row."""

    __tablename__ = "open_run"

    # a unit or category that leaves with its last NCs takes its run along (read again at commit)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("nc_category.id", ondelete="CASCADE"), primary_key=True)
    last_closed: Mapped[Optional[datetime.date]] = mapped_column(Date)
    size: Mapped[int] = mapped_column(Integer)
    unlinked: Mapped[int] = mapped_column(Integer)


class NonconformityEvent(HistoryEntry, Model):
    """One line of a nonconformity's history: creation, edits (old → new values in `data`),
    the disposition, linking to and unlinking from a ticket."""

    __tablename__ = "nonconformity_event"

    nonconformity_id: Mapped[int] = mapped_column(ForeignKey("nonconformity.id"), index=True)
    data: Mapped[Optional[dict]] = mapped_column(JSON)

    nonconformity: Mapped[Nonconformity] = relationship(back_populates="events")


class Ticket(ExternalRecord, AgencyOwned, Model):
    """Phiếu yêu cầu hành động khắc phục/cải tiến (BM.CTCL.01)."""

    __tablename__ = "ticket"
    __table_args__ = (
        UniqueConstraint("agency_id", "year", "number", name="uq_ticket_agency_year_number"),
        UniqueConstraint("agency_id", "external_source", "external_ref", name="uq_ticket_agency_external"),
        # the list's two orders (services.LIST_ORDERS), within an agency; on PostgreSQL migration
        # 0018 also stores the folded searched text, with a trigram index (app.tickets.search)
        Index("ix_ticket_list_order", "agency_id", "year", "number", "id"),
        Index("ix_ticket_due_order", "agency_id", "due_date", "id"),
        # the compliance board's ticket figures, counted from the index alone (migration 0017)
        Index("ix_ticket_open_figures", "state", "agency_id", "requested_on", "due_date"),
        Index("ix_ticket_closed_figures", "state", "closed_on", "agency_id"),
        # the tickets closed in a period; the last effective corrective action of each unit (the
        # recurrence rule, 5.2.2): migration 0019
        Index("ix_ticket_agency_closed_on", "agency_id", "closed_on"),
        # counted from the index alone (migration 0020): the tickets requested in a period (review
        # inputs, the home page's months), an agency's tickets by state (the home page)
        Index("ix_ticket_period", "agency_id", "requested_on", postgresql_include=["id", *PERIOD_FIGURES]),
        Index("ix_ticket_agency_state", "agency_id", "state", postgresql_include=["id", *STATE_FIGURES]),
        Index("ix_ticket_corrective_closings", "agency_id", "requesting_unit_id", "closed_on",
              postgresql_include=["id"], postgresql_where=text(CORRECTIVE_CLOSING),
              sqlite_where=text(CORRECTIVE_CLOSING)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[Optional[int]] = mapped_column(Integer)
    year: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    state: Mapped[str] = mapped_column(String(30), default="draft", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(40))
    requesting_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    related_documents: Mapped[Optional[str]] = mapped_column(Text)
    # Box 1
    description: Mapped[str] = mapped_column(Text)
    requested_on: Mapped[datetime.date] = mapped_column(Date, index=True)
    requester_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), index=True)
    created_on: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
    # Unit review and Ban ISO
    signs: Mapped[Optional[list]] = mapped_column(JSON)
    assignee_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"), index=True)
    assignee_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"), index=True)
    # Box 2
    cause: Mapped[Optional[str]] = mapped_column(Text)
    measures: Mapped[Optional[str]] = mapped_column(Text)
    implementing_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"), index=True)
    implementer_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"), index=True)
    implementing_unit_head_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    due_date: Mapped[Optional[datetime.date]] = mapped_column(Date, index=True)
    approved_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    approved_on: Mapped[Optional[datetime.date]] = mapped_column(Date)
    verifier_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"), index=True)
    result_summary: Mapped[Optional[str]] = mapped_column(Text)
    reported_done_on: Mapped[Optional[datetime.date]] = mapped_column(Date)
    # Box 3
    verification_result: Mapped[Optional[str]] = mapped_column(String(20))
    verified_on: Mapped[Optional[datetime.date]] = mapped_column(Date)
    verified_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    evidence_text: Mapped[Optional[str]] = mapped_column(Text)
    closed_on: Mapped[Optional[datetime.date]] = mapped_column(Date, index=True)
    closed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    follows_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ticket.id"), index=True)

    requesting_unit: Mapped[Unit] = relationship(foreign_keys=[requesting_unit_id])
    assignee_unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[assignee_unit_id])
    implementing_unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[implementing_unit_id])
    requester: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[requester_id])
    created_by: Mapped[QmsUser] = relationship(foreign_keys=[created_by_id])
    assignee: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[assignee_id])
    implementer: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[implementer_id])
    implementing_unit_head: Mapped[Optional[QmsUser]] = relationship(
        foreign_keys=[implementing_unit_head_id]
    )
    approved_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[approved_by_id])
    verifier: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[verifier_id])
    verified_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[verified_by_id])
    closed_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[closed_by_id])
    follows: Mapped[Optional["Ticket"]] = relationship(
        remote_side=[id], back_populates="follow_ups"
    )
    follow_ups: Mapped[list["Ticket"]] = relationship(back_populates="follows")
    nonconformities: Mapped[list[Nonconformity]] = relationship(back_populates="ticket")
    # whether its conversation has any comment, when read with it (app.conversation.services.commented)
    has_comments: Mapped[Optional[bool]] = query_expression()
    events: Mapped[list["TicketEvent"]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )
    box2_revisions: Mapped[list["Box2Revision"]] = relationship(
        back_populates="ticket", order_by="Box2Revision.id", cascade="all, delete-orphan"
    )
    progress_reports: Mapped[list["ProgressReport"]] = relationship(
        back_populates="ticket", order_by="ProgressReport.id", cascade="all, delete-orphan"
    )
    change_requests: Mapped[list["ChangeRequest"]] = relationship(
        back_populates="ticket", order_by="ChangeRequest.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan",
        primaryjoin="and_(Ticket.id == Attachment.ticket_id, Attachment.progress_report_id == None)",
        overlaps="attachments",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def amendments(self) -> list["ChangeRequest"]:
        """Box 2's dated amendments: the approved change requests, oldest first."""
        return [c for c in self.change_requests if c.decision == "approved"]

    @property
    def amendments_text(self) -> str:
        """The amendments as dated lines, for those who report on and verify the measures."""
        return "\n".join(f"{c.decided_at:%d/%m/%Y}: {c.text}" + (f"\n{c.new_measures}" if c.new_measures else "")
                         for c in self.amendments)

    @property
    def display_number(self) -> str:
        """Số phiếu NNN/YYYY; a draft has none yet."""
        return self.number_text(self.number, self.year)

    @staticmethod
    def number_text(number: int | None, year: int | None) -> str:
        """display_number of a ticket read as a plain row."""
        return f"{number:03d}/{year}" if number else ""

    @classmethod
    def number_rows(cls, rows) -> None:
        """Give each ticket read as a plain row (ListedRecord; None: no ticket) its display_number."""
        for row in rows:
            if row is not None:
                row.display_number = cls.number_text(row.number, row.year)

    def __repr__(self) -> str:
        return self.display_number or f"#{self.id}"


class TicketEvent(HistoryEntry, Model):
    """One line of a ticket's history, with the fields the transition was given."""

    __tablename__ = "ticket_event"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    data: Mapped[Optional[dict]] = mapped_column(JSON)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class Box2Revision(AgencyOwned, Model):
    """A previous content of box 2, kept when a proposal or an approved change replaces it."""

    __tablename__ = "box2_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    cause: Mapped[Optional[str]] = mapped_column(Text)
    measures: Mapped[Optional[str]] = mapped_column(Text)
    implementing_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"))
    implementer_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    due_date: Mapped[Optional[datetime.date]] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)  # a code of vocabulary.BOX2_REASONS; older rows: free text
    changed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    changed_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)

    ticket: Mapped[Ticket] = relationship(back_populates="box2_revisions")
    implementing_unit: Mapped[Optional[Unit]] = relationship()
    implementer: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[implementer_id])
    changed_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[changed_by_id])


class ProgressReport(AgencyOwned, Model):
    """Periodic progress report of a long action (5.5)."""

    __tablename__ = "progress_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    reported_on: Mapped[datetime.date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))

    ticket: Mapped[Ticket] = relationship(back_populates="progress_reports")
    author: Mapped[Optional[QmsUser]] = relationship()
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="progress_report", cascade="all, delete-orphan", overlaps="attachments"
    )


class ChangeRequest(AgencyOwned, Model):
    """Request for resources or a change of measures during implementation (5.5)."""

    __tablename__ = "change_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    new_measures: Mapped[Optional[str]] = mapped_column(Text)
    new_due_date: Mapped[Optional[datetime.date]] = mapped_column(Date)
    requested_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    requested_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
    decision: Mapped[str] = mapped_column(String(20), default="pending")
    decided_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    decided_at: Mapped[Optional[datetime.datetime]] = mapped_column(DateTime)
    decision_comment: Mapped[Optional[str]] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(back_populates="change_requests")
    requested_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[decided_by_id])


class Attachment(AgencyOwned, Model):
    """An evidence file, kept in the database so a database backup is a full backup."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ticket.id"), index=True)
    nonconformity_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("nonconformity.id"), index=True
    )
    progress_report_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("progress_report.id"), index=True
    )
    comment_id: Mapped[Optional[int]] = mapped_column(ForeignKey("comment.id"), index=True)  # app.conversation
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    uploaded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    uploaded_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)

    ticket: Mapped[Optional[Ticket]] = relationship(
        back_populates="attachments", foreign_keys=[ticket_id], overlaps="attachments"
    )
    nonconformity: Mapped[Optional[Nonconformity]] = relationship(back_populates="attachments")
    progress_report: Mapped[Optional[ProgressReport]] = relationship(
        back_populates="attachments", overlaps="attachments,ticket"
    )
    uploaded_by: Mapped[Optional[QmsUser]] = relationship()
    comment: Mapped[Optional[Comment]] = relationship(back_populates="attachments")


class TicketCounter(AgencyOwned, Model):
    """Last ticket number an agency gave in a year; its row lock serialises concurrent numbering."""

    __tablename__ = "ticket_counter"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True, index=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
