"""The ticket workflow of SPEC §3, declared once: states, transitions with their effects,
the actions taken inside a state, and the system's own step after a failed verification.

The UI buttons and forms, the REST transitions, the permission checks, the help page and
the history labels all read WORKFLOW; nothing else decides who may move a ticket where.
"""
from flask_babel import force_locale, gettext, lazy_gettext as _l
from sqlalchemy import and_, false, or_, true

from app.extensions import db
from app.organisation import roles
from app.tickets import vocabulary
from app.tickets.models import Box2Revision, Ticket, TicketEvent
from app.tickets.numbering import give_number
from app.workflow import (
    Action, Actor, Field, Invalid, Transition, Workflow, acted, has_role, holds, is_admin, today,
    unit_head_of, unit_headed_by,
)


def own_work(user_id, ticket) -> bool:
    """5.6: the implementer, the head of the implementing unit and the assignee do not verify
    their own work."""
    return user_id is not None and user_id in (ticket.implementer_id, ticket.implementing_unit_head_id,
                                               ticket.assignee_id)


def _verifier_where(user):
    """SQL side of VERIFIER's rule; IS DISTINCT FROM, since an unset column is not the user."""
    heads = has_role(user, roles.UNIT_HEAD) and user.unit_id
    return and_(or_(holds(user, roles.TOP_LEADER, roles.ADMIN), Ticket.verifier_id == user.id),
                *(column.is_distinct_from(user.id) for column in (
                    Ticket.implementer_id, Ticket.implementing_unit_head_id, Ticket.assignee_id)),
                Ticket.implementing_unit_id.is_distinct_from(user.unit_id) if heads else true())


CREATOR = Actor(_l("The person who opened the ticket"),
                lambda u, t: u.id == t.created_by_id or is_admin(u),
                lambda u: or_(Ticket.created_by_id == u.id, holds(u, roles.ADMIN)))
REQUESTING_UNIT_HEAD = Actor(_l("Head of the requesting unit"),
                             lambda u, t: unit_head_of(u, t.requesting_unit_id) or is_admin(u),
                             lambda u: or_(unit_headed_by(u, Ticket.requesting_unit_id), holds(u, roles.ADMIN)))
ISO_SECRETARY = Actor(_l("ISO secretary"), lambda u, t: has_role(u, roles.ISO_SECRETARY, roles.ADMIN),
                      lambda u: holds(u, roles.ISO_SECRETARY, roles.ADMIN))
ISO_LEADER = Actor(_l("ISO committee leader"),
                   lambda u, t: has_role(u, roles.ISO_LEADER, roles.ADMIN),
                   lambda u: holds(u, roles.ISO_LEADER, roles.ADMIN))
ASSIGNEE = Actor(_l("The assigned person or the head of the assigned unit"),
                 lambda u, t: u.id == t.assignee_id or unit_head_of(u, t.assignee_unit_id)
                 or is_admin(u),
                 lambda u: or_(Ticket.assignee_id == u.id, unit_headed_by(u, Ticket.assignee_unit_id),
                               holds(u, roles.ADMIN)))
IMPLEMENTER = Actor(_l("The implementer or the head of the implementing unit"),
                    lambda u, t: u.id == t.implementer_id
                    or unit_head_of(u, t.implementing_unit_id) or is_admin(u),
                    lambda u: or_(Ticket.implementer_id == u.id, unit_headed_by(u, Ticket.implementing_unit_id),
                                  holds(u, roles.ADMIN)))
VERIFIER = Actor(_l("Agency top leader or the person they delegated (not the implementer, the head "
                    "of the implementing unit or the assignee)"),
                 lambda u, t: (has_role(u, roles.TOP_LEADER, roles.ADMIN) or u.id == t.verifier_id)
                 and not own_work(u.id, t) and not unit_head_of(u, t.implementing_unit_id),
                 lambda u: _verifier_where(u))
ISO_CLOSER = Actor(_l("ISO secretary or ISO committee leader"),
                   lambda u, t: has_role(u, roles.ISO_SECRETARY, roles.ISO_LEADER, roles.ADMIN),
                   lambda u: holds(u, roles.ISO_SECRETARY, roles.ISO_LEADER, roles.ADMIN))
SYSTEM = Actor(_l("The system"), lambda u, t: False, lambda u: false())
ANYONE_WHO_SEES = Actor(_l("Anyone who can see the ticket"), lambda u, t: True, lambda u: true())

STATES = {
    "draft": _l("Draft"),
    "unit_review": _l("Unit head review"),
    "declined": _l("Declined (no action needed)"),
    "iso_review": _l("ISO secretary consolidating"),
    "leader_review": _l("Presented to the ISO committee leader"),
    "analysis": _l("Cause analysis and proposal"),
    "approval": _l("Waiting for approval of the solution"),
    "implementation": _l("Implementation"),
    "verification": _l("Verification of results"),
    "verified": _l("Verified, waiting to be closed"),
    "ineffective": _l("Not effective"),
    "closed": _l("Closed"),
    "closed_ineffective": _l("Closed as not effective"),
}
OPEN_STATES = ("unit_review", "iso_review", "leader_review", "analysis", "approval", "implementation",
               "verification", "verified")
FINAL_STATES = ("declined", "closed", "closed_ineffective")
FOLLOW_UP_STATE = "iso_review"

COMMENT = Field("comment", "text", _l("Comment"), required=False)


def _invalid(field: str, message) -> Invalid:
    return Invalid(gettext("Some fields are missing or invalid."), {field: str(message)})


def _in_unit(person, unit, field: str) -> None:
    if person.unit_id != unit.id:
        raise _invalid(field, gettext("%(person)s does not work in %(unit)s.",
                                      person=person.get_full_name(), unit=unit.name))


def keep_box2(ticket: Ticket, user, reason: str) -> None:
    """Box 2 is history: keep what a new proposal is about to replace. `reason` is a code of
    vocabulary.BOX2_REASONS, labelled in the reader's language when shown."""
    if ticket.cause or ticket.measures:
        db.session.add(Box2Revision(
            ticket=ticket, cause=ticket.cause, measures=ticket.measures,
            implementing_unit_id=ticket.implementing_unit_id, implementer_id=ticket.implementer_id,
            due_date=ticket.due_date, reason=reason, changed_by_id=user.id,
        ))


# --- effects: what each transition writes on the ticket besides its state ------------------

def _submit(user, ticket, v):
    give_number(ticket, today())


def _decline(user, ticket, v):
    """A declined ticket is finished: its closing date starts its retention period."""
    ticket.closed_on, ticket.closed_by_id = today(), user.id


def _forward(user, ticket, v):
    ticket.signs = v["signs"]


def _assign(user, ticket, v):
    _in_unit(v["assignee"], v["assignee_unit"], "assignee")
    ticket.assignee_unit_id, ticket.assignee_id = v["assignee_unit"].id, v["assignee"].id


def _propose(user, ticket, v):
    keep_box2(ticket, user, "new_proposal")
    ticket.cause, ticket.measures, ticket.due_date = v["cause"], v["measures"], v["completion_date"]
    ticket.implementing_unit_id = ticket.implementing_unit_id or ticket.assignee_unit_id
    ticket.implementer_id = ticket.implementer_id or ticket.assignee_id


def _approve(user, ticket, v):
    unit, implementer, verifier = v["implementing_unit"], v["implementer"], v.get("verifier")
    _in_unit(implementer, unit, "implementer")
    if verifier is not None and (
            verifier.id in (implementer.id, unit.head_id, ticket.assignee_id)
            or (verifier.unit_id == unit.id and has_role(verifier, roles.UNIT_HEAD))):
        raise _invalid("verifier", gettext(
            "The implementer, the head of the implementing unit and the assignee cannot verify "
            "their own work (5.6): choose someone else."))
    ticket.implementing_unit_id, ticket.implementer_id = unit.id, implementer.id
    ticket.implementing_unit_head_id = unit.head_id
    ticket.due_date = v["due_date"]
    ticket.verifier_id = verifier.id if verifier else None
    ticket.approved_by_id, ticket.approved_on = user.id, today()


def _report_done(user, ticket, v):
    ticket.result_summary, ticket.reported_done_on = v["result_summary"], today()


def _verify(user, ticket, v):
    ticket.verification_result, ticket.verified_on = v["result"], v["verified_on"]
    ticket.verified_by_id = user.id


def _close(user, ticket, v):
    ticket.evidence_text, ticket.closed_on, ticket.closed_by_id = v["evidence"], today(), user.id


def _close_ineffective(user, ticket, v) -> str:
    """5.7: the verifier's 'not achieved' closes the ticket and opens a new one for Ban ISO,
    linked to it. Returns the history comment."""
    with force_locale("vi"):  # box 1 of the new form, printed in Vietnamese
        description = gettext(
            "Follow-up of ticket %(number)s, whose verification found the action not effective "
            "(%(result)s).\n\nOriginal description:\n%(description)s",
            number=ticket.display_number,
            result=vocabulary.label(vocabulary.VERIFICATION_RESULTS, ticket.verification_result),
            description=ticket.description,
        )
    follow_up = Ticket(
        kind=ticket.kind, source="earlier_actions", requesting_unit_id=ticket.requesting_unit_id,
        related_documents=ticket.related_documents, description=description,
        requested_on=today(), requester_id=user.id, created_by_id=user.id,
        state=FOLLOW_UP_STATE, follows=ticket, signs=["recurring"],
    )
    db.session.add(follow_up)
    give_number(follow_up, today())
    ticket.closed_on = today()
    db.session.flush()
    record(follow_up, "create_follow_up", None, follow_up.state, user,
           gettext("Opened automatically after ticket %(number)s was found not effective",
                   number=ticket.display_number))
    acted(WORKFLOW, user, follow_up, "create_follow_up")  # Ban ISO takes the new ticket up
    return gettext("Follow-up ticket %(number)s", number=follow_up.display_number)


def record(ticket, name, from_state, to_state, user, comment=None, data=None) -> None:
    """Write one line of a ticket's history."""
    db.session.add(TicketEvent(ticket=ticket, name=name, from_state=from_state, to_state=to_state,
                               actor_id=user.id if user else None, comment=comment, data=data))


BOX2 = (("cause", _l("Cause analysis")), ("measures", _l("Proposed measures")),
        ("amendments_text", _l("Amendments to box 2 (approved change requests)")),
        ("due_date", _l("Completion date")))

TRANSITIONS = (
    Transition(
        "submit", _l("Send to the unit head"), ("draft",), "unit_review", CREATOR,
        fields=(COMMENT,), effect=_submit, comment_field="comment",
        requires={"description": _l("Description of the nonconformity / request"),
                  "kind": _l("Kind of action"), "requesting_unit_id": _l("Requesting unit"),
                  "source": _l("Source (5.1.2)")},
    ),
    Transition(
        "return", _l("Return for completion"), ("unit_review",), "draft", REQUESTING_UNIT_HEAD,
        fields=(Field("comment", "text", _l("What must be completed")),), comment_field="comment",
    ),
    Transition(
        "decline", _l("Decline: no action needed"), ("unit_review",), "declined",
        REQUESTING_UNIT_HEAD, fields=(Field("reason", "text", _l("Reason")),), effect=_decline,
        comment_field="reason",
    ),
    Transition(
        "forward", _l("Forward to the ISO secretary"), ("unit_review",), "iso_review",
        REQUESTING_UNIT_HEAD,
        fields=(
            Field("signs", "choice", _l("Signs that call for action (5.2.2)"),
                  choices=vocabulary.SIGNS, multiple=True),
            COMMENT,
        ),
        effect=_forward, comment_field="comment",
    ),
    Transition(
        "present", _l("Present to the ISO committee leader"), ("iso_review",), "leader_review",
        ISO_SECRETARY, fields=(Field("note", "text", _l("Consolidation note")),), comment_field="note",
        several=True,
    ),
    Transition(
        "assign", _l("Assign for cause analysis"), ("leader_review",), "analysis", ISO_LEADER,
        fields=(
            Field("assignee_unit", "unit", _l("Assigned unit")),
            Field("assignee", "user", _l("Assigned person")),
            COMMENT,
        ),
        effect=_assign, comment_field="comment", several=True,
    ),
    Transition(
        "propose", _l("Propose the solution"), ("analysis",), "approval", ASSIGNEE,
        fields=(
            Field("cause", "text", _l("Cause analysis"), prefill=lambda t: t.cause),
            Field("measures", "text", _l("Proposed measures"), prefill=lambda t: t.measures),
            Field("completion_date", "date", _l("Completion date"), when="future",
                  prefill=lambda t: t.due_date),
        ),
        effect=_propose,
    ),
    Transition(
        "reject_proposal", _l("Send the proposal back"), ("approval",), "analysis", ISO_LEADER,
        fields=(Field("comment", "text", _l("What must change")),), comment_field="comment",
        shows=BOX2,
    ),
    Transition(
        "approve", _l("Approve the solution"), ("approval",), "implementation", ISO_LEADER,
        fields=(
            Field("implementing_unit", "unit", _l("Implementing unit"),
                  prefill=lambda t: t.implementing_unit_id or t.assignee_unit_id),
            Field("implementer", "user", _l("Implementer"),
                  prefill=lambda t: t.implementer_id or t.assignee_id),
            Field("due_date", "date", _l("Completion date"), when="future", prefill=lambda t: t.due_date),
            Field("verifier", "user", _l("Verification delegated to"), required=False,
                  prefill=lambda t: t.verifier_id),
            COMMENT,
        ),
        effect=_approve, comment_field="comment", shows=BOX2,
    ),
    Transition(
        "report_done", _l("Report the result"), ("implementation",), "verification", IMPLEMENTER,
        fields=(Field("result_summary", "text", _l("Result of the implementation")),),
        effect=_report_done, comment_field="result_summary", shows=BOX2,
    ),
    Transition(
        "verify", _l("Record the verification"), ("verification",), "verified", VERIFIER,
        fields=(
            Field("result", "choice", _l("Verification result"),
                  choices=vocabulary.VERIFICATION_RESULTS),
            Field("verified_on", "date", _l("Verification date"), when="past", prefill=lambda t: today()),
            COMMENT,
        ),
        effect=_verify, comment_field="comment",
        branch=("result", {"pass": "verified", "fail": "ineffective", "new_measure": "ineffective"}),
        shows=(("measures", _l("Proposed measures")),
               ("amendments_text", _l("Amendments to box 2 (approved change requests)")),
               ("result_summary", _l("Result of the implementation"))),
    ),
    Transition(
        "close", _l("Close the ticket"), ("verified",), "closed", ISO_CLOSER,
        fields=(Field("evidence", "text", _l("Evidence of the results (box 3)")),),
        effect=_close, comment_field="evidence",
        shows=(("result_summary", _l("Result of the implementation")),),
    ),
)

# Labels of the ticket's columns that transitions and decisions change, for the history's
# "old → new" lines.
FIELD_LABELS = {
    "number": _l("Number"), "signs": _l("Signs that call for action (5.2.2)"),
    "assignee_unit_id": _l("Assigned unit"), "assignee_id": _l("Assigned person"),
    "cause": _l("Cause analysis"), "measures": _l("Proposed measures"),
    "implementing_unit_id": _l("Implementing unit"), "implementer_id": _l("Implementer"),
    "implementing_unit_head_id": _l("Head of the implementing unit"), "due_date": _l("Completion date"),
    "verifier_id": _l("Verification delegated to"), "result_summary": _l("Result of the implementation"),
    "verification_result": _l("Verification result"), "verified_on": _l("Verification date"),
    "evidence_text": _l("Evidence of the results (box 3)"), "closed_on": _l("Closed"),
}

WORKFLOW = Workflow(
    name="tickets", title=_l("Ticket workflow (QT.CTCL 5.2–5.7)"), states=STATES,
    transitions=TRANSITIONS, history=record,
    automatic=(
        Transition("close_ineffective", _l("Closed automatically; a follow-up ticket was opened"),
                   ("ineffective",), "closed_ineffective", SYSTEM,
                   effect=_close_ineffective),
    ),
    actions=(
        Action("edit_draft", _l("Edit the draft"), ("draft",), CREATOR),
        Action("delete_draft", _l("Delete the draft"), ("draft",), CREATOR),
        Action("link_nc", _l("Link a nonconformity"), ("draft",), CREATOR),
        Action("unlink_nc", _l("Unlink a nonconformity"), ("draft",), CREATOR),
        Action("attach_files", _l("Attach files"), ("draft",) + OPEN_STATES, ANYONE_WHO_SEES),
        Action("report_progress", _l("Report progress"), ("implementation",), IMPLEMENTER),
        Action("request_change", _l("Ask the ISO committee for a change"), ("implementation",), IMPLEMENTER,
               hands_to=("decide_change",)),
        Action("decide_change", _l("Decide a change request"), ("implementation",), ISO_LEADER),
    ),
    events={  # history labels of the events that are not transitions
        "create": _l("Created"),
        "edit_draft": _l("Draft edited"),
        "link_nc": _l("Nonconformity linked"),
        "unlink_nc": _l("Nonconformity unlinked"),
        "attach_files": _l("Files attached"),
        "report_progress": _l("Progress reported"),
        "request_change": _l("Change requested"),
        "create_follow_up": _l("Created as a follow-up ticket"),
        "create_from_review": _l("Created from a management review decision"),
        "change_approved": _l("Change request approved"),
        "change_rejected": _l("Change request rejected"),
    },
    groups={"open": OPEN_STATES, "final": FINAL_STATES, "effective": ("closed",),
            "not_effective": ("closed_ineffective",)},
    official={"closed": ("ticket",), "closed_ineffective": ("ticket",)},
    watchers=lambda t: (t.created_by_id, t.requester_id),  # told whenever their ticket moves
)
