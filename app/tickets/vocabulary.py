"""Controlled lists of the procedure, with their labels (English msgids, Vietnamese on screen)."""
from flask_babel import lazy_gettext as _l

# 5.1.2 — inputs that may lead to a corrective or improvement action.
SOURCES = {
    "nonconforming_activity": _l("Nonconforming functional activity"),
    "feedback": _l("Feedback from citizens, organisations or other units"),
    "internal_audit": _l("Internal quality audit result"),
    "earlier_actions": _l("Result of earlier corrective or preventive actions"),
    "management_review": _l("Management review decision"),
    "data_analysis": _l("Data analysis result"),
    "process_monitoring": _l("Monitoring of functional processes"),
    "process_results": _l("Results of functional processes"),
    "conformity_results": _l("Conformity determination result"),
    "qms_records": _l("Related QMS records"),
    "risk_analysis": _l("Risk analysis result"),
    "stakeholders": _l("Information from other interested parties"),
    "lessons_learned": _l("Lessons learned"),
    "other": _l("Other"),
}

# 5.1.1 — how a nonconformity is dealt with.
DISPOSITIONS = {
    "rework": _l("Rework"),
    "repair": _l("Repair / correct"),
    "accept": _l("Accept"),
    "scrap": _l("Discard"),
}

KINDS = {
    "corrective": _l("Corrective action"),
    "preventive": _l("Preventive / improvement action"),
}

# 5.2.2 — signs that make a corrective or improvement action necessary.
SIGNS = {
    "objective_risk": _l("Risk of not meeting quality objectives or the quality policy"),
    "recurring": _l("Recurring nonconformity"),
    "serious": _l("Serious consequences or large extent"),
    "over_threshold": _l("Recorded more than 3 times in a row for the same content at the same unit"),
    "qms_effectiveness": _l("Improve the effectiveness and efficiency of the QMS"),
    "customer_satisfaction": _l("Improve service quality and customer satisfaction"),
    "organisational_change": _l("Change of organisation, QMS scope or functions"),
    "opportunity": _l("Improvement opportunity"),
}

VERIFICATION_RESULTS = {
    "pass": _l("Achieved"),
    "fail": _l("Not achieved"),
    "new_measure": _l("New corrective/preventive measure"),
}

CHANGE_KINDS = {
    "resources": _l("Additional resources"),
    "measures": _l("Change of measures"),
}

CHANGE_DECISIONS = {
    "pending": _l("Waiting for decision"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
}


# Why an earlier content of box 2 was kept (Box2Revision.reason). Rows from before these codes
# hold free text, which label() gives back as it was typed.
BOX2_REASONS = {
    "new_proposal": _l("Replaced by a new proposal"),
}


def label(vocabulary: dict, code) -> str:
    return str(vocabulary.get(code, code or ""))


# Where a nonconformity stands (5.1.1), kept with each line of its history.
NC_STATES = {
    "recorded": _l("Waiting for the disposition"),
    "decided": _l("Disposition decided, correction not yet checked"),
    "checked": _l("Correction checked"),
}

NC_EVENT_LABELS = {
    "create": _l("Nonconformity recorded"),
    "edit": _l("Details edited"),
    "disposition": _l("Disposition decided"),
    "link_ticket": _l("Linked to a ticket"),
    "unlink_ticket": _l("Unlinked from its ticket"),
}
