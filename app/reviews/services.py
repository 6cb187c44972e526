"""Management review rules (5.8): creation, inputs gathered from the records, content,
transitions, follow-up tickets, comments. Shared by pages, API and CLI."""
import datetime
from urllib.parse import urlencode

from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import func, select

from app.extensions import db
from app.objectives import services as objectives
from app.organisation.models import QmsUser, Unit
from app.reviews import workflow
from app.reviews.models import (
    InternalAudit, Review, ReviewAction, ReviewComment, ReviewItem, ReviewPresentation,
)
from app.tickets import services as tickets
from app.tickets import vocabulary
from app.tickets.models import Nonconformity, Ticket
from app.workflow import Conflict, Forbidden, Invalid, NotFound, run, today

# The inputs of 5.8.1.1, in the order of the procedure. Sections with figures are computed
# from the records; every section has a text the secretary completes before approval.
INPUT_SECTIONS = {
    "earlier_actions": _l("Status of actions from earlier reviews"),
    "context": _l("Context: internal and external changes that affect the QMS"),
    "feedback": _l("Satisfaction and feedback of citizens, organisations and interested parties"),
    "objectives": _l("Achievement of quality objectives"),
    "nonconformities": _l("Nonconformities and corrective actions"),
    "monitoring": _l("Monitoring and measurement results"),
    "audit": _l("Internal audit results"),
    "suppliers": _l("Performance of external providers"),
    "resources": _l("Adequacy of resources"),
    "risks": _l("Effectiveness of actions addressing risks and opportunities"),
    "opportunities": _l("Opportunities for improvement"),
}
FIGURE_LABELS = {
    "actions_total": _l("Actions decided in earlier reviews"),
    "actions_closed": _l("of which closed"),
    "action": _l("%(name)s"),
    "nc_total": _l("Nonconformities recorded"),
    "nc_unit": _l("at %(name)s"),
    "nc_feedback": _l("Feedback from citizens and organisations recorded as nonconformities"),
    "nc_monitoring": _l("Nonconformities found by monitoring, measurement and data analysis"),
    "nc_audit": _l("Nonconformities found by internal audits"),
    "tickets_total": _l("Tickets opened"),
    "tickets_unit": _l("requested by %(name)s"),
    "tickets_source": _l("from source: %(name)s"),
    "tickets_state": _l("now in state: %(name)s"),
    "tickets_overdue": _l("Tickets overdue today"),
    "tickets_ineffective": _l("Tickets closed as not effective"),
    "tickets_audit": _l("Tickets opened from internal audits"),
    "audits": _l("Internal audits recorded"),
    "objectives_rate": _l("Objectives achieved (approved reports of %(name)s)"),
    "objectives_unit": _l("%(name)s"),
    "risk_tickets": _l("Tickets opened from risk analysis"),
    "risk_closed": _l("of which closed as effective"),
    "improvement_tickets": _l("Preventive / improvement tickets opened"),
}


def _tickets_link(start, end, **params) -> str:
    return "/tickets/list/?" + urlencode({"from": start.isoformat(), "to": end.isoformat(), **params})


def _nc_link(start, end, **params) -> str:
    """FAB's list filters: _flt_1 / _flt_2 are 'greater than' / 'smaller than' on dates."""
    query = {"_flt_1_detected_on": (start - datetime.timedelta(days=1)).isoformat(),
             "_flt_2_detected_on": (end + datetime.timedelta(days=1)).isoformat()}
    if "source" in params:
        query["_flt_3_source"] = params["source"]
    if "unit" in params:
        query["_flt_0_unit"] = params["unit"]
    return "/nonconformities/list/?" + urlencode(query)


def _figure(key, value, link=None, name=None) -> dict:
    return {"key": key, "value": value, "link": link, "name": name}


def gather_inputs(start: datetime.date, end: datetime.date) -> dict:
    """Figures for the inputs of 5.8.1.1 over a period, each with the list it comes from."""
    ncs = db.session.scalars(select(Nonconformity).where(
        Nonconformity.detected_on >= start, Nonconformity.detected_on <= end)).all()
    opened = db.session.scalars(select(Ticket).where(
        Ticket.requested_on >= start, Ticket.requested_on <= end)).all()
    units = {u.id: u for u in db.session.scalars(select(Unit))}
    figures = {key: [] for key in INPUT_SECTIONS}

    earlier = db.session.scalars(  # decided by reviews of earlier periods
        select(ReviewAction).join(Review).where(Review.period_end < start).order_by(ReviewAction.id)).all()
    closed = [a for a in earlier if a.ticket and a.ticket.state in ("closed", "closed_ineffective", "declined")]
    figures["earlier_actions"] = [_figure("actions_total", len(earlier)),
                                  _figure("actions_closed", len(closed))] + [
        _figure("action", str(workflow_state_label(a.ticket)) if a.ticket else "—",
                f"/tickets/show/{a.ticket_id}" if a.ticket_id else None,
                f"{a.description[:80]} ({a.ticket.display_number if a.ticket else ''})")
        for a in earlier]

    feedback = [n for n in ncs if n.source == "feedback"]
    figures["feedback"] = [_figure("nc_feedback", len(feedback), _nc_link(start, end, source="feedback"))]

    years = sorted({start.year, end.year})
    for year in years:
        data = objectives.summary(year)
        figures["objectives"].append(_figure(
            "objectives_rate", f"{data['achieved']}/{data['objectives']}"
            + (f" ({data['rate']} %)" if data["rate"] is not None else ""),
            f"/objectives-summary/?year={year}", str(year)))
        for row in data["rows"]:
            if row["rate"] is not None:
                figures["objectives"].append(_figure(
                    "objectives_unit", f"{row['rate']} %", None,
                    row["owner"].name if row["owner"] else str(gettext("The agency (whole)"))))

    nc_rows = [_figure("nc_total", len(ncs), _nc_link(start, end))]
    for unit_id, count in _count(n.unit_id for n in ncs):
        nc_rows.append(_figure("nc_unit", count, _nc_link(start, end, unit=unit_id), units[unit_id].name))
    nc_rows.append(_figure("tickets_total", len(opened), _tickets_link(start, end)))
    for unit_id, count in _count(t.requesting_unit_id for t in opened):
        nc_rows.append(_figure("tickets_unit", count, _tickets_link(start, end, unit=unit_id), units[unit_id].name))
    for source, count in _count(t.source for t in opened):
        nc_rows.append(_figure("tickets_source", count, _tickets_link(start, end, source=source),
                               vocabulary.label(vocabulary.SOURCES, source)))
    for state, count in _count(t.state for t in opened):
        nc_rows.append(_figure("tickets_state", count, _tickets_link(start, end, state=state),
                               str(tickets.workflow.STATES[state])))
    overdue = db.session.scalar(select(func.count(Ticket.id)).where(tickets.overdue_condition(end)))
    nc_rows.append(_figure("tickets_overdue", overdue, "/tickets/list/?overdue=1"))
    ineffective = [t for t in opened if t.state == "closed_ineffective"]
    nc_rows.append(_figure("tickets_ineffective", len(ineffective),
                           _tickets_link(start, end, state="closed_ineffective")))
    figures["nonconformities"] = nc_rows

    monitoring_sources = ("process_monitoring", "data_analysis", "process_results", "conformity_results")
    figures["monitoring"] = [_figure("nc_monitoring", sum(1 for n in ncs if n.source in monitoring_sources),
                                     _nc_link(start, end))]
    audits = db.session.scalar(select(func.count(InternalAudit.id)).where(
        InternalAudit.done_on >= start, InternalAudit.done_on <= end))
    figures["audit"] = [
        _figure("audits", audits),
        _figure("nc_audit", sum(1 for n in ncs if n.source == "internal_audit"),
                _nc_link(start, end, source="internal_audit")),
        _figure("tickets_audit", sum(1 for t in opened if t.source == "internal_audit"),
                _tickets_link(start, end, source="internal_audit")),
    ]
    risk = [t for t in opened if t.source == "risk_analysis"]
    figures["risks"] = [
        _figure("risk_tickets", len(risk), _tickets_link(start, end, source="risk_analysis")),
        _figure("risk_closed", sum(1 for t in risk if t.state == "closed"),
                _tickets_link(start, end, source="risk_analysis", state="closed")),
    ]
    figures["opportunities"] = [_figure("improvement_tickets", sum(1 for t in opened if t.kind == "preventive"),
                                        _tickets_link(start, end, kind="preventive"))]
    return figures


def workflow_state_label(ticket) -> str:
    return tickets.workflow.STATES.get(ticket.state, ticket.state)


def _count(values) -> list[tuple]:
    counts: dict = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))


def figure_label(figure: dict) -> str:
    return str(FIGURE_LABELS[figure["key"]]) % {"name": figure.get("name") or ""}


# --- reviews -----------------------------------------------------------------------

def get_review(review_id) -> Review:
    review = db.session.get(Review, review_id)
    if review is None:
        raise NotFound(gettext("Review not found."))
    return review


def create_review(user, form: str, period_start: datetime.date, period_end: datetime.date) -> Review:
    if not workflow.SECRETARY.allows(user, None):
        raise Forbidden(gettext("Only %(actor)s may do this.", actor=workflow.SECRETARY.label))
    errors = {}
    if form not in workflow.FORMS:
        errors["form"] = gettext("This field is required.")
    if not period_start or not period_end:
        errors["period"] = gettext("This field is required.")
    elif period_start > period_end:
        errors["period"] = gettext("The end is before the start.")
    if errors:
        raise Invalid(gettext("Some fields are missing or invalid."), errors)
    year = period_end.year
    number = (db.session.scalar(select(func.max(Review.number)).where(Review.year == year)) or 0) + 1
    review = Review(year=year, number=number, form=form, period_start=period_start, period_end=period_end,
                    state="draft", created_by_id=user.id, secretary_id=user.id, place=None,
                    figures=gather_inputs(period_start, period_end), inputs={})
    review.items = [ReviewItem(position=i) for i in range(1, len(workflow.DISCUSSION_TOPICS) + 1)]
    db.session.add(review)
    workflow.record(review, "create", None, "draft", user)
    db.session.commit()
    return review


def _writable(user, review) -> None:
    """The one gate for writing a review's content: the declared action "write"."""
    workflow.workflow_for(review).check("write", user, review)


def refresh_inputs(user, review_id) -> Review:
    review = get_review(review_id)
    _writable(user, review)
    review.figures = gather_inputs(review.period_start, review.period_end)
    workflow.record(review, "refresh_inputs", review.state, review.state, user)
    db.session.commit()
    return review


TEXT_FIELDS = ("place", "start_time", "end_time", "other_attendees", "general_conclusion",
               "improvement_needs", "qms_change_needs", "resource_needs")


def update_content(user, review_id, raw: dict) -> Review:
    """Save what the secretary writes: meeting details, input texts, discussion, conclusions."""
    review = get_review(review_id)
    _writable(user, review)
    errors = {}
    for name in TEXT_FIELDS:
        if name in raw:
            setattr(review, name, (raw.get(name) or "").strip() or None)
    for name in ("start_time", "end_time"):
        value = getattr(review, name)
        if value and not _is_time(value):
            errors[name] = gettext("Enter a time as HH:MM.")
    if "meeting_date" in raw:
        try:
            review.meeting_date = datetime.date.fromisoformat(raw["meeting_date"]) if raw["meeting_date"] else None
        except ValueError:
            errors["meeting_date"] = gettext("Enter a date as dd/mm/yyyy.")
    for name in ("chair_id", "secretary_id"):
        if name in raw:
            value = raw.get(name)
            user_obj = db.session.get(QmsUser, int(value)) if str(value or "").isdigit() else None
            if value and user_obj is None:
                errors[name] = gettext("Choose an existing, active entry.")
            setattr(review, name, user_obj.id if user_obj else None)
    if "attendees" in raw:
        ids = [int(v) for v in raw.get("attendees") or [] if str(v).isdigit()]
        review.attendees = db.session.scalars(select(QmsUser).where(QmsUser.id.in_(ids))).all() if ids else []
    inputs = dict(review.inputs or {})
    for key in INPUT_SECTIONS:
        if f"input_{key}" in raw:
            inputs[key] = (raw.get(f"input_{key}") or "").strip()
    review.inputs = inputs
    for item in review.items:
        for part in ("discussion", "conclusion"):
            name = f"item_{item.position}_{part}"
            if name in raw:
                setattr(item, part, (raw.get(name) or "").strip() or None)
    if errors:
        db.session.rollback()
        raise Invalid(gettext("Some fields are missing or invalid."), errors)
    db.session.commit()
    return review


def _is_time(value: str) -> bool:
    try:
        datetime.datetime.strptime(value, "%H:%M")
    except ValueError:
        return False
    return True


def add_presentation(user, review_id, reporter: str, summary: str) -> ReviewPresentation:
    review = get_review(review_id)
    _writable(user, review)
    if not (reporter or "").strip() or not (summary or "").strip():
        raise Invalid(gettext("Some fields are missing or invalid."),
                      {"presentation": gettext("Give the reporter and a summary.")})
    presentation = ReviewPresentation(review=review, reporter=reporter.strip(), summary=summary.strip())
    db.session.add(presentation)
    db.session.commit()
    return presentation


def add_action(user, review_id, description: str, focal_unit_id, due_date) -> ReviewAction:
    review = get_review(review_id)
    _writable(user, review)
    errors = {}
    unit = db.session.get(Unit, int(focal_unit_id)) if str(focal_unit_id or "").isdigit() else None
    if not (description or "").strip():
        errors["description"] = gettext("This field is required.")
    if unit is None:
        errors["focal_unit"] = gettext("This field is required.")
    if isinstance(due_date, str):
        try:
            due_date = datetime.date.fromisoformat(due_date) if due_date else None
        except ValueError:
            due_date = None
    if due_date is None:
        errors["due_date"] = gettext("Enter a date as dd/mm/yyyy.")
    if errors:
        raise Invalid(gettext("Some fields are missing or invalid."), errors)
    action = ReviewAction(review=review, description=description.strip(), focal_unit_id=unit.id,
                          due_date=due_date)
    db.session.add(action)
    db.session.commit()
    return action


def remove_action(user, review_id, action_id) -> None:
    review = get_review(review_id)
    _writable(user, review)
    action = db.session.get(ReviewAction, action_id)
    if action is None or action.review_id != review.id:
        raise NotFound(gettext("Action not found."))
    db.session.delete(action)
    db.session.commit()


def add_comment(user, review_id, text: str) -> ReviewComment:
    review = get_review(review_id)
    if review.form != "report":
        raise Conflict(gettext("Comments are taken on the QMS report of a report-and-notice review."))
    workflow.workflow_for(review).check("comment", user, review)
    if not (text or "").strip():
        raise Invalid(gettext("Some fields are missing or invalid."), {"text": gettext("This field is required.")})
    comment = ReviewComment(review=review, author_id=user.id, text=text.strip())
    db.session.add(comment)
    db.session.commit()
    return comment


def apply_transition(user, review_id, name: str, raw: dict, version=None) -> Review:
    review = get_review(review_id)
    return run(workflow.workflow_for(review), user, review, name, raw, version)


# --- the record itself: deleted or re-dated only while being prepared ---------------------

def ensure_draft(user, review) -> None:
    """A review is deleted, or its period changed, only while being prepared and by the
    secretary who writes it; past that it is part of the record, for Admin too."""
    if review.state != "draft":
        raise Conflict(gettext("Only a review being prepared can be deleted or re-dated; this one is “%(state)s”.",
                               state=workflow.STATES[review.state]))
    if not workflow.SECRETARY.allows(user, review):
        raise Forbidden(gettext("Only %(actor)s may do this.", actor=workflow.SECRETARY.label))


def change_period(user, review) -> None:
    """A new period on a draft (already set on it by the API's edit): checked, and the inputs
    gathered again so the figures are those of the period."""
    ensure_draft(user, review)
    if review.period_start > review.period_end:
        raise Invalid(gettext("Some fields are missing or invalid."),
                      {"period_end": gettext("The end is before the start.")})
    if review.period_end.year != review.year:
        raise Invalid(gettext("Some fields are missing or invalid."),
                      {"period_end": gettext("The period must end in %(year)s, the review's year.", year=review.year)})
    review.figures = gather_inputs(review.period_start, review.period_end)
    workflow.record(review, "refresh_inputs", review.state, review.state, user,
                    gettext("New period: %(start)s – %(end)s", start=f"{review.period_start:%d/%m/%Y}",
                            end=f"{review.period_end:%d/%m/%Y}"))


# --- warnings for the dashboard -------------------------------------------------------

def warnings(on: datetime.date | None = None) -> list[str]:
    """A year without an approved review; a review planned before the year's audit is done."""
    on = on or today()
    messages = []
    year = on.year
    done = db.session.scalar(select(func.count(Review.id)).where(
        Review.year == year, Review.state.in_(workflow.FINAL_STATES)))
    if not done:
        messages.append(gettext("%(year)s has no approved management review yet.", year=year))
    planned = db.session.scalar(select(func.count(Review.id)).where(
        Review.year == year, Review.state.notin_(workflow.FINAL_STATES)))
    audited = db.session.scalar(select(func.count(InternalAudit.id)).where(InternalAudit.year == year))
    if planned and not audited:
        messages.append(gettext(
            "A management review of %(year)s is being prepared but the year's internal audit "
            "has not been recorded as done.", year=year))
    return messages
