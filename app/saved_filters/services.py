"""Saved filters as plain functions: each user's own, for the lists of LISTS, and a saved
query string only ever opens on its own list (never an address elsewhere)."""
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import url_for
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.saved_filters.models import SavedFilter
from app.workflow import Invalid, NotFound, id_of

# The lists whose filters can be saved: key → the list's endpoint, and its title.
LISTS = {
    "tickets": ("TicketView.list", _l("Action request tickets")),
    "nonconformities": ("NonconformityView.list", _l("Nonconformities")),
}
NAME_LENGTH = 100
QUERY_LENGTH = 1000
PER_LIST = 30  # saved filters a user keeps for one list
NOT_KEPT = ("csrf_token",)  # arguments of a list URL a saved filter leaves out (and any page number)


def typed_form(list_key: str) -> str:
    """The name under which a refused filter name waits for the list's name box (app.ui.keep_typed)."""
    return f"saved-filter:{list_key}"


def list_path(list_key: str) -> str:
    return url_for(LISTS[list_key][0])


def own_filters(user, list_key: str | None = None) -> list[SavedFilter]:
    """The user's saved filters of one list (or of every list, list by list), by name."""
    query = select(SavedFilter).where(SavedFilter.user_id == user.id)
    if list_key is not None:
        query = query.where(SavedFilter.list_key == list_key)
    return list(db.session.scalars(query.order_by(SavedFilter.list_key, SavedFilter.name)))


def menu(user, list_key: str | None = None) -> list[dict]:
    """The user's saved filters (of one list, or of all), read when a menu of them opens: each
    with its id, its list's title and the address it opens."""
    return [{"id": saved.id, "list": str(LISTS[saved.list_key][1]), "name": saved.name, "url": filter_url(saved)}
            for saved in own_filters(user, list_key) if saved.list_key in LISTS]


def own_filter(user, filter_id) -> SavedFilter:
    """A saved filter of the user's own; any other (someone else's, another agency's, none)
    is not found alike."""
    saved = db.session.scalar(select(SavedFilter).where(
        SavedFilter.id == id_of(filter_id), SavedFilter.user_id == user.id))
    if saved is None:
        raise NotFound(gettext("Saved filter not found."))
    return saved


def _refused(field: str, message: str) -> Invalid:
    return Invalid(message, {field: message})


def clean_query(list_key: str, raw) -> str:
    """The query string of the list's own URL: given as a query string ("state=x&unit=2") or
    as the list's address ("/tickets/list/?state=x"); an address of another page or another
    site is refused. Page numbers are left out; the arguments are written again, encoded."""
    raw = str(raw or "").strip()
    if len(raw) > 4 * QUERY_LENGTH:
        raise _refused("query", gettext("This filter is too long to be saved."))
    if any(ord(ch) < 32 for ch in raw) or "\\" in raw:
        raise _refused("query", gettext("This filter is not an address of the list."))
    parts = urlsplit(raw if "?" in raw or raw.startswith("/") or "://" in raw else "?" + raw)
    if parts.scheme or parts.netloc or parts.fragment or parts.path not in ("", list_path(list_key)):
        raise _refused("query", gettext("Only a filter of this list can be saved."))
    kept = [(key, value) for key, value in parse_qsl(parts.query)
            if key not in NOT_KEPT and not key.startswith("page") and value.strip()]
    query = urlencode(kept)
    if len(query) > QUERY_LENGTH:
        raise _refused("query", gettext("This filter is too long to be saved."))
    return query


def clean_name(raw) -> str:
    name = " ".join(str(raw or "").split())
    if not name:
        raise _refused("name", gettext("Give the filter a name."))
    if len(name) > NAME_LENGTH:
        raise _refused("name", gettext("The name is too long (at most %(count)s characters).", count=NAME_LENGTH))
    return name


def save_filter(user, list_key: str, name, query) -> tuple[SavedFilter, bool]:
    """Keep the list's filter under a name of the user's; the same name again replaces the
    filter it held. Returns the saved filter and whether it replaced one. Commits."""
    if list_key not in LISTS:
        raise NotFound(gettext("Unknown list."))
    name, query = clean_name(name), clean_query(list_key, query)
    saved = db.session.scalar(select(SavedFilter).where(
        SavedFilter.user_id == user.id, SavedFilter.list_key == list_key, SavedFilter.name == name))
    replaced = saved is not None
    if not replaced:
        if len(own_filters(user, list_key)) >= PER_LIST:
            raise _refused("name", gettext("You keep %(count)s saved filters for this list already: delete one first.",
                                           count=PER_LIST))
        saved = SavedFilter(user_id=user.id, list_key=list_key, name=name)
        db.session.add(saved)
    saved.query = query
    db.session.commit()
    return saved, replaced


def delete_filter(user, filter_id) -> SavedFilter:
    saved = own_filter(user, filter_id)
    db.session.delete(saved)
    db.session.commit()
    return saved


def filter_url(saved: SavedFilter) -> str:
    """Where a saved filter opens: its own list, with its query string."""
    return list_url(saved.list_key, saved.query)


def list_url(list_key: str, query: str = "") -> str:
    return list_path(list_key) + (f"?{query}" if query else "")
