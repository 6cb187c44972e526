"""The workflow engine shared by tickets, objective plans and reports, and reviews.

A workflow is declared once as a `Workflow`: its states, its transitions (each carrying the
effect it has on the record), the actions taken inside a state (each with its states and
actors), the transitions the system takes by itself, and how history is written. `run`
takes every transition of every table the same way: check (404/409/403/stale 409/422) →
effect → target state → history entry (with the fields given and every column changed,
old → new) → notification of whoever acts next (app.reminders.handoff; `acted` does the same
after an in-state action) → commit. Pages, the REST API, the CLI and the demo all call it.
"""
import datetime
import functools
from dataclasses import dataclass, field as dataclass_field
from typing import Callable

from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import Column, and_, false, inspect, or_, select, true
from sqlalchemy.orm.exc import StaleDataError

from app import webhooks
from app.extensions import db
from app.observability import metrics
from app.organisation import roles
from app.organisation.models import QmsUser, Unit


def today() -> datetime.date:
    return datetime.date.today()


@dataclass(frozen=True)
class Field:
    """A value a transition asks for. type: string|text|date|integer|boolean|choice|user|unit."""

    name: str
    type: str
    label: object
    required: bool = True
    choices: dict | None = None
    multiple: bool = False
    when: str | None = None  # dates: "past" (today or earlier) or "future" (today or later)
    prefill: Callable | None = None  # (record) -> value offered in the form


@dataclass(frozen=True)
class Actor:
    """Who may take a transition: a description for people, a test for code and, where lists
    must not load every record to run that test, the same rule as an SQL condition."""

    label: object
    allows: Callable  # (user, record) -> bool
    where: Callable | None = None  # (user) -> SQL condition: the records `allows` admits


@dataclass(frozen=True)
class Transition:
    name: str
    label: object
    sources: tuple[str, ...]
    target: str
    actor: Actor
    fields: tuple[Field, ...] = ()
    effect: Callable | None = None  # (user, record, values) -> None: what it writes besides the state
    requires: dict | None = None  # {record attribute: label} that must be filled first
    comment_field: str | None = None  # which field goes into the history comment
    branch: tuple[str, dict] | None = None  # (field, {value: target}) when the target varies
    shows: tuple[tuple[str, object], ...] = ()  # (attribute, label) the actor must see to decide
    several: bool = False  # may be taken on several records at once, its fields asked once for all

    def target_for(self, values: dict) -> str:
        if self.branch:
            name, targets = self.branch
            return targets.get(values.get(name), self.target)
        return self.target


@dataclass(frozen=True)
class Action:
    """Something done to a record inside a state, without leaving it (a progress report, an
    edit of a draft, a decision on a change request): in which states, and by whom."""

    name: str
    label: object
    states: tuple[str, ...]
    actor: Actor
    hands_to: tuple[str, ...] = ()  # the steps whose actors act next (default: those leaving the state)

    def allows(self, user, record) -> bool:
        return record.state in self.states and self.actor.allows(user, record)


@dataclass(frozen=True)
class Workflow:
    """One record type's workflow, declared once; everything else reads it."""

    name: str  # the help page's address: /help/workflow/<name>
    title: object
    states: dict
    transitions: tuple[Transition, ...]
    history: Callable  # (record, name, from_state, to_state, user, comment, data) -> None
    actions: tuple[Action, ...] = ()
    automatic: tuple[Transition, ...] = ()  # taken by the system when a record reaches their source
    events: dict = dataclass_field(default_factory=dict)  # labels of other history events
    groups: dict = dataclass_field(default_factory=dict)  # named sets of states: {"final": (...)}
    # {state: document codes}: reaching the state makes those documents official (app.official)
    official: dict = dataclass_field(default_factory=dict)
    watchers: Callable | None = None  # (record) -> ids of the people told whenever it moves
    history_label: Callable | None = None  # (record, name) -> how its history names a step, if not event_label

    def transition(self, name: str) -> Transition | None:
        return next((t for t in self.transitions if t.name == name), None)

    def action(self, name: str) -> Action:
        return next(a for a in self.actions if a.name == name)

    def available(self, user, record) -> list[Transition]:
        """The transitions the user may take on the record now."""
        return [t for t in self.transitions if record.state in t.sources and t.actor.allows(user, record)]

    def waiting_condition(self, user, state_column):
        """SQL condition for the records on which the user may take a transition now: the
        rule of `available` for a whole table. An actor without `where` admits every record
        in its states: a caller that reads only the records this admits, counted and paged in
        SQL ("My work"'s tickets), needs every actor of the workflow to have one
        (`exact_waiting`); any other asks `available` of the rows found."""
        states: dict[Actor, set] = {}
        for t in self.transitions:
            states.setdefault(t.actor, set()).update(t.sources)
        return or_(*(and_(state_column.in_(sorted(sources)), true() if actor.where is None else actor.where(user))
                     for actor, sources in states.items()))

    def exact_waiting(self) -> bool:
        """Whether waiting_condition admits exactly the records `available` gives a step on:
        every actor states its rule in SQL too (tests/test_dashboard.py checks the two agree)."""
        return all(t.actor.where is not None for t in self.transitions)

    def next_steps(self, state: str) -> list[Transition]:
        """The transitions that can leave a state (who acts next, and what they supply)."""
        return [t for t in self.transitions if state in t.sources]

    def may(self, name: str, user, record) -> bool:
        return self.action(name).allows(user, record)

    def check(self, name: str, user, record) -> Action:
        """An in-state action passes the same checks as a transition: state (409), person (403)."""
        action = self.action(name)
        if record.state not in action.states:
            raise Conflict(gettext("“%(action)s” is not possible in the current state “%(state)s”.",
                                   action=action.label, state=self.states[record.state]))
        if not action.actor.allows(user, record):
            raise Forbidden(gettext("Only %(actor)s may do this.", actor=action.actor.label))
        return action

    @functools.cached_property
    def _event_labels(self) -> dict:
        return {**{t.name: t.label for t in self.transitions + self.automatic},
                **{a.name: a.label for a in self.actions}, **self.events}

    def event_labels(self) -> dict:
        return self._event_labels

    def event_label(self, name: str) -> str:
        label = self._event_labels.get(name)
        return str(label) if label is not None else ""

    def event_label_of(self, record, name: str) -> str:
        """Step `name` as the record's history names it (notifications name it the same way)."""
        return self.history_label(record, name) if self.history_label else self.event_label(name)

    def state_label(self, code) -> str:
        return str(self.states[code]) if code in self.states else ""


_JSON_TYPES = {
    "string": {"type": "string"}, "text": {"type": "string"},
    "date": {"type": "string", "format": "date"}, "integer": {"type": "integer"},
    "boolean": {"type": "boolean"}, "user": {"type": "integer"}, "unit": {"type": "integer"},
}


def transition_schema(transition: Transition) -> dict:
    """The JSON schema (OpenAPI 3.0) of a transition's body, from its fields: types, required
    fields, a choice's codes, lists for multiple fields; users and units by id; the optional
    `version` the caller saw."""
    properties, required = {}, []
    for field in transition.fields:
        if field.type == "choice":
            prop = {"type": "string", "enum": list(field.choices or {})}
        else:
            prop = dict(_JSON_TYPES.get(field.type, {"type": "string"}))
        if field.multiple:
            prop = {"type": "array", "items": prop}
        properties[field.name] = {**prop, "description": str(field.label)}
        if field.required:
            required.append(field.name)
    properties["version"] = {"type": "integer", "description": gettext(
        "The version of the record you saw (optional): a change made meanwhile is refused.")}
    schema = {"type": "object", "title": str(transition.label), "properties": properties}
    if required:
        schema["required"] = required
    return schema


STALE = _l("Someone else changed this record meanwhile. Reload it; what you typed is kept.")


def check_transition(workflow: Workflow, user, record, name: str, raw: dict, version):
    """The checks every transition passes before acting, in order: known (404), allowed from
    this state (409), by this user (403), on the version the user saw (409), with the record
    and the fields complete (422). Returns the transition and its parsed fields."""
    transition = workflow.transition(name)
    if transition is None:
        raise NotFound(gettext("Unknown action."))
    if record.state not in transition.sources:
        raise Conflict(gettext("This action is not possible in the current state “%(state)s”.",
                               state=workflow.states[record.state]))
    if not transition.actor.allows(user, record):
        raise Forbidden(gettext("Only %(actor)s may do this.", actor=transition.actor.label))
    if version not in (None, "") and str(version) != str(record.version):
        raise Conflict(str(STALE))
    missing = {attr: label for attr, label in (transition.requires or {}).items() if not getattr(record, attr)}
    if missing:
        raise Invalid(gettext("Complete these first: %(fields)s.", fields=", ".join(map(str, missing.values()))),
                      {attr: gettext("This field is required.") for attr in missing})
    return transition, parse_fields(transition.fields, raw)


def snapshot(record) -> dict:
    """The record's column values, to tell afterwards what an action changed (its table's
    columns: not what a statement reads with it, such as Ticket.has_comments)."""
    return {attr.key: getattr(record, attr.key) for attr in inspect(record).mapper.column_attrs
            if isinstance(attr.expression, Column)}


def changed_since(record, before: dict, skip=("state", "version")) -> dict:
    """{column: [old, new]} for every column changed since `snapshot(record)` was taken, as JSON
    values. (app.history.changes does the same for a record a form has just filled, where no
    snapshot could be taken first.)"""
    after = snapshot(record)
    return {key: [json_value(before.get(key)), json_value(value)]
            for key, value in after.items() if key not in skip and before.get(key) != value}


def json_value(value):
    if isinstance(value, (QmsUser, Unit)):
        return {"id": value.id, "name": str(value)}
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def event_data(values: dict, changed: dict | None = None) -> dict | None:
    """What a history entry keeps: the fields given, and the columns changed (old → new)."""
    data = {key: json_value(value) for key, value in values.items() if value is not None}
    if changed:
        data["changes"] = changed
    return data or None


def commit() -> None:
    """Commit, answering 409 when someone else saved the record meanwhile."""
    _saving(db.session.commit)


def _saving(write) -> None:
    try:
        write()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(str(STALE)) from None


def run(workflow: Workflow, user, record, name: str, raw: dict, version=None, *, save=True):
    """Take transition `name` on `record` for `user`, or raise a WorkflowError. The caller
    has loaded the record through its visibility rule (404)."""
    transition, values = check_transition(workflow, user, record, name, raw, version)
    before, started = snapshot(record), record.state
    if transition.effect:
        transition.effect(user, record, values)
    record.state = transition.target_for(values)
    comment = values.get(transition.comment_field) if transition.comment_field else None
    workflow.history(record, name, started, record.state, user, comment,
                     event_data(values, changed_since(record, before)))
    metrics.transition_taken(db.session, workflow.name, name)  # counted once committed
    for automatic in workflow.automatic:
        if record.state in automatic.sources:
            from_state, before = record.state, snapshot(record)
            note = automatic.effect(user, record, {})
            record.state = automatic.target
            workflow.history(record, automatic.name, from_state, record.state, None, note,
                             event_data({}, changed_since(record, before)))
            metrics.transition_taken(db.session, workflow.name, automatic.name)
    if record.state in workflow.official:
        from app.official import services as official  # the documents it renders import this module

        official.issue(record, workflow.official[record.state], user)
    webhooks.transition_taken(workflow, record, name, user)  # logged now, POSTed after the commit
    _hand_over(workflow, record, name, user, started)
    if save:
        commit()
    return record


def acted(workflow: Workflow, user, record, name: str) -> None:
    """An in-state action `name` was taken (in the caller's transaction): whoever acts next
    hears of it, as after a transition."""
    _hand_over(workflow, record, name, user, record.state)


def _hand_over(workflow: Workflow, record, name: str, user, from_state) -> None:
    from app.reminders import handoff  # it names records through modules that import this one

    _saving(db.session.flush)  # its look-ups would flush the record: a stale one answers 409 here
    handoff.handed_over(workflow, record, name, user, from_state)


class AtWork:
    """A person as the workflow tables see their own work: without the Admin role, which may
    take any step but is nobody's next step, nor work waiting for them."""

    def __init__(self, user):
        self.id, self.unit_id = user.id, user.unit_id
        self.roles = [role for role in roles.held_by(user) if role.name != roles.ADMIN]


def roles_of(user) -> set[str]:
    """The names of the roles a user holds, given directly or through a FAB group. Every
    rule asks this, as FAB does for permissions (SecurityManager.get_user_roles)."""
    return {role.name for role in roles.held_by(user)}


def has_role(user, *names) -> bool:
    return not roles_of(user).isdisjoint(names)


def is_admin(user) -> bool:
    return has_role(user, roles.ADMIN)


def unit_head_of(user, unit_id) -> bool:
    return has_role(user, roles.UNIT_HEAD) and unit_id is not None and user.unit_id == unit_id


def unit_headed_by(user, unit_column):
    """SQL side of `unit_head_of`: the record's unit column is the unit this user heads."""
    return unit_column == user.unit_id if has_role(user, roles.UNIT_HEAD) and user.unit_id else false()


def holds(user, *names):
    """SQL side of `has_role`: true for every record, or for none."""
    return true() if has_role(user, *names) else false()


class WorkflowError(Exception):
    status = 400

    def __init__(self, message, errors: dict | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.errors = errors or {}


class NotFound(WorkflowError):
    status = 404


class Forbidden(WorkflowError):
    status = 403


class Conflict(WorkflowError):
    status = 409


class Invalid(WorkflowError):
    status = 422


def choices_for(field: Field) -> list[tuple[str, str]]:
    """(value, label) pairs a choice, user or unit field accepts."""
    if field.type == "choice":
        return [(code, str(label)) for code, label in field.choices.items()]
    if field.type == "unit":
        units = db.session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code))
        return [(str(u.id), u.name) for u in units]
    if field.type == "user":
        users = db.session.scalars(
            select(QmsUser).where(QmsUser.active.is_(True)).order_by(QmsUser.username)
        )
        return [
            (str(u.id), f"{u.get_full_name()} — {u.position or ''} ({u.unit.code if u.unit else ''})")
            for u in users
        ]
    return []


NUMBER_DIGITS = 20
"""The most digits an id, a page or a year given in an address or a body is read from; longer
is no such number (and Python's int() refuses a string past 4 300 digits)."""


def looks_like_id(raw) -> bool:
    """A whole number, or a string of its ASCII digits: what a reference to a record is given as."""
    return (isinstance(raw, int) and not isinstance(raw, bool)) or (
        isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= NUMBER_DIGITS)


def id_of(raw) -> int | None:
    """The id a reference stands for, or None when it is not one or lies outside an id
    column's 32-bit range (PostgreSQL would refuse the query)."""
    key = int(raw) if looks_like_id(raw) else None
    return key if key is not None and 0 < key < 2**31 else None


def id_conditions(args, columns: dict) -> list:
    """`column == id` for each argument of `columns` (its name -> the column) that `args` (a
    list's address) gives as an id; nothing for one missing or not an id."""
    return [column == key for name, column in columns.items() if (key := id_of(args.get(name))) is not None]


def get_by_id(model, raw, *options):
    """The row a reference names, or None (not asked for when it is no id)."""
    key = id_of(raw)
    return db.session.get(model, key, options=options) if key is not None else None


def parse_value(field: Field, raw):
    """Return the parsed value, None when empty, or raise ValueError with a message."""
    if field.type == "choice" and field.multiple:
        values = raw if isinstance(raw, (list, tuple)) else ([raw] if raw not in (None, "") else [])
        unknown = [v for v in values if v not in field.choices]
        if unknown:
            raise ValueError(gettext("Unknown choice: %(value)s", value=", ".join(map(str, unknown))))
        return list(values) or None
    if isinstance(raw, str):
        raw = raw.strip()
    if raw in (None, "", []):
        return None
    if field.type in ("string", "text"):
        return str(raw)
    if field.type == "date":
        if isinstance(raw, datetime.date):
            check_date(raw, field.when, field.label)
            return raw
        day = parse_date(raw)
        if day is None:
            raise ValueError(gettext("Enter a date as dd/mm/yyyy."))
        check_date(day, field.when, field.label)
        return day
    if field.type == "integer":
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ValueError(gettext("Enter a whole number.")) from None
    if field.type == "boolean":
        return raw in (True, "true", "1", "on", "y", 1)
    if field.type == "choice":
        if raw not in field.choices:
            raise ValueError(gettext("Unknown choice: %(value)s", value=raw))
        return raw
    if field.type in ("user", "unit"):
        obj = get_by_id(QmsUser if field.type == "user" else Unit, raw)
        if obj is None or not obj.active:
            raise ValueError(gettext("Choose an existing, active entry."))
        return obj
    raise ValueError(f"unknown field type {field.type}")


def parse_date(raw) -> datetime.date | None:
    """A date typed as yyyy-mm-dd (date inputs, JSON) or dd/mm/yyyy; None if it is not one."""
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.datetime.strptime(str(raw).strip(), fmt).date()
        except ValueError:
            continue
    return None


def check_date(day: datetime.date, when: str | None, label) -> None:
    """Refuse a date on the wrong side of today, naming the field: `when` is "past" for
    what has happened (detected, verified, held) and "future" for what is due."""
    if when == "past" and day > today():
        raise ValueError(gettext("%(field)s cannot be in the future.", field=label))
    if when == "future" and day < today():
        raise ValueError(gettext("%(field)s cannot be in the past.", field=label))


def _json_type_fits(field: Field, value) -> bool:
    """A value a form or a JSON body may give the field: a list (of plain values) only for a
    field of several choices, never an object; a text where a text is expected."""
    scalar = (str, int, float, bool, datetime.date, type(None))
    if isinstance(value, (list, tuple)):
        return field.multiple and all(isinstance(v, str) for v in value)
    if not isinstance(value, scalar) or isinstance(value, float) and field.type != "integer":
        return False
    if field.type in ("string", "text", "choice") and not isinstance(value, (str, type(None))):
        return False
    return True


def parse_fields(fields: tuple[Field, ...], raw: dict) -> dict:
    """Values of the fields from a form or JSON body, or Invalid with a message per field."""
    values, errors = {}, {}
    for field in fields:
        given = raw.get(field.name)
        if not _json_type_fits(field, given):
            errors[field.name] = gettext("%(field)s: the value has the wrong type.", field=field.label)
            continue
        try:
            value = parse_value(field, given)
        except ValueError as error:
            errors[field.name] = str(error)
            continue
        if value is None and field.required:
            errors[field.name] = gettext("This field is required.")
        values[field.name] = value
    if errors:
        raise Invalid(gettext("Some fields are missing or invalid."), errors)
    return values
