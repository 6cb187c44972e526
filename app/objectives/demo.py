"""Demo objective plans and reports. UBND huyện Cam Lâm: last year's approved (some
objectives missed) and this year's drafts, for the agency and three units; UBND xã Cam Hiệp:
this year's approved agency plan. Loaded once per agency, when it has no plans yet."""
import datetime
from dataclasses import dataclass

from sqlalchemy import func, select

from app.extensions import db
from app.objectives import services
from app.objectives.models import ObjectivePlan
from app.organisation.models import QmsUser, Unit

# objective, method, target kind, target, measures, actual last year
OBJECTIVES = {
    None: [
        ("Giải quyết hồ sơ TTHC đúng hạn", "Tỷ lệ hồ sơ trả đúng hạn / tổng số hồ sơ đã giải quyết", "ge", "98 %",
         "Các phòng chuyên môn; Bộ phận một cửa theo dõi hằng tháng", "97,2 %"),
        ("Sự hài lòng của người dân", "Khảo sát mức độ hài lòng hằng quý", "ge", "90 %",
         "Văn phòng HĐND và UBND tổ chức khảo sát", "92 %"),
        ("Không có khiếu nại đúng về giải quyết TTHC", "Số đơn khiếu nại được kết luận là đúng", "le", "0 đơn",
         "Thanh tra huyện theo dõi", "0 đơn"),
    ],
    "KTHT": [
        ("Cấp giấy phép xây dựng đúng hạn", "Tỷ lệ giấy phép cấp đúng hạn", "ge", "95 %",
         "Phòng Kinh tế và Hạ tầng", "93 %"),
        ("Rút ngắn thời gian thẩm định thiết kế", "Số ngày thẩm định trung bình", "le", "10 ngày",
         "Tổ thẩm định", "9 ngày"),
        ("Số hóa hồ sơ cấp phép", "Hồ sơ lưu được số hóa đầy đủ trên hệ thống", "text",
         "Toàn bộ hồ sơ năm được số hóa", "Phòng Kinh tế và Hạ tầng; Trung tâm CNTT", "Đã số hóa 100 % hồ sơ"),
    ],
    "TNMT": [
        ("Cấp giấy chứng nhận quyền sử dụng đất đúng hạn", "Tỷ lệ hồ sơ trả đúng hạn", "ge", "95 %",
         "Phòng Tài nguyên và Môi trường; Chi nhánh VPĐKĐĐ", "88 %"),
        ("Giảm hồ sơ phải bổ sung", "Số lần yêu cầu bổ sung trung bình trên hồ sơ", "le", "1 lần",
         "Hướng dẫn một lần, đầy đủ", "1,4 lần"),
    ],
    "BPMC": [
        ("Tiếp nhận hồ sơ đầy đủ thành phần", "Tỷ lệ hồ sơ bị trả lại do thiếu thành phần", "le", "2 %",
         "Công chức một cửa kiểm tra theo danh mục", "1,5 %"),
        ("Thời gian chờ tiếp nhận", "Thời gian chờ trung bình của công dân", "le", "15 phút",
         "Bố trí thêm quầy vào giờ cao điểm", "12 phút"),
    ],
}
DRAFTERS = {None: "thuky.iso", "KTHT": "canbo.ktht", "TNMT": "canbo.tnmt", "BPMC": "admin"}  # no BPMC demo user
APPROVERS = {None: "chutich", "KTHT": "truongphong.ktht", "TNMT": "truongphong.tnmt", "BPMC": "admin"}


@dataclass(frozen=True)
class ObjectiveDemo:
    """One demo agency's plans: the objectives of each owner (None: the agency), who drafts
    and who approves them, and which years are there — (years before this one, approved,
    with its report)."""

    objectives: dict
    drafters: dict
    approvers: dict
    years: tuple[tuple[int, bool, bool], ...]
    late: tuple = ()  # owners whose plan was approved after 30/01


CAM_LAM = ObjectiveDemo(OBJECTIVES, DRAFTERS, APPROVERS, years=((1, True, True), (0, False, False)), late=("TNMT",))
CAM_HIEP = ObjectiveDemo(
    objectives={None: [
        ("Giải quyết hồ sơ TTHC của xã đúng hạn", "Tỷ lệ hồ sơ trả đúng hạn / tổng số hồ sơ đã giải quyết",
         "ge", "98 %", "Trung tâm Phục vụ hành chính công xã theo dõi hằng tháng", ""),
        ("Sự hài lòng của người dân xã", "Khảo sát mức độ hài lòng hằng quý", "ge", "90 %",
         "Văn phòng HĐND và UBND xã tổ chức khảo sát", ""),
        ("Không để hồ sơ phải bổ sung quá một lần", "Số hồ sơ bị yêu cầu bổ sung từ lần thứ hai", "le", "0 hồ sơ",
         "Công chức tiếp nhận hướng dẫn một lần, đầy đủ", ""),
    ]},
    drafters={None: "xa.thuky"}, approvers={None: "xa.chutich"}, years=((0, True, False),),
)


def _user(username):
    return db.session.scalar(select(QmsUser).where(QmsUser.username == username))


def _plan(demo: ObjectiveDemo, year: int, code, approved: bool) -> ObjectivePlan:
    unit = db.session.scalar(select(Unit).where(Unit.code == code)) if code else None
    drafter = _user(demo.drafters[code])
    plan = services.create_plan(drafter, year, unit.id if unit else None)
    for objective, method, kind, target, measures, _ in demo.objectives[code]:
        services.save_row(drafter, plan.id, {
            "objective": objective, "measurement_method": method, "target_kind": kind, "target": target,
            "measures": measures, "start_date": datetime.date(year, 1, 1), "end_date": datetime.date(year, 12, 31),
        })
    if approved:
        services.apply_transition(drafter, plan, "submit", {})
        services.apply_transition(_user(demo.approvers[code]), plan, "approve", {})
        plan.submitted_on = datetime.date(year, 1, 15)
        plan.approved_on = datetime.date(year, 2, 12) if code in demo.late else datetime.date(year, 1, 25)
        db.session.commit()
    return plan


def _report(demo: ObjectiveDemo, plan: ObjectivePlan, code) -> None:
    drafter = _user(demo.drafters[code])
    report = services.create_report(drafter, plan.id)
    for row, (_, _, kind, _, _, actual) in zip(report.rows, demo.objectives[code]):
        raw = {"actual": actual}
        if kind == "text":
            raw["achieved"] = "yes"
        achieved = services.is_achieved(kind, row.objective_row.target_value,
                                        (services.parse_number(actual) or (None,))[0])
        if achieved is False:
            raw.update(reason="Lượng hồ sơ tăng đột biến quý III; thiếu nhân lực.",
                       direction="Bổ sung nhân lực thời vụ; theo dõi tiến độ hằng tuần.")
        services.save_report_row(drafter, report.id, row.id, raw)
    services.apply_transition(drafter, report, "submit", {})
    services.apply_transition(_user(demo.approvers[code]), report, "approve", {})
    report.submitted_on = datetime.date(plan.year, 12, 18)
    report.approved_on = datetime.date(plan.year, 12, 22)
    db.session.commit()


def load_objective_demo(demo: ObjectiveDemo) -> None:
    """The current agency's demo plans, unless it has some already."""
    if db.session.scalar(select(func.count(ObjectivePlan.id))):
        return
    this_year = datetime.date.today().year
    for code in demo.objectives:
        for years_back, approved, reported in demo.years:
            plan = _plan(demo, this_year - years_back, code, approved)
            if reported:
                _report(demo, plan, code)
