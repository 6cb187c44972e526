"""Approval of objective plans and reports (5.9): one table serves both documents."""
from flask_babel import lazy_gettext as _l

from app.organisation import roles
from app.workflow import Actor, Field, Transition, has_role, is_admin, unit_head_of

STATES = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted for approval"),
    "approved": _l("Approved"),
    "superseded": _l("Replaced by a newer revision"),
}


def plan_of(document):
    """The plan itself, or the plan a report was made from."""
    return getattr(document, "plan", None) or document


def may_draft(user, document) -> bool:
    """Unit plans are drafted in the unit; the agency plan by Ban ISO's secretary or leader."""
    plan = plan_of(document)
    if is_admin(user):
        return True
    if plan.unit_id is None:
        return has_role(user, roles.ISO_SECRETARY, roles.ISO_LEADER)
    return user.unit_id == plan.unit_id and has_role(user, roles.STAFF, roles.UNIT_HEAD)


def may_approve(user, document) -> bool:
    """The unit head approves a unit plan; the agency's top leader the agency plan."""
    plan = plan_of(document)
    if is_admin(user):
        return True
    if plan.unit_id is None:
        return has_role(user, roles.TOP_LEADER)
    return unit_head_of(user, plan.unit_id)


DRAFTER = Actor(_l("Staff or head of the unit (unit plan); ISO secretary or ISO committee leader (agency plan)"),
                may_draft)
APPROVER = Actor(_l("Head of the unit (unit plan); agency top leader (agency plan)"), may_approve)
COMMENT = Field("comment", "text", _l("Comment"), required=False)

TRANSITIONS = (
    Transition("submit", _l("Submit for approval"), ("draft",), "submitted", DRAFTER,
               fields=(COMMENT,), comment_field="comment"),
    Transition("approve", _l("Approve"), ("submitted",), "approved", APPROVER,
               fields=(COMMENT,), comment_field="comment"),
    Transition("return", _l("Return with a comment"), ("submitted",), "draft", APPROVER,
               fields=(Field("comment", "text", _l("What must change")),), comment_field="comment"),
)
TRANSITIONS_BY_NAME = {t.name: t for t in TRANSITIONS}

TARGET_KINDS = {
    "ge": _l("At least (≥)"),
    "le": _l("At most (≤)"),
    "eq": _l("Exactly (=)"),
    "text": _l("Criterion in words"),
}
TARGET_SIGNS = {"ge": "≥", "le": "≤", "eq": "="}

EVENT_LABELS = {
    **{t.name: t.label for t in TRANSITIONS},
    "create": _l("Drafted"),
    "revise": _l("New revision drafted"),
    "supersede": _l("Replaced by a newer revision"),
}
