"""Pages for nonconformities and tickets. Thin: every rule lives in services/workflow."""
import datetime
from urllib.parse import quote

from flask import Response, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import select
from wtforms import SelectField, ValidationError
from wtforms.validators import InputRequired

from app.extensions import db
from app.organisation.models import Unit
from app.organisation.unit_filter import chosen_records, chosen_units, found_json, unit_choices, unit_text
from app.record_list import Filter
from app.tickets import services, vocabulary, workflow
from app.tickets.crud import NonconformityRules, TicketRules
from app import record_list
from app.tickets.models import NcCategory, Nonconformity, Ticket
from app.ui import (
    QmsInterface, QmsModelView, date_field, format_date, format_yes_no, in_words, refusal, render_error, shorten,
    transition_page, transition_values,
)
from app.workflow import choices_for, parse_date


class VisibleTickets(BaseFilter):
    """Row-level visibility as a FAB base filter (lists, show, edit, delete, API)."""

    name = "visible"
    arg_name = "visible_tickets"

    def apply(self, query, value):
        return query.filter(services.ticket_visibility(g.user))


class VisibleNonconformities(BaseFilter):
    name = "visible"
    arg_name = "visible_ncs"

    def apply(self, query, value):
        return query.filter(services.nonconformity_visibility(g.user))


def _choice_field(label, vocabulary_dict):
    return SelectField(label, choices=list(vocabulary_dict.items()), validators=[InputRequired()],
                       widget=Select2Widget())


def _own_unit_validator(form, field):
    """Staff and unit heads open records for their own unit only (checked in the form, so
    what was typed is kept)."""
    if field.data is not None and not services.may_open_for(g.user, field.data.id):
        raise ValidationError(gettext("You may only open records for your own unit."))


def _own_unit():
    """A new record's unit, preset: the signed-in user's own unit when it is one they may
    open records for (an edit form shows the record's unit instead)."""
    unit = getattr(g.user, "unit", None)
    if unit is not None and unit.active and services.may_open_for(g.user, unit.id):
        return unit
    return None


def _unit_field():
    return QuerySelectField(
        _l("Unit"), query_func=lambda: db.session.query(Unit).filter(Unit.active.is_(True)).order_by(Unit.code),
        get_pk_func=lambda unit: unit.id, widget=Select2Widget(),
        validators=[InputRequired(), _own_unit_validator], default=_own_unit,
    )


def _past_date_field(label):
    """A date of something that already happened: refused in the form when in the future,
    so what was typed is kept."""

    def not_future(form, field):
        try:
            services.check_not_future(field.data, field.name, label)
        except services.Invalid as error:
            raise ValidationError(error.message) from None

    return date_field(label, validators=[InputRequired(), not_future], default=datetime.date.today)


def _uploads():
    return [(f.filename, f.read()) for f in request.files.getlist("files") if f and f.filename]


def _attach_files(attach, pk):
    """Store the uploaded files on a record and go back to its page with the outcome."""
    back = url_for(".show", pk=pk)
    try:
        stored = attach(g.user, pk, _uploads())
    except services.files.UploadRefused as error:
        flash(str(error), "danger")
        return redirect(back)
    except services.WorkflowError as error:
        return refusal(error, back)
    flash(gettext("%(count)s file(s) attached.", count=len(stored)), "success")
    return redirect(back)


class NcCategoryView(QmsModelView):
    datamodel = QmsInterface(NcCategory)
    route_base = "/nc-categories"
    list_title = show_title = _l("Nonconformity categories")
    add_title = _l("Add nonconformity category")
    edit_title = _l("Edit nonconformity category")
    label_columns = {"name": _l("Nonconformity content"), "active": _l("Active")}
    list_columns = add_columns = edit_columns = show_columns = ["name", "active"]
    search_columns = ["name", "active"]
    base_order = ("name", "asc")


_fab_nc_equals = record_list.fab_equals(("unit", "category"), {"source": vocabulary.SOURCES})


def _fab_nc_filter(column: str, place: int, value: str) -> dict | None:
    """The NC list's arguments for FAB's filter number `place` on `column` (its place in FAB's
    filters for the column's type: for a text 0 "starts with", 2 "contains", 3 "equal to"; for a
    date 0 "equal to", 1 "greater than", 2 "smaller than"; for a relation or a yes/no 0 "equal
    to", 1 "not equal to"), or None when the list has no equal (FAB's other negations)."""
    day = parse_date(value)
    if column == "description" and place in (0, 1, 2, 3):
        return {"q": value}
    if column == "detected_on" and day is not None and place in (0, 1, 2):
        try:  # "greater than" a day is from the next one, "smaller than" until the one before
            shifted = day + datetime.timedelta(days=(0, 1, -1)[place])
        except OverflowError:  # the first or last day a date can be
            return None
        if place == 0:
            return {"from": shifted.isoformat(), "to": shifted.isoformat()}
        return {"from" if place == 1 else "to": shifted.isoformat()}
    if column == "correction_checked" and place in (0, 1):
        checked = value.strip().lower() in ("y", "1", "true", "on")
        return {"checked": "1" if checked == (place == 0) else "0"}
    return _fab_nc_equals(column, place, value)


def _chosen_categories(ids) -> list[tuple[int, str]]:
    return [(category.id, category.name) for category in chosen_records(NcCategory, NcCategory.name, ids)]


NC_FILTERS = [
    Filter("q", _l("Text in the description")),
    Filter("unit", _l("Unit"), any_label=_l("All units"), endpoint="TicketView.units_json", chosen=unit_choices),
    Filter("category", _l("Nonconformity content"), any_label=_l("All categories"),
           endpoint="NonconformityView.categories_json", chosen=_chosen_categories),
    Filter("source", _l("Source (5.1.2)"), choices=vocabulary.SOURCES, any_label=_l("All sources"), width=220),
    Filter("from", _l("Detected from"), date=True, width=150),
    Filter("to", _l("Detected until"), date=True, width=150),
    Filter("checked", _l("Correction checked"), any_label=_l("Checked or not"),
           choices={"1": _l("Correction checked"), "0": _l("Correction not checked yet")}),
    Filter("sort", _l("Sort by"), choices={"newest": _l("Latest detected first"),
                                           "oldest": _l("Earliest detected first")}),
]
NC_COLUMNS = ("detected_on", "unit", "description", "category", "source", "disposition", "correction_checked",
              "ticket")


class NonconformityView(NonconformityRules, QmsModelView):
    datamodel = QmsInterface(Nonconformity, eager=("unit", "category", "ticket"))
    route_base = "/nonconformities"
    base_filters = [["id", VisibleNonconformities, None]]
    show_template = "nonconformity_show.html"
    list_title = _l("Nonconformities")
    show_title = _l("Nonconformity")
    add_title = _l("Record a nonconformity")
    edit_title = _l("Edit nonconformity")
    label_columns = {
        "unit": _l("Unit"), "detected_on": _l("Detected on"), "detected_by": _l("Detected by"),
        "description": _l("Description"), "related_process": _l("Process / administrative procedure"),
        "source": _l("Source (5.1.2)"), "category": _l("Nonconformity content"),
        "disposition": _l("Disposition"), "disposition_by": _l("Decided by"),
        "disposition_on": _l("Decided on"), "correction_done": _l("Correction done"),
        "correction_checked": _l("Correction checked"),
        "beyond_authority": _l("Beyond authority, reported to the leader"),
        "ticket": _l("Ticket"), "created_by": _l("Recorded by"), "created_on": _l("Recorded on"),
    }
    add_columns = edit_columns = [
        "unit", "detected_on", "description", "related_process", "source", "category",
        "correction_done", "beyond_authority",
    ]
    show_columns = [
        "unit", "detected_on", "detected_by", "description", "related_process", "source", "category",
        "correction_done", "beyond_authority", "disposition", "disposition_by", "disposition_on",
        "correction_checked", "ticket", "created_by", "created_on",
    ]
    formatters_columns = {
        "source": lambda v: vocabulary.label(vocabulary.SOURCES, v),
        "disposition": lambda v: vocabulary.label(vocabulary.DISPOSITIONS, v),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "source": _choice_field(_l("Source (5.1.2)"), vocabulary.SOURCES),
        "unit": _unit_field(),
        "category": QuerySelectField(
            _l("Nonconformity content"),
            query_func=lambda: db.session.query(NcCategory).filter(NcCategory.active.is_(True)).order_by(NcCategory.name),
            get_pk_func=lambda c: c.id, widget=Select2Widget(), validators=[InputRequired()],
        ),
        "detected_on": _past_date_field(_l("Detected on")),
    }

    @expose("/categories.json")
    @has_access
    @permission_name("list")
    def categories_json(self):
        """The list's category filter (app.organisation.unit_filter): the categories whose name
        contains what was typed."""
        return found_json(NcCategory, (NcCategory.name,), NcCategory.name, str)

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        """Refuse a settled NC before showing a form whose input would be lost."""
        try:
            services.check_nonconformity_change(g.user, services.get_nonconformity(g.user, int(pk)))
        except ValueError:
            return render_error(404)
        except services.WorkflowError as error:
            return render_error(error.status, error.message)
        return super().edit(pk)

    def show_extra(self, pk):
        nc = services.get_nonconformity(g.user, pk)
        may_decide = not services.nonconformity_settled(nc) and (
            workflow.unit_head_of(g.user, nc.unit_id) or workflow.is_admin(g.user))
        linked = {event.data["ticket"] for event in nc.events if (event.data or {}).get("ticket")}
        tickets = db.session.scalars(select(Ticket).where(Ticket.id.in_(linked), services.ticket_visibility(g.user)))
        return {"nc": nc, "may_decide": may_decide, "fields": services.DISPOSITION_FIELDS,
                "history": [(event, self._changes(event)) for event in nc.events],
                "tickets": {ticket.id: ticket for ticket in tickets},
                "event_labels": vocabulary.NC_EVENT_LABELS, "nc_states": vocabulary.NC_STATES}

    def _changes(self, event) -> list[tuple[str, str, str]]:
        """(field label, old, new) of a history line, as people read them."""
        return [(str(self.label_columns.get(name, name)), self._shown(name, old), self._shown(name, new))
                for name, (old, new) in ((event.data or {}).get("changes") or {}).items()]

    @staticmethod
    def _shown(name, value) -> str:
        if name == "source":
            return vocabulary.label(vocabulary.SOURCES, value)
        if name == "disposition":
            return vocabulary.label(vocabulary.DISPOSITIONS, value)
        if isinstance(value, bool):
            return format_yes_no(value)
        if name == "detected_on" and value:
            return format_date(datetime.date.fromisoformat(value))
        return "" if value is None else str(value)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        try:
            extra = self.show_extra(int(pk))
        except (ValueError, services.WorkflowError):
            return render_error(404)
        widgets = self._show(pk)
        return self.render_template(self.show_template, pk=pk, title=self.show_title,
                                    widgets=widgets, related_views=self._related_views, **extra)

    @expose("/<int:pk>/disposition", methods=["POST"])
    @has_access
    @permission_name("disposition")
    def disposition(self, pk):
        back = url_for(".show", pk=pk)
        try:
            services.decide_disposition(g.user, pk, request.form.to_dict())
        except services.WorkflowError as error:
            return refusal(error, back)
        flash(gettext("The disposition was recorded."), "success")
        return redirect(back)

    @expose("/<int:pk>/files", methods=["POST"])
    @has_access
    @permission_name("upload")
    def upload(self, pk):
        return _attach_files(services.attach_to_nonconformity, pk)

    @expose("/<int:pk>/open-ticket", methods=["POST"])
    @has_access
    @permission_name("open_ticket")
    def open_ticket(self, pk):
        try:
            ticket = services.open_ticket_from_nonconformity(g.user, pk)
        except services.WorkflowError as error:
            return refusal(error, url_for(".show", pk=pk))
        flash(gettext("A corrective-action ticket was drafted from this nonconformity."), "success")
        return redirect(url_for("TicketView.edit", pk=ticket.id))

    @expose("/export.xlsx")
    @has_access
    @permission_name("export")
    def export(self):
        """The list as an Excel workbook: the list's own query (its filters, the user's
        visibility) and its order, every row."""
        from app.objectives.documents import xlsx_response
        from app.tickets import exports

        moved = record_list.moved_from_fab(services.NC_LIST_ARGS, _fab_nc_filter)
        if moved is not None:  # an export address from FAB's list
            return moved
        query = services.nonconformity_list_query(g.user, request.args)
        count = record_list.count_of(query)
        if count > exports.ROW_LIMIT:
            flash(gettext("%(count)s rows are too many for one workbook (at most %(limit)s): narrow the filter.",
                          count=count, limit=exports.ROW_LIMIT), "warning")
            return redirect(url_for(".list", **request.args))
        items = services.nonconformity_page(query, request.args.get("sort", "newest"), 1, exports.ROW_LIMIT)
        scope = gettext("As of %(day)s", day=format_date(services.today()))
        return xlsx_response(exports.nonconformities_workbook(items, scope),
                             f"KPH-{services.today():%Y%m%d}.xlsx")

    # last in the class: the method's name hides the built-in list from here on
    @expose("/list/")
    @has_access
    def list(self):
        """A page of the NCs the user sees, under the address's filters
        (services.nonconformity_list_query)."""
        def row(nc):
            return nc.id, services.may_change_nonconformity(g.user, nc), record_list.cells((
                format_date(nc.detected_on), nc.unit.name, shorten(nc.description or "", 80),
                nc.category.name if nc.category else "", vocabulary.label(vocabulary.SOURCES, nc.source),
                vocabulary.label(vocabulary.DISPOSITIONS, nc.disposition), format_yes_no(nc.correction_checked),
                "" if nc.ticket is None else nc.ticket.display_number or f"#{nc.ticket.id}"))

        order = request.args.get("sort", "newest")
        return record_list.list_page(
            self, arg_names=services.NC_LIST_ARGS, fab_filter=_fab_nc_filter,
            query=services.nonconformity_list_query(g.user, request.args),
            read_page=lambda query, page, size, *columns: services.nonconformity_page(query, order, page, size, *columns),
            row=row,
            filters=NC_FILTERS, headings=[self.label_columns[name] for name in NC_COLUMNS],
            saved_filters="nonconformities", add_label=self.add_title, export=True)


RECURRING_DATES = 10  # the latest NCs of a series shown by date; the count says how many in all
RECURRING_ROWS = 25  # series on a page of "KPH lặp lại"


class RecurringNonconformityView(BaseView):
    """KPH lặp lại: series that trip the 5.2.2 recurrence rule, one click to a ticket."""

    route_base = "/recurring"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        page = request.args.get("page", 1, type=int)
        total = services.count_recurring(g.user)
        pages = max(1, -(-total // RECURRING_ROWS))
        page = min(max(page, 1), pages)
        series = services.recurring_series(g.user, last=RECURRING_DATES, page=page, per_page=RECURRING_ROWS,
                                           dates_only=True)
        return self.render_template("recurring.html", series=series, total=total, page=page, pages=pages,
                                    threshold=services.current_agency().recurrence_threshold,
                                    shown=RECURRING_DATES)

    @expose("/open", methods=["POST"])
    @has_access
    @permission_name("open_ticket")
    def open_ticket(self):
        try:
            ticket = services.open_ticket_from_series(
                g.user, services.id_of(request.form.get("unit_id")), services.id_of(request.form.get("category_id")))
        except services.WorkflowError as error:
            return refusal(error, url_for(".index"))
        flash(gettext("A corrective-action ticket was drafted from the recurring series."), "success")
        return redirect(url_for("TicketView.edit", pk=ticket.id))


def date_chips(args) -> list[str]:
    """The list's date filters as read on screen, dates dd/mm/yyyy whatever the URL wrote."""
    day = {name: services.parse_date(args.get(name)) for name in ("from", "to", "closed_from", "closed_to", "overdue_on")}
    shown = {name: format_date(value) if value else "…" for name, value in day.items()}
    chips = []
    if args.get("overdue") and day["overdue_on"]:
        chips.append(gettext("Overdue on %(date)s", date=shown["overdue_on"]))
    if day["from"] or day["to"]:
        chips.append(gettext("Opened between %(start)s and %(end)s", start=shown["from"], end=shown["to"]))
    if day["closed_from"] or day["closed_to"]:
        chips.append(gettext("Closed between %(start)s and %(end)s", start=shown["closed_from"],
                             end=shown["closed_to"]))
    return chips


class TicketView(TicketRules, QmsModelView):
    datamodel = QmsInterface(Ticket)
    route_base = "/tickets"
    base_filters = [["id", VisibleTickets, None]]
    list_title = _l("Action request tickets")
    show_title = _l("Action request ticket")
    add_title = _l("Open an action request ticket")
    edit_title = _l("Edit ticket (draft)")
    label_columns = {
        "kind": _l("Kind of action"), "source": _l("Source (5.1.2)"),
        "requesting_unit": _l("Requesting unit"), "related_documents": _l("Related documents"),
        "description": _l("Description of the nonconformity / request"),
        "requested_on": _l("Date of the request"),
    }
    # Linked NCs are not part of the form: they are linked and unlinked on the ticket page,
    # each change written in both histories (services.link_nonconformity).
    add_columns = edit_columns = [
        "kind", "requesting_unit", "source", "related_documents", "description", "requested_on",
    ]
    search_columns = ["description"]
    edit_template = "ticket_edit.html"
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": _choice_field(_l("Kind of action"), vocabulary.KINDS),
        "source": _choice_field(_l("Source (5.1.2)"), vocabulary.SOURCES),
        "requesting_unit": _unit_field(),
        "requested_on": _past_date_field(_l("Date of the request")),
    }

    # --- creation and draft edits ---------------------------------------------

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        try:
            ticket = services.get_ticket(g.user, int(pk))
            services.ensure_own_draft(g.user, ticket)
        except ValueError:
            return render_error(404)
        except services.WorkflowError as error:
            return render_error(error.status, error.message)
        g.returned = services.last_return(ticket, services.ticket_history(ticket))  # above the form (ticket_edit.html)
        return super().edit(pk)

    @expose("/<int:pk>/nonconformities", methods=["POST"])
    @has_access
    @permission_name("edit")
    def link(self, pk):
        back = url_for(".show", pk=pk)
        try:
            services.link_nonconformity(g.user, pk, request.form.get("nonconformity", type=int))
        except services.WorkflowError as error:
            return refusal(error, back)
        flash(gettext("The nonconformity was linked to this ticket."), "success")
        return redirect(back)

    @expose("/<int:pk>/nonconformities/<int:nc_id>/unlink", methods=["POST"])
    @has_access
    @permission_name("edit")
    def unlink(self, pk, nc_id):
        back = url_for(".show", pk=pk)
        try:
            services.unlink_nonconformity(g.user, pk, nc_id)
        except services.WorkflowError as error:
            return refusal(error, back)
        flash(gettext("The nonconformity was unlinked from this ticket."), "success")
        return redirect(back)

    # --- list -------------------------------------------------------------------

    @expose("/list/")
    @has_access
    def list(self):
        args = request.args
        query = services.ticket_list_query(g.user, args)
        order = args.get("sort", "number")
        tickets, total, page, pages = record_list.counted_page(
            query, lambda query, page, size, *columns: services.ticket_page(query, order, page, size, *columns))
        late = services.missing_report_ids(among=[t.id for t in tickets if t.state == "implementation"])
        kept = record_list.kept_args(services.LIST_ARGS)
        return self.render_template(
            "ticket_list.html", title=self.list_title, tickets=tickets, total=total, page=page,
            pages=pages, page_links=record_list.linked_pages(kept, page, pages), kept=kept,
            with_args=record_list.with_args, units=chosen_units(args.getlist("unit")),
            late=late, args=args,
            today=services.today(),
            # the states and kinds are shown in the filters and on each row
            states=in_words(workflow.STATES), kinds=in_words(vocabulary.KINDS),
            sources=in_words(vocabulary.SOURCES), groups=workflow.WORKFLOW.groups, is_overdue=services.is_overdue,
            present=_present_step(g.user), chips=date_chips(args),
            several=services.several_steps(g.user, tickets),
            can_add=self.appbuilder.sm.has_access("can_add", self.class_permission_name),
            can_print=self.appbuilder.sm.has_access("can_pdf", self.class_permission_name),
        )

    @expose("/units.json")
    @has_access
    @permission_name("list")
    def units_json(self):
        """The lists' unit filters (app.organisation.unit_filter): the units whose code or name
        contains what was typed."""
        return found_json(Unit, (Unit.code, Unit.name), Unit.code, unit_text)

    @expose("/binder")
    @has_access
    @permission_name("pdf")
    def binder(self):
        """The records binder: the rows chosen on the list (`selected` with `ids`), or every
        ticket the list's filter shows, as one PDF made in the background: the user is sent to
        their generated files, where it appears when it is ready."""
        from app.tickets import binder

        args = request.args
        ids = args.getlist("ids", type=int) if args.get("selected") else None
        back = url_for(".list", **{k: v for k, v in args.items() if k not in ("ids", "selected")})
        tickets = binder.tickets_for(g.user, args, ids)
        if not tickets:
            flash(gettext("Choose at least one ticket to print.") if ids is not None
                  else gettext("No ticket matches this filter: there is nothing to print."), "warning")
            return redirect(back)
        if len(tickets) > binder.WEB_LIMIT:
            flash(gettext("%(count)s tickets are too many for one binder printed here (at most %(limit)s): "
                          "narrow the filter, or ask the administrator for the command "
                          "flask qms report tickets.", count=len(tickets), limit=binder.WEB_LIMIT), "warning")
            return redirect(back)
        # made by a job on the queue (inline without one: ready when the redirect lands)
        from app.downloads import services as downloads

        query = {k: v for k, v in args.items() if k not in ("ids", "selected")}
        downloads.start(g.user, "binder", f"HoSo-BM.CTCL.01-{services.today():%Y%m%d}.pdf",
                        "app.tickets.binder.make", g.user.id, query, ids)
        flash(gettext("The binder of %(count)s tickets is being made; it is listed here, and you are notified, "
                      "when it is ready.", count=len(tickets)), "info")
        return redirect(url_for("DownloadView.index"))

    @expose("/export.xlsx")
    @has_access
    @permission_name("export")
    def export(self):
        """The list as an Excel workbook: every ticket the list shows under the same filters
        (the records binder's reading of them: services.ticket_list_query)."""
        from app.objectives.documents import xlsx_response
        from app.tickets import binder, exports

        args = request.args
        tickets = exports.ticket_rows(g.user, args)
        if len(tickets) > exports.ROW_LIMIT:
            flash(gettext("%(count)s rows are too many for one workbook (at most %(limit)s): narrow the filter.",
                          count=services.count_tickets(g.user, args), limit=exports.ROW_LIMIT), "warning")
            return redirect(url_for(".list", **args))
        return xlsx_response(exports.tickets_workbook(tickets, binder.describe(args)),
                             f"PhieuYCHD-{services.today():%Y%m%d}.xlsx")

    # --- the ticket page and its actions -----------------------------------------

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        try:
            ticket, history = services.ticket_for_page(g.user, int(pk))
        except (ValueError, services.WorkflowError):
            return render_error(404)
        return self._page(ticket, history)

    def _page(self, ticket, history=None, change_form=None, status=200):
        """The ticket page, with its history when it was read with the ticket
        (services.ticket_for_page); `change_form` brings back a refused change request as it
        was typed."""
        history = services.ticket_history(ticket) if history is None else history
        may = {a.name: a.allows(g.user, ticket) for a in workflow.WORKFLOW.actions}
        linked_ncs, nc_files = services.linked_nonconformities(g.user, ticket)
        return self.render_template(
            "ticket_show.html", title=self.show_title, ticket=ticket,
            available=services.available_transitions(g.user, ticket),
            next_steps=workflow.WORKFLOW.next_steps(ticket.state), workflow=workflow.WORKFLOW,
            states=workflow.STATES, vocabulary=vocabulary, today=services.today(),
            overdue=services.is_overdue(ticket), late=services.report_missing(ticket),
            report_required=services.report_required(ticket, services.current_agency().report_interval_days),
            may=may, amendments=ticket.amendments, change_fields=services.CHANGE_FIELDS,
            field_labels=workflow.FIELD_LABELS, change_value=_change_value,
            history=history, returned=services.last_return(ticket, history), linked_ncs=linked_ncs,
            nc_files=nc_files,
            linkable=services.linkable_nonconformities(g.user) if may["link_nc"] else [],
            change_form=change_form or {"values": {}, "errors": {}},
        ), status

    @expose("/<int:pk>/do/<name>", methods=["GET", "POST"])
    @has_access
    @permission_name("transition")
    def transition(self, pk, name):
        try:
            ticket = services.get_ticket(g.user, pk)
        except services.WorkflowError:
            return render_error(404)
        heading = gettext("Ticket %(number)s", number=ticket.display_number or gettext("(draft)"))
        return transition_page(
            self, workflow.WORKFLOW, ticket, name,
            lambda values, version: services.apply_transition(g.user, pk, name, values, version),
            url_for(".show", pk=pk), heading, ticket.description)

    @expose("/present", methods=["GET", "POST"])
    @has_access
    @permission_name("transition")
    def present(self):
        """5.3: the ISO secretary presents several consolidated tickets at once."""
        step = workflow.WORKFLOW.transition("present")
        waiting = [t for t in db.session.scalars(
            services.ticket_list_query(g.user, {"state": step.sources[0]}).order_by(Ticket.year, Ticket.number))
            if step.actor.allows(g.user, t)]
        if request.method == "POST":
            try:
                presented = services.present_tickets(g.user, request.form.getlist("tickets"),
                                                     request.form.get("note"))
            except services.WorkflowError as error:
                db.session.rollback()
                flash(error.message + "".join(f" {m}" for m in error.errors.values()), "danger")
            else:
                flash(gettext("%(count)s ticket(s) presented to the ISO committee leader.",
                              count=len(presented)), "success")
                return redirect(url_for(".list", state=step.target))
        return self.render_template("ticket_present.html", title=step.label, step=step, tickets=waiting,
                                    chosen=request.form.getlist("tickets"), note=request.form.get("note", ""))

    @expose("/several/<name>", methods=["GET", "POST"])
    @has_access
    @permission_name("transition")
    def several(self, name):
        """One step (present, assign) on the tickets chosen on the list, its fields asked once:
        GET shows the chosen tickets and the fields; POST takes the step on each ticket on its
        own and reports, ticket by ticket, what was done and what was refused and why."""
        step = workflow.WORKFLOW.transition(name)
        if step is None or not step.several:
            return render_error(404)
        form = request.values
        back = url_for(".list", **{k: v for k, v in form.items() if k in services.LIST_ARGS})
        ids = form.getlist("ids")
        offered = form.getlist("offered") or ids  # the tickets the form shows, ticked or not
        if not offered:
            flash(gettext("Choose at least one ticket."), "warning")
            return redirect(back)
        tickets, unknown = services.selected_tickets(g.user, offered)
        if tickets and step not in services.several_steps(g.user, tickets):
            return render_error(403, gettext("Only %(actor)s may do this.", actor=step.actor.label))
        errors, status = {}, 200
        if request.method == "POST":
            versions = {pk: form.get(f"version-{pk}") for pk in map(services.id_of, ids) if pk}
            try:
                outcomes = services.take_on_several(g.user, name, ids, transition_values(step), versions)
            except services.WorkflowError as error:
                db.session.rollback()
                if error.status == 404:
                    return render_error(404, error.message)
                flash(error.message, "danger")
                errors, status = error.errors, error.status
            else:
                reasons = {o.reason for o in outcomes if not o.done}
                if len(outcomes) > 1 and not any(o.done for o in outcomes) and len(reasons) == 1:
                    # the same refusal for every ticket is the form's, not the tickets': kept to correct
                    flash(reasons.pop(), "danger")
                    status = 422
                else:
                    return self.render_template("ticket_several_done.html", title=step.label, step=step,
                                                outcomes=outcomes, back=back,
                                                done=sum(o.done for o in outcomes))
        return self.render_template(
            "ticket_several.html", title=step.label, step=step, tickets=tickets, unknown=unknown,
            chosen=set(ids) if request.method == "POST" else None, states=workflow.STATES, values=form if request.method == "POST" else {},
            errors=errors, choices={f.name: choices_for(f) for f in step.fields}, back=back,
            list_args={k: v for k, v in form.items() if k in services.LIST_ARGS},
        ), status

    @expose("/<int:pk>/progress", methods=["POST"])
    @has_access
    @permission_name("progress")
    def progress(self, pk):
        back = url_for(".show", pk=pk)
        try:
            services.add_progress_report(g.user, pk, request.form.get("text", ""), uploads=_uploads())
        except services.files.UploadRefused as error:
            db.session.rollback()
            flash(str(error), "danger")
            return redirect(back)
        except services.WorkflowError as error:
            return refusal(error, back)
        flash(gettext("The progress report was recorded."), "success")
        return redirect(back)

    @expose("/<int:pk>/change", methods=["POST"])
    @has_access
    @permission_name("progress")
    def change(self, pk):
        back = url_for(".show", pk=pk)
        try:
            services.request_change(g.user, pk, request.form.to_dict())
        except services.WorkflowError as error:
            if error.status != 422:
                return refusal(error, back)
            db.session.rollback()
            flash(error.message, "danger")
            return self._page(services.get_ticket(g.user, pk),
                              change_form={"values": request.form, "errors": error.errors}, status=422)
        flash(gettext("The change request was sent to the ISO committee leader."), "success")
        return redirect(back)

    @expose("/change/<int:change_id>/decide", methods=["POST"])
    @has_access
    @permission_name("transition")
    def decide_change(self, change_id):
        try:
            change = services.decide_change(g.user, change_id, request.form.get("decision") == "approve",
                                            request.form.get("comment"))
        except services.WorkflowError as error:
            return refusal(error, request.referrer or url_for(".list"))
        flash(gettext("The decision was recorded in box 2."), "success")
        return redirect(url_for(".show", pk=change.ticket_id))

    @expose("/<int:pk>/files", methods=["POST"])
    @has_access
    @permission_name("upload")
    def upload(self, pk):
        return _attach_files(services.attach_to_ticket, pk)

    @expose("/file/<int:attachment_id>")
    @has_access
    @permission_name("download")
    def download(self, attachment_id):
        try:
            attachment = services.get_attachment(g.user, attachment_id)
        except services.WorkflowError:
            return render_error(404)
        return file_response(attachment)

    @expose("/<int:pk>/pdf")
    @has_access
    @permission_name("pdf")
    def pdf(self, pk):
        from reports import ReportError
        from app.official import services as official
        from app.official.views import official_response

        try:
            ticket = services.get_ticket(g.user, pk)
            data, filename, copy = official.served(ticket, "ticket", preview="preview" in request.args)
        except services.WorkflowError:
            return render_error(404)
        except ReportError as error:
            return render_error(503, str(error))
        return official_response(data, filename, copy)


def _present_step(user):
    """The 5.3 step of presenting several tickets at once, if this user takes it."""
    step = workflow.WORKFLOW.transition("present")
    return step if step.actor.allows(user, None) else None


def _change_value(key: str, value) -> str:
    """One side of an "old → new" history line, as a person reads it: names for people and
    units, dd/mm/yyyy for dates, labels for codes."""
    from app.organisation.models import QmsUser
    from app.ui import format_date

    if value in (None, "", []):
        return "—"
    if key == "signs":
        return ", ".join(vocabulary.label(vocabulary.SIGNS, v) for v in value)
    if key == "verification_result":
        return vocabulary.label(vocabulary.VERIFICATION_RESULTS, value)
    if key.endswith("_id"):
        record = db.session.get(Unit if key.endswith("unit_id") else QmsUser, value)
        return record.name if isinstance(record, Unit) else record.get_full_name() if record else "—"
    if key.endswith(("_date", "_on")):
        return format_date(datetime.date.fromisoformat(value))
    return str(value)


def _disposition(filename: str, inline: bool) -> str:
    ascii_name = filename.encode("ascii", "ignore").decode() or "file"
    ascii_name = ascii_name.replace('"', "").replace("\\", "")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def file_response(attachment) -> Response:
    response = Response(attachment.data, mimetype=attachment.content_type)
    response.headers["Content-Disposition"] = _disposition(attachment.filename, inline=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def pdf_response(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = _disposition(filename, inline=True)
    return response
