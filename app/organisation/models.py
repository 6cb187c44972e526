from typing import Optional

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import Group, User
from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, event, true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from app.tenancy import AgencyOwned


class Agency(Model):
    """Cơ quan: the tenant (SPEC §10). Its own lines on every document and the procedure's
    tunable numbers; every record belongs to exactly one agency."""

    __tablename__ = "agency"
    __table_args__ = (UniqueConstraint("code", name="uq_agency_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    agency_name: Mapped[str] = mapped_column(String(200), default="ỦY BAN NHÂN DÂN HUYỆN CAM LÂM")
    parent_body: Mapped[str] = mapped_column(String(200), default="ỦY BAN NHÂN DÂN TỈNH KHÁNH HÒA")
    place_name: Mapped[str] = mapped_column(String(100), default="Cam Lâm")
    steering_committee: Mapped[str] = mapped_column(String(200), default="BAN CHỈ ĐẠO ISO")
    procedure_code: Mapped[str] = mapped_column(String(50), default="QT.CTCL")
    procedure_issue: Mapped[str] = mapped_column(String(20), default="02")
    procedure_date: Mapped[str] = mapped_column(String(20), default="28/02/2022")
    retention_years: Mapped[int] = mapped_column(Integer, default=3)
    recurrence_threshold: Mapped[int] = mapped_column(Integer, default=3)
    report_interval_days: Mapped[int] = mapped_column(Integer, default=30)
    max_upload_mb: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    # Printed in the agency's visible digital signature (Decree 30, Appendix I).
    email: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # A timestamp authority (RFC 3161) for the signing time; without it the server's clock.
    tsa_url: Mapped[str] = mapped_column(String(300), default="", server_default="")

    def __repr__(self) -> str:
        return self.agency_name


class Unit(AgencyOwned, Model):
    """Đơn vị: a department of the agency, inside or outside the QMS scope."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("agency_id", "code", name="uq_unit_agency_code"),
                      UniqueConstraint("agency_id", "name", name="uq_unit_agency_name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    head_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", use_alter=True, name="fk_unit_head_id_ab_user"))
    in_qms_scope: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    head: Mapped[Optional["QmsUser"]] = relationship(foreign_keys=[head_id])

    def __repr__(self) -> str:
        return self.name


class QmsUser(AgencyOwned, User):
    """FAB's user with their agency, the unit they work in and their position (chức vụ).
    The platform admin and the province inspector belong to no agency."""

    __tablename__ = "ab_user"

    agency_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agency.id"), index=True)
    unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"))
    position: Mapped[Optional[str]] = mapped_column(String(200))
    # Kept in the signed session cookie at sign-in and changed at sign-out: a cookie copied
    # before the sign-out no longer matches (app.organisation.security.QmsSecurityManager).
    session_token: Mapped[Optional[str]] = mapped_column(String(64))
    # Whether hand-offs and mentions (app.reminders.handoff) also come by e-mail: "now",
    # "digest" (in the next daily digest) or "never" (the default); the panel always shows them.
    notify_email: Mapped[str] = mapped_column(String(10), default="never", server_default="never")

    unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[unit_id])
    agency: Mapped[Optional[Agency]] = relationship()
    # The bell's count, read with the signed-in person (app.reminders.services.unread_count);
    # None when not read with them, or after a commit expired them.
    unread_notifications: Mapped[Optional[int]] = query_expression()

    @property
    def is_active(self) -> bool:
        """A person of a deactivated agency cannot sign in; their records stay."""
        return bool(self.active) and (self.agency is None or self.agency.active)

    def get_full_name(self) -> str:
        """Vietnamese order: family and middle name (last_name), then given name."""
        return f"{self.last_name} {self.first_name}".strip()

    def __repr__(self) -> str:
        return self.get_full_name()


# FAB's own User class maps the same table without the agency: its relationships (a group's
# users, a role's users) and FAB's forms load people through it. Mapped here, the agency
# column lets the query layer (app.tenancy) limit those people to the agency too.
User.__mapper__.add_property("agency_id", User.__table__.c.agency_id)


@event.listens_for(Group, "mapper_configured")
def _groups_hold_qms_users(mapper, cls) -> None:
    """FAB's Group.users expects FAB's own User class and refuses our QmsUser at flush (the
    user-role relationship is declared with enable_typechecks=False for this reason; the
    group one is not). Accept our subclass, so groups can be given to people."""
    mapper.get_property("users")._dependency_processor.enable_typechecks = False
