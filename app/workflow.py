"""Pieces shared by the declarative workflows (tickets, objective plans, reviews):
the shape of a transition table, who-may-act helpers, the refusals with their HTTP
codes, and the parsing of the fields a transition asks for (from a form or JSON)."""
import datetime
from dataclasses import dataclass
from typing import Callable

from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
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


@dataclass(frozen=True)
class Actor:
    """Who may take a transition: a description for people and a test for code."""

    label: object
    allows: Callable  # (user, ticket) -> bool


@dataclass(frozen=True)
class Transition:
    name: str
    label: object
    sources: tuple[str, ...]
    target: str
    actor: Actor
    fields: tuple[Field, ...] = ()
    requires: tuple[str, ...] = ()  # record attributes that must be filled first
    comment_field: str | None = None  # which field goes into the history comment
    branch: tuple[str, dict] | None = None  # (field, {value: target}) when the target varies

    def target_for(self, values: dict) -> str:
        if self.branch:
            name, targets = self.branch
            return targets.get(values.get(name), self.target)
        return self.target


def available(table, user, document) -> list[Transition]:
    """The transitions of a table the user may take on the document now."""
    return [t for t in table if document.state in t.sources and t.actor.allows(user, document)]


STALE = _l("Someone else changed this record meanwhile. Reload it; what you typed is kept.")


def check_transition(table, user, document, name: str, raw: dict, version, states: dict):
    """The checks every transition passes before acting, in order: known (404), allowed from
    this state (409), by this user (403), on the version the user saw (409), with the record
    and the fields complete (422). Returns the transition and its parsed fields."""
    transition = next((t for t in table if t.name == name), None)
    if transition is None:
        raise NotFound(gettext("Unknown action."))
    if document.state not in transition.sources:
        raise Conflict(gettext("This action is not possible in the current state “%(state)s”.",
                               state=states[document.state]))
    if not transition.actor.allows(user, document):
        raise Forbidden(gettext("Only %(actor)s may do this.", actor=transition.actor.label))
    if version not in (None, "") and str(version) != str(document.version):
        raise Conflict(str(STALE))
    missing = [attr for attr in transition.requires if not getattr(document, attr)]
    if missing:
        raise Invalid(gettext("Complete these first: %(fields)s.", fields=", ".join(missing)),
                      {m: gettext("This field is required.") for m in missing})
    return transition, parse_fields(transition.fields, raw)


def has_role(user, *names) -> bool:
    return any(role.name in names for role in user.roles)


def is_admin(user) -> bool:
    return has_role(user, roles.ADMIN)


def unit_head_of(user, unit_id) -> bool:
    return has_role(user, roles.UNIT_HEAD) and unit_id is not None and user.unit_id == unit_id


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
            return raw
        for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                return datetime.datetime.strptime(str(raw), fmt).date()
            except ValueError:
                continue
        raise ValueError(gettext("Enter a date as dd/mm/yyyy."))
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
        model = QmsUser if field.type == "user" else Unit
        try:
            obj = db.session.get(model, int(raw))
        except (TypeError, ValueError):
            obj = None
        if obj is None or not obj.active:
            raise ValueError(gettext("Choose an existing, active entry."))
        return obj
    raise ValueError(f"unknown field type {field.type}")


def parse_fields(fields: tuple[Field, ...], raw: dict) -> dict:
    """Values of the fields from a form or JSON body, or Invalid with a message per field."""
    values, errors = {}, {}
    for field in fields:
        try:
            value = parse_value(field, raw.get(field.name))
        except ValueError as error:
            errors[field.name] = str(error)
            continue
        if value is None and field.required:
            errors[field.name] = gettext("This field is required.")
        values[field.name] = value
    if errors:
        raise Invalid(gettext("Some fields are missing or invalid."), errors)
    return values
