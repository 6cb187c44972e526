"""Management review rules (5.8): creation, inputs gathered from the records, content,
transitions, follow-up tickets, comments. Shared by pages, API and CLI."""
import datetime
import functools
from urllib.parse import urlencode

from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import Date, Integer, String, bindparam, case, cast, func, literal, null, select, union_all
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import flag_modified

from app.extensions import db
from app.objectives import services as objectives
from app.organisation.models import QmsUser, Unit
from app.reviews import workflow
from app.reviews.models import (
    InternalAudit, Review, ReviewAction, ReviewComment, ReviewItem, ReviewPresentation,
)
from app.tenancy import kept_rows
from app.tickets import services as tickets
from app.tickets import vocabulary
from app.tickets.models import PERIOD_FIGURES, Nonconformity, Ticket
from app.ui import ListedRecord, listed_records, related_columns
from app.workflow import (
    STALE, Conflict, Forbidden, Invalid, NotFound, WorkflowError, acted, commit, get_by_id, id_conditions,
    looks_like_id, parse_date, run, today,
)

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
    "nc_source": _l("from source: %(name)s"),
    "nc_audit": _l("Nonconformities found by internal audits"),
    "tickets_total": _l("Tickets opened"),
    "tickets_of_unit": _l("requested or carried out by %(name)s"),
    "tickets_source": _l("from source: %(name)s"),
    "tickets_state": _l("now in state: %(name)s"),
    "tickets_overdue_on": _l("Tickets overdue on %(name)s"),
    "tickets_ineffective": _l("Tickets closed as not effective"),
    "tickets_audit": _l("Tickets opened from internal audits"),
    "audits": _l("Internal audits recorded"),
    "objectives_rate": _l("Objectives achieved (approved reports of %(name)s)"),
    "objectives_unit": _l("%(name)s"),
    "risk_tickets": _l("Tickets opened from risk analysis"),
    "risk_closed": _l("of which closed as effective"),
    "improvement_tickets": _l("Preventive / improvement tickets opened"),
    # kept for the figures stored by reviews gathered before these two were corrected
    "tickets_unit": _l("requested by %(name)s"),
    "tickets_overdue": _l("Tickets overdue today"),
}


@functools.lru_cache(maxsize=1024)
def _query(pairs: tuple) -> str:
    """urlencode, kept: the inputs' 40 links repeat the same dates, ids and codes."""
    return urlencode(pairs)


def _tickets_link(params: dict) -> str:
    return "/tickets/list/?" + _query(tuple(params.items()))


MONITORING_SOURCES = ("process_monitoring", "data_analysis", "process_results", "conformity_results")


def _nc_link(start, end, unit=None, source=None) -> str:
    """The NC list's arguments (tickets.services.nonconformity_list_query) behind a figure."""
    query = {"from": start.isoformat(), "to": end.isoformat()}
    if unit is not None:
        query["unit"] = unit
    if source is not None:
        query["source"] = source
    return "/nonconformities/list/?" + _query(tuple(query.items()))


def _figure(key, value, link=None, name=None) -> dict:
    return {"key": key, "value": value, "link": link, "name": name}


def input_counts_query(start: datetime.date, end: datetime.date, user, on: datetime.date):
    """Every count of the inputs in one statement: a UNION ALL of GROUP BYs over the NCs and
    tickets `user` sees (the lists' own conditions: nonconformity_visibility and
    ticket_list_query), and the internal audits of the period. The tickets of the period are
    read once, grouped by every column a figure counts by (ix_ticket_period holds them).
    Each part counts a column of its table: the agency's condition (app.tenancy) is added to
    the ORM entities a statement selects, and `count(*)` selects none."""
    def part(kind, value, key=None, n1=None, n2=None):
        return [literal(kind, String).label("kind"),
                cast(key if key is not None else null(), String).label("key"),  # typed NULLs (PostgreSQL)
                cast(n1 if n1 is not None else null(), Integer).label("n1"),
                cast(n2 if n2 is not None else null(), Integer).label("n2"),
                cast(value, Integer).label("value")]

    period_columns = [getattr(Ticket, name) for name in PERIOD_FIGURES]
    return union_all(
        select(*part("nc", func.count(Nonconformity.id), Nonconformity.source, Nonconformity.unit_id))
        .where(tickets.nonconformity_visibility(user), Nonconformity.detected_on >= start,
               Nonconformity.detected_on <= end).group_by(Nonconformity.source, Nonconformity.unit_id),
        select(*part("ticket", func.count(Ticket.id), Ticket.source + "|" + Ticket.state + "|" + Ticket.kind,
                     Ticket.requesting_unit_id, Ticket.implementing_unit_id))
        .where(tickets.ticket_visibility(user), Ticket.requested_on >= start, Ticket.requested_on <= end)
        .group_by(*period_columns),
        select(*part("overdue", func.count(Ticket.id))).where(tickets.ticket_visibility(user), tickets.overdue_condition(on)),
        select(*part("audits", func.count(InternalAudit.id))).where(InternalAudit.done_on >= start, InternalAudit.done_on <= end),
    )


_COUNT_STATEMENTS = tickets.KeptStatements(100)  # people who see only their own: few open the inputs


def _counts_statement(user):
    """input_counts_query with the period and the day as parameters, kept per way of seeing the
    records. The agency's condition is added when it runs (app.tenancy)."""
    return _COUNT_STATEMENTS.get(tickets.visibility_key(user), lambda: input_counts_query(
        bindparam("start", type_=Date), bindparam("end", type_=Date), user, bindparam("on", type_=Date)))


def _input_counts(start: datetime.date, end: datetime.date, user, on: datetime.date) -> dict:
    counts: dict = {"nc": {}, "ticket_unit": {}, "source": {}, "state": {}, "source_state": {}, "kind": {},
                    "overdue": 0, "audits": 0}

    def add(figure, key, value):
        counts[figure][key] = counts[figure].get(key, 0) + value

    found = kept_rows(_counts_statement(user), {"start": start, "end": end, "on": on},
                      shared=tickets.sees_everything(user))
    for kind, key, n1, n2, value in found:
        if kind == "nc":
            counts["nc"][(key, n1)] = value
        elif kind == "ticket":
            source, state, ticket_kind = key.split("|")
            add("source_state", (source, state), value)
            add("source", source, value)
            add("state", state, value)
            add("kind", ticket_kind, value)
            # the list's unit filter takes the tickets a unit requested or carries out
            for unit_id in {n1, n2} - {None}:
                add("ticket_unit", unit_id, value)
        else:
            counts[kind] = value or 0
    return counts


def _sorted(counts: dict) -> list[tuple]:
    """As the lists are read: the largest first, then by key."""
    return sorted(((k, v) for k, v in counts.items() if v), key=lambda item: (-item[1], str(item[0])))


@functools.cache
def _units_statement():
    """The agency's units as the figures and the objectives' rows name them."""
    return select(Unit.id, Unit.code, Unit.name, Unit.active, Unit.in_qms_scope)


@functools.cache
def _earlier_actions_statement():
    """The actions decided by reviews of periods ended before `start`, with their tickets'
    state and number (`ticket.state`, `ticket.number`, `ticket.year`), as plain rows."""
    return (select(ReviewAction.id, ReviewAction.description, ReviewAction.ticket_id,
                   *related_columns(Ticket, "ticket", Ticket.state, Ticket.number, Ticket.year))
            .join(Review, Review.id == ReviewAction.review_id).outerjoin(Ticket, Ticket.id == ReviewAction.ticket_id)
            .where(Review.period_end < bindparam("start", type_=Date)).order_by(ReviewAction.id))


def gather_inputs(start: datetime.date, end: datetime.date, user) -> dict:
    """Figures for the inputs of 5.8.1.1 over a period, each with the list it comes from.
    Every figure with a link counts what that list shows `user`, with its filters and dates.
    A fixed number of queries whatever the number of records: one for every count (grouped),
    the units, the actions of earlier reviews, the objectives of the period's years."""
    on = today()  # overdue is a fact of the day the figures are gathered, and the link keeps that day
    counts = _input_counts(start, end, user, on)
    period = {"from": start.isoformat(), "to": end.isoformat()}
    # the units and the earlier actions as plain rows, each statement's text kept per agency
    # (kept_rows): what the figures and the objectives' rows name them by
    unit_list = kept_rows(_units_statement(), {})
    units = {u.id: u for u in unit_list}
    figures = {key: [] for key in INPUT_SECTIONS}

    earlier = listed_records(kept_rows(_earlier_actions_statement(), {"start": start}))
    Ticket.number_rows(action.ticket for action in earlier)
    closed = [a for a in earlier if a.ticket and a.ticket.state in ("closed", "closed_ineffective", "declined")]
    figures["earlier_actions"] = [_figure("actions_total", len(earlier)),
                                  _figure("actions_closed", len(closed))] + [
        _figure("action", str(workflow_state_label(a.ticket)) if a.ticket else "—",
                f"/tickets/show/{a.ticket_id}" if a.ticket_id else None,
                f"{a.description[:80]} ({a.ticket.display_number if a.ticket else ''})")
        for a in earlier]

    by_source = {}
    by_unit = {}
    for (source, unit_id), value in counts["nc"].items():
        by_source[source] = by_source.get(source, 0) + value
        by_unit[unit_id] = by_unit.get(unit_id, 0) + value
    figures["feedback"] = [_figure("nc_feedback", by_source.get("feedback", 0),
                                   _nc_link(start, end, source="feedback"))]

    years = range(start.year, end.year + 1)  # every year of the period, those between too
    summaries = objectives.summary_counts(years, unit_list)
    for year in years:
        data = summaries[year]
        figures["objectives"].append(_figure(
            "objectives_rate", f"{data['achieved']}/{data['objectives']}"
            + (f" ({data['rate']} %)" if data["rate"] is not None else ""),
            f"/objectives-summary/?year={year}", str(year)))
        for row in data["rows"]:
            if row["rate"] is not None:
                figures["objectives"].append(_figure(
                    "objectives_unit", f"{row['rate']} %", None,
                    row["owner"].name if row["owner"] else str(gettext("The agency (whole)"))))

    nc_rows = [_figure("nc_total", sum(by_unit.values()), _nc_link(start, end))]
    for unit_id, count in _sorted(by_unit):
        nc_rows.append(_figure("nc_unit", count, _nc_link(start, end, unit=unit_id), units[unit_id].name))
    nc_rows.append(_figure("tickets_total", sum(counts["state"].values()), _tickets_link(period)))
    for unit_id, count in _sorted(counts["ticket_unit"]):
        nc_rows.append(_figure("tickets_of_unit", count, _tickets_link({**period, "unit": unit_id}),
                               units[unit_id].name))
    for source, count in _sorted(counts["source"]):
        nc_rows.append(_figure("tickets_source", count, _tickets_link({**period, "source": source}),
                               vocabulary.label(vocabulary.SOURCES, source)))
    for state, count in _sorted(counts["state"]):
        nc_rows.append(_figure("tickets_state", count, _tickets_link({**period, "state": state}),
                               str(tickets.workflow.STATES[state])))
    nc_rows.append(_figure("tickets_overdue_on", counts["overdue"],
                           _tickets_link({"overdue": "1", "overdue_on": on.isoformat()}), on.strftime("%d/%m/%Y")))
    nc_rows.append(_figure("tickets_ineffective", counts["state"].get("closed_ineffective", 0),
                           _tickets_link({**period, "state": "closed_ineffective"})))
    figures["nonconformities"] = nc_rows

    monitoring = {source: by_source[source] for source in MONITORING_SOURCES if by_source.get(source)}
    figures["monitoring"] = [_figure("nc_monitoring", sum(monitoring.values()))] + [
        _figure("nc_source", count, _nc_link(start, end, source=source), vocabulary.label(vocabulary.SOURCES, source))
        for source, count in _sorted(monitoring)]
    figures["audit"] = [
        _figure("audits", counts["audits"]),
        _figure("nc_audit", by_source.get("internal_audit", 0), _nc_link(start, end, source="internal_audit")),
        _figure("tickets_audit", counts["source"].get("internal_audit", 0),
                _tickets_link({**period, "source": "internal_audit"})),
    ]
    figures["risks"] = [
        _figure("risk_tickets", counts["source"].get("risk_analysis", 0),
                _tickets_link({**period, "source": "risk_analysis"})),
        _figure("risk_closed", counts["source_state"].get(("risk_analysis", "closed"), 0),
                _tickets_link({**period, "source": "risk_analysis", "state": "closed"})),
    ]
    figures["opportunities"] = [_figure("improvement_tickets", counts["kind"].get("preventive", 0),
                                        _tickets_link({**period, "kind": "preventive"}))]
    return figures


def workflow_state_label(ticket) -> str:
    return tickets.workflow.STATES.get(ticket.state, ticket.state)


def figure_label(figure: dict) -> str:
    return str(FIGURE_LABELS[figure["key"]]) % {"name": figure.get("name") or ""}


# --- reviews -----------------------------------------------------------------------

REVIEW_LIST_ARGS = ("year", "form", "state")


def review_list_query(args):
    """The reviews the list's address asks for: of a year, of a form, in a state."""
    query = select(Review).where(*id_conditions(args, {"year": Review.year}))
    if args.get("form") in workflow.FORMS:
        query = query.where(Review.form == args["form"])
    if args.get("state") in workflow.STATES:
        query = query.where(Review.state == args["state"])
    return query


_REVIEW_ROW = (Review.id, Review.year, Review.number, Review.form, Review.period_start, Review.period_end,
               Review.state, Review.approved_on)


def review_page(query, page: int, page_size: int, *columns) -> list[ListedRecord]:
    """A page of the list, the latest period first, as plain rows of what the list shows (not
    as records, nor their contents)."""
    reviews = listed_records(db.session.execute(
        query.with_only_columns(*_REVIEW_ROW, *columns).order_by(Review.period_end.desc(), Review.id.desc())
        .limit(page_size).offset((page - 1) * page_size)))
    for review in reviews:
        review.display_number = Review.number_text(review.number)
    return reviews


def get_review(review_id, *options) -> Review:
    review = get_by_id(Review, review_id, *options)
    if review is None:
        raise NotFound(gettext("Review not found."))
    return review


def review_for_page(review_id) -> Review:
    """get_review with its follow-up actions, each with its focal unit and ticket, read in one
    statement (not two for each action)."""
    actions = selectinload(Review.actions)
    return get_review(review_id, actions.joinedload(ReviewAction.focal_unit), actions.joinedload(ReviewAction.ticket))


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
                    figures=gather_inputs(period_start, period_end, user), inputs={})
    review.items = [ReviewItem(position=i) for i in range(1, len(workflow.DISCUSSION_TOPICS) + 1)]
    db.session.add(review)
    workflow.record(review, "create", None, "draft", user)
    db.session.commit()
    return review


def _writable(user, review, parts=()) -> None:
    """The one gate for writing a review's content, whatever the path (page, API, demo): the
    secretary (or Admin) while the review is editable, nobody once it is finished. Once the
    QMS report is approved, what it holds (the inputs) is frozen; the notice may still change."""
    workflow.workflow_for(review).check("write", user, review)
    if review.report_approved_on and set(parts) & REPORT_PARTS:
        raise Conflict(gettext("The QMS report is approved: its inputs can no longer be changed."))


def may_write(user, review, parts=()) -> bool:
    """Whether the gate lets the user write these parts now (what the page offers)."""
    try:
        _writable(user, review, parts)
    except WorkflowError:
        return False
    return True


# --- the content of a review: one shape for the page, the API and the demo -------------------

OUTPUT_TEXTS = ("general_conclusion", "improvement_needs", "qms_change_needs", "resource_needs")
MEETING_PARTS = ("meeting_date", "start_time", "end_time", "place", "chair_id", "secretary_id",
                 "attendee_ids", "other_attendees", "items", "presentations")
CONTENT_PARTS = MEETING_PARTS + ("inputs", "actions") + OUTPUT_TEXTS
REPORT_PARTS = {"inputs", "figures"}  # what the QMS operation report holds
ROW_FIELDS = {
    "items": ("position", "discussion", "conclusion"),
    "presentations": ("id", "reporter", "summary"),
    "actions": ("id", "description", "focal_unit_id", "due_date", "ticket_id"),
}
CONTENT_LABELS = {
    "meeting_date": _l("Meeting held on"), "start_time": _l("Start time"), "end_time": _l("End time"),
    "place": _l("Place"), "chair_id": _l("Chair"), "secretary_id": _l("Secretary of the meeting"),
    "attendee_ids": _l("Attendees"), "other_attendees": _l("Other attendees"),
    "inputs": _l("Inputs of the review"), "items": _l("4.2 Discussion"), "presentations": _l("4.1 Reports"),
    "actions": _l("Follow-up actions"), "general_conclusion": _l("General conclusion"),
    "improvement_needs": _l("Improvement requirements"), "qms_change_needs": _l("Needs for changes to the QMS"),
    "resource_needs": _l("Resource needs"),
    "id": _l("Row"), "position": _l("No."), "discussion": _l("Discussion item"),
    "conclusion": _l("The chair's conclusion"), "reporter": _l("Reporter"), "summary": _l("Summary of the report"),
    "description": _l("What must be done"), "focal_unit_id": _l("Focal unit"), "due_date": _l("Due date"),
    "ticket_id": _l("Ticket"),
}


def content_of(review: Review) -> dict:
    """A review's content in the shape save_content takes: the page renders it, the API
    returns it, and it can be sent back as it is."""
    content = {"version": review.version,
               "inputs": {key: (review.inputs or {}).get(key) or None for key in INPUT_SECTIONS},
               **{name: getattr(review, name) for name in OUTPUT_TEXTS},
               "actions": [{"id": a.id, "description": a.description, "focal_unit_id": a.focal_unit_id,
                            "due_date": a.due_date.isoformat(), "ticket_id": a.ticket_id} for a in review.actions]}
    if review.form == "meeting":
        content.update({
            "meeting_date": review.meeting_date.isoformat() if review.meeting_date else None,
            **{name: getattr(review, name) for name in ("start_time", "end_time", "place", "chair_id",
                                                        "secretary_id", "other_attendees")},
            "attendee_ids": [u.id for u in review.attendees],
            "items": [{"position": i.position, "discussion": i.discussion, "conclusion": i.conclusion}
                      for i in review.items],
            "presentations": [{"id": p.id, "reporter": p.reporter, "summary": p.summary}
                              for p in review.presentations],
        })
    return content


class _Refusals:
    """The problems found in the content sent, each naming its field by its label."""

    def __init__(self):
        self.errors, self.labels = {}, []

    def add(self, key: str, label, problem) -> None:
        self.errors[key] = gettext("%(field)s: %(problem)s", field=label, problem=problem)
        self.labels.append(str(label))

    def parse(self, key: str, label, parse, raw):
        try:
            return parse(raw)
        except ValueError as problem:
            self.add(key, label, str(problem))
            return None


def _text(limit=None):
    def parse(raw):
        if raw is not None and not isinstance(raw, str):
            raise ValueError(gettext("Enter text."))
        value = (raw or "").strip() or None
        if value and limit and len(value) > limit:
            raise ValueError(gettext("At most %(count)s characters.", count=limit))
        return value
    return parse


def _required(parse):
    def required(raw):
        value = parse(raw)
        if value is None:
            raise ValueError(gettext("This field is required."))
        return value
    return required


def _time(raw):
    value = _text()(raw)
    if value:
        try:
            datetime.datetime.strptime(value, "%H:%M")
        except ValueError:
            raise ValueError(gettext("Enter a time as HH:MM.")) from None
    return value


def _date(raw):
    if raw is not None and not isinstance(raw, str):
        raise ValueError(gettext("Enter a date as dd/mm/yyyy."))
    value = (raw or "").strip()
    day = parse_date(value) if value else None
    if value and day is None:
        raise ValueError(gettext("Enter a date as dd/mm/yyyy."))
    return day


def _not_future(raw):
    value = _date(raw)
    if value and value > today():
        raise ValueError(gettext("cannot be in the future."))
    return value


def _ref(model, kept=()):
    """An id of an existing, active row (an inactive one only where it is already kept):
    never an object, never a new row."""
    def parse(raw):
        if raw in (None, ""):
            return None
        if not looks_like_id(raw):
            raise ValueError(gettext("Give the id of an existing entry."))
        row = get_by_id(model, raw)
        if row is None or not (row.active or row.id in kept):
            raise ValueError(gettext("Choose an existing, active entry."))
        return row
    return parse


def _rows(refusals, data, part) -> list[dict]:
    """The rows sent for a part: a list of objects with known fields only."""
    rows = data[part]
    label = CONTENT_LABELS[part]
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        refusals.add(part, label, gettext("Send a list of rows."))
        return []
    for number, row in enumerate(rows):
        for name in set(row) - set(ROW_FIELDS[part]):
            refusals.add(f"{part}.{number}.{name}", _row_label(part, number),
                         gettext("There is no field “%(name)s”.", name=name))
    return rows


def _row_label(part, number, name=None) -> str:
    label = gettext("%(part)s, row %(row)s", part=CONTENT_LABELS[part], row=number + 1)
    return gettext("%(row)s — %(field)s", row=label, field=CONTENT_LABELS[name]) if name else label


def _own_row(rows, raw):
    """The review's own row with that id; None for a new row."""
    if raw in (None, ""):
        return None
    row = next((r for r in rows if str(r.id) == str(raw)), None)
    if row is None:
        raise ValueError(gettext("This row does not belong to this review."))
    return row


def save_content(user, review_id, data: dict, regather: bool = False) -> Review:
    """Save what the secretary writes, all at once: the page's single form and the API's
    PUT .../content both come here. A part left out stays as it is; rows sent replace the
    rows of their part (a row with its id is kept and updated); the inputs may also be
    gathered again from the records in the same save. Nothing is saved unless all is valid."""
    review = get_review(review_id)
    if not isinstance(data, dict):
        raise Invalid(gettext("Send the content as one JSON object."))
    _writable(user, review, set(data) | ({"figures"} if regather else set()))
    version = data.get("version")
    if version not in (None, "") and str(version) != str(review.version):
        raise Conflict(str(STALE))

    refusals, values = _Refusals(), {}
    for name in set(data) - set(CONTENT_PARTS) - {"version"}:
        refusals.add(name, name, gettext("there is no such part of a review."))
    if review.form != "meeting":
        for name in set(data) & set(MEETING_PARTS):
            refusals.add(name, CONTENT_LABELS[name], gettext("only the minutes of a meeting have this part."))
    parsers = {
        "meeting_date": _not_future, "start_time": _time, "end_time": _time, "place": _text(200),
        "other_attendees": _text(), "chair_id": _ref(QmsUser, {review.chair_id}),
        "secretary_id": _ref(QmsUser, {review.secretary_id}), **{name: _text() for name in OUTPUT_TEXTS},
    }
    for name, parse in parsers.items():
        if name in data and name not in refusals.errors:
            values[name] = refusals.parse(name, CONTENT_LABELS[name], parse, data[name])
    start, end = values.get("start_time", review.start_time), values.get("end_time", review.end_time)
    if start and end and end < start and "end_time" not in refusals.errors:
        refusals.add("end_time", CONTENT_LABELS["end_time"], gettext("is before the start time."))

    if "attendee_ids" in data and "attendee_ids" not in refusals.errors:
        ids = data["attendee_ids"]
        if not isinstance(ids, list):
            refusals.add("attendee_ids", CONTENT_LABELS["attendee_ids"], gettext("Send a list of ids."))
        else:
            parse = _ref(QmsUser, {u.id for u in review.attendees})
            attendees = [refusals.parse("attendee_ids", CONTENT_LABELS["attendee_ids"], parse, raw) for raw in ids]
            values["attendees"] = list(dict.fromkeys(a for a in attendees if a))

    if "inputs" in data and "inputs" not in refusals.errors:
        if not isinstance(data["inputs"], dict):
            refusals.add("inputs", CONTENT_LABELS["inputs"], gettext("Send an object of texts by section."))
        else:
            inputs = dict(review.inputs or {})
            for key, raw in data["inputs"].items():
                if key not in INPUT_SECTIONS:
                    refusals.add(f"inputs.{key}", CONTENT_LABELS["inputs"],
                                 gettext("There is no section “%(name)s”.", name=key))
                    continue
                inputs[key] = refusals.parse(f"inputs.{key}", INPUT_SECTIONS[key], _text(), raw)
            values["inputs"] = {key: text for key, text in inputs.items() if text}

    if "items" in data and "items" not in refusals.errors:
        by_position = {item.position: item for item in review.items}
        values["items"] = []
        for number, row in enumerate(_rows(refusals, data, "items")):
            position = row.get("position")
            item = by_position.get(int(position)) if looks_like_id(position) else None
            if item is None:
                refusals.add(f"items.{number}.position", _row_label("items", number, "position"),
                             gettext("Choose an existing, active entry."))
                continue
            texts = {part: refusals.parse(f"items.{number}.{part}", _row_label("items", number, part),
                                          _text(), row[part]) for part in ("discussion", "conclusion") if part in row}
            values["items"].append((item, texts))

    if "presentations" in data and "presentations" not in refusals.errors:
        values["presentations"] = []
        for number, row in enumerate(_rows(refusals, data, "presentations")):
            def field(name, parse):
                return refusals.parse(f"presentations.{number}.{name}",
                                      _row_label("presentations", number, name), parse, row.get(name))
            values["presentations"].append((field("id", lambda raw: _own_row(review.presentations, raw)),
                                            field("reporter", _required(_text(200))),
                                            field("summary", _required(_text()))))

    if "actions" in data and "actions" not in refusals.errors:
        values["actions"] = []
        for number, row in enumerate(_rows(refusals, data, "actions")):
            def field(name, parse):
                return refusals.parse(f"actions.{number}.{name}", _row_label("actions", number, name),
                                      parse, row.get(name))
            action = field("id", lambda raw: _own_row(review.actions, raw))
            kept_unit = {action.focal_unit_id} if action else set()
            kept_due = action.due_date if action else None

            def due(raw):
                value = _required(_date)(raw)
                if value < today() and value != kept_due:
                    raise ValueError(gettext("cannot be in the past."))
                return value
            values["actions"].append((action, field("description", _required(_text())),
                                      field("focal_unit_id", _required(_ref(Unit, kept_unit))),
                                      field("due_date", due)))

    for part in ("presentations", "actions"):
        kept = [row[0] for row in values.get(part, []) if row[0]]
        if len(kept) != len(set(kept)):
            refusals.add(part, CONTENT_LABELS[part], gettext("A row is given twice."))
    if refusals.errors:
        raise Invalid(gettext("Some fields are missing or invalid: %(fields)s.",
                              fields=", ".join(dict.fromkeys(refusals.labels))), refusals.errors)
    _apply(review, values)
    workflow.record(review, "write", review.state, review.state, user)
    if regather:
        review.figures = gather_inputs(review.period_start, review.period_end, user)
        workflow.record(review, "refresh_inputs", review.state, review.state, user)
    flag_modified(review, "inputs")  # every save is a new version of the review, rows included
    commit()
    return review


def _apply(review: Review, values: dict) -> None:
    for name in ("meeting_date", "start_time", "end_time", "place", "other_attendees") + OUTPUT_TEXTS:
        if name in values:
            setattr(review, name, values[name])
    for name in ("chair_id", "secretary_id"):
        if name in values:
            setattr(review, name, values[name].id if values[name] else None)
    if "attendees" in values:
        review.attendees = values["attendees"]
    if "inputs" in values:
        review.inputs = values["inputs"]
    for item, texts in values.get("items", []):
        for part, text in texts.items():
            setattr(item, part, text)
    if "presentations" in values:
        rows = []
        for presentation, reporter, summary in values["presentations"]:
            presentation = presentation or ReviewPresentation()
            presentation.reporter, presentation.summary = reporter, summary
            rows.append(presentation)
        review.presentations = rows
    if "actions" in values:
        rows = []
        for action, description, unit, due_date in values["actions"]:
            action = action or ReviewAction()
            action.description, action.focal_unit_id, action.due_date = description, unit.id, due_date
            rows.append(action)
        review.actions = rows


def add_comment(user, review_id, text: str) -> ReviewComment:
    review = get_review(review_id)
    if review.form != "report":
        raise Conflict(gettext("Comments are taken on the QMS report of a report-and-notice review."))
    workflow.workflow_for(review).check("comment", user, review)
    if not (text or "").strip():
        raise Invalid(gettext("Some fields are missing or invalid."), {"text": gettext("This field is required.")})
    comment = ReviewComment(review=review, author_id=user.id, text=text.strip())
    db.session.add(comment)
    acted(workflow.workflow_for(review), user, review, "comment")
    db.session.commit()
    return comment


def apply_transition(user, review_id, name: str, raw: dict, version=None) -> Review:
    review = get_review(review_id)
    return run(workflow.workflow_for(review), user, review, name, raw, version)


# --- the record itself: deleted or re-dated only while being prepared ---------------------

def ensure_draft(user, review) -> None:
    """A review is deleted, or its period changed, only while being prepared and by the
    secretary who writes it; past that it is part of the record, for Admin too."""
    workflow.workflow_for(review).check("prepare", user, review)


def delete_review(user, review_id) -> None:
    """A review being prepared is deleted by its secretary (a duplicate, a wrong period)."""
    review = get_review(review_id)
    ensure_draft(user, review)
    db.session.delete(review)
    db.session.commit()


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
    review.figures = gather_inputs(review.period_start, review.period_end, user)
    workflow.record(review, "refresh_inputs", review.state, review.state, user,
                    gettext("New period: %(start)s – %(end)s", start=f"{review.period_start:%d/%m/%Y}",
                            end=f"{review.period_end:%d/%m/%Y}"))


# --- warnings for the dashboard -------------------------------------------------------

def warnings(on: datetime.date | None = None) -> list[str]:
    """A year without an approved review; a review planned before the year's audit is done."""
    on = on or today()
    year = on.year
    final = Review.state.in_(workflow.FINAL_STATES)
    audits = select(func.count(InternalAudit.id)).where(InternalAudit.year == year).scalar_subquery()
    done, planned, audited = db.session.execute(  # one query for the three counts
        select(func.count(case((final, Review.id))), func.count(case((~final, Review.id))), audits)
        .select_from(Review).where(Review.year == year)).one()
    return warning_messages(year, done, planned, audited)


def warning_messages(year: int, done: int, planned: int, audited: int) -> list[str]:
    """The warnings, from the year's approved and planned reviews and its internal audits."""
    messages = []
    if not done:
        messages.append(gettext("%(year)s has no approved management review yet.", year=year))
    if planned and not audited:
        messages.append(gettext(
            "A management review of %(year)s is being prepared but the year's internal audit "
            "has not been recorded as done.", year=year))
    return messages
