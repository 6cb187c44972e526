"""The two forms of management review (5.8) as declarative transition tables."""
from flask_babel import force_locale, gettext, lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.organisation import roles
from app.reviews.models import Review, ReviewEvent
from app.tickets import workflow as ticket_workflow
from app.tickets.models import Ticket
from app.tickets.numbering import give_number
from app.workflow import (
    STALE, Action, Actor, Conflict, Field, Transition, Workflow, acted, has_role, is_admin, today,
)

FORMS = {"meeting": _l("Meeting (5.8.1)"), "report": _l("Report and notice (5.8.2)")}

STATES = {
    "draft": _l("Being prepared"),
    "held": _l("Meeting held, minutes awaiting the chair"),
    "minutes_approved": _l("Minutes approved"),
    "report_review": _l("QMS report awaiting the ISO committee leader"),
    "report_approved": _l("QMS report approved, sent for comments"),
    "notice_review": _l("Notice awaiting the top leader"),
    "issued": _l("Notice issued to the units"),
}
FINAL_STATES = ("minutes_approved", "issued")
# While the secretary may still write: the minutes until approved; the report until it is
# submitted, then the notice (the outputs) until it is submitted.
EDITABLE = {"meeting": ("draft", "held"), "report": ("draft", "report_approved")}
COMMENTING = ("report_approved", "notice_review")

SECRETARY = Actor(_l("ISO secretary"), lambda u, r: has_role(u, roles.ISO_SECRETARY) or is_admin(u))
CHAIR = Actor(_l("The chair of the meeting"), lambda u, r: u.id == r.chair_id or is_admin(u))
ISO_LEADER = Actor(_l("ISO committee leader"), lambda u, r: has_role(u, roles.ISO_LEADER) or is_admin(u))
TOP_LEADER = Actor(_l("Agency top leader"), lambda u, r: has_role(u, roles.TOP_LEADER) or is_admin(u))
COMMENT = Field("comment", "text", _l("Comment"), required=False)
REASON = Field("comment", "text", _l("What must change"))

def _approve(user, review, v):
    """The minutes approved, or the notice issued: the decided actions become tickets."""
    review.approved_by_id, review.approved_on = user.id, today()
    open_follow_up_tickets(user, review)


def _issue_notice(user, review, v):
    give_notice_number(review)
    _approve(user, review, v)


def give_notice_number(review) -> None:
    """The notices of a year are numbered in the order they are issued. Two issued at the same
    moment would take the same number: the unique constraint refuses the second once the first
    is committed, and it takes the next one. Each refusal means another notice was numbered, so
    ten tries serve ten notices issued at once."""
    year = today().year
    for _ in range(10):
        last = db.session.scalar(select(func.max(Review.notice_number)).where(Review.notice_year == year))
        try:
            with db.session.begin_nested():
                review.notice_year, review.notice_number = year, (last or 0) + 1
                db.session.flush()
            return
        except IntegrityError:
            continue
    raise Conflict(str(STALE))


def _approve_report(user, review, v):
    review.report_approved_by_id, review.report_approved_on = user.id, today()


def open_follow_up_tickets(user, review) -> list[Ticket]:
    """5.8.1.2: each decided action becomes a ticket for Ban ISO, source 'management review'."""
    opened = []
    for action in review.actions:
        if action.ticket_id:
            continue
        with force_locale("vi"):  # box 1 of the form, printed in Vietnamese
            description = gettext("Decision of management review %(number)s: %(text)s",
                                  number=review.display_number, text=action.description)
        ticket = Ticket(
            kind="preventive", source="management_review", requesting_unit_id=action.focal_unit_id,
            description=description,
            related_documents=review.display_number, requested_on=today(), requester_id=user.id,
            created_by_id=user.id, state=ticket_workflow.FOLLOW_UP_STATE, due_date=action.due_date,
            signs=["qms_effectiveness"],
        )
        db.session.add(ticket)
        give_number(ticket, today())
        db.session.flush()
        ticket_workflow.record(ticket, "create_from_review", None, ticket.state, user,
                               gettext("Decided by management review %(number)s", number=review.display_number))
        acted(ticket_workflow.WORKFLOW, user, ticket, "create_from_review")  # Ban ISO takes it up
        action.ticket = ticket
        opened.append(ticket)
    return opened


def record(review, name, from_state, to_state, user, comment=None, data=None) -> None:
    db.session.add(ReviewEvent(review=review, name=name, from_state=from_state, to_state=to_state,
                               actor_id=user.id if user else None, comment=comment))


COMMENTER = Actor(_l("Top leader, Ban ISO members and unit heads"),
                  lambda u, r: has_role(u, roles.TOP_LEADER, roles.ISO_LEADER, roles.ISO_SECRETARY,
                                        roles.UNIT_HEAD, roles.ADMIN))
EVENTS = {"create": _l("Drafted"), "refresh_inputs": _l("Inputs gathered again from the records"),
          "write": _l("Content saved")}
GROUPS = {"final": FINAL_STATES}

WORKFLOWS = {
    "meeting": Workflow(
        name="review-meeting", title=_l("Management review: meeting (5.8.1)"), states=STATES,
        history=record, events=EVENTS, groups=GROUPS, official={"minutes_approved": ("minutes",)},
        transitions=(
            Transition("hold", _l("Record that the meeting was held"), ("draft",), "held", SECRETARY,
                       fields=(COMMENT,), comment_field="comment",
                       requires={"meeting_date": _l("Meeting date"), "start_time": _l("Start time"),
                                 "place": _l("Place"), "chair_id": _l("Chair"),
                                 "secretary_id": _l("Secretary")}),
            Transition("approve_minutes", _l("Approve the minutes"), ("held",), "minutes_approved", CHAIR,
                       fields=(COMMENT,), effect=_approve, comment_field="comment"),
            Transition("return_minutes", _l("Return the minutes"), ("held",), "draft", CHAIR,
                       fields=(REASON,), comment_field="comment"),
        ),
        actions=(Action("write", _l("Write the review"), EDITABLE["meeting"], SECRETARY),
                 Action("prepare", _l("Change the period or delete the review"), ("draft",), SECRETARY)),
    ),
    "report": Workflow(
        name="review-report", title=_l("Management review: report and notice (5.8.2)"), states=STATES,
        history=record, events=EVENTS, groups=GROUPS,
        official={"report_approved": ("qms_report",), "issued": ("notice",)},
        transitions=(
            Transition("submit_report", _l("Submit the QMS report"), ("draft",), "report_review", SECRETARY,
                       fields=(COMMENT,), comment_field="comment"),
            Transition("approve_report", _l("Approve the QMS report and send it for comments"),
                       ("report_review",), "report_approved", ISO_LEADER, fields=(COMMENT,),
                       effect=_approve_report, comment_field="comment"),
            Transition("return_report", _l("Return the QMS report"), ("report_review",), "draft", ISO_LEADER,
                       fields=(REASON,), comment_field="comment"),
            Transition("submit_notice", _l("Submit the notice of results"), ("report_approved",),
                       "notice_review", SECRETARY, fields=(COMMENT,), comment_field="comment",
                       requires={"general_conclusion": _l("General conclusion")}),
            Transition("issue_notice", _l("Approve and issue the notice"), ("notice_review",), "issued",
                       TOP_LEADER, fields=(COMMENT,), effect=_issue_notice, comment_field="comment"),
            Transition("return_notice", _l("Return the notice"), ("notice_review",), "report_approved",
                       TOP_LEADER, fields=(REASON,), comment_field="comment"),
        ),
        actions=(
            Action("write", _l("Write the review"), EDITABLE["report"], SECRETARY),
            Action("prepare", _l("Change the period or delete the review"), ("draft",), SECRETARY),
            Action("comment", _l("Comment on the QMS report"), COMMENTING, COMMENTER),
        ),
    ),
}

# BM.CTCL.02, table 4.2, word for word: each item's lines, its title first (the PDF prints
# them; the panel shows them too). "{agency}" is where the seed names "UBND huyện Cam Lâm".
DISCUSSION_TOPICS = (
    ("Tình trạng của các hành động từ các cuộc họp xem xét trước đó.",),
    ("Bối cảnh hoạt động, những thay đổi vấn đề nội bộ và bên ngoài ảnh hưởng tới HTQLCL.",
     "a) Vấn đề bên ngoài:",
     "- Môi trường pháp lý bao gồm chính sách pháp luật nhà nước, các văn bản quy phạm pháp luật "
     "hiện hành có liên quan đến hoạt động của {agency} và các lĩnh vực, quá trình nằm trong phạm vi "
     "áp dụng hệ thống.",
     "- Tình hình kinh tế, chính trị, văn hóa xã hội trong và ngoài nước, tại tỉnh, thành phố hoặc "
     "địa phương.",
     "- Các yếu tố bất thường như: thiên tai, dịch bệnh...",
     "- Sự đổi mới trong hoạt động, ứng dụng công nghệ thông tin, các phương pháp cải cách hành chính "
     "của các cơ quan cùng cấp ở các tỉnh, địa phương khác hoặc trong tỉnh, địa phương mình.",
     "- Sự tác động của các nhà thầu phụ, nhà cung cấp bên ngoài.",
     "b) Vấn đề bên trong:",
     "- Kết quả hoạt động trong nội bộ của {agency}, có thể bao gồm: cơ cấu tổ chức, phân công chức "
     "năng, nhiệm vụ, trách nhiệm và quyền hạn, sự phối kết hợp từ trên xuống dưới, từ dưới lên trên, "
     "liên phòng, bộ phận, những vấn đề bất cập nổi bật... tác động vào các quá trình, hoạt động, hiệu "
     "quả công việc;",
     "- Sự đầy đủ của các nguồn lực bao gồm (nhân lực, vật lực, tài lực);",
     "- Tình hình văn hóa công sở;",
     "- Tri thức của nguồn nhân lực (cán bộ, công chức, viên chức, người lao động);",
     "- Các quá trình của Hệ thống quản lý chất lượng (liên quan đến chức năng quản lý Nhà nước và "
     "cung cấp các dịch vụ hành chính công)."),
    ("Kết quả thực hiện và hiệu lực của hệ thống:",
     "- Thỏa mãn của người dân, phản hồi bên quan tâm;",
     "- Mức độ thực hiện các MTCL;",
     "- Sự không phù hợp và HĐKP;",
     "- Kết quả thực hiện quá trình và sự phù hợp của sản phẩm và dịch vụ;",
     "- Kết quả theo dõi đo lường;",
     "- Kết quả đánh giá, kết quả thực hiện của các nhà cung cấp..."),
    ("Sự đầy đủ của nguồn lực",),
    ("Hiệu lực của hành động giải quyết rủi ro, cơ hội",),
    ("Các cơ hội cải tiến",),
    ("Các nội dung khác",),
)


def workflow_for(review) -> Workflow:
    return WORKFLOWS[review.form]


def may_comment(user, review) -> bool:
    return review.form == "report" and workflow_for(review).may("comment", user, review)
