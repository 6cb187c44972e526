"""What waits for whom, and the steering figures. Every ticket figure is counted with the
ticket list's own query (tickets.services.ticket_list_query), so it equals the list it links to."""
import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import current_app
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.objectives import services as objectives
from app.objectives import workflow as objective_workflow
from app.objectives.models import ObjectivePlan, ObjectiveReport
from app.organisation import roles
from app.organisation.models import Unit
from app.reviews import services as reviews
from app.reviews import workflow as review_workflow
from app.reviews.models import Review
from app.tickets import services as tickets
from app.tickets import workflow as ticket_workflow
from app.tickets.models import ChangeRequest, Nonconformity, Ticket
from app.workflow import today, unit_head_of


@dataclass
class Work:
    """One thing waiting for a user: what, which action, by when, and where to do it."""

    kind: str
    title: str
    action: str
    link: str
    due: datetime.date | None
    since: datetime.datetime | datetime.date | None
    key: str


class _InOwnRight:
    """The user as far as the workflow is concerned, without the Admin override: what an
    administrator *may* do is not work waiting for them."""

    def __init__(self, user):
        self.id, self.unit_id = user.id, user.unit_id
        held = list(user.roles) + [r for group in getattr(user, "groups", None) or () for r in group.roles]
        self.roles = [r for r in held if r.name != roles.ADMIN]


def _sort_key(item: Work):
    since = item.since.date() if isinstance(item.since, datetime.datetime) else item.since
    return (item.due or datetime.date.max, since or datetime.date.max, item.title)


def my_work(user, on: datetime.date | None = None) -> list[Work]:
    """Tickets, plans, reports and reviews waiting for this user's action, most urgent first."""
    on = on or today()
    person = _InOwnRight(user)
    items: list[Work] = []
    open_tickets = db.session.scalars(
        select(Ticket).where(tickets.ticket_visibility(user), Ticket.state.notin_(ticket_workflow.FINAL_STATES))
        .options(selectinload(Ticket.requesting_unit))
    ).all()
    late = tickets.missing_report_ids(on)
    for ticket in open_tickets:
        steps = ticket_workflow.WORKFLOW.available(person, ticket)
        title = _ticket_title(ticket)
        link = f"/tickets/show/{ticket.id}"
        if steps:
            items.append(Work("ticket", title, ", ".join(str(s.label) for s in steps), link,
                              ticket.due_date, ticket.created_on, f"ticket-{ticket.id}-{ticket.state}"))
        if ticket.id in late and ticket_workflow.IMPLEMENTER.allows(person, ticket):
            items.append(Work("progress", title, gettext("Report progress"), link, on,
                              ticket.approved_on, f"progress-{ticket.id}"))
    items += _change_work(user, person) + _disposition_work(user, person)
    for plan in db.session.scalars(select(ObjectivePlan).where(ObjectivePlan.state.in_(("draft", "submitted")))
                                   .options(selectinload(ObjectivePlan.unit))):
        items += _document_work(person, plan, "plan", objectives.plan_due(plan.year))
    for report in db.session.scalars(select(ObjectiveReport).where(ObjectiveReport.state.in_(("draft", "submitted")))
                                     .options(selectinload(ObjectiveReport.plan))):
        items += _document_work(person, report, "report", objectives.report_due(report.plan.year))
    for review in db.session.scalars(select(Review).where(Review.state.notin_(review_workflow.FINAL_STATES))):
        steps = review_workflow.workflow_for(review).available(person, review)
        if steps:
            items.append(Work("review", gettext("Management review %(number)s", number=review.display_number),
                              ", ".join(str(s.label) for s in steps), f"/reviews/show/{review.id}", None,
                              review.created_on, f"review-{review.id}-{review.state}"))
    return sorted(items, key=_sort_key)


def _ticket_title(ticket: Ticket) -> str:
    return gettext("Ticket %(number)s: %(text)s", number=ticket.display_number or gettext("(draft)"),
                   text=ticket.description[:70])


def _change_work(user, person) -> list[Work]:
    """Change requests (5.5) waiting for the ISO committee leader's decision."""
    pending = db.session.scalars(
        select(ChangeRequest).join(Ticket).where(ChangeRequest.decision == "pending", tickets.ticket_visibility(user))
        .options(selectinload(ChangeRequest.ticket))
    ).all()
    return [Work("change", _ticket_title(c.ticket), gettext("Decide the change request"),
                 f"/tickets/show/{c.ticket_id}", None, c.requested_at, f"change-{c.id}")
            for c in pending if ticket_workflow.WORKFLOW.may("decide_change", person, c.ticket)]


def _disposition_work(user, person) -> list[Work]:
    """NCs of the unit head's unit with no disposition yet (5.1.1), unless their ticket is finished."""
    if not unit_head_of(person, user.unit_id):
        return []
    waiting = db.session.scalars(
        select(Nonconformity).outerjoin(Ticket, Nonconformity.ticket_id == Ticket.id)
        .where(Nonconformity.unit_id == user.unit_id, Nonconformity.disposition.is_(None),
               or_(Ticket.id.is_(None), Ticket.state.notin_(ticket_workflow.FINAL_STATES)))
    ).all()
    return [Work("nonconformity", gettext("Nonconformity #%(id)s: %(text)s", id=nc.id, text=nc.description[:70]),
                 gettext("Decide the disposition"), f"/nonconformities/show/{nc.id}", None, nc.created_on,
                 f"nc-{nc.id}") for nc in waiting]


def _document_work(person, document, kind, due) -> list[Work]:
    plan = objective_workflow.plan_of(document)
    steps = objective_workflow.WORKFLOW.available(person, document)
    if not steps:
        return []
    owner = plan.unit.name if plan.unit else gettext("The agency (whole)")
    name = gettext("Quality objective plan %(year)s", year=plan.year) if kind == "plan" \
        else gettext("Quality objective report %(year)s", year=plan.year)
    return [Work(kind, f"{name} — {owner}", ", ".join(str(s.label) for s in steps),
                 f"/objectives/show/{plan.id}", due, document.created_on, f"{kind}-{document.id}-{document.state}")]


# --- steering figures ---------------------------------------------------------------

STEERING_LABELS = {
    "overdue": _l("Overdue tickets"),
    "missing_report": _l("Tickets missing their progress report"),
    "recurring": _l("Recurring nonconformity series"),
    "closed": _l("Closed as effective"),
    "closed_ineffective": _l("Closed as not effective"),
    "retention": _l("Records past their retention period"),
}


def _may_open(user, view: str) -> bool:
    """Whether the user may open a page (its FAB permission), so no figure links to a 403."""
    return current_app.appbuilder.sm._has_view_access(user, "can_index", view)


def _ticket_figure(user, **params) -> dict:
    return {"value": tickets.count_tickets(user, params), "link": "/tickets/list/?" + urlencode(params)}


def _month_bounds(on: datetime.date, back: int) -> tuple[datetime.date, datetime.date]:
    year, month = on.year, on.month - back
    while month <= 0:
        month += 12
        year -= 1
    first = datetime.date(year, month, 1)
    following = datetime.date(year + (month == 12), month % 12 + 1, 1)
    return first, following - datetime.timedelta(days=1)


def steering(user, on: datetime.date | None = None) -> dict:
    """The figures Ban ISO and the leaders watch; each links to the list behind it."""
    from app.records import services as records

    on = on or today()
    units = db.session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)).all()
    by_state = [(ticket_workflow.STATES[s], _ticket_figure(user, state=s)) for s in ticket_workflow.OPEN_STATES]
    by_unit = [(u.name, _ticket_figure(user, unit=u.id, open=1)) for u in units]
    months = []
    for back in range(11, -1, -1):
        first, last = _month_bounds(on, back)
        months.append({
            "label": first.strftime("%m/%Y"),
            "opened": _ticket_figure(user, **{"from": first.isoformat(), "to": last.isoformat()}),
            "closed": _ticket_figure(user, closed_from=first.isoformat(), closed_to=last.isoformat()),
        })
    effective = _ticket_figure(user, state="closed")
    ineffective = _ticket_figure(user, state="closed_ineffective")
    finished = effective["value"] + ineffective["value"]
    objective_rows = objectives.summary(on.year, on)["rows"]
    return {
        "by_state": by_state, "by_unit": by_unit, "months": months,
        "peak": max([m["opened"]["value"] for m in months] + [m["closed"]["value"] for m in months] + [1]),
        "overdue": _ticket_figure(user, overdue=1),
        "missing_report": _ticket_figure(user, missing_report=1),
        "recurring": {"value": len(tickets.recurring_series(user)), "link": "/recurring/"},
        "effective": effective, "ineffective": ineffective,
        "effective_share": round(100 * effective["value"] / finished) if finished else None,
        "objective_flags": [r for r in objective_rows if r["plan_flag"] in ("late", "missing")
                            or r["report_flag"] in ("late", "missing")],
        "objectives_link": f"/objectives-summary/?year={on.year}",
        "review_warnings": reviews.warnings(on),
        "retention": {"value": len(records.past_retention(on)), "link": "/retention/"}
        if _may_open(user, "RetentionView") else None,
        "labels": STEERING_LABELS,
    }
