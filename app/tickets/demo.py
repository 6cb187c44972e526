"""Demo nonconformities and tickets: a living system for demos, training and tests.

Tickets are walked through the real workflow (services.apply_transition) by the demo
users, so their history is what a user would have produced. Loaded once per agency, in the
agency's scope, when it has no nonconformities or tickets yet. One `TicketDemo` per demo
agency says what it holds: its categories, NCs, tickets and the people who act on them.
"""
import datetime
from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.extensions import db
from app.organisation.models import QmsUser, Unit
from app.tickets import services
from app.tickets.models import NcCategory, Nonconformity, Ticket

CATEGORIES = [
    "Trả kết quả TTHC trễ hạn",
    "Hồ sơ tiếp nhận thiếu thành phần",
    "Sai sót thông tin trên giấy tờ trả cho công dân",
    "Không cập nhật hồ sơ lên Hệ thống thông tin giải quyết TTHC",
    "Phản ánh về thái độ phục vụ",
]

# unit, category index, days ago, source, description, disposition
NONCONFORMITIES = [
    ("BPMC", 0, 80, "nonconforming_activity", "Hồ sơ cấp giấy phép xây dựng số 112 trả trễ 2 ngày.", "repair"),
    ("BPMC", 0, 65, "nonconforming_activity", "Hồ sơ chuyển mục đích sử dụng đất trả trễ 3 ngày.", "repair"),
    ("BPMC", 0, 50, "feedback", "Công dân phản ánh hồ sơ đăng ký hộ kinh doanh trả trễ hẹn.", "repair"),
    ("BPMC", 0, 30, "nonconforming_activity", "Hồ sơ cấp đổi giấy chứng nhận trả trễ 1 ngày.", "repair"),
    ("BPMC", 0, 12, "process_monitoring", "Hồ sơ tách thửa trả trễ 4 ngày, chưa có văn bản xin lỗi.", None),
    ("KTHT", 1, 70, "nonconforming_activity", "Tiếp nhận hồ sơ cấp phép xây dựng thiếu bản vẽ mặt bằng.", "rework"),
    ("KTHT", 1, 40, "internal_audit", "Đánh giá nội bộ: 2 hồ sơ thiếu phiếu kiểm soát quá trình.", "rework"),
    ("KTHT", 2, 35, "feedback", "Sai tên chủ đầu tư trên giấy phép xây dựng.", "repair"),
    ("KTHT", 3, 20, "process_monitoring", "Chưa cập nhật 5 hồ sơ lên hệ thống một cửa điện tử.", "repair"),
    ("KTHT", 0, 15, "nonconforming_activity", "Hồ sơ thẩm định thiết kế trả trễ 1 ngày.", None),
    ("TNMT", 2, 75, "feedback", "Sai diện tích trên trích lục thửa đất.", "repair"),
    ("TNMT", 1, 60, "nonconforming_activity", "Hồ sơ đăng ký biến động thiếu tờ khai thuế.", "rework"),
    ("TNMT", 0, 45, "nonconforming_activity", "Hồ sơ cấp giấy chứng nhận lần đầu trả trễ 5 ngày.", "repair"),
    ("TNMT", 3, 25, "internal_audit", "Đánh giá nội bộ: chưa scan hồ sơ lưu.", "repair"),
    ("TNMT", 4, 10, "feedback", "Công dân phản ánh cán bộ hướng dẫn chưa rõ ràng.", "accept"),
    ("TP", 2, 55, "nonconforming_activity", "Sai ngày sinh trên bản sao trích lục hộ tịch.", "repair"),
    ("TP", 1, 33, "nonconforming_activity", "Hồ sơ chứng thực thiếu bản chính đối chiếu.", "scrap"),
    ("TP", 3, 18, "process_monitoring", "Sổ chứng thực chưa ghi đầy đủ thông tin.", "repair"),
    ("VP", 3, 28, "qms_records", "Văn bản đến chưa vào sổ theo dõi đúng hạn.", "repair"),
    ("VP", 4, 8, "feedback", "Phản ánh qua đường dây nóng về thời gian chờ tại bộ phận một cửa.", None),
    ("BPMC", 1, 58, "nonconforming_activity", "Tiếp nhận hồ sơ đất đai thiếu giấy ủy quyền.", "rework"),
    ("BPMC", 2, 42, "feedback", "Sai số điện thoại liên hệ trên phiếu hẹn.", "repair"),
    ("BPMC", 4, 22, "feedback", "Công dân góp ý bố trí ghế chờ chưa đủ.", "accept"),
    ("KTHT", 4, 9, "stakeholders", "Sở Xây dựng nhắc báo cáo định kỳ chậm.", None),
    ("TNMT", 3, 6, "data_analysis", "Phân tích dữ liệu: 8% hồ sơ chưa đồng bộ lên cổng dịch vụ công.", None),
    ("TP", 0, 5, "nonconforming_activity", "Hồ sơ đăng ký khai sinh kết hợp trả trễ 1 ngày.", None),
    ("VP", 1, 48, "internal_audit", "Đánh giá nội bộ: thiếu biên bản giao nhận hồ sơ.", "rework"),
    ("KTHT", 2, 52, "nonconforming_activity", "Sai địa chỉ công trình trên giấy phép.", "repair"),
    ("TNMT", 4, 38, "feedback", "Phản ánh chậm trả lời đơn kiến nghị.", "accept"),
    ("TP", 4, 3, "feedback", "Góp ý về hướng dẫn thủ tục trên trang thông tin điện tử.", None),
]


# creator, unit, kind, source, description, days ago, where its walk stops (None: a draft),
# and how it ends ("pass"; "long": due far ahead; "fail": found not effective)
TICKETS = [
    ("canbo.ktht", "KTHT", "corrective", "nonconforming_activity", "Giấy phép xây dựng ghi sai tên chủ đầu tư.", 3, None),
    ("canbo.tnmt", "TNMT", "preventive", "lessons_learned", "Đề xuất số hóa sổ theo dõi hồ sơ đất đai.", 2, None),
    ("canbo.ktht", "KTHT", "corrective", "feedback", "Công dân phản ánh hồ sơ bị yêu cầu bổ sung nhiều lần.", 6, "submit"),
    ("canbo.tnmt", "TNMT", "corrective", "nonconforming_activity", "Trích lục thửa đất sai diện tích.", 7, "submit"),
    ("canbo.ktht", "KTHT", "preventive", "other", "Đề xuất mua thêm máy scan.", 20, "decline"),
    ("danhgia", "TNMT", "corrective", "internal_audit", "Đánh giá nội bộ: hồ sơ lưu chưa được scan đầy đủ.", 12, "forward"),
    ("canbo.ktht", "KTHT", "corrective", "internal_audit", "Hồ sơ thiếu phiếu kiểm soát quá trình.", 14, "present"),
    ("canbo.tnmt", "TNMT", "corrective", "nonconforming_activity", "Hồ sơ đăng ký biến động thiếu tờ khai thuế.", 25, "assign"),
    ("canbo.ktht", "KTHT", "preventive", "risk_analysis", "Rủi ro mất dữ liệu khi máy chủ một cửa hỏng.", 27, "assign"),
    ("canbo.tnmt", "TNMT", "corrective", "feedback", "Chậm trả lời đơn kiến nghị của công dân.", 30, "propose"),
    ("canbo.ktht", "KTHT", "corrective", "process_results", "Tỷ lệ hồ sơ đúng hạn quý III chỉ đạt 92%.", 33, "propose"),
    ("canbo.ktht", "KTHT", "corrective", "nonconforming_activity", "Sai địa chỉ công trình trên giấy phép.", 40, "approve"),
    ("canbo.tnmt", "TNMT", "corrective", "data_analysis", "8% hồ sơ chưa đồng bộ lên cổng dịch vụ công.", 42, "approve", "long"),
    ("canbo.ktht", "KTHT", "preventive", "qms_records", "Chuẩn hóa biểu mẫu sổ theo dõi hồ sơ.", 50, "approve", "long"),
    ("canbo.tnmt", "TNMT", "corrective", "nonconforming_activity", "Hồ sơ cấp giấy chứng nhận trả trễ 5 ngày.", 55, "approve"),
    ("canbo.ktht", "KTHT", "corrective", "feedback", "Phiếu hẹn ghi sai số điện thoại liên hệ.", 58, "report_done"),
    ("canbo.tnmt", "TNMT", "corrective", "internal_audit", "Chưa lập danh mục hồ sơ lưu trữ năm.", 60, "report_done"),
    ("canbo.ktht", "KTHT", "corrective", "nonconforming_activity", "Thiếu bản vẽ mặt bằng khi tiếp nhận hồ sơ.", 70, "verify"),
    ("canbo.tnmt", "TNMT", "corrective", "feedback", "Cán bộ hướng dẫn thủ tục chưa rõ ràng.", 80, "close"),
    ("canbo.ktht", "KTHT", "preventive", "lessons_learned", "Lập danh sách kiểm tra hồ sơ xây dựng.", 85, "close"),
    ("canbo.tnmt", "TNMT", "corrective", "nonconforming_activity", "Hồ sơ tách thửa trả trễ nhiều lần.", 90, "verify", "fail"),
]


@dataclass(frozen=True)
class TicketDemo:
    """What one demo agency holds: its list of NC contents, its NCs and tickets (as above),
    and who acts on them."""

    categories: list[str]
    nonconformities: list[tuple]
    tickets: list[tuple]
    staff: dict[str, str]  # unit code → the unit's demo staff member (records NCs, implements)
    heads: dict[str, str]  # unit code → its head (decides dispositions, forwards, declines)
    recorder: str  # records the NCs of units with no demo staff
    secretary: str
    leader: str
    top_leader: str
    overdue: int | None = None  # index of a ticket made overdue (5 days past due)
    late: int | None = None  # index of a long action approved 45 days ago with no progress report
    links: list[tuple[int, int]] = field(default_factory=list)  # (NC index, ticket index)


CAM_LAM = TicketDemo(
    categories=CATEGORIES, nonconformities=NONCONFORMITIES, tickets=TICKETS,
    staff={"KTHT": "canbo.ktht", "TNMT": "canbo.tnmt"},
    heads={"KTHT": "truongphong.ktht", "TNMT": "truongphong.tnmt"},
    recorder="danhgia", secretary="thuky.iso", leader="truongban.iso", top_leader="chutich",
    overdue=14, late=12, links=[(7, 0), (11, 7), (6, 6)],
)

# UBND xã Cam Hiệp: a commune's few records, every state of a ticket's path present once.
CAM_HIEP = TicketDemo(
    categories=[
        "Trả kết quả TTHC trễ hạn",
        "Hồ sơ tiếp nhận thiếu thành phần",
        "Sai sót thông tin trên giấy tờ trả cho công dân",
        "Phản ánh về thái độ phục vụ",
    ],
    nonconformities=[
        ("PVHCC", 0, 40, "nonconforming_activity", "Hồ sơ chứng thực chữ ký tại Trung tâm PVHCC xã trả trễ 1 ngày.", "repair"),
        ("PVHCC", 1, 28, "feedback", "Công dân phản ánh hồ sơ đăng ký kết hôn bị đòi giấy tờ ngoài danh mục.", "rework"),
        ("KT", 2, 21, "nonconforming_activity", "Xác nhận nguồn gốc đất ghi sai số thửa của hộ ông Lê Văn Sáu.", "repair"),
        ("KT", 0, 14, "process_monitoring", "Hồ sơ hỗ trợ sản xuất nông nghiệp xã trả trễ 3 ngày.", None),
        ("VHXH", 3, 9, "feedback", "Phản ánh qua nhóm Zalo của xã về thái độ tiếp dân.", "accept"),
        ("VP", 1, 4, "internal_audit", "Đánh giá nội bộ xã: sổ văn bản đến thiếu ngày chuyển xử lý.", None),
    ],
    tickets=[
        ("xa.canbo", "KT", "corrective", "nonconforming_activity", "Xác nhận nguồn gốc đất của xã ghi sai số thửa.", 2, None),
        ("xa.canbo", "KT", "corrective", "feedback", "Người dân Cam Hiệp phản ánh hồ sơ hỗ trợ nông nghiệp chậm.", 5, "submit"),
        ("xa.canbo", "KT", "preventive", "risk_analysis",
         "Rủi ro thất lạc hồ sơ giấy khi chuyển từ Trung tâm PVHCC xã về Phòng Kinh tế.", 12, "forward"),
        ("xa.canbo", "KT", "corrective", "process_monitoring", "Hồ sơ hỗ trợ sản xuất nông nghiệp xã trả trễ nhiều lần.", 20, "assign"),
        ("xa.canbo", "KT", "corrective", "internal_audit",
         "Đánh giá nội bộ xã: Phòng Kinh tế thiếu phiếu kiểm soát quá trình.", 35, "approve"),
        ("xa.canbo", "KT", "preventive", "lessons_learned", "Lập danh mục kiểm tra hồ sơ đất đai cấp xã.", 60, "close"),
    ],
    staff={"KT": "xa.canbo"}, heads={"KT": "xa.truongphong"},
    recorder="xa.admin", secretary="xa.thuky", leader="xa.truongban", top_leader="xa.chutich",
    links=[(2, 0), (3, 3)],
)


def _user(username: str) -> QmsUser:
    return db.session.scalar(select(QmsUser).where(QmsUser.username == username))


def _unit(code: str) -> Unit:
    return db.session.scalar(select(Unit).where(Unit.code == code))


def _new_ticket(creator, unit_code, kind, source, description, days_ago, related=None) -> Ticket:
    ticket = Ticket(
        kind=kind, source=source, requesting_unit_id=_unit(unit_code).id, description=description,
        requested_on=services.today() - datetime.timedelta(days=days_ago),
        related_documents=related, requester_id=creator.id, created_by_id=creator.id, state="draft",
    )
    db.session.add(ticket)
    db.session.flush()
    services.record_creation(creator, ticket)
    db.session.commit()
    return ticket


def _walk(ticket: Ticket, steps: list[tuple]) -> Ticket:
    for username, name, fields in steps:
        actor = ticket.created_by if name == "submit" else _user(username)
        services.apply_transition(actor, ticket.id, name, fields)
    return ticket


def _steps(demo: TicketDemo, unit_code: str, stop_after: str | None, result="pass"):
    """The standard path of a ticket of `unit_code`, taken by the unit's staff and head and
    the agency's Ban ISO and top leader, cut after `stop_after` ("decline": the head
    declines it once submitted)."""
    if stop_after is None:
        return []
    soon = (services.today() + datetime.timedelta(days=20)).isoformat()
    later = (services.today() + datetime.timedelta(days=75)).isoformat()
    unit, head, assignee = _unit(unit_code), demo.heads[unit_code], demo.staff[unit_code]
    if stop_after == "decline":
        return [(None, "submit", {}),
                (head, "decline", {"reason": "Đã có kế hoạch mua sắm năm sau, không cần HĐKP."})]
    path = [
        ("submit", None, {}),  # by whoever opened the ticket
        ("forward", head, {"signs": ["recurring"], "comment": "Đề nghị Ban ISO xem xét."}),
        ("present", demo.secretary, {"note": "Thư ký ISO đã tổng hợp, trình Trưởng ban ISO phân công."}),
        ("assign", demo.leader, {"assignee_unit": unit.id, "assignee": _user(assignee).id}),
        ("propose", assignee, {"cause": "Chưa có bước kiểm tra chéo trước khi trả kết quả.",
                               "measures": "Bổ sung bước kiểm tra chéo; tập huấn lại cán bộ.",
                               "completion_date": soon}),
        ("approve", demo.leader, {"implementing_unit": unit.id, "implementer": _user(assignee).id,
                                  "due_date": later if result == "long" else soon}),
        ("report_done", assignee, {"result_summary": "Đã ban hành quy định kiểm tra chéo và tập huấn ngày 10."}),
        ("verify", demo.top_leader, {"result": "pass" if result in ("pass", "long") else result,
                                     "verified_on": services.today().isoformat()}),
        ("close", demo.secretary, {"evidence": "Quy định số 15/QĐ-UBND; danh sách tập huấn; sổ theo dõi."}),
    ]
    steps = []
    for name, who, fields in path:
        steps.append((who, name, fields))
        if name == stop_after:
            break
    return steps


def load_ticket_demo(demo: TicketDemo) -> None:
    """The current agency's demo NCs and tickets, unless it has some already."""
    if db.session.scalar(select(func.count(Ticket.id))) or db.session.scalar(select(func.count(Nonconformity.id))):
        return
    categories = []
    for name in demo.categories:
        category = db.session.scalar(select(NcCategory).where(NcCategory.name == name))
        if category is None:
            category = NcCategory(name=name, active=True)
            db.session.add(category)
        categories.append(category)
    db.session.flush()
    for unit_code, category, days_ago, source, description, disposition in demo.nonconformities:
        reporter = _user(demo.staff.get(unit_code, demo.recorder))
        nc = Nonconformity(
            unit_id=_unit(unit_code).id, category_id=categories[category].id, source=source,
            detected_on=services.today() - datetime.timedelta(days=days_ago), description=description,
            related_process="Giải quyết TTHC", detected_by_id=reporter.id, created_by_id=reporter.id,
            correction_done=disposition is not None, correction_checked=disposition is not None,
            disposition=disposition,
        )
        if disposition and unit_code in demo.heads:
            nc.disposition_by_id = _user(demo.heads[unit_code]).id
            nc.disposition_on = nc.detected_on
        db.session.add(nc)
    db.session.commit()

    tickets = []
    for creator, unit, kind, source, description, days_ago, stop_after, *result in demo.tickets:
        ticket = _new_ticket(_user(creator), unit, kind, source, description, days_ago)
        tickets.append(_walk(ticket, _steps(demo, unit, stop_after, *result)))

    # Make the follow-up lists meaningful: one action past its due date, one long action
    # approved 45 days ago without a progress report.
    if demo.overdue is not None:
        tickets[demo.overdue].due_date = services.today() - datetime.timedelta(days=5)
    if demo.late is not None:
        tickets[demo.late].approved_on = services.today() - datetime.timedelta(days=45)
    # Link a few NCs to the tickets that came from them.
    ncs = db.session.scalars(select(Nonconformity).order_by(Nonconformity.id)).all()
    for nc_index, ticket_index in demo.links:
        ncs[nc_index].ticket_id = tickets[ticket_index].id
    db.session.commit()
