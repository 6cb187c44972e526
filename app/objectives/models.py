import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.tenancy import AgencyOwned
from app.history import HistoryEntry
from app.organisation.models import QmsUser, Unit
from app.tickets.models import Ticket


def _now() -> datetime.datetime:
    return datetime.datetime.now()


class ObjectivePlan(AgencyOwned, Model):
    """Kế hoạch thực hiện MTCL năm …: the agency's (unit_id empty) or one unit's.

    An approved plan is read-only; changing it makes a new revision that replaces it
    when approved, and the old one is kept as superseded.
    """

    __tablename__ = "objective_plan"
    __table_args__ = (UniqueConstraint("agency_id", "year", "unit_id", "revision", name="uq_plan_agency_year_unit_revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    replaces_id: Mapped[Optional[int]] = mapped_column(ForeignKey("objective_plan.id"))
    state: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    created_on: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
    submitted_on: Mapped[Optional[datetime.date]] = mapped_column(Date)
    approved_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    approved_on: Mapped[Optional[datetime.date]] = mapped_column(Date)

    unit: Mapped[Optional[Unit]] = relationship()
    created_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[created_by_id])
    approved_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[approved_by_id])
    replaces: Mapped[Optional["ObjectivePlan"]] = relationship(remote_side=[id])
    rows: Mapped[list["ObjectiveRow"]] = relationship(
        back_populates="plan", order_by="ObjectiveRow.position", cascade="all, delete-orphan"
    )
    report: Mapped[Optional["ObjectiveReport"]] = relationship(back_populates="plan", uselist=False)
    events: Mapped[list["ObjectiveEvent"]] = relationship(
        back_populates="plan", order_by="ObjectiveEvent.id", cascade="all, delete-orphan",
        primaryjoin="and_(ObjectivePlan.id == ObjectiveEvent.plan_id, ObjectiveEvent.report_id == None)",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def owner_name(self) -> str:
        return self.unit.name if self.unit else ""

    def __repr__(self) -> str:
        return f"{self.year} — {self.unit.name if self.unit else 'CQHCNN'} (r{self.revision})"


class ObjectiveRow(AgencyOwned, Model):
    """One objective of a plan: what, how it is measured, the target, measures, dates."""

    __tablename__ = "objective_row"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("objective_plan.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=1)
    objective: Mapped[str] = mapped_column(Text)
    measurement_method: Mapped[str] = mapped_column(Text)
    target_kind: Mapped[str] = mapped_column(String(10))  # ge | le | eq | text
    target_value: Mapped[Optional[float]] = mapped_column(Float)
    target_unit: Mapped[Optional[str]] = mapped_column(String(40))
    target_text: Mapped[Optional[str]] = mapped_column(Text)
    measures: Mapped[Optional[str]] = mapped_column(Text)
    start_date: Mapped[Optional[datetime.date]] = mapped_column(Date)
    end_date: Mapped[Optional[datetime.date]] = mapped_column(Date)

    plan: Mapped[ObjectivePlan] = relationship(back_populates="rows")


class ObjectiveReport(AgencyOwned, Model):
    """Báo cáo thực hiện MTCL năm …, made from an approved plan."""

    __tablename__ = "objective_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("objective_plan.id"), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    created_on: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
    submitted_on: Mapped[Optional[datetime.date]] = mapped_column(Date)
    approved_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    approved_on: Mapped[Optional[datetime.date]] = mapped_column(Date)

    plan: Mapped[ObjectivePlan] = relationship(back_populates="report")
    created_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[created_by_id])
    approved_by: Mapped[Optional[QmsUser]] = relationship(foreign_keys=[approved_by_id])
    rows: Mapped[list["ReportRow"]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="ReportRow.id"
    )
    events: Mapped[list["ObjectiveEvent"]] = relationship(
        back_populates="report", order_by="ObjectiveEvent.id", cascade="all, delete-orphan",
        overlaps="events",
    )

    __mapper_args__ = {"version_id_col": version}


class ReportRow(AgencyOwned, Model):
    """What was achieved for one objective of the plan."""

    __tablename__ = "report_row"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("objective_report.id"), index=True)
    objective_row_id: Mapped[int] = mapped_column(ForeignKey("objective_row.id"))
    actual: Mapped[Optional[str]] = mapped_column(Text)
    actual_value: Mapped[Optional[float]] = mapped_column(Float)
    achieved: Mapped[Optional[bool]] = mapped_column(Boolean)
    reason: Mapped[Optional[str]] = mapped_column(Text)
    direction: Mapped[Optional[str]] = mapped_column(Text)
    ticket_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ticket.id"))

    report: Mapped[ObjectiveReport] = relationship(back_populates="rows")
    objective_row: Mapped[ObjectiveRow] = relationship()
    ticket: Mapped[Optional[Ticket]] = relationship()


class ObjectiveEvent(HistoryEntry, Model):
    """History of a plan or of its report (report_id set)."""

    __tablename__ = "objective_event"

    plan_id: Mapped[int] = mapped_column(ForeignKey("objective_plan.id"), index=True)
    report_id: Mapped[Optional[int]] = mapped_column(ForeignKey("objective_report.id"), index=True)

    plan: Mapped[ObjectivePlan] = relationship(back_populates="events", overlaps="events")
    report: Mapped[Optional[ObjectiveReport]] = relationship(back_populates="events", overlaps="events,plan")
