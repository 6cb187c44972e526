from typing import Optional

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import Group, User
from sqlalchemy import Boolean, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship


class AgencySettings(Model):
    """The agency's own data and the procedure's tunable numbers; exactly one row."""

    __tablename__ = "agency_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
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

    def __repr__(self) -> str:
        return self.agency_name


class Unit(Model):
    """Đơn vị: a department of the agency, inside or outside the QMS scope."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    head_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", use_alter=True, name="fk_unit_head_id_ab_user"))
    in_qms_scope: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    head: Mapped[Optional["QmsUser"]] = relationship(foreign_keys=[head_id])

    def __repr__(self) -> str:
        return self.name


class QmsUser(User):
    """FAB's user with the unit they work in and their position (chức vụ)."""

    __tablename__ = "ab_user"

    unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"))
    position: Mapped[Optional[str]] = mapped_column(String(200))

    unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[unit_id])

    def get_full_name(self) -> str:
        """Vietnamese order: family and middle name (last_name), then given name."""
        return f"{self.last_name} {self.first_name}".strip()

    def __repr__(self) -> str:
        return self.get_full_name()


@event.listens_for(Group, "mapper_configured")
def _groups_hold_qms_users(mapper, cls) -> None:
    """FAB's Group.users expects FAB's own User class and refuses our QmsUser at flush (the
    user-role relationship is declared with enable_typechecks=False for this reason; the
    group one is not). Accept our subclass, so groups can be given to people."""
    mapper.get_property("users")._dependency_processor.enable_typechecks = False
