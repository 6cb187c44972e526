"""Demo data for demonstrations, training and tests (`flask qms demo`).

Each record is added only when its natural key (unit code, username) is missing, so the
command is safe to run again and never overwrites what users changed.
"""
from flask import current_app

from app.extensions import db
from app.organisation import roles
from app.organisation.models import Unit
from app.organisation.services import ensure_settings
from app.objectives.demo import load_objective_demo
from app.reviews.demo import load_review_demo
from app.tickets.demo import load_ticket_demo

DEMO_PASSWORD = "CamLam@2026"

UNITS = [
    ("VP", "Văn phòng HĐND và UBND"),
    ("KTHT", "Phòng Kinh tế và Hạ tầng"),
    ("TNMT", "Phòng Tài nguyên và Môi trường"),
    ("TP", "Phòng Tư pháp"),
    ("BPMC", "Bộ phận Tiếp nhận và Trả kết quả"),
]

# username, role, unit code, first name, last name, position, heads the unit
USERS = [
    ("admin", roles.ADMIN, "VP", "Quản trị", "Hệ thống", "Chuyên viên CNTT", False),
    ("canbo.ktht", roles.STAFF, "KTHT", "Minh", "Nguyễn Văn", "Chuyên viên", False),
    ("truongphong.ktht", roles.UNIT_HEAD, "KTHT", "Tùng", "Lê Anh", "Trưởng phòng", True),
    ("canbo.tnmt", roles.STAFF, "TNMT", "Hoa", "Trần Thị", "Chuyên viên", False),
    ("truongphong.tnmt", roles.UNIT_HEAD, "TNMT", "Hùng", "Phạm Văn", "Trưởng phòng", True),
    ("danhgia", roles.AUDITOR, "VP", "Lan", "Võ Thị", "Chuyên gia đánh giá nội bộ", False),
    ("thuky.iso", roles.ISO_SECRETARY, "VP", "Thủy", "Đinh Thị Thu", "Thư ký ISO", False),
    ("truongban.iso", roles.ISO_LEADER, "VP", "Nam", "Huỳnh Văn", "Phó Chủ tịch UBND huyện", False),
    ("chutich", roles.TOP_LEADER, "VP", "Bảo", "Ngô Văn", "Chủ tịch UBND huyện", False),
]


def load_demo() -> list[tuple[str, str]]:
    """Add the demo agency, units and users that are missing; return (username, role)."""
    sm = current_app.appbuilder.sm
    ensure_settings()
    units = {}
    for code, name in UNITS:
        unit = db.session.query(Unit).filter_by(code=code).one_or_none()
        if unit is None:
            unit = Unit(code=code, name=name, in_qms_scope=True, active=True)
            db.session.add(unit)
        units[code] = unit
    db.session.commit()

    for username, role_name, unit_code, first, last, position, is_head in USERS:
        user = sm.find_user(username=username)
        if user is None:
            role = sm.find_role(role_name)
            if role is None:
                raise RuntimeError("Chưa có vai trò: hãy chạy 'flask qms setup' trước.")
            user = sm.add_user(
                username, first, last, f"{username}@camlam.example.vn", [role], DEMO_PASSWORD
            )
            user.unit = units[unit_code]
            user.position = position
            if is_head and units[unit_code].head is None:
                units[unit_code].head = user
            db.session.commit()
    load_ticket_demo()
    load_objective_demo()
    load_review_demo()
    return [(u[0], str(roles.role_label(u[1]))) for u in USERS]
