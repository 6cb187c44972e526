"""A list page of our own (the NC list, the objective plans, the management reviews): its
filters in the address, one page of records, a bounded bar of page links, the rows' show, edit
and delete buttons (app.ui.RecordLinks). FAB's list and search widgets cost about 40 % of such
a page (issue 15); the view gives the statement, the filters, the headings and each row's cells.

Addresses of FAB's list (`_flt_<n>_<column>`, `page_<View>`…), kept in bookmarks, saved filters
and earlier reports, are read as the same filter where the list has one (`own_args`)."""
import math
import re
from dataclasses import dataclass, replace
from typing import Callable
from urllib.parse import urlencode

from flask import flash, redirect, request, session, url_for
from flask_babel import gettext
from markupsafe import Markup, escape
from sqlalchemy import func, select

from app.extensions import db
from app.ui import RecordLinks, format_date, in_words
from app.workflow import looks_like_id, parse_date

PAGE_SIZE = 25
READ_AS_ASKED = 10 ** 6  # a page asked past this (an offset too large for the databases) is counted first
FAB_PAGES = 10 ** 6  # a FAB list's page (counted from 0) past this is read as its first
FAB_PAGE_SIZE_LIMIT = 100  # the largest page of a FAB list: its widget offers 25 to 100
FAB_LIST_ARGS = ("_flt_", "_oc_", "_od_", "page_", "psize_")
_FAB_FILTER = re.compile(r"_flt_(\d{1,9})_(\w+)")  # FAB's own indexes have one digit


@dataclass(frozen=True)
class Filter:
    """A field of a list's filter form, named as its argument in the address: a text (no
    choices), a select of `choices` (code -> label), a date (dd/mm/yyyy) or records found as
    one types at `endpoint` (`chosen` gives those the address names)."""

    name: str
    label: object
    choices: dict | None = None
    any_label: object = None  # the choice of no condition
    date: bool = False
    endpoint: str | None = None
    chosen: Callable | None = None
    width: int = 0


def page_links(page: int, pages: int, around: int = 3) -> list[int | None]:
    """The page numbers a list links to: the first, the last and a few around the current
    one, None where pages are skipped (however many pages there are)."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    links = []
    for number in shown:
        if links and number - links[-1] > 1:
            links.append(None)
        links.append(number)
    return links


def kept_args(names) -> list[tuple[str, str]]:
    """The address's arguments among the list's own `names`, in order, empty ones left out:
    what its links carry (any other argument, `endpoint` or `_method`, would break url_for)."""
    return [(name, value) for name, value in request.args.items(multi=True) if name in names and value]


def with_args(url: str, args: list[tuple]) -> str:
    return f"{url}?{urlencode(args)}" if args else url


def linked_pages(kept: list[tuple], page: int, pages: int) -> list[tuple]:
    """(number, address) of each page link (page_links), the list's own arguments kept."""
    here = url_for(request.endpoint)
    return [(number, number and with_args(here, [*kept, ("page", number)])) for number in page_links(page, pages)]


def own_args(args, own_names, condition: Callable) -> tuple[dict, bool]:
    """The list's own arguments for an address of FAB's list, and whether some of its
    conditions have no equal here (left out). `condition(column, place, value)` answers the
    own arguments of FAB's filter number `place` on `column` (its place in FAB's filters for
    the column's type), or None."""
    own, dropped = {name: args[name] for name in own_names if args.get(name)}, False
    for name, value in args.items(multi=True):
        found = _FAB_FILTER.fullmatch(name)
        if found:
            answer = condition(found.group(2), int(found.group(1)), value)
            own.update(answer or {})
            dropped = dropped or answer is None
        elif name.startswith("page_") and looks_like_id(value):  # FAB counts pages from 0
            own["page"] = int(value) + 1
    return own, dropped


def _fab_numbers(prefix: str) -> dict:
    """`<prefix><View>=<n>` arguments of FAB's lists, by view, those whose value is a number
    (any other is left out, as if not given)."""
    return {name[len(prefix):]: int(value) for name, value in request.args.items()
            if name.startswith(prefix) and looks_like_id(value)}


def fab_page_args() -> dict:
    """FAB's `get_page_args` for its list pages (NC categories, units, people…): a page that is
    not a number, or is past FAB_PAGES, is their first page. FAB's int() answered 500 for a
    word and a database error for a negative or huge page."""
    return {view: page for view, page in _fab_numbers("page_").items() if page < FAB_PAGES}


def fab_page_size_args() -> dict:
    """FAB's `get_page_size_args`, as fab_page_args, a size at most FAB_PAGE_SIZE_LIMIT (FAB
    took any, so one address could list a whole table); none of 0 (FAB divided by it)."""
    return {view: min(size, FAB_PAGE_SIZE_LIMIT) for view, size in _fab_numbers("psize_").items() if size}


def read_fab_list_args_safely() -> None:
    """FAB's list and show pages read their page and size with fab_page_args and
    fab_page_size_args (both modules import FAB's own by name)."""
    from flask_appbuilder import baseviews, views

    for module in (baseviews, views):
        module.get_page_args = fab_page_args
        module.get_page_size_args = fab_page_size_args


def fab_equals(ids=(), choices=None) -> Callable:
    """A list's `condition` (own_args) for FAB's "equal to" filters: filter 0 on a column of
    `ids` (a number or a relation), filters 0 "starts with" and 3 "equal to" on a text column of
    `choices` (its name -> the codes it takes) with one of its codes; None for any other."""
    choices = choices or {}

    def condition(column: str, place: int, value: str) -> dict | None:
        if (column in ids and place == 0) or (place in (0, 3) and value in choices.get(column, ())):
            return {column: value}
        return None

    return condition


def moved_from_fab(own_names, condition):
    """The redirect from an address of FAB's list to the list's own, or None for any other."""
    args = request.args
    if not any(name.startswith(FAB_LIST_ARGS) for name in args):
        return None
    own, dropped = own_args(args, own_names, condition)
    if dropped:
        flash(gettext("Some conditions of this address can no longer be applied and were left out."), "warning")
    return redirect(url_for(request.endpoint, **own))


def _counting(query):
    """The statement counting the rows of a list's statement."""
    return select(func.count()).select_from(query.subquery())


def count_of(query) -> int:
    return db.session.scalar(_counting(query))


def count_and_page(query) -> tuple[int, int, int]:
    """(records, page asked for, pages) of a list's statement, the page kept within the list."""
    total = count_of(query)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return total, min(max(1, asked_page()), pages), pages


def asked_page() -> int:
    return request.args.get("page", 1, type=int)


LIST_TOTAL = "list_total"


def counted_page(query, read_page: Callable) -> tuple[list, int, int, int]:
    """(records, total, page, pages): the page the address asks for, read by
    `read_page(query, page, PAGE_SIZE, *columns)` with the count of the whole list as one more
    column of the same statement (LIST_TOTAL): a list takes one statement, not a count and then
    its page. A page past the last (an old address) is counted alone, and the last page read."""
    page = max(1, asked_page())
    if page <= READ_AS_ASKED:
        records = read_page(query, page, PAGE_SIZE, _counting(query).scalar_subquery().label(LIST_TOTAL))
        if records or page == 1:
            total = getattr(records[0], LIST_TOTAL) if records else 0
            return records, total, page, max(1, math.ceil(total / PAGE_SIZE))
    total, page, pages = count_and_page(query)
    return read_page(query, page, PAGE_SIZE), total, page, pages


def cells(values) -> Markup:
    """A row's cells, each value escaped."""
    return Markup("".join(f"<td>{escape('' if value is None else value)}</td>" for value in values))


def _translated(shown: Filter) -> Filter:
    """The filter with its texts in the request's language, each translated once (Jinja's
    escaping would translate a lazy text twice, at each use)."""
    return replace(shown, label=str(shown.label), any_label=str(shown.any_label or ""),
                   choices=None if shown.choices is None else in_words(shown.choices))


def render(view, *, filters: list[Filter], headings: list, rows: list[tuple], total: int, page: int, pages: int,
           saved_filters: str | None = None, add_label=None, export: bool = False):
    """The list page (record_list.html). `rows`: (pk, whether the user may change it now, cells).
    Its links carry the list's own arguments only."""
    may = view.appbuilder.sm.has_access
    permission = view.class_permission_name
    links = RecordLinks(view.endpoint)
    can_edit, can_delete = may("can_edit", permission), may("can_delete", permission)
    kept = kept_args({f.name for f in filters})
    if (session.get("page_history") or [None])[-1] != request.url:
        # a delete from the list comes back to it, as from FAB's list; the list seen again
        # changes nothing, and the session is not written again (a cookie on every response)
        view.update_redirect()
    return view.render_template(
        "record_list.html", title=view.list_title, filters=[_translated(f) for f in filters],
        headings=[str(heading) for heading in headings], total=total,
        rows=[(links.buttons(pk, True, can_edit and changeable, can_delete and changeable), row_cells)
              for pk, changeable, row_cells in rows],
        page=page, pages=pages, page_links=linked_pages(kept, page, pages), args=request.args,
        typed={f.name: format_date(parse_date(request.args.get(f.name))) if f.date else request.args.get(f.name, "")
               for f in filters if f.choices is None and f.endpoint is None},
        saved_filters=saved_filters, add_label=add_label if may("can_add", permission) else None,
        export=with_args(url_for(f"{view.endpoint}.export"), kept) if export and total and may("can_export", permission)
        else None,
    )


def list_page(view, *, arg_names, fab_filter: Callable, query, read_page: Callable, row: Callable, **shown):
    """A whole list page: an address of FAB's list moved to the list's own arguments
    (`moved_from_fab`), else the page of `query` that `read_page` reads with its count
    (counted_page) and each record's `row(record)` = (pk, may change it now, cells), rendered (`render`)."""
    moved = moved_from_fab(arg_names, fab_filter)
    if moved is not None:
        return moved
    records, total, page, pages = counted_page(query, read_page)
    return render(view, rows=[row(record) for record in records], total=total, page=page, pages=pages, **shown)
