"""Rules for quality-objective plans and reports (5.9, Phụ lục 3), shared by pages, API and CLI."""
import datetime
import functools
import re

from flask_babel import gettext
from sqlalchemy import Integer, bindparam, case, func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.objectives import workflow
from app.objectives.models import ObjectivePlan, ObjectiveReport, ObjectiveRow, ReportRow
from app.organisation.models import Unit
from app.tenancy import kept_rows
from app.ui import ListedRecord, listed_records, related_columns
from app.workflow import (
    Conflict, Forbidden, Invalid, NotFound, commit, get_by_id, id_conditions, looks_like_id, parse_date, run, today,
)

_NUMBER = re.compile(r"^\s*(?:≥|≤|>=|<=|=)?\s*(-?\d+(?:[.,]\d+)?)\s*(.*?)\s*$")


def plan_due(year: int) -> datetime.date:
    """Plans are approved before 30/01 of their year (5.9)."""
    return datetime.date(year, 1, 30)


def report_due(year: int) -> datetime.date:
    """Reports are made before 31/12 of their year (5.9)."""
    return datetime.date(year, 12, 31)


# --- targets and achievement ------------------------------------------------------

def parse_number(text: str | None) -> tuple[float, str] | None:
    """'≥ 95 %' → (95.0, '%'); '2,5 ngày' → (2.5, 'ngày'); None when there is no number first."""
    match = _NUMBER.match(text or "")
    if not match:
        return None
    return float(match.group(1).replace(",", ".")), match.group(2)


def format_number(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def format_target(row: ObjectiveRow) -> str:
    if row.target_kind == "text":
        return row.target_text or ""
    unit = f" {row.target_unit}" if row.target_unit else ""
    return f"{workflow.TARGET_SIGNS[row.target_kind]} {format_number(row.target_value)}{unit}"


def is_achieved(kind: str, target: float | None, actual: float | None) -> bool | None:
    """Numeric targets decide by themselves; None when it cannot be computed."""
    if kind == "text" or target is None or actual is None:
        return None
    if kind == "ge":
        return actual >= target
    if kind == "le":
        return actual <= target
    return abs(actual - target) < 1e-9


# --- loading and rights -------------------------------------------------------------

PLAN_LIST_ARGS = ("year", "unit", "state")


def plan_list_query(args):
    """The plans the list's address asks for: of a year, of a unit, in a state."""
    query = select(ObjectivePlan).where(*id_conditions(args, {"year": ObjectivePlan.year, "unit": ObjectivePlan.unit_id}))
    if args.get("state") in workflow.STATES:
        query = query.where(ObjectivePlan.state == args["state"])
    return query


_PLAN_ROW = (ObjectivePlan.id, ObjectivePlan.year, ObjectivePlan.unit_id, ObjectivePlan.revision, ObjectivePlan.state,
             ObjectivePlan.submitted_on, ObjectivePlan.approved_on)


def plan_page(query, page: int, page_size: int, *columns) -> list[ListedRecord]:
    """A page of the list, the latest year first, as plain rows of what the list shows and the
    workflow's rules read (not as records), each with its unit's name (`unit.name`; no unit:
    the agency's plan)."""
    return listed_records(db.session.execute(
        query.with_only_columns(*_PLAN_ROW, *related_columns(Unit, "unit", Unit.name), *columns)
        .outerjoin(Unit, Unit.id == ObjectivePlan.unit_id)
        .order_by(ObjectivePlan.year.desc(), ObjectivePlan.id.desc()).limit(page_size).offset((page - 1) * page_size)))


def get_plan(plan_id) -> ObjectivePlan:
    plan = get_by_id(ObjectivePlan, plan_id)
    if plan is None:
        raise NotFound(gettext("Plan not found."))
    return plan


def get_report(report_id) -> ObjectiveReport:
    report = get_by_id(ObjectiveReport, report_id)
    if report is None:
        raise NotFound(gettext("Report not found."))
    return report


def _editable(user, document) -> None:
    """Rows of a plan, and a report's figures, are written only while a draft, by its drafter."""
    workflow.WORKFLOW.check("edit", user, document)


# --- plans ---------------------------------------------------------------------------

YEARS = range(2000, 2101)  # the years a plan is drafted for (and a summary shown of)


def create_plan(user, year: int, unit_id: int | None) -> ObjectivePlan:
    if not looks_like_id(year) or int(year) not in YEARS:
        raise Invalid(gettext("Some fields are missing or invalid."), {"year": gettext("Enter a year such as 2026.")})
    unit = get_by_id(Unit, unit_id) if unit_id else None
    if unit_id and unit is None:
        raise Invalid(gettext("Some fields are missing or invalid."), {"unit": gettext("Choose a unit from the list.")})
    plan = ObjectivePlan(year=int(year), unit_id=unit_id, revision=1, state="draft", created_by_id=user.id)
    plan.unit = unit
    if not workflow.DRAFTER.allows(user, plan):
        raise Forbidden(gettext("Only %(actor)s may do this.", actor=workflow.DRAFTER.label))
    exists = db.session.scalar(select(func.count(ObjectivePlan.id)).where(
        ObjectivePlan.year == plan.year, ObjectivePlan.unit_id.is_(None) if unit_id is None
        else ObjectivePlan.unit_id == unit_id))
    if exists:
        raise Conflict(gettext("A plan for this year already exists; open it, or make a new revision of it."))
    db.session.add(plan)
    workflow.record(plan, "create", None, "draft", user)
    db.session.commit()
    return plan


def check_plan_delete(user, plan: ObjectivePlan) -> None:
    """A plan is deleted, with its history, only as a draft and by those who may draft it;
    a submitted or approved one is part of the record (pages and API ask this)."""
    workflow.WORKFLOW.check("delete_draft", user, plan)


ROW_FIELDS = ("objective", "measurement_method", "target_kind", "target", "measures", "start_date", "end_date")


def _row_values(plan: ObjectivePlan, raw: dict) -> dict:
    """Validated row values from a form or JSON; Invalid with a message per field."""
    errors, values = {}, {}
    for name in ("objective", "measurement_method"):
        values[name] = (raw.get(name) or "").strip()
        if not values[name]:
            errors[name] = gettext("This field is required: an objective must be measurable.")
    kind = raw.get("target_kind")
    target = (raw.get("target") or "").strip()
    if kind not in workflow.TARGET_KINDS:
        errors["target_kind"] = gettext("This field is required.")
    elif not target:
        errors["target"] = gettext("This field is required: an objective must be measurable.")
    elif kind == "text":
        values.update(target_kind=kind, target_text=target, target_value=None, target_unit=None)
    else:
        number = parse_number(target)
        if number is None:
            errors["target"] = gettext(
                "“%(target)s” is not a number with its unit, e.g. 95 %% or 2 ngày.", target=target)
        else:
            values.update(target_kind=kind, target_value=number[0], target_unit=number[1] or None,
                          target_text=None)
    values["measures"] = (raw.get("measures") or "").strip() or None
    for name in ("start_date", "end_date"):
        value = raw.get(name)
        if isinstance(value, datetime.date):
            values[name] = value
            continue
        values[name] = parse_date(value) if value else None  # dd/mm/yyyy (pages) or ISO (API)
        if value and values[name] is None:
            errors[name] = gettext("Enter a date as dd/mm/yyyy.")
            continue
        if values[name] and values[name].year != plan.year:
            errors[name] = gettext("The date must be in %(year)s, the plan's year.", year=plan.year)
    if values.get("start_date") and values.get("end_date") and values["start_date"] > values["end_date"]:
        errors["end_date"] = gettext("The end is before the start.")
    if errors:
        raise Invalid(gettext("Some fields are missing or invalid."), errors)
    return values


def save_row(user, plan_id, raw: dict, row_id=None) -> ObjectiveRow:
    plan = get_plan(plan_id)
    _editable(user, plan)
    values = _row_values(plan, raw)
    if row_id is None:
        row = ObjectiveRow(plan=plan, position=len(plan.rows) + 1)
        db.session.add(row)
    else:
        row = db.session.get(ObjectiveRow, row_id)
        if row is None or row.plan_id != plan.id:
            raise NotFound(gettext("Objective not found."))
    for name, value in values.items():
        setattr(row, name, value)
    commit()
    return row


def delete_row(user, plan_id, row_id) -> None:
    plan = get_plan(plan_id)
    _editable(user, plan)
    row = db.session.get(ObjectiveRow, row_id)
    if row is None or row.plan_id != plan.id:
        raise NotFound(gettext("Objective not found."))
    plan.rows.remove(row)
    for position, remaining in enumerate(plan.rows, start=1):
        remaining.position = position
    commit()


def previous_plan(plan: ObjectivePlan) -> ObjectivePlan | None:
    """Last year's approved plan of the same unit (or of the agency)."""
    owner = ObjectivePlan.unit_id.is_(None) if plan.unit_id is None else ObjectivePlan.unit_id == plan.unit_id
    return db.session.scalar(
        select(ObjectivePlan).where(owner, ObjectivePlan.year == plan.year - 1,
                                    ObjectivePlan.state == "approved")
        .order_by(ObjectivePlan.revision.desc())
    )


def _shift_year(day: datetime.date | None, years: int) -> datetime.date | None:
    if day is None:
        return None
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29/02
        return day.replace(year=day.year + years, day=28)


def copy_rows(source: ObjectivePlan, target: ObjectivePlan) -> int:
    years = target.year - source.year
    for row in source.rows:
        target.rows.append(ObjectiveRow(
            position=len(target.rows) + 1, objective=row.objective,
            measurement_method=row.measurement_method, target_kind=row.target_kind,
            target_value=row.target_value, target_unit=row.target_unit, target_text=row.target_text,
            measures=row.measures, start_date=_shift_year(row.start_date, years),
            end_date=_shift_year(row.end_date, years),
        ))
    return len(source.rows)


def copy_from_previous_year(user, plan_id) -> int:
    plan = get_plan(plan_id)
    _editable(user, plan)
    source = previous_plan(plan)
    if source is None:
        raise NotFound(gettext("There is no approved plan of %(year)s to copy from.", year=plan.year - 1))
    count = copy_rows(source, plan)
    commit()
    return count


def revise(user, plan_id) -> ObjectivePlan:
    """A change after approval: a new draft revision; the approved one stays in force."""
    plan = get_plan(plan_id)
    workflow.WORKFLOW.check("revise", user, plan)
    pending = db.session.scalar(select(ObjectivePlan).where(ObjectivePlan.replaces_id == plan.id))
    if pending is not None:
        raise Conflict(gettext("A new revision of this plan is already being prepared."))
    revision = ObjectivePlan(year=plan.year, unit_id=plan.unit_id, revision=plan.revision + 1,
                             replaces_id=plan.id, state="draft", created_by_id=user.id)
    db.session.add(revision)
    copy_rows(plan, revision)
    workflow.record(revision, "revise", None, "draft", user,
                    gettext("Revision %(n)s of the approved plan", n=plan.revision))
    db.session.commit()
    return revision


# --- transitions (plans and reports) ---------------------------------------------------------

def apply_transition(user, document, name: str, raw: dict, version=None):
    return run(workflow.WORKFLOW, user, document, name, raw, version)


# --- reports ---------------------------------------------------------------------------

def create_report(user, plan_id) -> ObjectiveReport:
    plan = get_plan(plan_id)
    workflow.WORKFLOW.check("create_report", user, plan)
    if plan.report is not None:
        raise Conflict(gettext("This plan already has its report."))
    report = ObjectiveReport(plan=plan, state="draft", created_by_id=user.id)
    db.session.add(report)
    report.rows = [ReportRow(objective_row=row) for row in plan.rows]
    workflow.record(report, "create", None, "draft", user)
    db.session.commit()
    return report


def save_report_row(user, report_id, row_id, raw: dict) -> ReportRow:
    report = get_report(report_id)
    _editable(user, report)
    row = db.session.get(ReportRow, row_id)
    if row is None or row.report_id != report.id:
        raise NotFound(gettext("Objective not found."))
    objective = row.objective_row
    actual = (raw.get("actual") or "").strip()
    errors = {}
    row.actual = actual or None
    if objective.target_kind == "text":
        chosen = raw.get("achieved")
        row.actual_value = None
        row.achieved = {"yes": True, "no": False}.get(chosen) if actual else None
        if actual and row.achieved is None:
            errors["achieved"] = gettext("Say whether the criterion was met.")
    else:
        number = parse_number(actual) if actual else None
        if actual and number is None:
            errors["actual"] = gettext("“%(target)s” is not a number with its unit, e.g. 95 %% or 2 ngày.", target=actual)
        row.actual_value = number[0] if number else None
        row.achieved = is_achieved(objective.target_kind, objective.target_value, row.actual_value)
    row.reason = (raw.get("reason") or "").strip() or None
    row.direction = (raw.get("direction") or "").strip() or None
    if row.achieved is False and not row.direction:
        errors["direction"] = gettext("Required when the objective was not achieved.")
    if errors:
        db.session.rollback()
        raise Invalid(gettext("Some fields are missing or invalid."), errors)
    commit()
    return row


def open_ticket_for_row(user, row_id):
    """An unachieved objective opens a pre-filled improvement ticket, linked to the row."""
    from app.tickets import services as tickets
    from app.tickets.models import Ticket

    row = db.session.get(ReportRow, row_id)
    if row is None:
        raise NotFound(gettext("Objective not found."))
    if row.achieved is not False:
        raise Conflict(gettext("Only an objective that was not achieved opens an improvement ticket."))
    if row.ticket_id:
        raise Conflict(gettext("This objective already has ticket %(ticket)s.", ticket=row.ticket))
    plan = row.report.plan
    unit_id = plan.unit_id or user.unit_id
    tickets.check_box1(user, unit_id)
    objective = row.objective_row
    ticket = Ticket(
        kind="preventive", source="data_analysis", requesting_unit_id=unit_id,
        related_documents=gettext("Quality objectives report %(year)s", year=plan.year),
        description=gettext(
            "Quality objective not achieved in %(year)s: %(objective)s\nTarget: %(target)s — "
            "achieved: %(actual)s\nReason: %(reason)s\nDirection: %(direction)s",
            year=plan.year, objective=objective.objective, target=format_target(objective),
            actual=row.actual or "", reason=row.reason or "", direction=row.direction or "",
        ),
        requested_on=today(), requester_id=user.id, created_by_id=user.id, state="draft",
        signs=["objective_risk"],
    )
    db.session.add(ticket)
    row.ticket = ticket
    tickets.record_creation(user, ticket)
    db.session.commit()
    return ticket


# --- deadlines and the agency summary --------------------------------------------------------

def _flag(done_on: datetime.date | None, due: datetime.date, on: datetime.date) -> str:
    """ok / late (done after the due date) / missing (not done, due date passed) / pending."""
    if done_on is not None:
        return "late" if done_on > due else "ok"
    return "missing" if on > due else "pending"


def current_plans(year: int) -> dict:
    """The plan in force (or being prepared) for each owner of a year: {unit_id or None: plan}."""
    plans = db.session.scalars(
        select(ObjectivePlan).where(ObjectivePlan.year == year, ObjectivePlan.state != "superseded")
        .options(selectinload(ObjectivePlan.report).selectinload(ObjectiveReport.rows),
                 selectinload(ObjectivePlan.rows), selectinload(ObjectivePlan.replaces))
        .order_by(ObjectivePlan.revision)
    ).all()
    chosen = {}
    for plan in plans:
        kept = chosen.get(plan.unit_id)
        # the approved revision stays in force while a newer one is still a draft
        if kept is None or kept.state != "approved" or plan.state == "approved":
            chosen[plan.unit_id] = plan
    return chosen


def status_row(owner, plan: ObjectivePlan | None, year: int, on: datetime.date) -> dict:
    report = plan.report if plan else None
    approved_plan_on = plan.approved_on if plan and plan.state == "approved" else None
    if plan and plan.replaces_id and plan.state == "approved":
        first = plan.replaces
        approved_plan_on = first.approved_on if first and first.approved_on else approved_plan_on
    approved_report = report if report and report.state == "approved" else None
    rows = approved_report.rows if approved_report else []
    achieved = sum(1 for r in rows if r.achieved)
    return {
        "owner": owner, "plan": plan, "report": report,
        "plan_flag": _flag(approved_plan_on, plan_due(year), on),
        "report_flag": _flag(approved_report.approved_on if approved_report else None, report_due(year), on),
        "objectives": len(rows), "achieved": achieved,
        "rate": round(100 * achieved / len(rows)) if rows else None,
    }


def summary(year: int, on: datetime.date | None = None) -> dict:
    """Every in-scope unit's and the agency's plan/report status and achievement rate."""
    on = on or today()
    plans = current_plans(year)
    units = db.session.scalars(
        select(Unit).where(Unit.active.is_(True), Unit.in_qms_scope.is_(True)).order_by(Unit.code)
    ).all()
    rows = [status_row(None, plans.get(None), year, on)]
    rows += [status_row(unit, plans.get(unit.id), year, on) for unit in units]
    total = sum(r["objectives"] for r in rows)
    achieved = sum(r["achieved"] for r in rows)
    return {"year": year, "rows": rows, "objectives": total, "achieved": achieved,
            "rate": round(100 * achieved / total) if total else None}


@functools.cache
def _summary_counts_statement():
    """Built once, the first and last year parameters (the review inputs run it on every
    request, for the years of a period)."""
    achieved = func.sum(case((ReportRow.achieved.is_(True), 1), else_=0))
    return (
        select(ObjectivePlan.year, ObjectivePlan.unit_id, ObjectivePlan.state, ObjectiveReport.state,
               func.count(ReportRow.id), achieved)
        .outerjoin(ObjectiveReport, ObjectiveReport.plan_id == ObjectivePlan.id)
        .outerjoin(ReportRow, ReportRow.report_id == ObjectiveReport.id)
        .where(ObjectivePlan.year.between(bindparam("first_year", type_=Integer), bindparam("last_year", type_=Integer)),
               ObjectivePlan.state != "superseded")
        .group_by(ObjectivePlan.id, ObjectivePlan.year, ObjectivePlan.unit_id, ObjectivePlan.state,
                  ObjectivePlan.revision, ObjectiveReport.state)
        .order_by(ObjectivePlan.revision)
    )


def summary_counts(years: range, units: list) -> dict[int, dict]:
    """For each of `years` (a period's, one after the other), what `summary` counts — every
    in-scope unit's and the agency's objectives and achieved objectives, and the rates — in one
    grouped query (`units`: the agency's units, already loaded; those active and in the QMS
    scope are its rows, in code order)."""
    found = kept_rows(_summary_counts_statement(), {"first_year": years[0], "last_year": years[-1]})
    chosen: dict = {}
    for year, unit_id, state, report_state, rows, done in found:  # as current_plans chooses
        kept = chosen.get((year, unit_id))
        if kept is None or kept[0] != "approved" or state == "approved":
            chosen[(year, unit_id)] = (state, (rows or 0, done or 0) if report_state == "approved" else (0, 0))
    owners = [None] + sorted((u for u in units if u.active and u.in_qms_scope), key=lambda u: u.code)
    result = {}
    for year in years:
        rows = []
        for owner in owners:
            total, done = chosen.get((year, owner.id if owner else None), (None, (0, 0)))[1]
            rows.append({"owner": owner, "objectives": total, "achieved": done,
                         "rate": round(100 * done / total) if total else None})
        total, done = sum(r["objectives"] for r in rows), sum(r["achieved"] for r in rows)
        result[year] = {"year": year, "rows": rows, "objectives": total, "achieved": done,
                        "rate": round(100 * done / total) if total else None}
    return result


def rates_by_year(years: list[int], units: list) -> list[tuple[int, int | None]]:
    """Each year's agency-wide achievement rate, as `summary` gives it, in one grouped statement
    (`units`: the units a summary has rows for, already loaded)."""
    if not years:  # a summary of a year before the agency's first plan
        return []
    counts = summary_counts(range(min(years), max(years) + 1), units)
    return [(year, counts[year]["rate"]) for year in years]
