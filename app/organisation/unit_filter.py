"""A list's filter by a related record (a unit, an NC category) that stays light (issue 15: a
page weighs what it shows, in a fixed number of statements). Its options come from one plain
query, where FAB's relation field runs the related list's whole query, its count included.
A filter carries only the records already chosen (none read when none is): the others are
found as one types, the first RESULTS as soon as it opens (select2 over `found_json`, as
TicketView.units_json and NonconformityView.categories_json, set up by app/static/qms/forms.js
on every `select.remote-choices`)."""
import re

from flask import jsonify, request, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select
from wtforms import Field
from wtforms.widgets import html_params

from app.extensions import db
from app.organisation.models import Unit
from app.tickets import search
from app.workflow import id_of

RESULTS = 30  # records a filter's search answers with


def unit_text(unit: Unit) -> str:
    return f"{unit.code} — {unit.name}"


def chosen_records(model, order, chosen) -> list:
    """The records of `model` named in `chosen` (ids as given in the address), in `order`: no
    statement when none is."""
    ids = [key for key in map(id_of, chosen) if key is not None]
    return db.session.scalars(select(model).where(model.id.in_(ids)).order_by(order)).all() if ids else []


def chosen_units(chosen) -> list[Unit]:
    return chosen_records(Unit, Unit.code, chosen)


def unit_choices(chosen) -> list[tuple[int, str]]:
    """(id, text) of the units named in `chosen`, as a list's unit filter offers them."""
    return [(unit.id, unit_text(unit)) for unit in chosen_units(chosen)]


def found_json(model, columns, order, text):
    """A filter's search: the first RESULTS records whose `columns` contain what was typed
    (accents and case ignored), as select2 reads them: {"results": [{"id", "text"}]}."""
    typed = request.args.get("q", "").strip()
    query = select(model).order_by(order)
    if typed:
        query = query.where(search.contains(search.folded(*columns), typed))
    return jsonify({"results": [{"id": record.id, "text": text(record)}
                                for record in db.session.scalars(query.limit(RESULTS))]})


def _chosen(name: str) -> list[str]:
    """The values of FAB's filters on column `name` in the address (_flt_<n>_<name>)."""
    pattern = re.compile(rf"_flt_\d+_{re.escape(name)}")
    return [value for key, value in request.args.items(multi=True) if pattern.fullmatch(key)]


class RecordFilterWidget:
    def __call__(self, field, **kwargs):
        attrs = {"name": field.name, "id": field.id, "style": "width:100%", "class": "form-control remote-choices",
                 "data-url": url_for(field.endpoint), "data-placeholder": str(field.placeholder)}
        chosen = chosen_records(field.model, field.order, _chosen(field.name))
        options = "".join(f'<option value="{record.id}">{escape(field.text(record))}</option>' for record in chosen)
        return Markup(f'<select {html_params(**attrs)}><option value=""></option>{options}</select>')


class RecordFilterField(Field):
    """A relation's field in a list's filters (FAB's search form, `search_form_extra_fields`):
    only rendered, FAB reads the filter's value from the address itself. The page carries the
    records of `model` chosen, in `order`; the others are found at `endpoint` (found_json) as
    one types."""

    widget = RecordFilterWidget()

    def __init__(self, label=None, *, model, order, endpoint, placeholder, text=str, **kwargs):
        super().__init__(label, **kwargs)
        self.model, self.order, self.endpoint, self.placeholder, self.text = model, order, endpoint, placeholder, text


def UnitFilterField(label):  # noqa: N802 (a field, as WTForms spells them)
    return RecordFilterField(label, model=Unit, order=Unit.code, endpoint="TicketView.units_json",
                             placeholder=_l("Type to find a unit"), text=unit_text)
