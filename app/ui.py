"""Shared pieces for our FAB views: eager-loading lists and Vietnamese value display."""
import datetime
import re
from urllib.parse import quote

from flask import current_app, flash, g, has_request_context, redirect, render_template, request, session, url_for
from markupsafe import Markup, escape
from flask_appbuilder import ModelView, expose
from flask_appbuilder.models.sqla.filters import SQLAFilterConverter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.utils.base import get_column_root_relation, is_column_dotted
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import Boolean, Column, Date, DateTime, UniqueConstraint
from sqlalchemy.orm import ColumnProperty, InstrumentedAttribute, Load, aliased, joinedload, selectinload
from sqlalchemy.orm.util import AliasedClass
from sqlalchemy.sql.elements import BinaryExpression
from wtforms import DateField
from wtforms.validators import InputRequired, Optional
from werkzeug.datastructures import MultiDict
from werkzeug.routing import BuildError
from wtforms.widgets import TextInput

from app.tenancy import current_scope


class _ConvertOnce(SQLAFilterConverter):
    """FAB's conversion of a column into its filters, kept on the model's interface."""

    def convert(self, col_name):
        known = self.datamodel.converted_filters
        if col_name not in known:
            known[col_name] = super().convert(col_name)
        return None if known[col_name] is None else list(known[col_name])


class ModelInterface(SQLAInterface):
    """FAB's SQLAInterface, converting each column into its filters once.

    FAB builds a `Filters` three times for a list page (REST too), and each converts every
    column of the model (about 1.5 ms for the ticket); the answer depends only on the model.
    A filter holds its column and this interface, nothing of a request.
    """

    filter_converter_class = _ConvertOnce

    def __init__(self, obj, session=None):
        self.converted_filters = {}
        self.loaded_columns = {}  # a column a REST list shows -> the attribute it loads, or None
        self.joined_relations = {}  # a relation a dotted column names -> its (alias, join condition)s
        self.row_columns = {}  # a column a REST list shows -> how a plain row reads it (_row_column)
        super().__init__(obj, session=session)
        # a value a statement reads beside the row (QmsUser.unread_notifications): no column
        # of the table, nothing a page lists, filters or edits
        for name in [name for name, column in self.list_columns.items() if not isinstance(column, Column)]:
            del self.list_columns[name], self.list_properties[name]

    def get_related_obj(self, col_name: str, value):
        """The record a relation filter names (?_flt_0_unit=7), read once per session: FAB's
        filter reads it again for the count and for the page (the session keeps no strong
        reference to it in between)."""
        kept = self.session.info.setdefault("qms_related_records", {})
        key = (current_scope(), self.get_related_model(col_name), str(value))
        if key not in kept:
            kept[key] = super().get_related_obj(col_name, value)
        return kept[key]

    def apply_inner_select_joins(self, query, select_columns=None, aliases_mapping=None):
        """FAB's, with the plain columns a REST list shows loaded by one option: FAB adds one
        `load_only` per column, each a copy of the query, and asks each time whether the column
        is a relation or a property (about a tenth of a list of 100 tickets)."""
        if not select_columns:
            return query
        loaded = [attribute for attribute in map(self._loaded_column, select_columns) if attribute is not None]
        if loaded:
            query = query.options(Load(self.obj).load_only(*loaded))
        dotted = [column for column in select_columns if is_column_dotted(column)]
        return super().apply_inner_select_joins(query, dotted, aliases_mapping) if dotted else query

    def _relation_joins(self, root_relation: str) -> list[tuple]:
        """The (alias, join condition)s of the relation a dotted column names, made once per
        relation: FAB makes a new alias on every request, and each new alias copies its table's
        columns (about 7 % of a REST list of 100 tickets). An alias is a fixed part of a
        statement, shared by any number of them."""
        if root_relation not in self.joined_relations:
            parts = []
            for model, join in self.get_related_model_and_join(root_relation):
                if not hasattr(join, "clauses"):  # FAB aliases any but a custom relation
                    model = aliased(model, name=root_relation)
                    pk = self.get_pk(model)
                    join = BinaryExpression(join.left if join.left.foreign_keys else join.right, pk, join.operator)
                parts.append((model, join))
            # the first kept wins: a thread that built its own at the same moment uses that one
            return self.joined_relations.setdefault(root_relation, parts)
        return self.joined_relations[root_relation]

    def _query_join_relation(self, query, root_relation: str, aliases_mapping=None):
        """FAB's outer join of a dotted column's relation (requesting_unit.name), through the
        relation's kept alias (_relation_joins)."""
        for model, join in self._relation_joins(root_relation):
            if aliases_mapping is not None and isinstance(model, AliasedClass):
                aliases_mapping[root_relation] = model
            query = query.join(model, join, isouter=True)
        return query

    def _loaded_column(self, column: str):
        """The attribute a plain column of a REST list loads (None for a dotted one, a relation
        or a property), found once per column."""
        if column not in self.loaded_columns:
            self.loaded_columns[column] = None if is_column_dotted(column) or self.is_relation(column) \
                or self.is_property_or_function(column) else getattr(self.obj, column)
        return self.loaded_columns[column]

    def query(self, filters=None, order_column="", order_direction="", page=None, page_size=None,
              select_columns=None, outer_default_load=False):
        """FAB's; a REST list whose columns are the model's own or those of its many-to-one
        relations reads its page as plain rows (`ListedRecord`s), not as records of the session:
        loading 100 tickets as ORM objects was about a quarter of the request. The same
        statement otherwise: FAB's filters, order, page, joins and the agency's condition."""
        shown = [self._row_column(column) for column in select_columns or ()]
        pk = self.get_pk()
        if not shown or None in shown or pk is None or is_column_dotted(order_column or ""):
            return super().query(filters, order_column, order_direction, page, page_size, select_columns,
                                 outer_default_load)
        count = self.query_count(self.session.query(self.obj), filters, select_columns)
        plain = [(name, attribute) for kind, name, attribute in shown if kind == "plain" and attribute is not pk]
        related: dict[str, list] = {}
        for kind, name, _ in shown:
            if kind == "related":
                related.setdefault(name.partition(".")[0], []).append(name.partition(".")[2])
        aliases = {}
        query = self.session.query(pk.label(self.get_pk_name()), *(attribute.label(name) for name, attribute in plain))
        for relation, leaves in related.items():
            query = self._query_join_relation(query, relation, aliases)
            alias = aliases[relation]  # the columns of the alias joined, whichever thread kept it
            key = self.get_pk(alias)  # first: none there, no related record
            query = query.add_columns(*(getattr(alias, leaf).label(f"{relation}.{leaf}")
                                        for leaf in dict.fromkeys([key.key, *leaves])))
        query = self._apply_inner_all(query, filters, order_column, order_direction, page, page_size)
        return count, listed_records(query)

    def _row_column(self, column: str):
        """What a column of a REST list reads as a plain row: ("plain", name, the model's
        attribute), ("related", "relation.leaf", None: a column of the relation's alias), or
        None (a collection, a property, a method: read through the records). Found once."""
        if column not in self.row_columns:
            root, _, leaf = column.partition(".")
            found = None
            if not leaf and self._loaded_column(column) is not None:
                found = ("plain", column, self._loaded_column(column))
            elif leaf and "." not in leaf and self.is_relation_many_to_one(root):
                alias = self._relation_joins(root)[-1][0]
                attribute = getattr(self.get_related_model(root), leaf, None)
                if isinstance(alias, AliasedClass) and isinstance(attribute, InstrumentedAttribute) \
                        and isinstance(attribute.property, ColumnProperty):
                    found = ("related", column, None)
            self.row_columns[column] = found
        return self.row_columns[column]

    def query_count(self, query, filters=None, select_columns=None) -> int:
        """The filtered rows counted without the joins and column options FAB adds for the
        columns a REST list shows, when each is a many-to-one outer join (requesting_unit.name),
        which never changes how many rows there are: built again for the count, they cost more
        than the count."""
        if select_columns and all(not is_column_dotted(column)
                                  or self.is_relation_many_to_one(get_column_root_relation(column))
                                  for column in select_columns):
            select_columns = None
        return super().query_count(query, filters, select_columns)


class ListedRecord:
    """A record of a list's page read as a plain row (listed_records): its columns, and each
    related record shown, as attributes."""

    def __init__(self, values=(), **more):
        self.__dict__.update(values, **more)


def related_columns(model, relation: str, *columns) -> list:
    """The columns of a related record a plain row reads, labelled for listed_records, its
    key first."""
    return [column.label(f"{relation}.{column.key}") for column in (model.id, *columns)]


def listed_records(rows) -> list[ListedRecord]:
    """Each of `rows` (of one statement) as a ListedRecord. A column labelled "relation.column"
    is an attribute of the related record `relation`, whose first column is its key: no key,
    no related record (None). Lists read this way load none of their records into the session
    (a REST list: ModelInterface.query; the NC, plan and review lists)."""
    rows = list(rows)
    plain, related = [], {}
    for place, key in enumerate(rows[0]._fields if rows else ()):
        relation, dot, leaf = key.partition(".")
        if dot:
            related.setdefault(relation, []).append((place, leaf))
        else:
            plain.append((place, key))
    records = []
    for row in rows:
        record = ListedRecord((key, row[place]) for place, key in plain)
        for relation, leaves in related.items():
            setattr(record, relation, None if row[leaves[0][0]] is None
                    else ListedRecord((leaf, row[place]) for place, leaf in leaves))
        records.append(record)
    return records


class QmsInterface(ModelInterface):
    """Our views' interface, with two fixes.

    - Lists load the named relations of a page of rows with the rows (many-to-one, joined)
      or in one query each (collections); FAB loads them lazily, one query per row and relation.
    - A yes/no column is never "required" in a form: an unticked box is the answer No
      (FAB would refuse it as a missing value).
    """

    def __init__(self, obj, eager: tuple[str, ...] = (), session=None):
        super().__init__(obj, session=session)
        self.eager = eager

    def apply_all(self, query, *args, **kwargs):
        query = super().apply_all(query, *args, **kwargs)
        return query.options(*(selectinload(attribute) if attribute.property.uselist else joinedload(attribute)
                               for attribute in (getattr(self.obj, name) for name in self.eager)))

    def is_unique(self, col_name: str) -> bool:
        """Unique in the installation, or in the agency (a unique (agency_id, column)
        constraint): FAB's form then checks it, and its query is limited to the agency."""
        return super().is_unique(col_name) or any(
            isinstance(constraint, UniqueConstraint)
            and {column.name for column in constraint.columns} == {"agency_id", col_name}
            for constraint in getattr(self.obj, "__table__", None).constraints
        )

    def is_nullable(self, col_name: str) -> bool:
        return self.is_boolean(col_name) or super().is_nullable(col_name)

    def add(self, item, commit: bool = True) -> None:
        super().add(item, commit)
        g.saved_pk = self.get_pk_value(item)  # where the view sends the user after saving


def in_words(labels: dict) -> dict:
    """`labels` (code: lazy text) with each text translated now, once: a lazy text is translated
    again at each use, twice when Jinja escapes it."""
    return {code: str(label) for code, label in labels.items()}


def format_date(value) -> str:
    """dd/mm/yyyy (and HH:MM for date-times), the way Vietnamese documents write dates."""
    if isinstance(value, datetime.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    return "" if value is None else str(value)


def shorten(text: str, width: int) -> str:
    """`text` with its whitespace collapsed and, when longer than `width`, cut after the last
    whole word that leaves room for "…": textwrap.shorten(text, width, placeholder="…") for a
    text without hyphens, at a tenth of its cost (about 50 µs, for each row of a list)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    kept = text[:width]
    return kept[:max(kept.rfind(" "), 0)] + "…"


def format_yes_no(value) -> str:
    return "" if value is None else gettext("Yes") if value else gettext("No")


def format_related(value) -> str:
    return "" if value is None else str(value)


def _blank_if_none(value):
    return "" if value is None else value


def value_formatters(model) -> dict:
    """A formatter for every date, date-time, yes/no and many-to-one column, and an empty
    cell rather than "None" for any other column left empty."""
    formatters = {}
    for column in model.__table__.columns:
        if isinstance(column.type, (Date, DateTime)):
            formatters[column.key] = format_date
        elif isinstance(column.type, Boolean):
            formatters[column.key] = format_yes_no
        elif column.nullable:
            formatters[column.key] = _blank_if_none
    for relation in model.__mapper__.relationships:
        if not relation.uselist:
            formatters[relation.key] = format_related
    return formatters


class VietnameseDisplayMixin:
    """Dates as dd/mm/yyyy and booleans as Có/Không on lists and detail pages."""

    def __init__(self, **kwargs):
        self.formatters_columns = {
            **value_formatters(self.datamodel.obj),
            **(self.formatters_columns or {}),
        }
        super().__init__(**kwargs)


# How a person types a date in a form: dd/mm/yyyy first (shown that way), ISO still taken.
DATE_FORMATS = ["%d/%m/%Y", "%Y-%m-%d"]


class DateTextInput(TextInput):
    """A text input for a date, dd/mm/yyyy, with the bundled Vietnamese calendar picker
    (app/static/qms/forms.js), whatever the browser's language; what was typed is kept."""

    def __call__(self, field, **kwargs):
        kwargs["class"] = (kwargs.get("class", "") + " form-control qms-date").strip()
        kwargs.setdefault("autocomplete", "off")
        kwargs.setdefault("placeholder", "dd/mm/yyyy")
        return super().__call__(field, **kwargs)


def date_field(label, validators, default=None) -> DateField:
    return DateField(label, widget=DateTextInput(), format=DATE_FORMATS, validators=validators,
                     default=default)


def date_input_value(value) -> str:
    """A date as a date field shows it (dd/mm/yyyy); a date typed in any other way, as typed."""
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    text = "" if value is None else str(value)
    try:
        return datetime.date.fromisoformat(text).strftime("%d/%m/%Y") if len(text) == 10 else text
    except ValueError:
        return text


def native_date_fields(model, labels: dict) -> dict:
    """Form fields for the model's date columns: text inputs taking dd/mm/yyyy with the
    bundled Vietnamese picker (FAB's date picker loses typed values, and the browser's own
    date input follows the browser's language)."""
    fields = {}
    for column in model.__table__.columns:
        if isinstance(column.type, Date):
            required = not column.nullable
            fields[column.key] = date_field(
                labels.get(column.key, column.key),
                validators=[InputRequired() if required else Optional()],
                default=datetime.date.today if required else None,
            )
    return fields


def name_the_empty_choice() -> None:
    """FAB's relation fields offer "no value" as an option whose label is empty, which
    WTForms prints as its value, "__None": it reads "— Chọn —" instead."""
    from flask_appbuilder.fields import QuerySelectField

    if getattr(QuerySelectField, "_empty_choice_named", False):
        return
    fab_choices = QuerySelectField.iter_choices

    def iter_choices(self):
        for choice in fab_choices(self):
            if choice[0] == "__None" and not choice[1]:
                choice = (choice[0], gettext("— Choose —"), *choice[2:])
            yield choice

    QuerySelectField.iter_choices = iter_choices
    QuerySelectField._empty_choice_named = True


class RecordActions:
    """FAB's generic record routes, answering 404 where FAB would fail with a 500.

    - The single-record action (/action/<name>/<pk>): a record no one has, or another
      agency's (the query layer hides it), or an action the view does not declare, answers
      404 as the record's page does (FAB would run the action with no record).
    - FAB's file-column download (/download/<filename>) serves a file of one folder shared by
      the whole installation, by its name: no model has a file column (evidence files are kept
      in the database, each in its agency, and served by the record's own route), so there
      is nothing to serve here, to anyone.
    """

    @expose("/download/<string:filename>")
    def download(self, filename):
        return render_error(404)

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        if request.method == "POST" and (name not in self.actions or self.datamodel.get(
                self._deserialize_pk_if_composite(pk), self._base_filters) is None):
            return render_error(404)
        return super().action(name, pk)


class QmsModelView(RecordActions, VietnameseDisplayMixin, ModelView):
    """Base of our CRUD views: Vietnamese display, native date inputs, and after a save the
    saved record's page (FAB goes back through its page history, which may be anywhere)."""

    def __init__(self, **kwargs):
        dates = native_date_fields(self.datamodel.obj, self.label_columns or {})
        self.add_form_extra_fields = {**dates, **(self.add_form_extra_fields or {})}
        self.edit_form_extra_fields = {**dates, **(self.edit_form_extra_fields or {})}
        super().__init__(**kwargs)

    def post_add_redirect(self):
        """The new record's page; the form again when it was refused (the reason is flashed)."""
        pk = g.pop("saved_pk", None)
        return redirect(url_for(".show", pk=pk) if pk is not None else url_for(".add"))

    def post_edit_redirect(self):
        """The record's page, saved or refused (the outcome is flashed)."""
        return redirect(url_for(".show", pk=request.view_args["pk"]))


ERROR_MESSAGES = {
    400: _l("The request could not be understood. Go back and try again."),
    403: _l("You do not have permission to do this."),
    404: _l("The page or record you asked for does not exist, or you may not see it."),
    405: _l("This action is not allowed here."),
    409: _l("This action is not possible in the record's current state."),
    413: _l("The files sent are too large."),
    422: _l("Some fields are missing or invalid."),
    429: _l("Too many attempts. Please wait a minute and try again."),
    500: _l("An unexpected error occurred. It has been logged; please try again later."),
    503: _l("The service is temporarily unavailable."),
}


def render_error(code: int, message=None):
    """Our error page (Vietnamese, inside the panel's layout) with its status code."""
    appbuilder = current_app.appbuilder
    return (
        render_template(
            "error.html", base_template=appbuilder.base_template, appbuilder=appbuilder,
            code=code, message=message or ERROR_MESSAGES.get(code, ERROR_MESSAGES[500]),
        ),
        code,
    )


def refusal(error, back: str):
    """A refused action: 404 as a page; any other reason flashed on the page it came from
    (the rules' WorkflowError carries the status, the message and the fields at fault)."""
    from app.extensions import db

    db.session.rollback()
    if error.status == 404:
        return render_error(404, error.message)
    flash(error.message + "".join(f" {message}" for message in error.errors.values()), "danger")
    return redirect(back)


def transition_values(step) -> dict:
    """The fields of a transition as the form posted them."""
    form = request.form
    return {f.name: form.getlist(f.name) if f.multiple else form.get(f.name) for f in step.fields}


def _prefilled(step, record) -> MultiDict:
    """What the form offers before anything is typed: each field's value on the record."""
    values = MultiDict()
    for field in step.fields:
        value = field.prefill(record) if field.prefill else None
        if isinstance(value, datetime.date):
            value = value.strftime("%d/%m/%Y")
        if value is not None:
            values[field.name] = str(value)
    return values


def transition_page(view, workflow, record, name: str, take, back: str, heading: str, summary=None):
    """The one page for every transition of every workflow: GET shows the form with all its
    fields (prefilled from the record), what the actor must see to decide, and why it is not
    possible if it is not; POST takes it through `take(values, version)` and lands on `back`,
    or shows the form again with what was typed and the refusal."""
    from flask import g

    from app.extensions import db
    from app.workflow import WorkflowError, choices_for

    step = workflow.transition(name)
    if step is None:
        return render_error(404)
    errors, message, status = {}, None, 200
    if request.method == "POST":
        values = request.form
        try:
            take(transition_values(step), request.form.get("version"))
        except WorkflowError as error:
            db.session.rollback()
            message, errors, status = error.message, error.errors, error.status
        else:
            flash(gettext("Done: %(action)s.", action=step.label), "success")
            return redirect(back)
    else:
        values = _prefilled(step, record)
        if record.state not in step.sources:
            message, status = gettext("This action is not possible in the current state “%(state)s”.",
                                      state=workflow.state_label(record.state)), 409
        elif not step.actor.allows(g.user, record):
            message, status = gettext("Only %(actor)s may do this.", actor=step.actor.label), 403
    return view.render_template(
        "transition_form.html", title=step.label, step=step, record=record, heading=heading,
        summary=summary, back=back, state_label=workflow.state_label(record.state),
        shows=[(label, getattr(record, attr)) for attr, label in step.shows],
        values=values, errors=errors, message=message, blocked=request.method == "GET" and status != 200,
        choices={f.name: choices_for(f) for f in step.fields},
        version=request.form.get("version", record.version),
        stale=status == 409 and request.method == "POST",
    ), status


def same_site_path(target: str | None, host: str | None = None) -> str | None:
    """`target` as a path of this site ("/x?y"), or None when it could lead elsewhere.
    A relative path is taken as it is; an absolute URL only when `host` is its host (a
    Referer), and then only its path and query are kept."""
    from urllib.parse import urlsplit

    if not target or any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        if host is None or parts.scheme not in ("http", "https") or parts.netloc != host:
            return None
    path = parts.path
    if not path.startswith("/") or path.startswith("//"):
        return None
    return path + (f"?{parts.query}" if parts.query else "")


def return_after_language_switch(app) -> None:
    """FAB's /lang/<locale> goes back through its own page history, often to the home
    page: send the user back to the page they were on instead (`next`, else the Referer),
    never off the site."""
    import functools

    endpoint = "LocaleView.index"
    original = app.view_functions.get(endpoint)
    if original is None:
        return

    @functools.wraps(original)
    def switch(locale):
        response = original(locale)
        if getattr(response, "status_code", None) in (301, 302, 303):
            target = (same_site_path(request.args.get("next"))
                      or same_site_path(request.headers.get("Referer"), request.host))
            if target is None or target.startswith("/lang/"):
                from app.extensions import appbuilder

                target = appbuilder.get_url_for_index
            response.headers["Location"] = target
        return response

    app.view_functions[endpoint] = switch


# Text typed into a refused form, given back on the page the refusal leads to. The session is a
# cookie (about 4 KB in all; a Vietnamese letter takes up to 6 bytes there): a longer text is
# cut to TYPED_KEPT characters rather than lost with the whole cookie and the refusal message.
TYPED = "typed_again"
TYPED_KEPT = 500


def keep_typed(form: str, text) -> None:
    """Keep what was typed into `form` (a name the page asks for again) for `take_typed`."""
    if text:
        session[TYPED] = {"form": form, "text": str(text)[:TYPED_KEPT]}


def take_typed(form: str) -> str:
    """What was typed into `form` before its refusal, once (empty when nothing waits)."""
    kept = session.get(TYPED)
    if not kept or kept.get("form") != form:
        return ""
    session.pop(TYPED)
    return kept.get("text", "")


class RecordLinks:
    """The show, edit and delete buttons of a list's rows (`buttons`), FAB's lib.btn_crud
    markup from links and labels worked out once per list: FAB's macro runs url_for and six
    translations for every row, about 6 ms for a page of 25 (a fifth of a list page), and a
    Jinja macro writing the same from these links still cost about 70 µs a row."""

    PLACEHOLDER = "987654321"  # a key every route of ours takes, as <pk> or as <int:pk>

    def __init__(self, view_name: str, filters=None):
        # a list shown inside a related record's page keeps that record's filter in its links:
        # FAB's own filter, given no path, answers "?_flt_0_<column>=<value>…" or ""
        self.kept = current_app.jinja_env.filters["set_link_filters"]("", filters) if filters is not None else ""
        self.parts = {}
        for kind in ("show", "edit", "delete"):
            try:
                url = url_for(f"{view_name}.{kind}", pk=self.PLACEHOLDER)
            except BuildError:  # the view has no such page
                continue
            head, _, tail = url.partition(self.PLACEHOLDER)
            self.parts[kind] = (head, tail)
        self.labels = {key: escape(label) for key, label in (
            ("show_record", gettext("Show record")), ("show", gettext("Show")),
            ("edit_record", gettext("Edit record")), ("edit", gettext("Edit")),
            ("delete_record", gettext("Delete record")), ("delete", gettext("Delete")),
            ("confirm_delete", gettext("Are you sure you want to delete this item?")))}

    def offers(self, kind: str) -> bool:
        return kind in self.parts

    def buttons(self, pk, show: bool, edit: bool, delete: bool) -> Markup:
        """A row's buttons: those of `show`, `edit` and `delete` the view has."""
        from app import csp_nonce

        labels = self.labels
        html = ['<div class="btn-group btn-group-xs" style="display: flex;">']
        for kind, wanted, icon in (("show", show, "fa-search"), ("edit", edit, "fa-edit")):
            if wanted and self.offers(kind):
                html.append(f'<a href="{escape(self.link(kind, pk))}" class="btn btn-sm btn-default" '
                            f'data-toggle="tooltip" rel="tooltip" title="{labels[kind + "_record"]}">'
                            f'<span class="sr-only">{labels[kind]}</span><i class="fa {icon}"></i></a>')
        if delete and self.offers("delete"):
            path = escape(self.link("delete", pk))
            html.append(
                f'<a id="btn-delete-{path}" href="#" class="btn btn-sm btn-default confirm" rel="tooltip" '
                f'title="{labels["delete_record"]}" ><span class="sr-only">{labels["delete"]}</span>'
                f'<i class="fa fa-trash"></i></a><script nonce="{escape(csp_nonce())}"> '
                f'document.getElementById("btn-delete-{path}") .addEventListener("click", function () {{ '
                f'const adminAction = new AdminActions(); return adminAction.execute_single_delete('
                f"'{path}','{labels['confirm_delete']}'); }}) </script>")
        html.append("</div>")
        return Markup("".join(html))

    def link(self, kind: str, pk) -> str:
        head, tail = self.parts[kind]
        url = f"{head}{quote(str(pk), safe='')}{tail}"
        if kind == "delete" or not self.kept:
            return url
        return url + ("&" + self.kept[1:] if "?" in url else self.kept)


def row_cells(item: dict, columns, formatters: dict) -> Markup:
    """A list row's cells, as FAB's widget loop writes them (each value, or its formatter's
    answer, escaped): the loop cost about 60 µs a row in Jinja's calls."""
    cells = []
    for column in columns:
        formatter = formatters.get(column)
        cells.append(f"<td>{escape(formatter(item[column]) if formatter else item[column])}</td>")
    return Markup("".join(cells))


_BETWEEN_TAGS = re.compile(r">\s+<")


def tight(html) -> Markup:
    """Rendered markup without the whitespace-only text between its tags (FAB's list rows
    carry about 1.5 KB of indentation each); text inside elements is left as it is."""
    return Markup(_BETWEEN_TAGS.sub("><", str(html)))


STATIC_ENDPOINTS = frozenset({"static", "appbuilder.static"})
STATIC_URLS_KEPT = 1000


def keep_static_urls(app) -> None:
    """A template's address of a static file, `url_for('static', filename=…)`, or of a page
    that takes no value, `url_for('TicketView.list')`, built once per address and mount point
    in each worker: a page links 20 to 40 such addresses, each about 4 µs through Flask's
    url_for (10 µs for a page's). Any other address is Flask's, as before: one with values,
    or relative to the request's blueprint ('.list')."""
    flask_url_for = app.jinja_env.globals["url_for"]
    kept: dict[tuple, str] = {}

    def template_url_for(endpoint: str, **values) -> str:
        if values:
            if endpoint not in STATIC_ENDPOINTS or values.keys() != {"filename"}:
                return flask_url_for(endpoint, **values)
        elif endpoint.startswith("."):
            return flask_url_for(endpoint)
        if not has_request_context():
            return flask_url_for(endpoint, **values)
        key = (request.script_root, endpoint, values.get("filename"))
        address = kept.get(key)
        if address is None:
            address = flask_url_for(endpoint, **values)
            if len(kept) < STATIC_URLS_KEPT:
                kept[key] = address
        return address

    app.jinja_env.globals["url_for"] = template_url_for


LAYOUT_FILES = {
    # FAB 5.3's (flask_appbuilder/templates/appbuilder/init.html, in its order), then ours
    # (qms_base.html); THEME marks where FAB puts APP_THEME's style sheet, when one is set
    "stylesheets": [("appbuilder.static", f"css/{name}") for name in (
        "bootstrap.min.css", "fontawesome/fontawesome.min.css", "fontawesome/regular.min.css",
        "fontawesome/solid.min.css", "fontawesome/brands.min.css", "fontawesome/v4-shims.min.css")]
    + ["THEME"]
    + [("appbuilder.static", f"css/{name}") for name in (
        "bootstrap-datepicker/bootstrap-datepicker3.min.css", "select2/select2.min.css",
        "select2/select2-bootstrap.min.css", "flags/flags16.css", "ab.css")]
    + [("static", name) for name in ("vendor/flatpickr/flatpickr.min.css", "qms/forms.css", "qms/phone.css")],
    "head_scripts": [("appbuilder.static", f"js/{name}") for name in (
        "jquery-latest.js", "ab_filters.js", "ab_actions.js")],
    "tail_scripts": [("appbuilder.static", f"js/{name}") for name in (
        "bootstrap.min.js", "bootstrap-datepicker/bootstrap-datepicker.min.js", "select2/select2.min.js", "ab.js")]
    + [("static", name) for name in ("vendor/flatpickr/flatpickr.min.js", "vendor/flatpickr/l10n/vn.js",
                                     "qms/forms.js", "qms/phone.js")],
}
_LAYOUT_ADDRESSES: dict[str, dict] = {}  # mount point -> LAYOUT_FILES' addresses


def layout_files() -> dict[str, list[str]]:
    """The addresses of the layout's style sheets and scripts (LAYOUT_FILES, linked by
    appbuilder/init.html), built once per mount point in each worker."""
    addresses = _LAYOUT_ADDRESSES.get(request.script_root)
    if addresses is None:
        theme = current_app.appbuilder.app_theme
        addresses = _LAYOUT_ADDRESSES[request.script_root] = {
            kind: [url_for("appbuilder.static", filename=f"css/themes/{theme}") if file == "THEME" else
                   url_for(file[0], filename=file[1]) for file in files if file != "THEME" or theme]
            for kind, files in LAYOUT_FILES.items()}
    return addresses


_NAVBARS: dict[tuple, Markup] = {}  # see navbar
NAVBARS_KEPT = 1024  # about 8 KB each; the oldest forgotten first


def navbar() -> Markup:
    """The layout's navigation bar (appbuilder/navbar.html): FAB's menu, the bell and its
    unread count, the language menu and the person's own menu. It depends only on who is
    signed in (their name and permissions), their unread count and the language: rendered once
    per such key in each worker (rendering it cost about 0.4 ms a page), NAVBARS_KEPT kept."""
    from flask_babel import get_locale

    from app.reminders.services import unread_count

    appbuilder = current_app.appbuilder
    user = g.get("user")
    if user is None or not user.is_authenticated:
        return Markup(render_template("appbuilder/navbar.html", appbuilder=appbuilder, show_bell=False, unread=0))
    show_bell = appbuilder.sm.has_access("can_index", "NotificationView")
    unread = unread_count(user) if show_bell else 0
    key = (request.script_root, session.get("locale"), str(get_locale()), appbuilder.sm.permissions_of(user),
           user.id, user.get_full_name(), unread)
    html = _NAVBARS.get(key)
    if html is None:
        if len(_NAVBARS) >= NAVBARS_KEPT:
            del _NAVBARS[next(iter(_NAVBARS))]
        html = _NAVBARS[key] = Markup(render_template(
            "appbuilder/navbar.html", appbuilder=appbuilder, show_bell=show_bell, unread=unread))
    return html


_MENUS: dict[tuple, Markup] = {}  # (permissions, language) -> the menu's HTML, in this worker
MENUS_KEPT = 64


def navbar_menu() -> Markup:
    """FAB's menu (appbuilder/navbar_menu.html) for the signed-in user. Rendering it checks
    every item against the user's permissions and translates every label, a few milliseconds a
    page; it depends on nothing else, so it is rendered once per set of permissions and
    language in each worker (a role's new permissions make a new set, hence a new menu)."""
    from flask_babel import get_locale

    appbuilder = current_app.appbuilder
    user = g.get("user")
    if user is None or not user.is_authenticated:
        return Markup(render_template("appbuilder/navbar_menu.html", menu=appbuilder.menu))
    key = (appbuilder.sm.permissions_of(user), str(get_locale()))
    menu = _MENUS.get(key)
    if menu is None:
        if len(_MENUS) >= MENUS_KEPT:
            _MENUS.clear()
        menu = _MENUS[key] = Markup(render_template("appbuilder/navbar_menu.html", menu=appbuilder.menu))
    return menu
