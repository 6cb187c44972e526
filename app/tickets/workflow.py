"""The ticket workflow of SPEC §3, declared once.

The UI buttons and forms, the REST transitions, the permission checks and the help page
all read STATES and TRANSITIONS; nothing else decides who may move a ticket where.
"""
from flask_babel import lazy_gettext as _l

from app.organisation import roles
from app.tickets import vocabulary
from app.workflow import Actor, Field, Transition, has_role, is_admin, unit_head_of  # noqa: F401


CREATOR = Actor(_l("The person who opened the ticket"),
                lambda u, t: u.id == t.created_by_id or is_admin(u))
REQUESTING_UNIT_HEAD = Actor(_l("Head of the requesting unit"),
                             lambda u, t: unit_head_of(u, t.requesting_unit_id) or is_admin(u))
ISO_LEADER = Actor(_l("ISO committee leader"),
                   lambda u, t: has_role(u, roles.ISO_LEADER, roles.ADMIN))
ASSIGNEE = Actor(_l("The assigned person or the head of the assigned unit"),
                 lambda u, t: u.id == t.assignee_id or unit_head_of(u, t.assignee_unit_id)
                 or is_admin(u))
IMPLEMENTER = Actor(_l("The implementer or the head of the implementing unit"),
                    lambda u, t: u.id == t.implementer_id
                    or unit_head_of(u, t.implementing_unit_id) or is_admin(u))
VERIFIER = Actor(_l("Agency top leader or the person they delegated"),
                 lambda u, t: has_role(u, roles.TOP_LEADER, roles.ADMIN) or u.id == t.verifier_id)
ISO_CLOSER = Actor(_l("ISO secretary or ISO committee leader"),
                   lambda u, t: has_role(u, roles.ISO_SECRETARY, roles.ISO_LEADER, roles.ADMIN))

STATES = {
    "draft": _l("Draft"),
    "unit_review": _l("Unit head review"),
    "declined": _l("Declined (no action needed)"),
    "iso_review": _l("ISO committee review"),
    "analysis": _l("Cause analysis and proposal"),
    "approval": _l("Waiting for approval of the solution"),
    "implementation": _l("Implementation"),
    "verification": _l("Verification of results"),
    "verified": _l("Verified, waiting to be closed"),
    "ineffective": _l("Not effective"),
    "closed": _l("Closed"),
    "closed_ineffective": _l("Closed as not effective"),
}
OPEN_STATES = ("unit_review", "iso_review", "analysis", "approval", "implementation",
               "verification", "verified")
FINAL_STATES = ("declined", "closed", "closed_ineffective")

COMMENT = Field("comment", "text", _l("Comment"), required=False)

TRANSITIONS = (
    Transition(
        "submit", _l("Send to the unit head"), ("draft",), "unit_review", CREATOR,
        fields=(COMMENT,), requires=("description", "kind", "requesting_unit_id", "source"),
        comment_field="comment",
    ),
    Transition(
        "return", _l("Return for completion"), ("unit_review",), "draft", REQUESTING_UNIT_HEAD,
        fields=(Field("comment", "text", _l("What must be completed")),), comment_field="comment",
    ),
    Transition(
        "decline", _l("Decline: no action needed"), ("unit_review",), "declined",
        REQUESTING_UNIT_HEAD, fields=(Field("reason", "text", _l("Reason")),),
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
        comment_field="comment",
    ),
    Transition(
        "assign", _l("Assign for cause analysis"), ("iso_review",), "analysis", ISO_LEADER,
        fields=(
            Field("assignee_unit", "unit", _l("Assigned unit")),
            Field("assignee", "user", _l("Assigned person")),
            COMMENT,
        ),
        comment_field="comment",
    ),
    Transition(
        "propose", _l("Propose the solution"), ("analysis",), "approval", ASSIGNEE,
        fields=(
            Field("cause", "text", _l("Cause analysis")),
            Field("measures", "text", _l("Proposed measures")),
            Field("completion_date", "date", _l("Completion date")),
        ),
    ),
    Transition(
        "reject_proposal", _l("Send the proposal back"), ("approval",), "analysis", ISO_LEADER,
        fields=(Field("comment", "text", _l("What must change")),), comment_field="comment",
    ),
    Transition(
        "approve", _l("Approve the solution"), ("approval",), "implementation", ISO_LEADER,
        fields=(
            Field("implementing_unit", "unit", _l("Implementing unit")),
            Field("implementer", "user", _l("Implementer")),
            Field("due_date", "date", _l("Completion date")),
            Field("verifier", "user", _l("Verification delegated to (optional)"), required=False),
            COMMENT,
        ),
        comment_field="comment",
    ),
    Transition(
        "report_done", _l("Report the result"), ("implementation",), "verification", IMPLEMENTER,
        fields=(Field("result_summary", "text", _l("Result of the implementation")),),
        comment_field="result_summary",
    ),
    Transition(
        "verify", _l("Record the verification"), ("verification",), "verified", VERIFIER,
        fields=(
            Field("result", "choice", _l("Verification result"),
                  choices=vocabulary.VERIFICATION_RESULTS),
            Field("verified_on", "date", _l("Verification date")),
            COMMENT,
        ),
        comment_field="comment",
        branch=("result", {"pass": "verified", "fail": "ineffective", "new_measure": "ineffective"}),
    ),
    Transition(
        "close", _l("Close the ticket"), ("verified",), "closed", ISO_CLOSER,
        fields=(Field("evidence", "text", _l("Evidence of the results (box 3)")),),
        comment_field="evidence",
    ),
)
TRANSITIONS_BY_NAME = {t.name: t for t in TRANSITIONS}

# What the system does by itself: a failed verification closes the ticket as not
# effective and opens a follow-up ticket in iso_review (SPEC §3, 5.7).
AUTO_CLOSE_INEFFECTIVE = Transition(
    "close_ineffective", _l("Closed automatically; a follow-up ticket was opened"),
    ("ineffective",), "closed_ineffective",
    Actor(_l("The system"), lambda u, t: False),
)
FOLLOW_UP_STATE = "iso_review"


def transitions_from(state: str) -> list[Transition]:
    """The transitions that can leave a state (who acts next, and what they supply)."""
    return [t for t in TRANSITIONS if state in t.sources]


EVENT_LABELS = {
    **{t.name: t.label for t in TRANSITIONS},
    AUTO_CLOSE_INEFFECTIVE.name: AUTO_CLOSE_INEFFECTIVE.label,
    "create": _l("Created"),
    "create_follow_up": _l("Created as a follow-up ticket"),
    "change_approved": _l("Change request approved"),
    "change_rejected": _l("Change request rejected"),
}
