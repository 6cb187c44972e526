"""Approval of objective plans and reports (5.9): one table serves both documents."""
from flask_babel import gettext, lazy_gettext as _l

from app.extensions import db
from app.objectives.models import ObjectiveEvent, ObjectiveReport
from app.organisation import roles
from app.workflow import (
    Action, Actor, Conflict, Field, Invalid, Transition, Workflow, has_role, is_admin, today, unit_head_of,
)

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

def _submit(user, document, v):
    if isinstance(document, ObjectiveReport):
        errors = {}
        for index, row in enumerate(document.rows, start=1):
            if not (row.actual or "").strip() or row.achieved is None:
                errors[f"row{index}"] = gettext("Objective %(n)s: enter what was achieved.", n=index)
            elif row.achieved is False and not (row.direction or "").strip():
                errors[f"row{index}"] = gettext("Objective %(n)s: give the direction for the coming period.", n=index)
        if errors:
            raise Invalid(gettext("The report is not complete."), errors)
    elif not document.rows:
        raise Invalid(gettext("Add at least one objective before submitting the plan."),
                      {"rows": gettext("No objective.")})
    document.submitted_on = today()


def _approve(user, document, v):
    """A report is approved only while its plan is in force; an approved revision replaces
    the plan it revises."""
    if isinstance(document, ObjectiveReport) and document.plan.state != "approved":
        raise Conflict(gettext("The plan this report comes from is no longer in force."))
    document.approved_by_id, document.approved_on = user.id, today()
    replaced = getattr(document, "replaces", None)
    if replaced is not None:
        replaced.state = "superseded"
        record(replaced, "supersede", "approved", "superseded", user,
               gettext("Replaced by revision %(n)s", n=document.revision))


def record(document, name, from_state, to_state, user, comment=None, data=None) -> None:
    """One line of the plan's history (a report's lines are on its plan, marked with it)."""
    report = document if isinstance(document, ObjectiveReport) else None
    db.session.add(ObjectiveEvent(plan=plan_of(document), report=report, name=name, from_state=from_state,
                                  to_state=to_state, actor_id=user.id if user else None, comment=comment))


def event_label(document, name: str) -> str:
    """A step as the plan's history names it: a report's steps are marked as the report's."""
    label = WORKFLOW.event_label(name)
    return gettext("%(step)s (report)", step=label) if isinstance(document, ObjectiveReport) else label


TRANSITIONS = (
    Transition("submit", _l("Submit for approval"), ("draft",), "submitted", DRAFTER,
               fields=(COMMENT,), effect=_submit, comment_field="comment"),
    Transition("approve", _l("Approve"), ("submitted",), "approved", APPROVER,
               fields=(COMMENT,), effect=_approve, comment_field="comment"),
    Transition("return", _l("Return with a comment"), ("submitted",), "draft", APPROVER,
               fields=(Field("comment", "text", _l("What must change")),), comment_field="comment"),
)
WORKFLOW = Workflow(
    name="objectives", title=_l("Quality objective plans and reports (5.9)"), states=STATES,
    transitions=TRANSITIONS, history=record, history_label=event_label,
    actions=(
        Action("edit", _l("Edit the draft"), ("draft",), DRAFTER),
        Action("delete_draft", _l("Delete the draft"), ("draft",), DRAFTER),
        Action("revise", _l("Make a new revision"), ("approved",), DRAFTER),
        Action("create_report", _l("Draft the report"), ("approved",), DRAFTER),
    ),
    events={"create": _l("Drafted"), "revise": _l("New revision drafted"),
            "supersede": _l("Replaced by a newer revision")},
    groups={"in_force": ("approved",), "open": ("draft", "submitted"), "final": ("superseded",)},
    official={"approved": ("objective_plan", "objective_report")},
)

TARGET_KINDS = {
    "ge": _l("At least (≥)"),
    "le": _l("At most (≤)"),
    "eq": _l("Exactly (=)"),
    "text": _l("Criterion in words"),
}
TARGET_SIGNS = {"ge": "≥", "le": "≤", "eq": "="}
