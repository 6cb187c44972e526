"""The two forms of management review (5.8) as declarative transition tables."""
from flask_babel import lazy_gettext as _l

from app.organisation import roles
from app.workflow import Actor, Field, Transition, has_role, is_admin

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

TRANSITIONS = {
    "meeting": (
        Transition("hold", _l("Record that the meeting was held"), ("draft",), "held", SECRETARY,
                   fields=(COMMENT,), comment_field="comment",
                   requires=("meeting_date", "start_time", "place", "chair_id", "secretary_id")),
        Transition("approve_minutes", _l("Approve the minutes"), ("held",), "minutes_approved", CHAIR,
                   fields=(COMMENT,), comment_field="comment"),
        Transition("return_minutes", _l("Return the minutes"), ("held",), "draft", CHAIR,
                   fields=(REASON,), comment_field="comment"),
    ),
    "report": (
        Transition("submit_report", _l("Submit the QMS report"), ("draft",), "report_review", SECRETARY,
                   fields=(COMMENT,), comment_field="comment"),
        Transition("approve_report", _l("Approve the QMS report and send it for comments"),
                   ("report_review",), "report_approved", ISO_LEADER, fields=(COMMENT,),
                   comment_field="comment"),
        Transition("return_report", _l("Return the QMS report"), ("report_review",), "draft", ISO_LEADER,
                   fields=(REASON,), comment_field="comment"),
        Transition("submit_notice", _l("Submit the notice of results"), ("report_approved",), "notice_review",
                   SECRETARY, fields=(COMMENT,), comment_field="comment",
                   requires=("general_conclusion",)),
        Transition("issue_notice", _l("Approve and issue the notice"), ("notice_review",), "issued",
                   TOP_LEADER, fields=(COMMENT,), comment_field="comment"),
        Transition("return_notice", _l("Return the notice"), ("notice_review",), "report_approved",
                   TOP_LEADER, fields=(REASON,), comment_field="comment"),
    ),
}
TRANSITIONS_BY_NAME = {t.name: t for table in TRANSITIONS.values() for t in table}

EVENT_LABELS = {
    **{name: t.label for name, t in TRANSITIONS_BY_NAME.items()},
    "create": _l("Drafted"),
    "refresh_inputs": _l("Inputs gathered again from the records"),
}

# BM.CTCL.02, table 4.2, word for word (the PDF prints these; the panel shows them too).
DISCUSSION_TOPICS = (
    "Tình trạng của các hành động từ các cuộc họp xem xét trước đó.",
    "Bối cảnh hoạt động, những thay đổi vấn đề nội bộ và bên ngoài ảnh hưởng tới HTQLCL.",
    "Kết quả thực hiện và hiệu lực của hệ thống: thỏa mãn của người dân, phản hồi bên quan tâm; "
    "mức độ thực hiện các MTCL; sự không phù hợp và HĐKP; kết quả thực hiện quá trình và sự phù hợp "
    "của sản phẩm và dịch vụ; kết quả theo dõi đo lường; kết quả đánh giá, kết quả thực hiện của các nhà cung cấp.",
    "Sự đầy đủ của nguồn lực",
    "Hiệu lực của hành động giải quyết rủi ro, cơ hội",
    "Các cơ hội cải tiến",
    "Các nội dung khác",
)


def transitions_for(review) -> tuple[Transition, ...]:
    return TRANSITIONS[review.form]


def may_write(user, review) -> bool:
    return review.state in EDITABLE[review.form] and SECRETARY.allows(user, review)


def may_comment(user, review) -> bool:
    return review.form == "report" and review.state in COMMENTING and has_role(
        user, roles.TOP_LEADER, roles.ISO_LEADER, roles.ISO_SECRETARY, roles.UNIT_HEAD, roles.ADMIN)
