"""What waits for whom, and the steering figures. Every ticket figure is counted with the
ticket list's own query (tickets.services.ticket_list_query), so it equals the list it links to."""
import datetime
import functools
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import current_app
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import Date, Integer, String, and_, bindparam, case, cast, func, literal, null, or_, select, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter

from app.extensions import db
from app.objectives import services as objectives
from app.objectives import workflow as objective_workflow
from app.objectives.models import ObjectivePlan, ObjectiveReport
from app.organisation.services import current_agency
from app.organisation.models import Unit
from app.reviews import services as reviews
from app.reviews import workflow as review_workflow
from app.reviews.models import InternalAudit, Review
from app.tenancy import kept_rows
from app.ui import listed_records, related_columns
from app.tickets import services as tickets
from app.tickets import workflow as ticket_workflow
from app.tickets.models import ChangeRequest, Nonconformity, Ticket
from app.workflow import AtWork, today, unit_head_of


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
    record_id: int  # the ticket, plan, report, review or NC: the last of the order


def _day(value) -> datetime.date | None:
    return value.date() if isinstance(value, datetime.datetime) else value


def _sort_key(item: Work):
    """Most urgent first: by due day, then by the day it began waiting, then kind and record
    (an order SQL gives as well: _waiting_tickets reads only the tickets a page shows)."""
    return (item.due or datetime.date.max, _day(item.since) or datetime.date.max, item.kind, item.record_id)


_WAITING = tickets.KeptStatements(100)  # see _waiting_tickets_statements
if not ticket_workflow.WORKFLOW.exact_waiting():
    raise RuntimeError("My work counts and pages the waiting tickets in SQL: every actor of the ticket workflow "
                       "needs its SQL rule (Actor.where)")


def _waiting_tickets_statements(user, person: AtWork):
    """The tickets waiting for this person's step, and those whose progress report this person
    owes and is late, each in _sort_key's order with how many there are in all: built once per
    person (whose id, unit and roles shape them), who sees what and agency numbers, run with
    the day's report cutoff and how many rows a page needs as parameters."""
    key = (db.engine.dialect.name, tickets.visibility_key(user), person.id, person.unit_id,
           frozenset(role.name for role in person.roles), current_agency().report_interval_days)

    def build():
        late = tickets.missing_report_condition(cutoff=bindparam("cutoff", type_=Date))
        mine = and_(tickets.ticket_visibility(user), Ticket.state.notin_(ticket_workflow.FINAL_STATES))

        def rows(condition, *order):  # empty dates last, as _sort_key's date.max
            return (select(*tickets.TICKET_ROW, Ticket.created_on, Ticket.approved_on,
                           func.count().over().label("total")).where(mine, condition)
                    .order_by(*(column.nulls_last() for column in order), Ticket.id)
                    .limit(bindparam("rows", type_=Integer)))
        return (_values_written(rows(ticket_workflow.WORKFLOW.waiting_condition(person, Ticket.state),
                                     Ticket.due_date, func.date(Ticket.created_on))),
                _values_written(rows(and_(late, ticket_workflow.IMPLEMENTER.where(person)), Ticket.approved_on)))
    return _WAITING.get(key, build)


def _values_written(statement):
    """`statement` with its own values (the person's id, the states, the agency's numbers) written
    into its text, its run's (the day's cutoff, the rows) still parameters. PostgreSQL keeps one
    plan for a statement prepared on a connection, made without its parameters' values; for
    "My work" that plan read every ticket of the agency through the due-date index (1.3 ms at
    3 300 tickets, more with each) where the plan for the values reads the few waiting tickets
    from their indexes (0.3 ms). Each person has statements of their own anyway (above)."""
    def written(element):
        if isinstance(element, BindParameter) and element.key not in ("cutoff", "rows"):
            return element.render_literal_execute()
        return None
    return visitors.replacement_traverse(statement, {}, written)


ALL_ROWS = 2 ** 31 - 1  # a LIMIT that keeps every row, on SQLite and PostgreSQL alike


def _waiting_tickets(user, person: AtWork, on: datetime.date, rows: int | None) -> tuple[list[Work], int]:
    """The first `rows` (None: all) in _sort_key's order of the person's steps on tickets and
    of the progress reports they owe, and how many there are of them in all. A ticket is read
    only if its item can be among those `rows`: the workflow's SQL condition (waiting_condition)
    admits the tickets `available` gives steps on, no more (tests/test_dashboard.py)."""
    waiting, late = _waiting_tickets_statements(user, person)
    limit = ALL_ROWS if rows is None else rows
    found = listed_records(kept_rows(waiting, {"rows": limit}, shared=False))
    owed = listed_records(kept_rows(late, {"cutoff": tickets.report_cutoff(on), "rows": limit}, shared=False))
    Ticket.number_rows(found + owed)
    report_progress = gettext("Report progress")
    items = [Work("ticket", _ticket_title(ticket), _steps(ticket_workflow.WORKFLOW.available(person, ticket)),
                  f"/tickets/show/{ticket.id}", ticket.due_date, ticket.created_on,
                  f"ticket-{ticket.id}-{ticket.state}", ticket.id) for ticket in found]
    items += [Work("progress", _ticket_title(ticket), report_progress, f"/tickets/show/{ticket.id}", on,
                   ticket.approved_on, f"progress-{ticket.id}", ticket.id) for ticket in owed]
    return items, sum(kept[0].total for kept in (found, owed) if kept)


PENDING = objective_workflow.WORKFLOW.groups["open"]  # the states of a plan or report waiting for a step


@functools.cache
def _pending_plans_statement():
    """Plans and reports waiting for a step, in one statement, as plain rows of what My work
    names them by and the workflow's actors read (the plan's unit)."""
    return (select(ObjectivePlan.id, ObjectivePlan.year, ObjectivePlan.unit_id, ObjectivePlan.state,
                   ObjectivePlan.created_on, *related_columns(Unit, "unit", Unit.name),
                   *related_columns(ObjectiveReport, "report", ObjectiveReport.state, ObjectiveReport.created_on))
            .outerjoin(ObjectiveReport, ObjectiveReport.plan_id == ObjectivePlan.id)
            .outerjoin(Unit, Unit.id == ObjectivePlan.unit_id)
            .where(or_(ObjectivePlan.state.in_(PENDING), ObjectiveReport.state.in_(PENDING)))
            .order_by(ObjectivePlan.id))


@functools.cache
def _open_reviews_statement():
    """Reviews not yet finished, as plain rows of what My work names them by and the workflow's
    actors read (the form, the chair)."""
    return (select(Review.id, Review.number, Review.form, Review.state, Review.chair_id, Review.created_on)
            .where(Review.state.notin_(review_workflow.FINAL_STATES)).order_by(Review.id))


def my_work(user, on: datetime.date | None = None) -> list[Work]:
    """Tickets, plans, reports and reviews waiting for this user's action, most urgent first."""
    return _work(user, on or today(), None)[0]


PAGE_ROWS = 50  # rows of a page of the full list
HOME_ROWS = 20  # rows of "My work" on the home page; the rest on its own paginated page


def my_work_page(user, page: int = 1, per_page: int = HOME_ROWS) -> tuple[list[Work], int]:
    """One page of my_work, most urgent first, and how many items there are in all: only the
    tickets up to the page's end are read."""
    start = (max(page, 1) - 1) * per_page
    items, total = _work(user, today(), start + per_page)
    return items[start:], total


def _work(user, on: datetime.date, rows: int | None) -> tuple[list[Work], int]:
    """The first `rows` (None: all) of my_work, and how many there are in all."""
    person = AtWork(user)
    items, total = _waiting_tickets(user, person, on, rows)
    others = _change_work(user, person) + _disposition_work(user, person)
    plans = listed_records(kept_rows(_pending_plans_statement(), {}))
    for plan in plans:
        if plan.report is not None:
            plan.report.plan = plan  # whose unit the actors read (objective_workflow.plan_of)
        if plan.state in PENDING:
            others += _document_work(person, plan, "plan", objectives.plan_due(plan.year))
    for plan in plans:
        if plan.report is not None and plan.report.state in PENDING:
            others += _document_work(person, plan.report, "report", objectives.report_due(plan.year))
    for review in listed_records(kept_rows(_open_reviews_statement(), {})):
        steps = review_workflow.workflow_for(review).available(person, review)
        if steps:
            number = Review.number_text(review.number)
            others.append(Work("review", gettext("Management review %(number)s", number=number),
                               _steps(steps), f"/reviews/show/{review.id}", None,
                               review.created_on, f"review-{review.id}-{review.state}", review.id))
    return sorted(items + others, key=_sort_key)[:rows], total + len(others)


def _steps(steps) -> str:
    return ", ".join(str(s.label) for s in steps)


def _ticket_title(ticket: Ticket) -> str:
    return gettext("Ticket %(number)s: %(text)s", number=ticket.display_number or gettext("(draft)"),
                   text=ticket.description[:70])


_CHANGES = tickets.KeptStatements(100)  # see _change_work


def _change_work(user, person) -> list[Work]:
    """Change requests (5.5) waiting for the ISO committee leader's decision, as plain rows with
    what the workflow's actors read of their tickets (the statement kept per way of seeing the
    tickets, run as its kept text: kept_rows)."""
    pending = listed_records(kept_rows(_CHANGES.get(tickets.visibility_key(user), lambda: (
        select(ChangeRequest.id, ChangeRequest.ticket_id, ChangeRequest.requested_at,
               *related_columns(Ticket, "ticket", *tickets.TICKET_ROW[1:]))  # TICKET_ROW: the id first
        .join(Ticket, Ticket.id == ChangeRequest.ticket_id)
        .where(ChangeRequest.decision == "pending", tickets.ticket_visibility(user))
        .order_by(ChangeRequest.id))), {}, shared=tickets.sees_everything(user)))
    Ticket.number_rows(c.ticket for c in pending)
    decide = gettext("Decide the change request")
    return [Work("change", _ticket_title(c.ticket), decide,
                 f"/tickets/show/{c.ticket_id}", None, c.requested_at, f"change-{c.id}", c.id)
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
                 f"nc-{nc.id}", nc.id) for nc in waiting]


def _document_work(person, document, kind, due) -> list[Work]:
    plan = objective_workflow.plan_of(document)
    steps = objective_workflow.WORKFLOW.available(person, document)
    if not steps:
        return []
    owner = plan.unit.name if plan.unit else gettext("The agency (whole)")
    name = gettext("Quality objective plan %(year)s", year=plan.year) if kind == "plan" \
        else gettext("Quality objective report %(year)s", year=plan.year)
    return [Work(kind, f"{name} — {owner}", _steps(steps),
                 f"/objectives/show/{plan.id}", due, document.created_on, f"{kind}-{document.id}-{document.state}",
                 document.id)]


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


def _ticket_link(**params) -> str:
    return "/tickets/list/?" + urlencode(params)


def _figure(value, **params) -> dict:
    return {"value": value, "link": _ticket_link(**params)}


def _month_bounds(on: datetime.date, back: int) -> tuple[datetime.date, datetime.date]:
    year, month = on.year, on.month - back
    while month <= 0:
        month += 12
        year -= 1
    first = datetime.date(year, month, 1)
    following = datetime.date(year + (month == 12), month % 12 + 1, 1)
    return first, following - datetime.timedelta(days=1)


_STATEMENTS = tickets.KeptStatements(100)  # see _ticket_counts_statement


def _ticket_counts_statement(user, retention: bool):
    """Every ticket figure of the home page in one grouped query (UNION ALL of GROUP BYs), each
    part with the same conditions as the ticket list its figure links to (ticket_list_query):
    by state (with the overdue and missing-report tickets among them), open by unit, opened and
    closed per month, the recurring series, the records past retention, and the year's reviews
    and internal audits (for reviews.warning_messages). The day's dates are parameters (on,
    first, last, year, cutoff, retention_limit): the statement is built once per way of seeing
    the records and agency numbers (building it cost about a third of the page's figures).
    The agency's condition is added when it runs (app.tenancy)."""
    agency = current_agency()
    key = (db.engine.dialect.name,  # how a number of days is counted (tickets._days_between)
           tickets.visibility_key(user), agency.report_interval_days, agency.recurrence_threshold, retention)
    return _STATEMENTS.get(key, lambda: _build_ticket_counts(user, agency.recurrence_threshold, retention))


def _build_ticket_counts(user, threshold: int, retention: bool):
    def part(kind, key=None, n1=None, n2=None, value=None, overdue=None, late=None):
        # typed NULLs: PostgreSQL matches the columns of a UNION branch by branch
        return [literal(kind, String).label("kind"), cast(key if key is not None else null(), String).label("key"),
                cast(n1 if n1 is not None else null(), Integer).label("n1"),
                cast(n2 if n2 is not None else null(), Integer).label("n2"),
                cast(value, Integer).label("value"),
                cast(overdue if overdue is not None else literal(0), Integer).label("overdue"),
                cast(late if late is not None else literal(0), Integer).label("late")]

    on, first, last = bindparam("on", type_=Date), bindparam("first", type_=Date), bindparam("last", type_=Date)
    year = bindparam("year", type_=Integer)
    visible = tickets.ticket_visibility(user)
    one = literal(1)
    late = tickets.missing_report_condition(cutoff=bindparam("cutoff", type_=Date))
    parts = [
        select(*part("state", Ticket.state, value=func.count(Ticket.id),
                     overdue=func.sum(case((tickets.overdue_condition(on), one), else_=0)),
                     late=func.sum(case((late, one), else_=0))))
        .where(visible).group_by(Ticket.state),
        select(*part("unit", n1=Unit.id, value=func.count(func.distinct(Ticket.id))))
        .join(Ticket, or_(Ticket.requesting_unit_id == Unit.id, Ticket.implementing_unit_id == Unit.id))
        .where(visible, Ticket.state.in_(ticket_workflow.OPEN_STATES)).group_by(Unit.id),
    ]
    for kind, column in (("opened", Ticket.requested_on), ("closed", Ticket.closed_on)):
        column_year, month = func.extract("year", column), func.extract("month", column)
        parts.append(select(*part(kind, n1=column_year, n2=month, value=func.count(Ticket.id)))
                     .where(visible, column >= first, column <= last).group_by(column_year, month))
    runs = tickets.open_runs_query(user, threshold=threshold).subquery("run")
    parts.append(select(*part("recurring", value=func.count())).select_from(runs))
    if retention:
        parts.append(select(*part("retention", value=func.count(Ticket.id))).where(
            Ticket.state.in_(ticket_workflow.FINAL_STATES), Ticket.closed_on.is_not(None),
            Ticket.closed_on <= bindparam("retention_limit", type_=Date)))
    final = Review.state.in_(review_workflow.FINAL_STATES)
    parts += [select(*part("reviews_done", value=func.count(Review.id))).where(Review.year == year, final),
              select(*part("reviews_planned", value=func.count(Review.id))).where(Review.year == year, ~final),
              select(*part("audits", value=func.count(InternalAudit.id))).where(InternalAudit.year == year)]
    return union_all(*parts)


def _ticket_counts(user, on: datetime.date, first: datetime.date, last: datetime.date, retention: bool) -> dict:
    """The home page's ticket figures (_ticket_counts_statement) on day `on`, the months from
    `first` to `last`."""
    from app.records import services as records

    dates = {"on": on, "first": first, "last": last, "year": on.year, "cutoff": tickets.report_cutoff(on)}
    if retention:
        dates["retention_limit"] = records.retention_limit(on)
    counts: dict = {"state": {}, "unit": {}, "opened": {}, "closed": {}, "overdue": 0, "late": 0,
                    "recurring": 0, "retention": 0}
    found = kept_rows(_ticket_counts_statement(user, retention), dates, shared=tickets.sees_everything(user))
    for kind, key, n1, n2, value, overdue, late in found:
        if kind == "state":
            counts["state"][key] = value
            counts["overdue"] += overdue or 0
            counts["late"] += late or 0
        elif kind == "unit":
            counts["unit"][n1] = value
        elif kind in ("opened", "closed"):
            counts[kind][(n1, n2)] = value
        else:
            counts[kind] = value or 0
    return counts


@functools.cache
def _objective_flags_statement():
    """Built once, the year a parameter (the steering home page runs it on every request)."""
    replaced = aliased(ObjectivePlan)
    return (select(ObjectivePlan.unit_id, ObjectivePlan.state, ObjectivePlan.approved_on, ObjectivePlan.replaces_id,
                   replaced.approved_on, ObjectiveReport.state, ObjectiveReport.approved_on)
            .outerjoin(ObjectiveReport, ObjectiveReport.plan_id == ObjectivePlan.id)
            .outerjoin(replaced, replaced.id == ObjectivePlan.replaces_id)
            .where(ObjectivePlan.year == bindparam("year", type_=Integer), ObjectivePlan.state != "superseded")
            .order_by(ObjectivePlan.revision))


def _objective_flags(year: int, on: datetime.date, units: list) -> list[dict]:
    """The plans and reports of the year late or missing, by owner (one query; the same rule
    as the objectives summary: objectives.current_plans and objectives.status_row)."""
    found = kept_rows(_objective_flags_statement(), {"year": year})
    chosen: dict = {}
    for row in found:
        kept = chosen.get(row[0])
        if kept is None or kept[1] != "approved" or row[1] == "approved":
            chosen[row[0]] = row
    flags = []
    for owner in [None] + [u for u in units if u.in_qms_scope]:
        row = chosen.get(owner.id if owner else None)
        plan_on = report_on = None
        if row is not None:
            _, state, approved_on, replaces_id, first_on, report_state, report_approved_on = row
            plan_on = approved_on if state == "approved" else None
            if replaces_id and state == "approved" and first_on:
                plan_on = first_on
            report_on = report_approved_on if report_state == "approved" else None
        flag = {"owner": owner, "plan_flag": objectives._flag(plan_on, objectives.plan_due(year), on),
                "report_flag": objectives._flag(report_on, objectives.report_due(year), on)}
        if flag["plan_flag"] in ("late", "missing") or flag["report_flag"] in ("late", "missing"):
            flags.append(flag)
    return flags


def steering(user, on: datetime.date | None = None) -> dict:
    """The figures Ban ISO and the leaders watch; each links to the list behind it. A fixed
    number of queries whatever the number of records: the units, one grouped query for every
    ticket figure, one for the objective plans, one for the reviews."""
    on = on or today()
    units = db.session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)).all()
    bounds = [_month_bounds(on, back) for back in range(11, -1, -1)]
    may_see_retention = _may_open(user, "RetentionView")
    counts = _ticket_counts(user, on, bounds[0][0], bounds[-1][1], may_see_retention)
    by_state = [(ticket_workflow.STATES[s], _figure(counts["state"].get(s, 0), state=s))
                for s in ticket_workflow.OPEN_STATES]
    by_unit = [(u.name, _figure(counts["unit"].get(u.id, 0), unit=u.id, open=1)) for u in units]
    months = []
    for first, last in bounds:
        key = (first.year, first.month)
        months.append({
            "label": first.strftime("%m/%Y"),
            "opened": _figure(counts["opened"].get(key, 0), **{"from": first.isoformat(), "to": last.isoformat()}),
            "closed": _figure(counts["closed"].get(key, 0), closed_from=first.isoformat(),
                              closed_to=last.isoformat()),
        })
    effective = _figure(counts["state"].get("closed", 0), state="closed")
    ineffective = _figure(counts["state"].get("closed_ineffective", 0), state="closed_ineffective")
    finished = effective["value"] + ineffective["value"]
    return {
        "by_state": by_state, "by_unit": by_unit, "months": months,
        "peak": max([m["opened"]["value"] for m in months] + [m["closed"]["value"] for m in months] + [1]),
        "overdue": _figure(counts["overdue"], overdue=1),
        "missing_report": _figure(counts["late"], missing_report=1),
        "recurring": {"value": counts["recurring"], "link": "/recurring/"},
        "effective": effective, "ineffective": ineffective,
        "effective_share": round(100 * effective["value"] / finished) if finished else None,
        "objective_flags": _objective_flags(on.year, on, units),
        "objectives_link": f"/objectives-summary/?year={on.year}",
        "review_warnings": reviews.warning_messages(on.year, counts["reviews_done"], counts["reviews_planned"],
                                                    counts["audits"]),
        "retention": {"value": counts["retention"], "link": "/retention/"} if may_see_retention else None,
        "labels": STEERING_LABELS,
    }
