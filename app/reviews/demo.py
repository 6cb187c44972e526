"""Demo management reviews: last year's meeting with approved minutes and follow-up tickets,
and this year's report-and-notice review in preparation. Loaded once, on a database without reviews."""
import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.organisation.models import QmsUser, Unit
from app.reviews import services
from app.reviews.models import InternalAudit, Review


def _user(username):
    return db.session.scalar(select(QmsUser).where(QmsUser.username == username))


def _unit(code):
    return db.session.scalar(select(Unit).where(Unit.code == code))


def load_review_demo() -> None:
    if db.session.scalar(select(func.count(Review.id))):
        return
    today = datetime.date.today()
    last = today.year - 1
    db.session.add(InternalAudit(year=last, done_on=datetime.date(last, 11, 20),
                                 scope="Đánh giá nội bộ toàn bộ các đơn vị thuộc phạm vi HTQLCL."))
    db.session.commit()
    secretary, chair = _user("thuky.iso"), _user("chutich")

    meeting = services.create_review(secretary, "meeting", datetime.date(last, 1, 1), datetime.date(last, 12, 31))
    content = {
        "meeting_date": datetime.date(last, 12, 26).isoformat(), "start_time": "08:00", "end_time": "10:30",
        "place": "Hội trường UBND huyện Cam Lâm", "chair_id": chair.id, "secretary_id": secretary.id,
        "attendee_ids": [_user(u).id for u in ("chutich", "truongban.iso", "truongphong.ktht",
                                                "truongphong.tnmt", "thuky.iso")],
        "other_attendees": "Đại diện Trung tâm Chính trị huyện",
        "inputs": {"context": "Luật Đất đai sửa đổi có hiệu lực; sắp xếp lại một số phòng chuyên môn.",
                   "resources": "Bộ phận một cửa thiếu 01 công chức vào quý III."},
        "items": [{"position": position, "conclusion": conclusion} for position, conclusion in enumerate([
            "Các hành động năm trước đã hoàn thành.", "Ghi nhận các thay đổi, cập nhật rủi ro.",
            "Đạt 6/10 mục tiêu; lĩnh vực đất đai chưa đạt.", "Bổ sung nhân lực cho bộ phận một cửa.",
            "Các biện pháp xử lý rủi ro có hiệu lực.", "Số hóa hồ sơ lưu trữ.", "Không có."], start=1)],
        "presentations": [{"reporter": "Đinh Thị Thu Thủy, Thư ký ISO",
                           "summary": "Báo cáo kết quả vận hành HTQLCL năm và tình hình thực hiện MTCL."}],
        "actions": [
            {"description": "Rà soát, cải tiến quy trình cấp giấy chứng nhận quyền sử dụng đất",
             "focal_unit_id": _unit("TNMT").id, "due_date": (today + datetime.timedelta(days=45)).isoformat()},
            {"description": "Cập nhật phạm vi HTQLCL theo cơ cấu tổ chức mới",
             "focal_unit_id": _unit("VP").id, "due_date": (today + datetime.timedelta(days=60)).isoformat()},
        ],
        "general_conclusion": "HTQLCL được duy trì phù hợp, có hiệu lực; cần cải tiến tỷ lệ hồ sơ đúng hạn lĩnh vực đất đai.",
        "improvement_needs": "Rà soát quy trình cấp giấy chứng nhận quyền sử dụng đất.",
        "qms_change_needs": "Cập nhật phạm vi HTQLCL theo cơ cấu tổ chức mới.",
        "resource_needs": "Bổ sung 01 công chức cho Bộ phận một cửa.",
    }
    services.save_content(secretary, meeting.id, content)
    services.apply_transition(secretary, meeting.id, "hold", {})
    services.apply_transition(chair, meeting.id, "approve_minutes", {"comment": "Thống nhất thông qua."})
    meeting.approved_on = datetime.date(last, 12, 27)
    db.session.commit()

    draft = services.create_review(secretary, "report", datetime.date(today.year, 1, 1), today)
    services.save_content(secretary, draft.id, {"inputs": {"context": "Triển khai chính quyền địa phương hai cấp."}})
