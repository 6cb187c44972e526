"""Demo management reviews. UBND huyện Cam Lâm: last year's meeting with approved minutes and
follow-up tickets, and this year's report-and-notice review in preparation; UBND xã Cam Hiệp:
last year's meeting. Loaded once per agency, when it has no reviews yet."""
import datetime
from dataclasses import dataclass

from sqlalchemy import func, select

from app.extensions import db
from app.organisation.models import QmsUser, Unit
from app.reviews import services
from app.reviews.models import InternalAudit, Review


@dataclass(frozen=True)
class ReviewDemo:
    """One demo agency's reviews: who prepares and chairs them, who attends, where, the
    follow-up actions (what, focal unit code, due in days) and whether this year's
    report-and-notice review is being prepared."""

    secretary: str
    chair: str
    attendees: tuple[str, ...]
    place: str
    other_attendees: str
    actions: tuple[tuple[str, str, int], ...]
    context: str
    resources: str
    conclusions: tuple[str, ...]  # the chair's conclusion on each of the seven items
    improvement_needs: str
    qms_change_needs: str
    resource_needs: str
    general_conclusion: str
    draft_this_year: bool = True


CAM_LAM = ReviewDemo(
    secretary="thuky.iso", chair="chutich",
    attendees=("chutich", "truongban.iso", "truongphong.ktht", "truongphong.tnmt", "thuky.iso"),
    place="Hội trường UBND huyện Cam Lâm", other_attendees="Đại diện Trung tâm Chính trị huyện",
    actions=(("Rà soát, cải tiến quy trình cấp giấy chứng nhận quyền sử dụng đất", "TNMT", 45),
             ("Cập nhật phạm vi HTQLCL theo cơ cấu tổ chức mới", "VP", 60)),
    context="Luật Đất đai sửa đổi có hiệu lực; sắp xếp lại một số phòng chuyên môn.",
    resources="Bộ phận một cửa thiếu 01 công chức vào quý III.",
    conclusions=("Các hành động năm trước đã hoàn thành.", "Ghi nhận các thay đổi, cập nhật rủi ro.",
                 "Đạt 6/10 mục tiêu; lĩnh vực đất đai chưa đạt.", "Bổ sung nhân lực cho bộ phận một cửa.",
                 "Các biện pháp xử lý rủi ro có hiệu lực.", "Số hóa hồ sơ lưu trữ.", "Không có."),
    improvement_needs="Rà soát quy trình cấp giấy chứng nhận quyền sử dụng đất.",
    qms_change_needs="Cập nhật phạm vi HTQLCL theo cơ cấu tổ chức mới.",
    resource_needs="Bổ sung 01 công chức cho Bộ phận một cửa.",
    general_conclusion="HTQLCL được duy trì phù hợp, có hiệu lực; cần cải tiến tỷ lệ hồ sơ đúng hạn lĩnh vực đất đai.",
)
CAM_HIEP = ReviewDemo(
    secretary="xa.thuky", chair="xa.chutich",
    attendees=("xa.chutich", "xa.truongban", "xa.truongphong", "xa.thuky"),
    place="Phòng họp UBND xã Cam Hiệp", other_attendees="Đại diện Trung tâm Phục vụ hành chính công xã",
    actions=(("Xây dựng lại quy trình tiếp nhận hồ sơ hỗ trợ sản xuất nông nghiệp", "KT", 40),),
    context="Vận hành chính quyền địa phương hai cấp từ ngày 01/7/2025; xã tiếp nhận thêm TTHC từ cấp huyện.",
    resources="Trung tâm Phục vụ hành chính công xã cần thêm 01 máy quét.",
    conclusions=("Xã mới vận hành HTQLCL theo mô hình hai cấp, chưa có hành động năm trước.",
                 "Ghi nhận các TTHC mới chuyển về xã, cập nhật rủi ro.",
                 "Đạt 2/3 mục tiêu; hồ sơ hỗ trợ nông nghiệp còn trễ hạn.", "Bổ sung 01 máy quét.",
                 "Các biện pháp xử lý rủi ro có hiệu lực.", "Niêm yết thủ tục mới tại Trung tâm PVHCC xã.",
                 "Không có."),
    improvement_needs="Chuẩn hóa quy trình tiếp nhận hồ sơ hỗ trợ sản xuất nông nghiệp.",
    qms_change_needs="Mở rộng phạm vi HTQLCL cho các TTHC mới chuyển về xã.",
    resource_needs="Bổ sung 01 máy quét cho Trung tâm Phục vụ hành chính công xã.",
    general_conclusion="HTQLCL của xã được duy trì phù hợp; cần cải tiến thời gian giải quyết hồ sơ nông nghiệp.",
    draft_this_year=False,
)


def _user(username):
    return db.session.scalar(select(QmsUser).where(QmsUser.username == username))


def _unit(code):
    return db.session.scalar(select(Unit).where(Unit.code == code))


def load_review_demo(demo: ReviewDemo) -> None:
    """The current agency's demo internal audit and reviews, unless it has reviews already."""
    if db.session.scalar(select(func.count(Review.id))):
        return
    today = datetime.date.today()
    last = today.year - 1
    db.session.add(InternalAudit(year=last, done_on=datetime.date(last, 11, 20),
                                 scope="Đánh giá nội bộ toàn bộ các đơn vị thuộc phạm vi HTQLCL."))
    db.session.commit()
    secretary, chair = _user(demo.secretary), _user(demo.chair)

    meeting = services.create_review(secretary, "meeting", datetime.date(last, 1, 1), datetime.date(last, 12, 31))
    content = {
        "meeting_date": datetime.date(last, 12, 26).isoformat(), "start_time": "08:00", "end_time": "10:30",
        "place": demo.place, "chair_id": chair.id, "secretary_id": secretary.id,
        "attendee_ids": [_user(u).id for u in demo.attendees],
        "other_attendees": demo.other_attendees,
        "inputs": {"context": demo.context, "resources": demo.resources},
        "items": [{"position": position, "conclusion": conclusion}
                  for position, conclusion in enumerate(demo.conclusions, start=1)],
        "presentations": [{"reporter": f"{secretary.get_full_name()}, Thư ký ISO",
                           "summary": "Báo cáo kết quả vận hành HTQLCL năm và tình hình thực hiện MTCL."}],
        "actions": [{"description": description, "focal_unit_id": _unit(unit_code).id,
                     "due_date": (today + datetime.timedelta(days=days)).isoformat()}
                    for description, unit_code, days in demo.actions],
        "general_conclusion": demo.general_conclusion,
        "improvement_needs": demo.improvement_needs,
        "qms_change_needs": demo.qms_change_needs,
        "resource_needs": demo.resource_needs,
    }
    services.save_content(secretary, meeting.id, content)
    services.apply_transition(secretary, meeting.id, "hold", {})
    services.apply_transition(chair, meeting.id, "approve_minutes", {"comment": "Thống nhất thông qua."})
    meeting.approved_on = datetime.date(last, 12, 27)
    db.session.commit()

    if demo.draft_this_year:
        draft = services.create_review(secretary, "report", datetime.date(today.year, 1, 1), today)
        services.save_content(secretary, draft.id, {"inputs": {"context": "Triển khai chính quyền địa phương hai cấp."}})
