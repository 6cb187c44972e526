"""Ticket and nonconformity rules as plain functions, shared by the pages and the REST API.

Every change of a ticket goes through `apply_transition` (or the few helpers for
progress reports, change requests and files), which re-checks visibility (404), state
(409), role (403), version (409) and fields (422) before acting.
"""
import datetime
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import Integer, and_, bindparam, case, func, inspect, literal_column, or_, select, true
from sqlalchemy.orm import aliased, joinedload, selectinload, with_expression
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db
from app.history import changes
from app.organisation import roles
from app.organisation.models import QmsUser, Unit
from app.organisation.services import current_agency
from app.tenancy import kept_rows
from app.tickets import files, search, vocabulary, workflow
from app.tickets.numbering import give_number, next_number  # noqa: F401  (services.* for callers)
from app.ui import ListedRecord, listed_records, related_columns
from app.workflow import (  # noqa: F401  (re-exported: the views and API use services.*)
    STALE, Conflict, Forbidden, Invalid, NotFound, WorkflowError, acted, changed_since, check_date, choices_for,
    commit, event_data, id_conditions, id_of, parse_date, parse_fields, parse_value, run, snapshot, today,
)
from app.tickets.models import (
    CLOSES_A_RUN, Attachment, ChangeRequest, NcCategory, Nonconformity, NonconformityEvent, OpenRun, ProgressReport,
    Ticket, TicketEvent,
)

SEE_ALL_ROLES = (roles.ADMIN, roles.AUDITOR, roles.ISO_SECRETARY, roles.ISO_LEADER, roles.PROVINCE_INSPECTOR,
                 roles.TOP_LEADER)


# --- visibility ---------------------------------------------------------------

def sees_everything(user) -> bool:
    return workflow.has_role(user, *SEE_ALL_ROLES)


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


def visibility_key(user) -> tuple:
    """What ticket_visibility and nonconformity_visibility depend on: two users with the same
    key get the same conditions (a statement built with them can be kept under it)."""
    return (True,) if sees_everything(user) else (False, user.id, user.unit_id)


class KeptStatements:
    """Statements built once and run with the day's dates as bound parameters, kept per key
    (who sees what, visibility_key, and whatever else shapes them): building a page's counting
    statement cost about a third of running it. At most `size` are kept, the least recently
    used forgotten first: one everyone who sees the whole agency shares stays while it is used,
    whoever else comes and goes (emptied all at once, it was built again, and its text made
    again, every `size` people)."""

    def __init__(self, size: int):
        self.size = size
        self.kept: OrderedDict[tuple, object] = OrderedDict()
        self._changing = threading.Lock()

    def get(self, key: tuple, build):
        with self._changing:
            statement = self.kept.get(key)
            if statement is not None:
                self.kept.move_to_end(key)
                return statement
        built = build()
        with self._changing:
            statement = self.kept.setdefault(key, built)  # or the one another thread built meanwhile
            self.kept.move_to_end(key)
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)
        return statement


def nonconformity_visibility(user):
    if sees_everything(user):
        return true()
    conditions = [Nonconformity.created_by_id == user.id, Nonconformity.detected_by_id == user.id]
    if user.unit_id:
        conditions.append(Nonconformity.unit_id == user.unit_id)
    return or_(*conditions)


def _visible_ticket(user, ticket_id, *columns):
    """The statement of the ticket `ticket_id` if `user` may see it, `columns` beside it."""
    return select(Ticket, *columns).where(Ticket.id == id_of(ticket_id), ticket_visibility(user))


def _found(row):
    if row is None:
        raise NotFound(gettext("Ticket not found."))
    return row


def get_ticket(user, ticket_id, *options) -> Ticket:
    return _found(db.session.scalar(_visible_ticket(user, ticket_id).options(*options)))


TICKET_PEOPLE = ("requester", "created_by", "assignee", "implementer", "implementing_unit_head", "approved_by",
                 "verifier", "verified_by", "closed_by")


PAGE_COLLECTIONS = ("follow_ups", "nonconformities", "box2_revisions", "change_requests", "attachments",
                    "progress_reports")
"""What a ticket's page lists that a ticket mostly has none of."""


@lru_cache(maxsize=1)
def _held_on_page() -> tuple:
    """Whether a ticket has any of each of PAGE_COLLECTIONS: built once (building them costs
    more than the statements they spare)."""
    return tuple(getattr(Ticket, name).any().label(name) for name in PAGE_COLLECTIONS)


@lru_cache(maxsize=1)
def _page_options() -> tuple:
    """What the ticket's statement reads with it for its page: its units, and whether its
    conversation has any comment."""
    from app.conversation.services import commented

    return (*(joinedload(relation) for relation in (Ticket.requesting_unit, Ticket.implementing_unit,
                                                     Ticket.assignee_unit)),
            with_expression(Ticket.has_comments, commented(Ticket)))


@lru_cache(maxsize=1)
def _history_statement():
    """A ticket's history as its page shows it, run with the ticket's id."""
    return (select(TicketEvent.id, TicketEvent.name, TicketEvent.from_state, TicketEvent.to_state,
                   TicketEvent.actor_id, TicketEvent.at, TicketEvent.comment, TicketEvent.data)
            .where(TicketEvent.ticket_id == bindparam("ticket_id", type_=Integer)).order_by(TicketEvent.id))


def _history_rows(ticket) -> list[ListedRecord]:
    return listed_records(kept_rows(_history_statement(), {"ticket_id": ticket.id}))


def _name_people(named) -> None:
    """Set each (record, relation, person id) of `named` to the person, all read in one
    statement: on a record its relation, committed (the session alone keeps no strong
    reference to them); on a plain row an attribute."""
    ids = {person_id for _, _, person_id in named if person_id is not None}
    people = {person.id: person for person in db.session.scalars(select(QmsUser).where(QmsUser.id.in_(ids)))} \
        if ids else {}
    for record, relation, person_id in named:
        if isinstance(record, ListedRecord):
            setattr(record, relation, people.get(person_id))
        else:
            set_committed_value(record, relation, people.get(person_id))


def ticket_history(ticket: Ticket) -> list[ListedRecord]:
    """A ticket's history as its page shows it (ticket_for_page reads it with the ticket): its
    entries as plain rows, each with the person who acted."""
    history = _history_rows(ticket)
    _name_people([(entry, "actor", entry.actor_id) for entry in history])
    return history


def ticket_for_page(user, ticket_id) -> tuple[Ticket, list[ListedRecord]]:
    """get_ticket with what its page shows read with it, and its history as ticket_history
    gives it: its units in the ticket's statement, its history as plain rows (loading its
    entries as records cost about three times as much), its progress reports and their files
    in one statement each (not one for each report's files), then every person they name in one
    more, set on the records and the rows; the ticket it follows up, when it has one, in one
    more when the page names it.
    The people are not joined to the ticket: PostgreSQL takes about 7 ms to plan a statement
    of eight joined tables, more than all of the page's queries take to run.
    The ticket's statement also says which of PAGE_COLLECTIONS it has any of: those it has
    none of are set empty, and the page reads only the others (each read costs about 0.8 ms)."""
    ticket, *held = _found(db.session.execute(
        _visible_ticket(user, ticket_id, *_held_on_page()).options(*_page_options())).one_or_none())
    for name, any_held in zip(PAGE_COLLECTIONS, held):
        if not any_held:
            set_committed_value(ticket, name, [])
        elif name == "progress_reports":
            set_committed_value(ticket, name, db.session.scalars(
                select(ProgressReport).where(ProgressReport.ticket_id == ticket.id).order_by(ProgressReport.id)
                .options(selectinload(ProgressReport.attachments))).all())
    history = _history_rows(ticket)
    named = [(ticket, relation, getattr(ticket, relation + "_id")) for relation in TICKET_PEOPLE]
    named += [(entry, "actor", entry.actor_id) for entry in history]
    named += [(report, "author", report.author_id) for report in ticket.progress_reports]
    _name_people(named)
    return ticket, history


def get_nonconformity(user, nc_id) -> Nonconformity:
    nc = db.session.scalar(
        select(Nonconformity).where(Nonconformity.id == id_of(nc_id), nonconformity_visibility(user))
    )
    if nc is None:
        raise NotFound(gettext("Nonconformity not found."))
    return nc


def may_open_for(user, unit_id) -> bool:
    """Staff and unit heads open tickets and NCs for their own unit; auditors and Ban ISO for any."""
    return sees_everything(user) or (unit_id is not None and user.unit_id == unit_id)


# --- transitions ---------------------------------------------------------------

def available_transitions(user, ticket: Ticket) -> list[workflow.Transition]:
    return workflow.WORKFLOW.available(user, ticket)


def apply_transition(user, ticket_id: int, name: str, raw: dict, version=None) -> Ticket:
    """Take transition `name` on a ticket for `user`, or raise a WorkflowError."""
    return run(workflow.WORKFLOW, user, get_ticket(user, ticket_id), name, raw, version)


def present_tickets(user, ticket_ids, note: str) -> list[Ticket]:
    """5.3: the ISO secretary presents one or several consolidated tickets to the ISO
    committee leader at once, with one consolidation note; all or none."""
    try:
        ids = sorted({int(i) for i in ticket_ids})
    except (TypeError, ValueError):
        ids = []
    if not ids:
        raise Invalid(gettext("Some fields are missing or invalid."),
                      {"tickets": gettext("Choose at least one ticket.")})
    presented = [run(workflow.WORKFLOW, user, get_ticket(user, ticket_id), "present", {"note": note}, save=False)
                 for ticket_id in ids]
    commit()
    return presented


@dataclass
class Outcome:
    """What a step taken on several tickets did to one of them: done, or refused and why
    (in the reader's language). `ticket` is None for an id the user may not see."""

    ticket_id: object
    ticket: Ticket | None
    done: bool
    reason: str = ""


def several_steps(user, tickets) -> list[workflow.Transition]:
    """The steps taken on several tickets at once that the user may take on at least one of
    `tickets` (those the list shows): the list offers only these."""
    return [step for step in workflow.WORKFLOW.transitions if step.several and any(
        ticket.state in step.sources and step.actor.allows(user, ticket) for ticket in tickets)]


def selected_tickets(user, ticket_ids) -> tuple[list[Ticket], list]:
    """The tickets among `ticket_ids` the user sees, in the order given, and the ids given
    that name none of them (hidden, of another agency, or no ticket at all: all alike)."""
    ids = list(dict.fromkeys(ticket_ids))
    keys = [key for key in map(id_of, ids) if key is not None]
    found = {t.id: t for t in db.session.scalars(
        select(Ticket).where(Ticket.id.in_(keys or [-1]), ticket_visibility(user)))}
    return ([found[id_of(i)] for i in ids if id_of(i) in found],
            [i for i in ids if id_of(i) not in found])


def take_on_several(user, name: str, ticket_ids, raw: dict, versions: dict | None = None) -> list[Outcome]:
    """Take one step (a transition marked `several`) on each chosen ticket, its fields given
    once for all. Each ticket goes through the workflow on its own and is committed on its own:
    one refused leaves the others done. The fields are checked first, so a missing field
    refuses the whole (422) before any ticket changes. `versions` are the versions the user saw
    ({ticket id: version}), refused as stale when changed meanwhile."""
    step = workflow.WORKFLOW.transition(name)
    if step is None or not step.several:
        raise NotFound(gettext("Unknown action."))
    ids = list(dict.fromkeys(str(i) for i in ticket_ids))
    if not ids:
        raise Invalid(gettext("Some fields are missing or invalid."),
                      {"ids": gettext("Choose at least one ticket.")})
    parse_fields(step.fields, raw)
    outcomes = []
    for ticket_id in ids:
        ticket = None
        try:
            ticket = get_ticket(user, ticket_id)
            run(workflow.WORKFLOW, user, ticket, name, raw, (versions or {}).get(ticket.id))
        except WorkflowError as error:
            db.session.rollback()
            reason = " ".join([error.message, *error.errors.values()])
            outcomes.append(Outcome(ticket_id, ticket, False, reason))
        else:
            outcomes.append(Outcome(ticket_id, ticket, True))
    return outcomes


# --- tickets: creation, edits, implementation -------------------------------------

def check_box1(user, unit_id) -> None:
    if not may_open_for(user, unit_id):
        raise Forbidden(gettext("You may only open tickets for your own unit."))


SETTLED = _l("This nonconformity is settled and can no longer be changed: its correction was checked "
             "or its ticket is closed.")


def nonconformity_settled(nc: Nonconformity) -> bool:
    """An NC is settled, and read-only, once its correction was checked (5.1.1) or its ticket
    reached a final state."""
    return bool(nc.correction_checked) or (nc.ticket is not None and nc.ticket.state in workflow.FINAL_STATES)


def check_nonconformity_change(user, nc: Nonconformity) -> None:
    """Every path that edits or deletes an NC asks this: not once settled (409), and only by
    someone who may record NCs for its unit, the stored one and the one an edit gives (403)."""
    with db.session.no_autoflush:  # an edit is loaded but not flushed: unit_id is still the stored unit
        if nonconformity_settled(nc):
            raise Conflict(str(SETTLED))
        check_box1(user, nc.unit_id)
        if nc.unit is not None:
            check_box1(user, nc.unit.id)


def may_change_nonconformity(user, nc: Nonconformity) -> bool:
    """Whether `user` may edit or delete `nc` now (check_nonconformity_change, as a yes/no
    for the buttons a page shows)."""
    try:
        check_nonconformity_change(user, nc)
    except WorkflowError:
        return False
    return True


def ensure_own_draft(user, ticket: Ticket, action: str = "edit_draft") -> None:
    """Box 1 is edited, and a ticket deleted, only as a draft and only by its author."""
    workflow.WORKFLOW.check(action, user, ticket)


def record_creation(user, ticket: Ticket) -> None:
    workflow.record(ticket, "create", None, ticket.state, user)


def add_progress_report(user, ticket_id, text, reported_on=None, uploads=()) -> ProgressReport:
    ticket = get_ticket(user, ticket_id)
    workflow.WORKFLOW.check("report_progress", user, ticket)
    if not (text or "").strip():
        raise Invalid(gettext("Some fields are missing or invalid."), {"text": gettext("This field is required.")})
    attachments = checked_attachments(user, uploads, ticket_id=ticket.id)  # all checked first
    report = ProgressReport(ticket=ticket, text=text.strip(), reported_on=reported_on or today(),
                            author_id=user.id, attachments=attachments)
    db.session.add(report)
    workflow.record(ticket, "report_progress", ticket.state, ticket.state, user, report.text,
                    {"files": [a.filename for a in attachments]} if attachments else None)
    acted(workflow.WORKFLOW, user, ticket, "report_progress")
    commit()
    return report


CHANGE_FIELDS = (
    workflow.Field("kind", "choice", _l("Kind of change"), choices=vocabulary.CHANGE_KINDS),
    workflow.Field("text", "text", _l("What is needed and why")),
    workflow.Field("new_measures", "text", _l("New measures"), required=False),
    workflow.Field("new_due_date", "date", _l("New completion date"), required=False, when="future"),
)


def request_change(user, ticket_id, raw: dict) -> ChangeRequest:
    """5.5: the implementer asks Ban ISO for resources or a change of measures."""
    ticket = get_ticket(user, ticket_id)
    workflow.WORKFLOW.check("request_change", user, ticket)
    v = parse_fields(CHANGE_FIELDS, raw)
    change = ChangeRequest(ticket=ticket, kind=v["kind"], text=v["text"], new_measures=v["new_measures"],
                           new_due_date=v["new_due_date"], requested_by_id=user.id)
    db.session.add(change)
    workflow.record(ticket, "request_change", ticket.state, ticket.state, user, change.text, event_data(v))
    acted(workflow.WORKFLOW, user, ticket, "request_change")
    commit()
    return change


def decide_change(user, change_id, approved: bool, comment=None) -> ChangeRequest:
    """The ISO leader decides a change request. An approved change is a dated amendment of
    box 2: the measures first approved stay as they were, the amendment is added to them,
    and a new completion date applies from then on."""
    change = db.session.get(ChangeRequest, change_id)
    if change is None:
        raise NotFound(gettext("Change request not found."))
    ticket = get_ticket(user, change.ticket_id)
    workflow.WORKFLOW.check("decide_change", user, ticket)
    if change.decision != "pending":
        raise Conflict(gettext("This change request has already been decided."))
    before = snapshot(ticket)
    change.decision = "approved" if approved else "rejected"
    change.decided_by_id, change.decided_at = user.id, datetime.datetime.now()
    change.decision_comment = comment or None
    if approved and change.new_due_date:
        ticket.due_date = change.new_due_date
    note = "\n".join(filter(None, [change.text, change.new_measures if approved else None, comment]))
    workflow.record(ticket, "change_" + change.decision, ticket.state, ticket.state, user, note,
                    event_data({"change_request": change.id, "kind": change.kind, "text": change.text},
                               changed_since(ticket, before)))
    acted(workflow.WORKFLOW, user, ticket, "decide_change")
    commit()
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
    workflow.WORKFLOW.check("attach_files", user, ticket)
    stored = checked_attachments(user, uploads, ticket_id=ticket.id)
    db.session.add_all(stored)
    if stored:
        workflow.record(ticket, "attach_files", ticket.state, ticket.state, user,
                        ", ".join(a.filename for a in stored))
        acted(workflow.WORKFLOW, user, ticket, "attach_files")
    commit()
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
    if nonconformity_settled(nc):
        raise Conflict(str(SETTLED))
    if not workflow.unit_head_of(user, nc.unit_id) and not workflow.is_admin(user):
        raise Forbidden(gettext("Only the head of %(unit)s may decide this.", unit=nc.unit.name))
    values = parse_fields(DISPOSITION_FIELDS, raw)
    before = nc_state(nc)
    nc.disposition = values["disposition"]
    nc.correction_checked = bool(values.get("correction_checked"))
    record_nc_edit(user, nc, "disposition", before)
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
    db.session.flush()
    record_creation(user, ticket)
    _link(user, ticket, nc)
    db.session.commit()
    return ticket


# --- nonconformities: dates, history, links to a ticket ------------------------------

# The fields of an NC whose every change its history keeps (old → new).
NC_HISTORY_FIELDS = (
    "unit", "detected_on", "description", "related_process", "source", "category",
    "correction_done", "beyond_authority", "disposition", "correction_checked",
)


def check_not_future(day, field: str, label) -> None:
    """The date of something that already happened (an NC found, a request made) is not
    after today."""
    try:
        if day is not None:
            check_date(day, "past", label)
    except ValueError as error:
        raise Invalid(str(error), {field: str(error)}) from None


def check_nonconformity_dates(nc: Nonconformity) -> None:
    check_not_future(nc.detected_on, "detected_on", _l("Detected on"))


def check_ticket_dates(ticket: Ticket) -> None:
    """Box 1's date is the day of the request."""
    check_not_future(ticket.requested_on, "requested_on", _l("Date of the request"))


def nc_state(nc: Nonconformity) -> str:
    """Where the NC stands (vocabulary.NC_STATES), kept with each line of its history."""
    if not nc.disposition:
        return "recorded"
    return "checked" if nc.correction_checked else "decided"


def _record_nc(nc: Nonconformity, name, user, from_state, comment=None, data=None) -> None:
    db.session.add(NonconformityEvent(
        nonconformity=nc, name=name, from_state=from_state, to_state=nc_state(nc),
        actor_id=user.id if user else None, comment=comment, data=data,
    ))


def record_nc_creation(user, nc: Nonconformity) -> None:
    """The first line of a new NC's history (page and API, as it is added)."""
    _record_nc(nc, "create", user, None)


def record_nc_edit(user, nc: Nonconformity, name="edit", from_state=None) -> None:
    """A history line with the old → new values of the fields just set on `nc`, if any.
    Call it before anything queries the database: a flush makes the new values the old."""
    found = changes(nc, NC_HISTORY_FIELDS)
    if found:
        _record_nc(nc, name, user, from_state or nc_state(nc), data={"changes": found})


def _link(user, ticket: Ticket, nc: Nonconformity, linked: bool = True) -> None:
    """Link an NC to a ticket, or unlink it, written in both histories."""
    nc.ticket = ticket if linked else None
    workflow.record(ticket, "link_nc" if linked else "unlink_nc", ticket.state, ticket.state, user,
                    f"{nc}: {nc.description[:150]}", {"nonconformity": nc.id})
    _record_nc(nc, "link_ticket" if linked else "unlink_ticket", user, nc_state(nc), data={"ticket": ticket.id})


def link_nonconformity(user, ticket_id, nc_id) -> Ticket:
    """Link an NC the user may see, not linked elsewhere, to their own draft ticket."""
    ticket = get_ticket(user, ticket_id)
    ensure_own_draft(user, ticket, "link_nc")
    nc = get_nonconformity(user, nc_id)
    if nc.ticket_id == ticket.id:
        raise Conflict(gettext("This nonconformity is already linked to this ticket."))
    if nc.ticket_id:
        raise Conflict(gettext("This nonconformity is already linked to ticket %(ticket)s.", ticket=nc.ticket))
    _link(user, ticket, nc)
    db.session.commit()
    return ticket


def unlink_nonconformity(user, ticket_id, nc_id) -> Ticket:
    """Take an NC off the user's own draft ticket, written in both histories."""
    ticket = get_ticket(user, ticket_id)
    ensure_own_draft(user, ticket, "unlink_nc")
    nc = get_nonconformity(user, nc_id)
    if nc.ticket_id != ticket.id:
        raise Conflict(gettext("This nonconformity is not linked to this ticket."))
    _link(user, ticket, nc, linked=False)
    db.session.commit()
    return ticket


def linkable_nonconformities(user) -> list[Nonconformity]:
    """The NCs the user may link to a ticket: visible to them and linked to none."""
    return db.session.scalars(
        select(Nonconformity).where(nonconformity_visibility(user), Nonconformity.ticket_id.is_(None))
        .order_by(Nonconformity.detected_on.desc(), Nonconformity.id.desc())
    ).all()


def last_return(ticket: Ticket, history: list[ListedRecord]) -> ListedRecord | None:
    """The return that sent this draft back to its author, the entry of its history
    (ticket_history): what must be completed."""
    if ticket.state != "draft":
        return None
    return next((e for e in reversed(history) if e.name == "return"), None)


_LINKED = KeptStatements(100)  # see _linked_statement


def _linked_statement(user):
    """A ticket's nonconformities with their evidence files, one row per file (an NC without
    files: one row, no file), whether `user` may open each NC's files beside them. Kept per
    visibility (KeptStatements), run with the ticket's id."""
    def build():
        return (select(Nonconformity.id, Nonconformity.detected_on, Nonconformity.description,
                       nonconformity_visibility(user).label("visible"),
                       *related_columns(Attachment, "file", Attachment.filename, Attachment.size))
                .outerjoin(Attachment, Attachment.nonconformity_id == Nonconformity.id)
                .where(Nonconformity.ticket_id == bindparam("ticket_id", type_=Integer))
                .order_by(Nonconformity.detected_on, Nonconformity.id, Attachment.id))

    return _LINKED.get(visibility_key(user), build)


def linked_nonconformities(user, ticket: Ticket) -> tuple[list[ListedRecord], list[ListedRecord]]:
    """What a ticket's page shows of its nonconformities, as plain rows (kept_rows): each NC
    (id, detected_on, description), then the evidence files of those `user` may open (the NCs
    they see, as get_attachment asks: id, filename, size, and its nonconformity), by NC then
    upload. Loading them as records cost about three times as much. None is read when the
    ticket's statement said it has none (ticket_for_page)."""
    if "nonconformities" in inspect(ticket).dict and not ticket.nonconformities:
        return [], []
    ncs, files = {}, []
    for row in listed_records(kept_rows(_linked_statement(user), {"ticket_id": ticket.id},
                                        shared=sees_everything(user))):
        nc = ncs.get(row.id)
        if nc is None:
            nc = ncs[row.id] = ListedRecord(id=row.id, detected_on=row.detected_on, description=row.description)
        if row.file is not None and row.visible:
            row.file.nonconformity = nc
            files.append(row.file)
    return list(ncs.values()), files


def get_attachment(user, attachment_id) -> Attachment:
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(gettext("File not found."))
    if attachment.ticket_id:
        get_ticket(user, attachment.ticket_id)
    elif attachment.nonconformity_id:
        get_nonconformity(user, attachment.nonconformity_id)
    elif attachment.comment_id:  # a file of a conversation: whoever sees its record
        from app.conversation import services as conversation

        conversation.load(user, attachment.comment.record_type, attachment.comment.record_id)
    return attachment


# --- implementation follow-up (5.5) ------------------------------------------------

def report_required(ticket: Ticket, interval_days: int) -> bool:
    """Monthly reports are due when the due date is more than one interval after approval."""
    return bool(ticket.approved_on and ticket.due_date
                and (ticket.due_date - ticket.approved_on).days > interval_days)


def is_overdue(ticket: Ticket, on: datetime.date | None = None) -> bool:
    return ticket.state == "implementation" and ticket.due_date is not None and ticket.due_date < (on or today())


def overdue_condition(on=None):
    """`on`: a day, a bound parameter, or None for today."""
    return and_(Ticket.state == "implementation", Ticket.due_date < (today() if on is None else on))


def _days_between(first, last):
    """`last - first` in days, in SQL (SQLite keeps dates as text)."""
    if db.engine.dialect.name == "sqlite":
        return func.julianday(last) - func.julianday(first)
    return last - first


def report_cutoff(on: datetime.date | None = None) -> datetime.date:
    """A ticket's last progress report (or its approval) before this day is late on `on`."""
    return (on or today()) - datetime.timedelta(days=current_agency().report_interval_days)


def missing_report_condition(on: datetime.date | None = None, cutoff=None):
    """SQL condition: a ticket in implementation whose periodic progress report is late —
    reports are due when the due date is more than one interval after approval, and the last
    report (or the approval) is more than one interval old (before `cutoff`: report_cutoff(on),
    or a bound parameter of a statement built once)."""
    interval = current_agency().report_interval_days
    last_report = (select(func.max(ProgressReport.reported_on)).where(ProgressReport.ticket_id == Ticket.id)
                   .correlate(Ticket).scalar_subquery())
    return and_(Ticket.state == "implementation", Ticket.approved_on.is_not(None), Ticket.due_date.is_not(None),
                _days_between(Ticket.approved_on, Ticket.due_date) > interval,
                func.coalesce(last_report, Ticket.approved_on) < (report_cutoff(on) if cutoff is None else cutoff))


def report_missing(ticket: Ticket, on: datetime.date | None = None) -> bool:
    """missing_report_condition for one ticket, read from its progress reports (its page has
    them loaded: no statement more)."""
    if ticket.state != "implementation" or not report_required(ticket, current_agency().report_interval_days):
        return False
    last = max((report.reported_on for report in ticket.progress_reports), default=None)
    return (last or ticket.approved_on) < report_cutoff(on)


def missing_report_ids(on: datetime.date | None = None, among=None) -> set[int]:
    """Tickets in implementation whose periodic progress report is late (one query); `among`,
    given, limits the look to those ticket ids (the rows a list page shows)."""
    if among is not None:
        among = list(among)
        if not among:  # nothing to look at: the condition is not even built (about 0.4 ms)
            return set()
    query = select(Ticket.id).where(missing_report_condition(on))
    if among is not None:
        query = query.where(Ticket.id.in_(among))
    return set(db.session.scalars(query))


# --- the ticket list's filters ------------------------------------------------------------


# The arguments of a ticket list URL: its filters (read by ticket_list_query) and its order.
LIST_ARGS = ("q", "state", "open", "unit", "kind", "source", "year", "from", "to", "closed_from", "closed_to",
             "overdue", "overdue_on", "missing_report", "sort")


def ticket_list_query(user, args, late_ids: set[int] | None = None):
    """The tickets a list URL shows: the pages and the dashboard's figures both use this,
    so a figure always equals the list it links to. `user` None (the command line's records
    binder) is the whole agency."""
    query = select(Ticket) if user is None else select(Ticket).where(ticket_visibility(user))
    if args.get("state") in workflow.STATES:
        query = query.where(Ticket.state == args["state"])
    if args.get("open"):
        query = query.where(Ticket.state.in_(workflow.OPEN_STATES))
    unit_id = id_of(args.get("unit"))
    if unit_id is not None:
        query = query.where(or_(Ticket.requesting_unit_id == unit_id, Ticket.implementing_unit_id == unit_id))
    if args.get("kind") in vocabulary.KINDS:
        query = query.where(Ticket.kind == args["kind"])
    if args.get("source") in vocabulary.SOURCES:
        query = query.where(Ticket.source == args["source"])
    year = id_of(args.get("year"))  # a positive number an integer column holds, as an id
    if year is not None:
        query = query.where(or_(Ticket.year == year, func.extract("year", Ticket.requested_on) == year))
    for name, column, compare in (("from", Ticket.requested_on, "__ge__"), ("to", Ticket.requested_on, "__le__"),
                                  ("closed_from", Ticket.closed_on, "__ge__"),
                                  ("closed_to", Ticket.closed_on, "__le__")):
        day = parse_date(args.get(name))  # a malformed date in a link filters nothing
        if day is not None:
            query = query.where(getattr(column, compare)(day))
    if args.get("overdue"):
        query = query.where(overdue_condition(parse_date(args.get("overdue_on"))))
    if args.get("missing_report"):
        query = query.where(missing_report_condition() if late_ids is None else Ticket.id.in_(late_ids or [-1]))
    text = str(args.get("q", "")).strip()
    if text:
        number, year = (id_of(part.strip()) for part in text.partition("/")[::2])
        conditions = [search.contains(SEARCHED_TEXT, text)]
        if number is not None:  # digits a number column holds; longer ones (a phone number) are only text
            by_number = Ticket.number == number
            if year is not None:
                by_number = by_number & (Ticket.year == year)
            conditions.append(by_number)
        query = query.where(or_(*conditions))
    return query


# What the list's search box looks in, folded (accents and case ignored: app.tickets.search);
# on PostgreSQL the database stores it in ticket.searched_text (migration 0018), indexed.
SEARCHED_TEXT = search.StoredOnPostgres(literal_column("ticket.searched_text"),
                                        search.folded(Ticket.description, Ticket.cause, Ticket.measures))

# The list's orders; migration 0014 indexes each (agency_id first: every query has it).
LIST_ORDERS = {
    "number": (Ticket.year.desc(), Ticket.number.desc(), Ticket.id.desc()),
    "due_date": (Ticket.due_date.asc().nulls_last(), Ticket.id.asc()),
}


# What the list shows of a ticket, and the people and units the workflow's actors read
# (several_steps asks them of the rows)
TICKET_ROW = (Ticket.id, Ticket.number, Ticket.year, Ticket.state, Ticket.kind, Ticket.description, Ticket.due_date,
               Ticket.created_by_id, Ticket.requesting_unit_id, Ticket.assignee_id, Ticket.assignee_unit_id,
               Ticket.implementer_id, Ticket.implementing_unit_id, Ticket.implementing_unit_head_id,
               Ticket.verifier_id)
_REQUESTING_UNIT, _IMPLEMENTING_UNIT = aliased(Unit), aliased(Unit)


def ticket_page(query, order: str, page: int, page_size: int, *columns) -> list[ListedRecord]:
    """One page of the list, in its order, in one statement: the page's ids are chosen on
    the order's index alone (a deep page skips index entries, not rows), then those rows are
    read, as plain rows of what the list shows with the names of their units
    (`requesting_unit.name`, `implementing_unit.name`), not as records: loading 25 tickets
    and their units was about a fifth of the list. Each row has the people and units the
    workflow's actors read, so several_steps asks them of the rows as of the records; and any
    further `columns` (record_list.counted_page)."""
    order_by = LIST_ORDERS.get(order, LIST_ORDERS["number"])
    ids = (query.with_only_columns(Ticket.id).order_by(*order_by)
           .limit(page_size).offset((page - 1) * page_size))
    rows = listed_records(db.session.execute(
        select(*TICKET_ROW, *related_columns(_REQUESTING_UNIT, "requesting_unit", _REQUESTING_UNIT.name),
               *related_columns(_IMPLEMENTING_UNIT, "implementing_unit", _IMPLEMENTING_UNIT.name), *columns)
        .outerjoin(_REQUESTING_UNIT, _REQUESTING_UNIT.id == Ticket.requesting_unit_id)
        .outerjoin(_IMPLEMENTING_UNIT, _IMPLEMENTING_UNIT.id == Ticket.implementing_unit_id)
        .where(Ticket.id.in_(ids.scalar_subquery())).order_by(*order_by)))
    Ticket.number_rows(rows)
    return rows


def count_tickets(user, args) -> int:
    return db.session.scalar(select(func.count()).select_from(ticket_list_query(user, args).subquery()))


# The arguments of the NC list's URL: its filters (read by nonconformity_list_query) and its order.
NC_LIST_ARGS = ("q", "unit", "category", "source", "from", "to", "checked", "sort")

# What the NC list's search box looks in, folded (accents and case ignored: app.tickets.search).
NC_SEARCHED_TEXT = search.folded(Nonconformity.description, Nonconformity.related_process)

# The NC list's orders, both read on ix_nonconformity_list_order (agency, detected_on, id).
NC_LIST_ORDERS = {
    "newest": (Nonconformity.detected_on.desc(), Nonconformity.id.desc()),
    "oldest": (Nonconformity.detected_on.asc(), Nonconformity.id.asc()),
}


def nonconformity_list_query(user, args):
    """The NCs an NC list URL shows, the page and its Excel export alike."""
    query = select(Nonconformity).where(nonconformity_visibility(user), *id_conditions(
        args, {"unit": Nonconformity.unit_id, "category": Nonconformity.category_id}))
    if args.get("source") in vocabulary.SOURCES:
        query = query.where(Nonconformity.source == args["source"])
    start, end = parse_date(args.get("from")), parse_date(args.get("to"))
    if start is not None:
        query = query.where(Nonconformity.detected_on >= start)
    if end is not None:
        query = query.where(Nonconformity.detected_on <= end)
    if args.get("checked") == "1":
        query = query.where(Nonconformity.correction_checked.is_(True))
    elif args.get("checked") == "0":
        query = query.where(or_(Nonconformity.correction_checked.is_(False),
                                Nonconformity.correction_checked.is_(None)))
    text = str(args.get("q", "")).strip()
    if text:
        query = query.where(search.contains(NC_SEARCHED_TEXT, text))
    return query


_NC_ROW = (Nonconformity.id, Nonconformity.detected_on, Nonconformity.description, Nonconformity.source,
           Nonconformity.disposition, Nonconformity.correction_checked, Nonconformity.unit_id)


def nonconformity_page(query, order: str, page: int, page_size: int, *columns) -> list[ListedRecord]:
    """One page of the NC list (and its export), in one statement: the page's ids chosen on the
    order's index (as ticket_page does), each read as a plain row with the unit, category and
    ticket it names (`unit.name`, `category.name`, `ticket.display_number`, `ticket.state`), not
    as records of the session: loading 25 NCs and their three records was most of the list's
    own time. Enough of each for may_change_nonconformity; and any further `columns`
    (record_list.counted_page)."""
    order_by = NC_LIST_ORDERS.get(order, NC_LIST_ORDERS["newest"])
    ids = (query.with_only_columns(Nonconformity.id).order_by(*order_by)
           .limit(page_size).offset((page - 1) * page_size))
    page_rows = listed_records(db.session.execute(
        select(*_NC_ROW, *related_columns(Unit, "unit", Unit.name), *related_columns(NcCategory, "category", NcCategory.name),
               *related_columns(Ticket, "ticket", Ticket.state, Ticket.number, Ticket.year), *columns)
        .outerjoin(Unit, Unit.id == Nonconformity.unit_id)
        .outerjoin(NcCategory, NcCategory.id == Nonconformity.category_id)
        .outerjoin(Ticket, Ticket.id == Nonconformity.ticket_id)
        .where(Nonconformity.id.in_(ids.scalar_subquery())).order_by(*order_by)))
    Ticket.number_rows(nc.ticket for nc in page_rows)
    return page_rows


# --- recurrence rule (5.2.2) ---------------------------------------------------------

def _last_closings(agencies=None):
    """For each unit and NC category, the day its last effective corrective action closed
    (a ticket closed as effective, of kind corrective, with an NC of that category linked);
    only in `agencies` (ids) when given."""
    query = (select(Ticket.requesting_unit_id.label("unit_id"), Nonconformity.category_id.label("category_id"),
                    func.max(Ticket.closed_on).label("last_closed"))
             .join(Nonconformity, Nonconformity.ticket_id == Ticket.id)
             .where(*(getattr(Ticket, column) == literal_column(f"'{value}'") for column, value in CLOSES_A_RUN))
             .group_by(Ticket.requesting_unit_id, Nonconformity.category_id))
    if agencies is not None:
        query = query.where(Ticket.agency_id.in_(agencies), Nonconformity.agency_id.in_(agencies))
    return query.subquery("last_closing")


def _in_open_run(agencies=None):
    """The NCs of the run still open for their unit and category (SPEC §2): those detected
    after the last effective corrective action closed for them. (A closing on the day of an
    NC ends the run that NC is in: the run starts with the first NC detected after it.)"""
    closings = _last_closings(agencies)
    in_run = or_(closings.c.last_closed.is_(None), Nonconformity.detected_on > closings.c.last_closed)
    if agencies is not None:
        in_run = and_(Nonconformity.agency_id.in_(agencies), in_run)
    return closings, in_run


def open_run_rows(agencies=None):
    """Each unit's and category's open run read from the NCs and tickets themselves: agency,
    unit, category, the day its last effective corrective action closed, how many NCs, how many
    of them linked to no ticket (what OpenRun keeps, app.tickets.runs); only `agencies` (ids)
    when given."""
    closings, in_run = _in_open_run(agencies)
    return (select(Nonconformity.agency_id, Nonconformity.unit_id, Nonconformity.category_id,
                   closings.c.last_closed, func.count().label("size"),
                   func.sum(case((Nonconformity.ticket_id.is_(None), 1), else_=0)).label("unlinked"))
            .outerjoin(closings, and_(closings.c.unit_id == Nonconformity.unit_id,
                                      closings.c.category_id == Nonconformity.category_id))
            .where(in_run)
            .group_by(Nonconformity.agency_id, Nonconformity.unit_id, Nonconformity.category_id,
                      closings.c.last_closed))


def open_runs_query(user=None, threshold: int | None = None, agencies=None):
    """Each open run (agency, unit, category) with its number of NCs. A run is open when at
    least one of its NCs is linked to no ticket; it is recurring with more NCs than `threshold`
    (5.2.2). Only `agencies` (ids) when given. For whoever sees every NC of the agency (or with
    no user), the runs kept in OpenRun; for anyone else, only the runs whose every NC they may
    see, grouped from the NCs."""
    if user is None or sees_everything(user):
        query = select(OpenRun.agency_id, OpenRun.unit_id, OpenRun.category_id, OpenRun.size).where(
            OpenRun.unlinked > 0)
        if threshold is not None:
            query = query.where(OpenRun.size > threshold)
        return query.where(OpenRun.agency_id.in_(agencies)) if agencies is not None else query
    having = [func.sum(case((Nonconformity.ticket_id.is_(None), 1), else_=0)) > 0,
              func.sum(case((nonconformity_visibility(user), 0), else_=1)) == 0]
    if threshold is not None:
        having.append(func.count() > threshold)  # one row per NC (the closings are one per unit and category)
    return open_run_rows(agencies).having(and_(*having))


def count_recurring(user=None, threshold: int | None = None) -> int:
    """How many recurring series (one query)."""
    threshold = threshold if threshold is not None else current_agency().recurrence_threshold
    return db.session.scalar(select(func.count()).select_from(open_runs_query(user, threshold=threshold).subquery()))


def is_recurring(run: list, threshold: int) -> bool:
    """The recurrence rule (5.2.2): more than `threshold` NCs in a run."""
    return len(run) > threshold


def recurring_series(user=None, threshold: int | None = None, *, last: int | None = None,
                     page: int = 1, per_page: int | None = None, pair: tuple[int, int] | None = None,
                     dates_only: bool = False) -> list[dict]:
    """Runs of more than `threshold` NCs of one category at one unit with no effective
    corrective action closed in between (SPEC §2): one dict per run still open, with its unit,
    category, size and NCs (oldest first; only the `last` latest given `last`; with
    `dates_only`, plain rows of their id, unit, category and day, not records). Given a user,
    only the runs whose every NC that user may see; `per_page` runs of page `page`, or the one
    run of `pair` (unit id, category id). Two queries: the runs (grouped, ordered, one page),
    then the NCs of those runs only."""
    threshold = threshold if threshold is not None else current_agency().recurrence_threshold
    runs = open_runs_query(user, threshold=threshold).subquery("run")
    chosen = (select(Unit, NcCategory, runs.c.size).join(runs, runs.c.unit_id == Unit.id)
              .join(NcCategory, NcCategory.id == runs.c.category_id).order_by(Unit.code, Unit.id, NcCategory.id))
    if pair is not None:
        chosen = chosen.where(runs.c.unit_id == pair[0], runs.c.category_id == pair[1])
    if per_page is not None:
        chosen = chosen.limit(per_page).offset((max(page, 1) - 1) * per_page)
    found = db.session.execute(chosen).all()
    if not found:
        return []
    closings, in_run = _in_open_run()
    of_found = or_(*(and_(Nonconformity.unit_id == unit.id, Nonconformity.category_id == category.id)
                     for unit, category, _ in found))
    latest_first = func.row_number().over(
        partition_by=(Nonconformity.unit_id, Nonconformity.category_id),
        order_by=(Nonconformity.detected_on.desc(), Nonconformity.id.desc()))
    numbered = (select(Nonconformity.id, latest_first.label("n"))
                .outerjoin(closings, and_(closings.c.unit_id == Nonconformity.unit_id,
                                          closings.c.category_id == Nonconformity.category_id))
                .where(in_run, of_found).subquery("numbered"))
    shown = (Nonconformity.id, Nonconformity.unit_id, Nonconformity.category_id, Nonconformity.detected_on) \
        if dates_only else (Nonconformity,)
    members = db.session.execute(
        select(*shown).join(numbered, numbered.c.id == Nonconformity.id)
        .where(numbered.c.n <= last if last is not None else true())
        .order_by(Nonconformity.detected_on, Nonconformity.id)
    )
    members = listed_records(members) if dates_only else members.scalars().all()
    by_key: dict[tuple, list] = {}
    for nc in members:
        by_key.setdefault((nc.unit_id, nc.category_id), []).append(nc)
    return [{"unit": unit, "category": category, "size": size,
             "nonconformities": by_key.get((unit.id, category.id), [])}
            for unit, category, size in found]


def open_ticket_from_series(user, unit_id: int | None, category_id: int | None) -> Ticket:
    """One click: a corrective-action draft pre-filled from a recurring series (ids None: no
    series, as for ids of none)."""
    series = None if None in (unit_id, category_id) else next(
        iter(recurring_series(user, pair=(unit_id, category_id))), None)
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
    db.session.flush()
    record_creation(user, ticket)
    for nc in ncs:
        if nc.ticket_id is None:
            _link(user, ticket, nc)
    db.session.commit()
    return ticket
