"""The agency is the tenant: one query layer limits every ORM statement to one agency.

Every record belongs to exactly one agency (`AgencyOwned`). Each SELECT, UPDATE and DELETE
the ORM runs — lists, counts, lookups by id, lazy loads, FAB's own queries — gets the
condition `agency_id = <the current agency>` added here, so a view cannot forget it and a
record of another agency is simply not found (404). New records take the current agency.

The current agency (the *scope*) is:
- in a request, the signed-in user's agency (read from `g.user`, which FAB sets for the
  session user and for an API token alike); the province inspector's is the agency they
  chose to inspect; the platform admin's is none: they see platform accounts only;
- outside a request (CLI, tests), whatever `agency_scope()` set; by default every agency,
  for the platform's own commands (migrations, role sync, the compliance board).
"""
import threading
import weakref
from contextlib import contextmanager
from functools import lru_cache
from typing import NamedTuple

from flask import g, has_app_context, has_request_context, session as web_session
from sqlalchemy import ForeignKey, event, inspect
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, with_loader_criteria

ALL = "all"  # no condition: platform commands and the board's cross-agency figures
NONE = "none"  # no agency: sees platform accounts only, no agency's records
INSPECTED_AGENCY = "inspected_agency"  # session key: the agency the inspector looks at


class AgencyOwned:
    """A record of one agency (SPEC §10)."""

    @declared_attr
    def agency_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("agency.id"), index=True)


class NoAgency(RuntimeError):
    """A record was about to be saved without knowing its agency."""


def current_scope():
    """The agency id every query is limited to, or ALL / NONE."""
    if not has_app_context():
        return ALL
    explicit = g.get("_agency_scope")
    if explicit is not None:
        return explicit
    if not has_request_context() or g.get("_resolving_scope") or g.get("_loading_user"):
        return ALL  # the session user's own look-up, which decides the scope
    user = g.get("user")
    if user is None:
        return ALL  # anonymous: only the log-in looks a user up
    g._resolving_scope = True  # loading the user and its roles runs queries of its own
    try:
        if not user.is_authenticated:
            return ALL
        # kept for this person's record itself: after a commit its attributes (its id too)
        # would be read again, one statement more at the next query
        person = user._get_current_object() if hasattr(user, "_get_current_object") else user
        cached = g.get("_user_scope")
        if cached is None or cached[0] is not person:
            cached = (person, scope_of(person))
            g._user_scope = cached
        return cached[1]
    finally:
        g._resolving_scope = False


def scope_of(user):
    """The agency a signed-in user works in."""
    if user.agency_id is not None:
        return user.agency_id
    from app.organisation import roles
    from app.workflow import has_role

    if has_role(user, roles.PROVINCE_INSPECTOR):
        return web_session.get(INSPECTED_AGENCY) or NONE
    return NONE


@contextmanager
def agency_scope(scope):
    """Run the block limited to one agency (its id), or ALL / NONE."""
    previous = g.get("_agency_scope")
    g._agency_scope = scope
    try:
        yield
    finally:
        g._agency_scope = previous


@contextmanager
def agency_named(code: str):
    """Run the block as the agency with this code (CLI `--agency CODE`, tests, benchmarks);
    yields the agency. LookupError when no agency has the code."""
    from app.extensions import db
    from app.organisation.models import Agency

    with agency_scope(ALL):
        agency = db.session.query(Agency).filter_by(code=code).one_or_none()
    if agency is None:
        raise LookupError(code)
    with agency_scope(agency.id):
        yield agency


@contextmanager
def agency_of(record):
    """Run the block as the agency that owns `record`: a record's document prints its own
    agency's lines and names its own agency's people, even from a platform command with no
    agency scope. In a request the record was found in the user's agency: nothing changes."""
    agency_id = getattr(record, "agency_id", None)
    with agency_scope(agency_id if agency_id is not None else current_scope()):
        yield


def each_agency():
    """Run the loop's body as each active agency in turn (daily jobs: reminders, retention);
    yields the agency."""
    from app.extensions import db
    from app.organisation.models import Agency

    with agency_scope(ALL):
        agencies = db.session.query(Agency).filter(Agency.active.is_(True)).order_by(Agency.code).all()
    for agency in agencies:
        with agency_scope(agency.id):
            yield agency


def current_agency_id() -> int | None:
    scope = current_scope()
    return scope if isinstance(scope, int) else None


@lru_cache(maxsize=1024)
def _condition(scope):
    """The options that limit a statement to `scope`, built once per scope: building them
    (three lambdas SQLAlchemy analyses) cost about as much as running a small statement."""
    from flask_appbuilder.security.sqla.models import User

    from app.organisation.models import Agency

    # FAB's own User class (a group's users, a role's users, FAB's forms) loads the people of
    # every agency too (app.organisation.models maps its agency column), so it takes the
    # condition as well; QmsUser, a subclass of both, gets the same condition twice.
    if scope == NONE:
        return (with_loader_criteria(AgencyOwned, lambda cls: cls.agency_id.is_(None), include_aliases=True),
                with_loader_criteria(User, lambda cls: cls.agency_id.is_(None), include_aliases=True))
    return (
        with_loader_criteria(AgencyOwned, lambda cls: cls.agency_id == scope, include_aliases=True),
        with_loader_criteria(User, lambda cls: cls.agency_id == scope, include_aliases=True),
        with_loader_criteria(Agency, lambda cls: cls.id == scope, include_aliases=True),
    )


def _limited(statement, scope):
    return statement if scope == ALL else statement.options(*_condition(scope))


@event.listens_for(Session, "do_orm_execute")
def _limit_to_agency(state) -> None:
    if state.is_select or state.is_update or state.is_delete:
        state.statement = _limited(state.statement, current_scope())


class _Text(NamedTuple):
    sql: str
    values: dict  # the statement's own values (not a run's), each as the database takes it
    processors: dict  # how the database takes each value of a run (ExpandedState.processors)


# statements shared by an agency (kept_rows' `shared`) × agencies in a worker: about nine
# (the home page's, the review inputs', the ticket page's), 300 agencies
TEXTS_KEPT = 4096


def _converted(dialect, type_) -> bool:
    """Whether SQLAlchemy converts a column of this type as the driver gives it (a conversion
    that depends on the database's own type of the column counts as one)."""
    try:
        return dialect.type_descriptor(type_).result_processor(dialect, None) is not None
    except (TypeError, ValueError, KeyError):
        return True


def _made_text(statement, scope, dialect, names: frozenset) -> _Text:
    """kept_rows' text of `statement` for `scope`, its run's values named `names`: made in about
    10 ms, once per statement and agency in each worker (_text, _own_text)."""
    for column in statement.selected_columns:
        if _converted(dialect, column.type):
            raise ValueError(f"kept_rows reads plain values: {getattr(column, 'name', column)} would need "
                             "SQLAlchemy's conversion")
    expanded = _limited(statement, scope).compile(dialect=dialect).construct_expanded_state(dict.fromkeys(names))
    if not names <= expanded.parameters.keys():
        raise ValueError("kept_rows takes single values, each a parameter of the statement's text")
    processors = expanded.processors
    return _Text(expanded.statement,
                 {name: processors[name](value) if name in processors else value
                  for name, value in expanded.parameters.items() if name not in names},
                 {name: processors[name] for name in names if name in processors})


_text = lru_cache(maxsize=TEXTS_KEPT)(_made_text)
"""The texts of the statements shared by an agency: the cache's key holds the statement, so no
other takes its id while it is kept; the least used are forgotten first."""

_OWN_TEXTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_OWN_TEXTS_MADE = threading.Lock()
OWN_TEXT_AT_RUN = 3
"""The run of a statement built for one person at which its text is made (_own_text)."""


def _own_text(statement, scope, dialect, names: frozenset) -> _Text | None:
    """The text of a statement built for one person (kept_rows' `shared` false), made at its
    OWN_TEXT_AT_RUN-th run in this worker and kept as long as the statement itself is; None
    before (the statement runs as any statement). Making a text costs 2–9 ms, about what 5 to 20
    runs through SQLAlchemy's statement machinery cost more than the text: a person's statement
    run once or twice before its caller forgets it (KeptStatements keeps a bounded number of
    them) pays nothing for it, one run again and again by someone at work pays it once. Not in
    _text's cache, which would keep every person's statement alive (about 55 KB each) once its
    caller had forgotten it."""
    with _OWN_TEXTS_MADE:
        texts = _OWN_TEXTS.setdefault(statement, {})
    key = (scope, dialect, names)
    made = texts.get(key, 0)
    if isinstance(made, int):
        if made + 1 < OWN_TEXT_AT_RUN:
            texts[key] = made + 1
            return None
        made = texts[key] = _made_text(statement, scope, dialect, names)
    return made


def kept_rows(statement, parameters: dict, *, shared: bool = True) -> list:
    """The rows of a statement of plain values (a page's grouped counts) limited to the current
    agency, as every ORM statement is (_limit_to_agency). On PostgreSQL it runs as its SQL text,
    made once per statement and agency (_text): SQLAlchemy's own run of the home page's figures
    (a UNION of eleven grouped parts, 55 parameters) spent about 3 ms a request on the
    statement's cache key and parameters, against about 4 ms in PostgreSQL, and psycopg gives
    each plain value as SQLAlchemy would (a date, a number, a text; a column SQLAlchemy would
    convert is refused). Elsewhere (SQLite, which keeps dates as texts) as any statement.
    `statement` is built once and kept (functools.cache, KeptStatements); `parameters` are
    single values (a date, a year), each one the statement asks for.
    `shared`: whether the statement serves everyone of the agency alike (kept in _text's cache,
    per agency). One built for one person (with their id in it: the rows a staff member sees,
    "My work") has its text from its third run, for as long as its caller keeps the statement
    (_own_text): SQLAlchemy's run of "My work"'s statements spent about 0.4 ms each on what the
    text skips."""
    from app.extensions import db

    session = db.session()
    connection = session.connection()
    text = None
    if connection.dialect.name == "postgresql":
        text = (_text if shared else _own_text)(statement, current_scope(), connection.dialect, frozenset(parameters))
    if text is None:
        return session.execute(statement, parameters).all()
    if session.autoflush:
        session.flush()  # as the ORM's statements see what this session has not yet written
    values = {**text.values, **{name: text.processors[name](value) if name in text.processors else value
                                for name, value in parameters.items()}}
    return connection.exec_driver_sql(text.sql, values).all()


@event.listens_for(Session, "before_flush")
def _stamp_agency(session, flush_context, instances) -> None:
    """New records take the current agency; no record moves to another agency."""
    scope = current_scope()
    for record in session.new:
        if not isinstance(record, AgencyOwned):
            continue
        if record.agency_id is None:
            if isinstance(scope, int):
                record.agency_id = scope
            elif not _may_be_platform_wide(record):
                raise NoAgency(f"{type(record).__name__} without an agency")
        elif isinstance(scope, int) and record.agency_id != scope:
            raise NoAgency(f"{type(record).__name__} of agency {record.agency_id} saved in agency {scope}")
    if isinstance(scope, int):
        for record in session.dirty:
            if isinstance(record, AgencyOwned) and inspect(record).attrs.agency_id.history.deleted:
                raise NoAgency(f"{type(record).__name__} moved to another agency")


def _may_be_platform_wide(record) -> bool:
    """Only a person may belong to no agency: the platform admin and the province inspector."""
    from app.organisation.models import QmsUser

    return isinstance(record, QmsUser)
