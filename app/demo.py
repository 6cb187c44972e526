"""Demo data for demonstrations, training and tests (`flask qms demo`).

Each record is added only when its natural key (unit code, username) is missing, so the
command is safe to run again and never overwrites what users changed.
"""
from flask import current_app

from app.extensions import db
from app.organisation import roles
from app.organisation.models import QmsUser, Unit
from app.official import services as official
from app.organisation.services import ensure_agency
from app.tenancy import ALL, NONE, agency_scope
from app.objectives import demo as objective_demo
from app.reviews import demo as review_demo
from app.tickets import demo as ticket_demo

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

# The second demo agency: a commune People's Committee of the two-tier government (§10).
COMMUNE = {
    "agency_name": "ỦY BAN NHÂN DÂN XÃ CAM HIỆP",
    "parent_body": "ỦY BAN NHÂN DÂN TỈNH KHÁNH HÒA",
    "place_name": "Cam Hiệp",
    "email": "ubnd@camhiep.khanhhoa.gov.vn",
}
COMMUNE_UNITS = [
    ("VP", "Văn phòng HĐND và UBND xã"),
    ("KT", "Phòng Kinh tế"),
    ("VHXH", "Phòng Văn hóa - Xã hội"),
    ("PVHCC", "Trung tâm Phục vụ hành chính công xã"),
]
COMMUNE_USERS = [
    ("xa.admin", roles.ADMIN, "VP", "Quản trị", "Xã", "Công chức Văn phòng - Thống kê", False),
    ("xa.canbo", roles.STAFF, "KT", "Hạnh", "Lê Thị", "Công chức Kinh tế", False),
    ("xa.truongphong", roles.UNIT_HEAD, "KT", "Quang", "Trần Minh", "Trưởng phòng Kinh tế", True),
    ("xa.thuky", roles.ISO_SECRETARY, "VP", "Mai", "Nguyễn Thị", "Thư ký ISO", False),
    ("xa.truongban", roles.ISO_LEADER, "VP", "Dũng", "Phan Văn", "Phó Chủ tịch UBND xã", False),
    ("xa.chutich", roles.TOP_LEADER, "VP", "Long", "Đặng Văn", "Chủ tịch UBND xã", False),
]

# People of no agency: the province's platform admin and the Sở KHCN's inspector.
PLATFORM_USERS = [
    ("quantri", roles.PLATFORM_ADMIN, None, "Trị", "Quản", "Quản trị nền tảng e-ISO tỉnh", False),
    ("so.khcn", roles.PROVINCE_INSPECTOR, None, "Thảo", "Vũ Thị", "Chuyên viên Sở KHCN", False),
]


def demo_usernames() -> list[str]:
    """Every demo login: they all have the published DEMO_PASSWORD."""
    return [row[0] for row in USERS + COMMUNE_USERS + PLATFORM_USERS]


def load_demo() -> list[tuple[str, str]]:
    """Add the demo agencies, their units, people and records, and the platform's people,
    where missing; return (username, role) of every demo login."""
    camlam = ensure_agency("CAMLAM")
    if not camlam.email:  # the first agency comes from the single-agency database (migration 0008)
        camlam.email = "ubnd@camlam.khanhhoa.gov.vn"
        db.session.commit()
    with agency_scope(camlam.id):
        _load_people(UNITS, USERS, "camlam.example.vn")
        _load_records(ticket_demo.CAM_LAM, objective_demo.CAM_LAM, review_demo.CAM_LAM)
    with agency_scope(ensure_agency("CAMHIEP", **COMMUNE).id):
        _load_people(COMMUNE_UNITS, COMMUNE_USERS, "camhiep.example.vn")
        _load_records(ticket_demo.CAM_HIEP, objective_demo.CAM_HIEP, review_demo.CAM_HIEP)
    with agency_scope(NONE):
        _load_people([], PLATFORM_USERS, "khanhhoa.example.vn")
    return [(u[0], str(roles.role_label(u[1]))) for u in USERS + COMMUNE_USERS + PLATFORM_USERS]


def _load_records(tickets, objectives, reviews) -> None:
    """The current agency's NCs and tickets, objective plans and reviews (each kind only when
    the agency has none yet)."""
    with official.deferred():  # the demo back-dates each step: copies are made when first opened
        ticket_demo.load_ticket_demo(tickets)
        objective_demo.load_objective_demo(objectives)
        review_demo.load_review_demo(reviews)


def _load_people(unit_rows, user_rows, mail_domain) -> None:
    """The current agency's units and people (or the platform's people: no units)."""
    sm = current_app.appbuilder.sm
    units = {}
    for code, name in unit_rows:
        unit = db.session.query(Unit).filter_by(code=code).one_or_none()
        if unit is None:
            unit = Unit(code=code, name=name, in_qms_scope=True, active=True)
            db.session.add(unit)
        units[code] = unit
    db.session.commit()

    for username, role_name, unit_code, first, last, position, is_head in user_rows:
        with agency_scope(ALL):  # user names are unique in the whole installation
            if db.session.query(QmsUser).filter_by(username=username).count():
                continue
        role = sm.find_role(role_name)
        if role is None:
            raise RuntimeError("Chưa có vai trò: hãy chạy 'flask qms setup' trước.")
        user = sm.add_user(username, first, last, f"{username}@{mail_domain}", [role], DEMO_PASSWORD)
        user.unit = units.get(unit_code)
        user.position = position
        if is_head and units[unit_code].head is None:
            units[unit_code].head = user
        db.session.commit()
