"""Demo nonconformities and tickets: a living system for demos, training and tests.

Tickets are walked through the real workflow (services.apply_transition) by the demo
users, so their history is what a user would have produced. Loaded once, on a database
without nonconformities or tickets.
"""
import datetime

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


def _steps(unit_head, assignee_unit, assignee, stop_after: str, result="pass"):
    """The standard path, cut after `stop_after`."""
    soon = (services.today() + datetime.timedelta(days=20)).isoformat()
    later = (services.today() + datetime.timedelta(days=75)).isoformat()
    unit = _unit(assignee_unit)
    path = [
        ("submit", None, {}),  # by whoever opened the ticket
        ("forward", unit_head, {"signs": ["recurring"], "comment": "Đề nghị Ban ISO xem xét."}),
        ("present", "thuky.iso", {"note": "Thư ký ISO đã tổng hợp, trình Trưởng ban ISO phân công."}),
        ("assign", "truongban.iso", {"assignee_unit": unit.id, "assignee": _user(assignee).id}),
        ("propose", assignee, {"cause": "Chưa có bước kiểm tra chéo trước khi trả kết quả.",
                               "measures": "Bổ sung bước kiểm tra chéo; tập huấn lại cán bộ.",
                               "completion_date": soon}),
        ("approve", "truongban.iso", {"implementing_unit": unit.id, "implementer": _user(assignee).id,
                                      "due_date": later if result == "long" else soon}),
        ("report_done", assignee, {"result_summary": "Đã ban hành quy định kiểm tra chéo và tập huấn ngày 10."}),
        ("verify", "chutich", {"result": "pass" if result in ("pass", "long") else result,
                               "verified_on": services.today().isoformat()}),
        ("close", "thuky.iso", {"evidence": "Quy định số 15/QĐ-UBND; danh sách tập huấn; sổ theo dõi."}),
    ]
    steps = []
    for name, who, fields in path:
        steps.append((who, name, fields))
        if name == stop_after:
            break
    return steps


def load_ticket_demo() -> None:
    if db.session.scalar(select(func.count(Ticket.id))) or db.session.scalar(select(func.count(Nonconformity.id))):
        return
    categories = []
    for name in CATEGORIES:
        category = db.session.scalar(select(NcCategory).where(NcCategory.name == name))
        if category is None:
            category = NcCategory(name=name, active=True)
            db.session.add(category)
        categories.append(category)
    db.session.flush()
    heads = {"KTHT": "truongphong.ktht", "TNMT": "truongphong.tnmt"}
    for unit_code, category, days_ago, source, description, disposition in NONCONFORMITIES:
        reporter = _user({"KTHT": "canbo.ktht", "TNMT": "canbo.tnmt"}.get(unit_code, "danhgia"))
        nc = Nonconformity(
            unit_id=_unit(unit_code).id, category_id=categories[category].id, source=source,
            detected_on=services.today() - datetime.timedelta(days=days_ago), description=description,
            related_process="Giải quyết TTHC", detected_by_id=reporter.id, created_by_id=reporter.id,
            correction_done=disposition is not None, correction_checked=disposition is not None,
            disposition=disposition,
        )
        if disposition and unit_code in heads:
            nc.disposition_by_id = _user(heads[unit_code]).id
            nc.disposition_on = nc.detected_on
        db.session.add(nc)
    db.session.commit()

    staff_ktht, staff_tnmt, auditor = _user("canbo.ktht"), _user("canbo.tnmt"), _user("danhgia")
    plan = [
        # (creator, unit, kind, source, description, days ago, walk)
        (staff_ktht, "KTHT", "corrective", "nonconforming_activity", "Giấy phép xây dựng ghi sai tên chủ đầu tư.", 3, []),
        (staff_tnmt, "TNMT", "preventive", "lessons_learned", "Đề xuất số hóa sổ theo dõi hồ sơ đất đai.", 2, []),
        (staff_ktht, "KTHT", "corrective", "feedback", "Công dân phản ánh hồ sơ bị yêu cầu bổ sung nhiều lần.", 6,
         _steps("truongphong.ktht", "KTHT", "canbo.ktht", "submit")),
        (staff_tnmt, "TNMT", "corrective", "nonconforming_activity", "Trích lục thửa đất sai diện tích.", 7,
         _steps("truongphong.tnmt", "TNMT", "canbo.tnmt", "submit")),
        (staff_ktht, "KTHT", "preventive", "other", "Đề xuất mua thêm máy scan.", 20,
         _steps("truongphong.ktht", "KTHT", "canbo.ktht", "submit")
         + [("truongphong.ktht", "decline", {"reason": "Đã có kế hoạch mua sắm năm sau, không cần HĐKP."})]),
        (auditor, "TNMT", "corrective", "internal_audit", "Đánh giá nội bộ: hồ sơ lưu chưa được scan đầy đủ.", 12,
         _steps("truongphong.tnmt", "TNMT", "canbo.tnmt", "forward")),
        (staff_ktht, "KTHT", "corrective", "internal_audit", "Hồ sơ thiếu phiếu kiểm soát quá trình.", 14,
         _steps("truongphong.ktht", "KTHT", "canbo.ktht", "present")),
        (staff_tnmt, "TNMT", "corrective", "nonconforming_activity", "Hồ sơ đăng ký biến động thiếu tờ khai thuế.", 25,
         _steps("truongphong.tnmt", "TNMT", "canbo.tnmt", "assign")),
        (staff_ktht, "KTHT", "preventive", "risk_analysis", "Rủi ro mất dữ liệu khi máy chủ một cửa hỏng.", 27,
         _steps("truongphong.ktht", "KTHT", "canbo.ktht", "assign")),
        (staff_tnmt, "TNMT", "corrective", "feedback", "Chậm trả lời đơn kiến nghị của công dân.", 30,
         _steps("truongphong.tnmt", "TNMT", "canbo.tnmt", "propose")),
        (staff_ktht, "KTHT", "corrective", "process_results", "Tỷ lệ hồ sơ đúng hạn quý III chỉ đạt 92%.", 33,
         _steps("truongphong.ktht", "KTHT", "canbo.ktht", "propose")),
        (staff_ktht, "KTHT", "corrective", "nonconforming_activity", "Sai địa chỉ công trình trên giấy phép.", 40,
         _steps("truongphong.ktht", "KTHT", "canbo.ktht", "approve")),
        (staff_tnmt, "TNMT", "corrective", "data_analysis", "8% hồ sơ chưa đồng bộ lên cổng dịch vụ công.", 42,
         _steps("truongphong.tnmt", "TNMT", "canbo.tnmt", "approve", result="long")),
        (staff_ktht, "KTHT", "preventive", "qms_records", "Chuẩn hóa biểu mẫu sổ theo dõi hồ sơ.", 50,
         _steps("truongphong.ktht", "KTHT", "canbo.ktht", "approve", result="long")),
        (staff_tnmt, "TNMT", "corrective", "nonconforming_activity", "Hồ sơ cấp giấy chứng nhận trả trễ 5 ngày.", 55,
         _steps("truongphong.tnmt", "TNMT", "canbo.tnmt", "approve")),
        (staff_ktht, "KTHT", "corrective", "feedback", "Phiếu hẹn ghi sai số điện thoại liên hệ.", 58,
         _steps("truongphong.ktht", "KTHT", "canbo.ktht", "report_done")),
        (staff_tnmt, "TNMT", "corrective", "internal_audit", "Chưa lập danh mục hồ sơ lưu trữ năm.", 60,
         _steps("truongphong.tnmt", "TNMT", "canbo.tnmt", "report_done")),
        (staff_ktht, "KTHT", "corrective", "nonconforming_activity", "Thiếu bản vẽ mặt bằng khi tiếp nhận hồ sơ.", 70,
         _steps("truongphong.ktht", "KTHT", "canbo.ktht", "verify")),
        (staff_tnmt, "TNMT", "corrective", "feedback", "Cán bộ hướng dẫn thủ tục chưa rõ ràng.", 80,
         _steps("truongphong.tnmt", "TNMT", "canbo.tnmt", "close")),
        (staff_ktht, "KTHT", "preventive", "lessons_learned", "Lập danh sách kiểm tra hồ sơ xây dựng.", 85,
         _steps("truongphong.ktht", "KTHT", "canbo.ktht", "close")),
        (staff_tnmt, "TNMT", "corrective", "nonconforming_activity", "Hồ sơ tách thửa trả trễ nhiều lần.", 90,
         _steps("truongphong.tnmt", "TNMT", "canbo.tnmt", "verify", result="fail")),
    ]
    tickets = []
    for creator, unit, kind, source, description, days_ago, steps in plan:
        tickets.append(_walk(_new_ticket(creator, unit, kind, source, description, days_ago), steps))

    # Make the follow-up lists meaningful: one action past its due date, one long action
    # approved 45 days ago without a progress report.
    overdue = tickets[14]
    overdue.due_date = services.today() - datetime.timedelta(days=5)
    late = tickets[12]
    late.approved_on = services.today() - datetime.timedelta(days=45)
    # Link a few NCs to the tickets that came from them.
    ncs = db.session.scalars(select(Nonconformity).order_by(Nonconformity.id)).all()
    ncs[7].ticket_id = tickets[0].id
    ncs[11].ticket_id = tickets[7].id
    ncs[6].ticket_id = tickets[6].id
    db.session.commit()
