"""The kinds of record that have a conversation, and how each is found, named and linked.

Hand-off notifications (app.reminders.handoff) name and link a record the same way."""
from dataclasses import dataclass
from typing import Callable

from flask_babel import gettext

from app.objectives.models import ObjectivePlan, ObjectiveReport
from app.reviews.models import Review
from app.tickets.models import Nonconformity, Ticket


@dataclass(frozen=True)
class Kind:
    code: str  # Comment.record_type
    model: type
    load: Callable  # (user, id) -> the record, or NotFound when the user may not see it
    title: Callable  # (record) -> its name, in the current language
    link: Callable  # (record) -> the path of its page
    settled: Callable  # (record) -> whether it is finished: its conversation is closed too


def _ticket(user, record_id):
    from app.tickets import services

    return services.get_ticket(user, record_id)


def _nonconformity(user, record_id):
    from app.tickets import services

    return services.get_nonconformity(user, record_id)


def _plan(user, record_id):
    from app.objectives import services

    return services.get_plan(record_id)  # every plan of the agency is visible to its people


def _review(user, record_id):
    from app.reviews import services

    return services.get_review(record_id)  # every review of the agency is visible to its people


def _ticket_settled(ticket) -> bool:
    from app.tickets import workflow

    return ticket.state in workflow.WORKFLOW.groups["final"]


def _nonconformity_settled(nc) -> bool:
    from app.tickets import services

    return services.nonconformity_settled(nc)


def _plan_settled(plan) -> bool:
    from app.objectives import workflow

    return plan.state in workflow.WORKFLOW.groups["final"]


def _review_settled(review) -> bool:
    from app.reviews import workflow

    return review.state in workflow.workflow_for(review).groups["final"]


KINDS = {kind.code: kind for kind in (
    Kind("ticket", Ticket, _ticket,
         lambda t: gettext("Ticket %(number)s", number=t.display_number or gettext("(draft)")),
         lambda t: f"/tickets/show/{t.id}", _ticket_settled),
    Kind("nonconformity", Nonconformity, _nonconformity,
         lambda nc: gettext("Nonconformity #%(id)s: %(text)s", id=nc.id, text=nc.description[:70]),
         lambda nc: f"/nonconformities/show/{nc.id}", _nonconformity_settled),
    Kind("objective_plan", ObjectivePlan, _plan,
         lambda p: gettext("Quality objective plan %(year)s", year=p.year),
         lambda p: f"/objectives/show/{p.id}", _plan_settled),
    Kind("review", Review, _review,
         lambda r: gettext("Management review %(number)s", number=r.display_number),
         lambda r: f"/reviews/show/{r.id}", _review_settled),
)}


def conversed(record):
    """The record whose conversation and page `record` belongs to: a report's is its plan's."""
    return record.plan if isinstance(record, ObjectiveReport) else record


def title_of(record) -> str:
    """The record's own name: a report is named as the report, though its page is its plan's."""
    if isinstance(record, ObjectiveReport):
        return gettext("Quality objective report %(year)s", year=record.plan.year)
    return kind_of(record).title(record)


def kind_of(record) -> Kind:
    record = conversed(record)
    return next(kind for kind in KINDS.values() if isinstance(record, kind.model))
