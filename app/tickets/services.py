"""Ticket and nonconformity rules as plain functions, shared by the pages and the REST API.

Every change of a ticket goes through `apply_transition` (or the few helpers for
progress reports, change requests and files), which re-checks visibility (404), state
(409), role (403), version (409) and fields (422) before acting.
"""
import datetime

from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import and_, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.organisation import roles
from app.organisation.models import QmsUser, Unit
from app.organisation.services import get_settings
from app.tickets import files, vocabulary, workflow
from app.workflow import (  # noqa: F401  (re-exported: the views and API use services.*)
    STALE, Conflict, Forbidden, Invalid, NotFound, WorkflowError, available, check_transition,
    choices_for, parse_fields, parse_value, today,
)
from app.tickets.models import (
    Attachment, Box2Revision, ChangeRequest, Nonconformity, ProgressReport,
    Ticket, TicketCounter, TicketEvent,
)

SEE_ALL_ROLES = (roles.ADMIN, roles.AUDITOR, roles.ISO_SECRETARY, roles.ISO_LEADER,
                 roles.TOP_LEADER)


# --- visibility ---------------------------------------------------------------

def sees_everything(user) -> bool:
    return any(role.name in SEE_ALL_ROLES for role in user.roles)


def ticket_visibility(user):
    """SQL condition for the tickets a user may see (SPEC §1, row-level visibility)."""
    if sees_everything(user):
        return true()
    conditions = [
        Ticket.created_by_id == user.id, Ticket.requester_id == user.id,
        Ticket.assignee_id == user.id, Ticket.implementer_id == user.id,
        Ticket.verifier_id == user.id,
    ]
    if user.unit_id:
        conditions += [
            Ticket.requesting_unit_id == user.unit_id,
            Ticket.assignee_unit_id == user.unit_id,
            Ticket.implementing_unit_id == user.unit_id,
        ]
    return or_(*conditions)


def nonconformity_visibility(user):
    if sees_everything(user):
        return true()
    conditions = [Nonconformity.created_by_id == user.id, Nonconformity.detected_by_id == user.id]
    if user.unit_id:
        conditions.append(Nonconformity.unit_id == user.unit_id)
    return or_(*conditions)


def get_ticket(user, ticket_id) -> Ticket:
    ticket = db.session.scalar(
        select(Ticket).where(Ticket.id == ticket_id, ticket_visibility(user))
    )
    if ticket is None:
        raise NotFound(gettext("Ticket not found."))
    return ticket


def get_nonconformity(user, nc_id) -> Nonconformity:
    nc = db.session.scalar(
        select(Nonconformity).where(Nonconformity.id == nc_id, nonconformity_visibility(user))
    )
    if nc is None:
        raise NotFound(gettext("Nonconformity not found."))
    return nc


def may_open_for(user, unit_id) -> bool:
    """Staff and unit heads open tickets and NCs for their own unit; auditors and Ban ISO for any."""
    return sees_everything(user) or (unit_id is not None and user.unit_id == unit_id)


# --- numbering -----------------------------------------------------------------

def next_number(year: int) -> int:
    """Next consecutive number of a year. The counter row's update lock makes
    concurrent callers wait for each other, so no number is given twice."""
    for _ in range(3):
        number = db.session.execute(
            update(TicketCounter).where(TicketCounter.year == year)
            .values(last_number=TicketCounter.last_number + 1)
            .returning(TicketCounter.last_number)
        ).scalar()
        if number is not None:
            return number
        try:
            with db.session.begin_nested():
                db.session.add(TicketCounter(year=year, last_number=0))
        except IntegrityError:
            pass  # another transaction created the year's row first: update it
    raise Conflict(gettext("Could not number the ticket, please try again."))


def give_number(ticket: Ticket, on: datetime.date) -> None:
    if ticket.number is None:
        ticket.year = on.year
        ticket.number = next_number(on.year)


# --- fields --------------------------------------------------------------------

# --- transitions ---------------------------------------------------------------

def available_transitions(user, ticket: Ticket) -> list[workflow.Transition]:
    return available(workflow.TRANSITIONS, user, ticket)


def _record(ticket, name, from_state, to_state, user, comment=None, data=None):
    db.session.add(TicketEvent(
        ticket=ticket, name=name, from_state=from_state, to_state=to_state,
        actor_id=user.id if user else None, comment=comment, data=data,
    ))


def _event_data(values: dict) -> dict:
    data = {}
    for key, value in values.items():
        if isinstance(value, (QmsUser, Unit)):
            data[key] = {"id": value.id, "name": str(value)}
        elif isinstance(value, datetime.date):
            data[key] = value.isoformat()
        elif value is not None:
            data[key] = value
    return data


def _in_unit(user: QmsUser, unit: Unit, field: str) -> None:
    if user.unit_id != unit.id:
        raise Invalid(
            gettext("Some fields are missing or invalid."),
            {field: gettext("%(person)s does not work in %(unit)s.", person=user.get_full_name(), unit=unit.name)},
        )


def _keep_box2(ticket: Ticket, user, reason: str) -> None:
    """Box 2 amendments are history: keep what is about to be replaced."""
    if ticket.cause or ticket.measures:
        db.session.add(Box2Revision(
            ticket=ticket, cause=ticket.cause, measures=ticket.measures,
            implementing_unit_id=ticket.implementing_unit_id, implementer_id=ticket.implementer_id,
            due_date=ticket.due_date, reason=reason, changed_by_id=user.id,
        ))


def _effect(name: str, user, ticket: Ticket, v: dict) -> None:
    """What each transition writes on the ticket besides its state."""
    if name == "submit":
        give_number(ticket, today())
    elif name == "forward":
        ticket.signs = v["signs"]
    elif name == "assign":
        _in_unit(v["assignee"], v["assignee_unit"], "assignee")
        ticket.assignee_unit_id, ticket.assignee_id = v["assignee_unit"].id, v["assignee"].id
    elif name == "propose":
        if v["completion_date"] < today():
            raise Invalid(gettext("Some fields are missing or invalid."),
                          {"completion_date": gettext("The date cannot be in the past.")})
        _keep_box2(ticket, user, gettext("Replaced by a new proposal"))
        ticket.cause, ticket.measures, ticket.due_date = v["cause"], v["measures"], v["completion_date"]
        ticket.implementing_unit_id = ticket.implementing_unit_id or ticket.assignee_unit_id
        ticket.implementer_id = ticket.implementer_id or ticket.assignee_id
    elif name == "approve":
        _in_unit(v["implementer"], v["implementing_unit"], "implementer")
        if v["due_date"] < today():
            raise Invalid(gettext("Some fields are missing or invalid."),
                          {"due_date": gettext("The date cannot be in the past.")})
        ticket.implementing_unit_id = v["implementing_unit"].id
        ticket.implementer_id = v["implementer"].id
        ticket.implementing_unit_head_id = v["implementing_unit"].head_id
        ticket.due_date = v["due_date"]
        ticket.verifier_id = v["verifier"].id if v.get("verifier") else None
        ticket.approved_by_id, ticket.approved_on = user.id, today()
    elif name == "report_done":
        ticket.result_summary, ticket.reported_done_on = v["result_summary"], today()
    elif name == "verify":
        ticket.verification_result, ticket.verified_on = v["result"], v["verified_on"]
        ticket.verified_by_id = user.id
    elif name == "close":
        ticket.evidence_text, ticket.closed_on, ticket.closed_by_id = v["evidence"], today(), user.id


def apply_transition(user, ticket_id: int, name: str, raw: dict, version=None) -> Ticket:
    """Take transition `name` on a ticket for `user`, or raise a WorkflowError."""
    ticket = get_ticket(user, ticket_id)
    transition, values = check_transition(workflow.TRANSITIONS, user, ticket, name, raw, version, workflow.STATES)
    from_state = ticket.state
    _effect(name, user, ticket, values)
    ticket.state = transition.target_for(values)
    comment = values.get(transition.comment_field) if transition.comment_field else None
    _record(ticket, name, from_state, ticket.state, user, comment, _event_data(values))
    if ticket.state == "ineffective":
        _close_ineffective(user, ticket)
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(str(STALE)) from None
    return ticket


def _close_ineffective(user, ticket: Ticket) -> Ticket:
    """5.7: the verifier's 'not achieved' opens a new ticket for Ban ISO, linked to this one."""
    follow_up = Ticket(
        kind=ticket.kind, source="earlier_actions", requesting_unit_id=ticket.requesting_unit_id,
        related_documents=ticket.related_documents,
        description=gettext(
            "Follow-up of ticket %(number)s, whose verification found the action not effective "
            "(%(result)s).\n\nOriginal description:\n%(description)s",
            number=ticket.display_number, result=vocabulary.label(vocabulary.VERIFICATION_RESULTS, ticket.verification_result),
            description=ticket.description,
        ),
        requested_on=today(), requester_id=user.id, created_by_id=user.id,
        state=workflow.FOLLOW_UP_STATE, follows=ticket, signs=["recurring"],
    )
    db.session.add(follow_up)
    give_number(follow_up, today())
    auto = workflow.AUTO_CLOSE_INEFFECTIVE
    ticket.state = auto.target
    ticket.closed_on = today()
    db.session.flush()
    _record(ticket, auto.name, "ineffective", auto.target, None,
            gettext("Follow-up ticket %(number)s", number=follow_up.display_number))
    _record(follow_up, "create_follow_up", None, follow_up.state, user,
            gettext("Opened automatically after ticket %(number)s was found not effective",
                    number=ticket.display_number))
    return follow_up


# --- tickets: creation, edits, implementation -------------------------------------

def check_box1(user, unit_id) -> None:
    if not may_open_for(user, unit_id):
        raise Forbidden(gettext("You may only open tickets for your own unit."))


def ensure_own_draft(user, ticket: Ticket) -> None:
    """Box 1 is edited, and a ticket deleted, only as a draft and only by its author."""
    if ticket.state != "draft":
        raise Conflict(gettext("Only a draft ticket can be changed or deleted."))
    if not workflow.CREATOR.allows(user, ticket):
        raise Forbidden(gettext("Only %(actor)s may do this.", actor=workflow.CREATOR.label))


def record_creation(user, ticket: Ticket) -> None:
    _record(ticket, "create", None, ticket.state, user)


def add_progress_report(user, ticket_id, text, reported_on=None, uploads=()) -> ProgressReport:
    ticket = get_ticket(user, ticket_id)
    if ticket.state != "implementation":
        raise Conflict(gettext("Progress is reported only while the action is being implemented."))
    if not workflow.IMPLEMENTER.allows(user, ticket):
        raise Forbidden(gettext("Only %(actor)s may do this.", actor=workflow.IMPLEMENTER.label))
    if not (text or "").strip():
        raise Invalid(gettext("Some fields are missing or invalid."), {"text": gettext("This field is required.")})
    attachments = checked_attachments(user, uploads, ticket_id=ticket.id)  # all checked first
    report = ProgressReport(ticket=ticket, text=text.strip(), reported_on=reported_on or today(),
                            author_id=user.id, attachments=attachments)
    db.session.add(report)
    db.session.commit()
    return report


def request_change(user, ticket_id, kind, text, new_measures=None, new_due_date=None) -> ChangeRequest:
    ticket = get_ticket(user, ticket_id)
    if ticket.state != "implementation":
        raise Conflict(gettext("Changes are requested only while the action is being implemented."))
    if not workflow.IMPLEMENTER.allows(user, ticket):
        raise Forbidden(gettext("Only %(actor)s may do this.", actor=workflow.IMPLEMENTER.label))
    errors = {}
    if kind not in vocabulary.CHANGE_KINDS:
        errors["kind"] = gettext("This field is required.")
    if not (text or "").strip():
        errors["text"] = gettext("This field is required.")
    if errors:
        raise Invalid(gettext("Some fields are missing or invalid."), errors)
    change = ChangeRequest(ticket=ticket, kind=kind, text=text.strip(), new_measures=new_measures or None,
                           new_due_date=new_due_date, requested_by_id=user.id)
    db.session.add(change)
    db.session.commit()
    return change


def decide_change(user, change_id, approved: bool, comment=None) -> ChangeRequest:
    change = db.session.get(ChangeRequest, change_id)
    if change is None:
        raise NotFound(gettext("Change request not found."))
    ticket = get_ticket(user, change.ticket_id)
    if change.decision != "pending":
        raise Conflict(gettext("This change request has already been decided."))
    if not workflow.ISO_LEADER.allows(user, ticket):
        raise Forbidden(gettext("Only %(actor)s may do this.", actor=workflow.ISO_LEADER.label))
    change.decision = "approved" if approved else "rejected"
    change.decided_by_id, change.decided_at = user.id, datetime.datetime.now()
    change.decision_comment = comment
    if approved and (change.new_measures or change.new_due_date):
        _keep_box2(ticket, user, gettext("Change request approved: %(text)s", text=change.text))
        ticket.measures = change.new_measures or ticket.measures
        ticket.due_date = change.new_due_date or ticket.due_date
    _record(ticket, "change_" + change.decision, ticket.state, ticket.state, user, comment,
            {"change_request": change.id, "kind": change.kind, "text": change.text})
    db.session.commit()
    return change


def checked_attachments(user, uploads, **owner) -> list[Attachment]:
    """Attachments for (name, bytes) uploads; all are checked before any is kept."""
    attachments = []
    for name, data in uploads:
        filename, content_type = files.check_upload(name, data)
        attachments.append(Attachment(filename=filename, content_type=content_type, size=len(data),
                                      data=data, uploaded_by_id=user.id, **owner))
    return attachments


def attach_to_ticket(user, ticket_id, uploads) -> list[Attachment]:
    ticket = get_ticket(user, ticket_id)
    if ticket.state in workflow.FINAL_STATES:
        raise Conflict(gettext("Files cannot be added to a closed ticket."))
    stored = checked_attachments(user, uploads, ticket_id=ticket.id)
    db.session.add_all(stored)
    db.session.commit()
    return stored


def attach_to_nonconformity(user, nc_id, uploads) -> list[Attachment]:
    nc = get_nonconformity(user, nc_id)
    stored = checked_attachments(user, uploads, nonconformity_id=nc.id)
    db.session.add_all(stored)
    db.session.commit()
    return stored


DISPOSITION_FIELDS = (
    workflow.Field("disposition", "choice", _l("Disposition"), choices=vocabulary.DISPOSITIONS),
    workflow.Field("correction_checked", "boolean", _l("Correction checked"), required=False),
)


def decide_disposition(user, nc_id, raw: dict) -> Nonconformity:
    """5.1.1: the unit head decides how the NC is dealt with and checks the correction."""
    nc = get_nonconformity(user, nc_id)
    if not workflow.unit_head_of(user, nc.unit_id) and not workflow.is_admin(user):
        raise Forbidden(gettext("Only the head of %(unit)s may decide this.", unit=nc.unit.name))
    values = parse_fields(DISPOSITION_FIELDS, raw)
    nc.disposition = values["disposition"]
    nc.correction_checked = bool(values.get("correction_checked"))
    nc.disposition_by_id, nc.disposition_on = user.id, today()
    db.session.commit()
    return nc


def open_ticket_from_nonconformity(user, nc_id) -> Ticket:
    """A corrective-action draft pre-filled from one NC and linked to it."""
    nc = get_nonconformity(user, nc_id)
    if nc.ticket_id:
        raise Conflict(gettext("This nonconformity is already linked to ticket %(ticket)s.", ticket=nc.ticket))
    check_box1(user, nc.unit_id)
    ticket = Ticket(
        kind="corrective", source=nc.source, requesting_unit_id=nc.unit_id,
        related_documents=nc.related_process, description=nc.description, requested_on=today(),
        requester_id=user.id, created_by_id=user.id, state="draft",
    )
    db.session.add(ticket)
    nc.ticket = ticket
    record_creation(user, ticket)
    db.session.commit()
    return ticket


def get_attachment(user, attachment_id) -> Attachment:
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(gettext("File not found."))
    if attachment.ticket_id:
        get_ticket(user, attachment.ticket_id)
    elif attachment.nonconformity_id:
        get_nonconformity(user, attachment.nonconformity_id)
    return attachment


# --- implementation follow-up (5.5) ------------------------------------------------

def report_required(ticket: Ticket, interval_days: int) -> bool:
    """Monthly reports are due when the due date is more than one interval after approval."""
    return bool(ticket.approved_on and ticket.due_date
                and (ticket.due_date - ticket.approved_on).days > interval_days)


def is_overdue(ticket: Ticket, on: datetime.date | None = None) -> bool:
    return ticket.state == "implementation" and ticket.due_date is not None and ticket.due_date < (on or today())


def overdue_condition(on: datetime.date | None = None):
    return and_(Ticket.state == "implementation", Ticket.due_date < (on or today()))


def missing_report_ids(on: datetime.date | None = None) -> set[int]:
    """Tickets in implementation whose periodic progress report is late (one query)."""
    on = on or today()
    interval = get_settings().report_interval_days
    rows = db.session.execute(
        select(Ticket.id, Ticket.approved_on, Ticket.due_date, func.max(ProgressReport.reported_on))
        .outerjoin(ProgressReport, ProgressReport.ticket_id == Ticket.id)
        .where(Ticket.state == "implementation")
        .group_by(Ticket.id, Ticket.approved_on, Ticket.due_date)
    )
    late = set()
    for ticket_id, approved_on, due_date, last_report in rows:
        if not (approved_on and due_date and (due_date - approved_on).days > interval):
            continue
        if (on - (last_report or approved_on)).days > interval:
            late.add(ticket_id)
    return late


# --- the ticket list's filters ------------------------------------------------------------

def _date_arg(args, name):
    try:
        return datetime.date.fromisoformat(args[name]) if args.get(name) else None
    except ValueError:
        return None  # a malformed date in a link filters nothing


def ticket_list_query(user, args, late_ids: set[int] | None = None):
    """The tickets a list URL shows: the pages and the dashboard's figures both use this,
    so a figure always equals the list it links to."""
    query = select(Ticket).where(ticket_visibility(user))
    if args.get("state") in workflow.STATES:
        query = query.where(Ticket.state == args["state"])
    if args.get("open"):
        query = query.where(Ticket.state.in_(workflow.OPEN_STATES))
    if str(args.get("unit", "")).isdigit():
        unit_id = int(args["unit"])
        query = query.where(or_(Ticket.requesting_unit_id == unit_id, Ticket.implementing_unit_id == unit_id))
    if args.get("kind") in vocabulary.KINDS:
        query = query.where(Ticket.kind == args["kind"])
    if args.get("source") in vocabulary.SOURCES:
        query = query.where(Ticket.source == args["source"])
    if str(args.get("year", "")).isdigit():
        year = int(args["year"])
        query = query.where(or_(Ticket.year == year, func.extract("year", Ticket.requested_on) == year))
    for name, column, compare in (("from", Ticket.requested_on, "__ge__"), ("to", Ticket.requested_on, "__le__"),
                                  ("closed_from", Ticket.closed_on, "__ge__"),
                                  ("closed_to", Ticket.closed_on, "__le__")):
        day = _date_arg(args, name)
        if day is not None:
            query = query.where(getattr(column, compare)(day))
    if args.get("overdue"):
        query = query.where(overdue_condition(_date_arg(args, "overdue_on")))
    if args.get("missing_report"):
        late_ids = missing_report_ids() if late_ids is None else late_ids
        query = query.where(Ticket.id.in_(late_ids or [-1]))
    text = str(args.get("q", "")).strip()
    if text:
        number, _, year = text.partition("/")
        conditions = [Ticket.description.ilike(f"%{text}%"), Ticket.cause.ilike(f"%{text}%"),
                      Ticket.measures.ilike(f"%{text}%")]
        if number.strip().isdigit():
            by_number = Ticket.number == int(number)
            if year.strip().isdigit():
                by_number = by_number & (Ticket.year == int(year))
            conditions.append(by_number)
        query = query.where(or_(*conditions))
    return query


def count_tickets(user, args) -> int:
    return db.session.scalar(select(func.count()).select_from(ticket_list_query(user, args).subquery()))


# --- recurrence rule (5.2.2) ---------------------------------------------------------

def recurring_series(threshold: int | None = None) -> list[dict]:
    """Runs of more than `threshold` NCs of one category at one unit with no effective
    corrective action closed in between (SPEC §2). Returns one dict per run still open."""
    threshold = threshold if threshold is not None else get_settings().recurrence_threshold
    ncs = db.session.scalars(
        select(Nonconformity).order_by(Nonconformity.unit_id, Nonconformity.category_id,
                                       Nonconformity.detected_on, Nonconformity.id)
    ).all()
    closings = db.session.execute(
        select(Ticket.requesting_unit_id, Ticket.closed_on, Nonconformity.category_id)
        .join(Nonconformity, Nonconformity.ticket_id == Ticket.id)
        .where(Ticket.state == "closed", Ticket.kind == "corrective")
    ).all()
    effective = {}
    for unit_id, closed_on, category_id in closings:
        effective.setdefault((unit_id, category_id), []).append(closed_on)
    runs: dict[tuple, list] = {}
    for nc in ncs:
        key = (nc.unit_id, nc.category_id)
        run = runs.setdefault(key, [])
        if run and any(run[-1].detected_on <= d <= nc.detected_on for d in effective.get(key, [])):
            run.clear()
        run.append(nc)
    series = []
    for (unit_id, category_id), run in runs.items():
        # an effective corrective action closed after the last NC also ends the run
        if run and any(d >= run[-1].detected_on for d in effective.get((unit_id, category_id), [])):
            continue
        if len(run) > threshold and any(nc.ticket_id is None for nc in run):
            series.append({"unit": run[0].unit, "category": run[0].category, "nonconformities": run})
    return series


def open_ticket_from_series(user, unit_id: int, category_id: int) -> Ticket:
    """One click: a corrective-action draft pre-filled from a recurring series."""
    series = next((s for s in recurring_series()
                   if s["unit"].id == unit_id and s["category"].id == category_id), None)
    if series is None:
        raise NotFound(gettext("No recurring series for this unit and category."))
    check_box1(user, unit_id)
    ncs = series["nonconformities"]
    lines = "\n".join(f"- {nc.detected_on:%d/%m/%Y}: {nc.description}" for nc in ncs)
    ticket = Ticket(
        kind="corrective", source="nonconforming_activity", requesting_unit_id=unit_id,
        description=gettext(
            "The nonconformity “%(category)s” was recorded %(count)s times in a row at this unit "
            "(5.2.2):\n%(lines)s", category=series["category"].name, count=len(ncs), lines=lines,
        ),
        requested_on=today(), requester_id=user.id, created_by_id=user.id, state="draft",
        signs=["recurring", "over_threshold"],
    )
    db.session.add(ticket)
    for nc in ncs:
        if nc.ticket_id is None:
            nc.ticket = ticket
    record_creation(user, ticket)
    db.session.commit()
    return ticket
