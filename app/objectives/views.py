"""Pages for quality-objective plans and reports, and the agency summary. Thin: rules live
in services and workflow."""
import datetime

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.objectives import documents, services, workflow
from app.objectives.models import ObjectivePlan
from app.organisation.models import Unit
from app import record_list
from app.organisation.unit_filter import unit_choices
from app.record_list import Filter
from app.ui import QmsInterface, QmsModelView, format_date, refusal, render_error, transition_page
from app.workflow import WorkflowError


def _owner(unit) -> str:
    return unit.name if unit else gettext("The agency (whole)")


def _heading(plan) -> str:
    """How a plan is named on its pages: year, owner and revision, in words."""
    return gettext("Quality objective plan %(year)s — %(owner)s — revision %(revision)s",
                   year=plan.year, owner=_owner(plan.unit), revision=plan.revision)


def _back_url(pk) -> str:
    return url_for("ObjectivePlanView.show", pk=pk)


def _back(plan_id, anchor=""):
    return redirect(_back_url(plan_id) + anchor)


PLAN_FILTERS = [
    Filter("year", _l("Year"), width=90),
    Filter("unit", _l("Agency / unit"), any_label=_l("All units"), endpoint="TicketView.units_json",
           chosen=unit_choices),
    Filter("state", _l("State"), choices=workflow.STATES, any_label=_l("All states")),
]


class ObjectivePlanView(QmsModelView):
    datamodel = QmsInterface(ObjectivePlan, eager=("unit",))
    route_base = "/objectives"
    base_permissions = ["can_list", "can_show", "can_add", "can_delete", "can_edit_rows",
                        "can_transition", "can_export"]
    list_title = _l("Quality objective plans")
    label_columns = {
        "year": _l("Year"), "unit": _l("Agency / unit"), "revision": _l("Revision"),
        "state": _l("State"), "approved_on": _l("Approved on"), "submitted_on": _l("Submitted on"),
    }
    list_columns = ["year", "unit", "revision", "state", "submitted_on", "approved_on"]

    def pre_delete(self, item):
        services.check_plan_delete(g.user, item)

    # --- pages ----------------------------------------------------------------------

    def _page(self, plan, row_form=None, report_form=None, status=200):
        editing = request.args.get("edit", type=int)
        if row_form is None and editing:
            row = next((r for r in plan.rows if r.id == editing), None)
            if row:
                row_form = {"id": row.id, "values": {
                    "objective": row.objective, "measurement_method": row.measurement_method,
                    "target_kind": row.target_kind,
                    "target": row.target_text if row.target_kind == "text" else services.format_target(row)[2:],
                    "measures": row.measures or "", "start_date": row.start_date.isoformat() if row.start_date else "",
                    "end_date": row.end_date.isoformat() if row.end_date else ""}, "errors": {}}
        report = plan.report
        return self.render_template(
            "objective_plan.html", plan=plan, owner=_owner(plan.unit), states=workflow.STATES,
            kinds=workflow.TARGET_KINDS, format_target=services.format_target,
            row_form=row_form or {"id": None, "values": {}, "errors": {}},
            report_form=report_form or {}, report=report,
            may={a.name: a.allows(g.user, plan) for a in workflow.WORKFLOW.actions},
            may_edit_report=report is not None and workflow.WORKFLOW.may("edit", g.user, report),
            plan_steps=workflow.WORKFLOW.available(g.user, plan),
            report_steps=workflow.WORKFLOW.available(g.user, report) if report else [],
            previous=services.previous_plan(plan) if plan.state == "draft" else None,
            plan_due=services.plan_due(plan.year), report_due=services.report_due(plan.year),
            event_label=workflow.WORKFLOW.event_label_of, today=services.today(),
            revision=db.session.scalar(select(ObjectivePlan).where(ObjectivePlan.replaces_id == plan.id)),
        ), status

    @expose("/show/<int:pk>")
    @has_access
    def show(self, pk):
        try:
            return self._page(services.get_plan(pk))
        except WorkflowError:
            return render_error(404)

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        form, errors = request.form, {}
        if request.method == "POST":
            unit_id = form.get("unit", type=int)
            try:
                plan = services.create_plan(g.user, form.get("year", type=int) or 0, unit_id or None)
            except WorkflowError as error:
                db.session.rollback()
                errors = error.errors or {"unit": error.message}
            else:
                flash(gettext("The plan was created; add its objectives."), "success")
                return _back(plan.id)
        units = db.session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)).all()
        default_unit = g.user.unit_id if not workflow.may_draft(g.user, ObjectivePlan(unit_id=None)) else None
        return self.render_template(
            "objective_plan_add.html", units=units, errors=errors, values=form,
            default_year=datetime.date.today().year + (1 if datetime.date.today().month == 12 else 0),
            default_unit=default_unit,
        ), (422 if errors else 200)

    # --- rows --------------------------------------------------------------------------

    @expose("/<int:pk>/rows", methods=["POST"])
    @expose("/<int:pk>/rows/<int:row_id>", methods=["POST"])
    @has_access
    @permission_name("edit_rows")
    def save_row(self, pk, row_id=None):
        try:
            services.save_row(g.user, pk, request.form.to_dict(), row_id)
        except WorkflowError as error:
            db.session.rollback()
            if error.status == 422:
                plan = services.get_plan(pk)
                flash(error.message, "danger")
                return self._page(plan, row_form={"id": row_id, "values": request.form, "errors": error.errors},
                                  status=422)
            return refusal(error, _back_url(pk))
        flash(gettext("The objective was saved."), "success")
        return _back(pk, "#rows")

    @expose("/<int:pk>/rows/<int:row_id>/delete", methods=["POST"])
    @has_access
    @permission_name("edit_rows")
    def delete_row(self, pk, row_id):
        try:
            services.delete_row(g.user, pk, row_id)
        except WorkflowError as error:
            return refusal(error, _back_url(pk))
        flash(gettext("The objective was removed."), "success")
        return _back(pk, "#rows")

    @expose("/<int:pk>/copy-previous", methods=["POST"])
    @has_access
    @permission_name("edit_rows")
    def copy_previous(self, pk):
        try:
            count = services.copy_from_previous_year(g.user, pk)
        except WorkflowError as error:
            return refusal(error, _back_url(pk))
        flash(gettext("%(count)s objectives were copied from last year's plan.", count=count), "success")
        return _back(pk, "#rows")

    # --- workflow -------------------------------------------------------------------------

    @expose("/<int:pk>/do/<name>", methods=["GET", "POST"])
    @has_access
    @permission_name("transition")
    def transition(self, pk, name):
        try:
            plan = services.get_plan(pk)
        except WorkflowError:
            return render_error(404)
        return transition_page(
            self, workflow.WORKFLOW, plan, name,
            lambda values, version: services.apply_transition(g.user, plan, name, values, version),
            _back_url(pk), _heading(plan))

    @expose("/<int:pk>/revise", methods=["POST"])
    @has_access
    @permission_name("transition")
    def revise(self, pk):
        try:
            revision = services.revise(g.user, pk)
        except WorkflowError as error:
            return refusal(error, _back_url(pk))
        flash(gettext("A new revision was drafted; the approved plan stays in force until it is approved."), "success")
        return _back(revision.id)

    # --- report -------------------------------------------------------------------------

    @expose("/<int:pk>/report", methods=["POST"])
    @has_access
    @permission_name("transition")
    def create_report(self, pk):
        try:
            services.create_report(g.user, pk)
        except WorkflowError as error:
            return refusal(error, _back_url(pk))
        flash(gettext("The report was created from the approved plan."), "success")
        return _back(pk, "#report")

    @expose("/<int:pk>/report/rows/<int:row_id>", methods=["POST"])
    @has_access
    @permission_name("edit_rows")
    def save_report_row(self, pk, row_id):
        try:
            plan = services.get_plan(pk)
            if plan.report is None:
                raise services.NotFound(gettext("Report not found."))
            services.save_report_row(g.user, plan.report.id, row_id, request.form.to_dict())
        except WorkflowError as error:
            db.session.rollback()
            if error.status == 422:
                flash(error.message, "danger")
                return self._page(services.get_plan(pk), report_form={
                    "id": row_id, "values": request.form, "errors": error.errors}, status=422)
            return refusal(error, _back_url(pk))
        flash(gettext("The objective was saved."), "success")
        return _back(pk, "#report")

    @expose("/<int:pk>/report/do/<name>", methods=["GET", "POST"])
    @has_access
    @permission_name("transition")
    def report_transition(self, pk, name):
        try:
            plan = services.get_plan(pk)
        except WorkflowError:
            return render_error(404)
        if plan.report is None:
            return render_error(404, gettext("Report not found."))
        return transition_page(
            self, workflow.WORKFLOW, plan.report, name,
            lambda values, version: services.apply_transition(g.user, plan.report, name, values, version),
            _back_url(pk) + "#report", gettext("Report — %(plan)s", plan=_heading(plan)))

    @expose("/<int:pk>/report/rows/<int:row_id>/ticket", methods=["POST"])
    @has_access
    @permission_name("transition")
    def open_ticket(self, pk, row_id):
        try:
            ticket = services.open_ticket_for_row(g.user, row_id)
        except WorkflowError as error:
            return refusal(error, _back_url(pk))
        flash(gettext("An improvement ticket was drafted from this objective."), "success")
        return redirect(url_for("TicketView.edit", pk=ticket.id))

    # --- documents ----------------------------------------------------------------------

    @expose("/<int:pk>/<any(plan, report):document>.<any(pdf, xlsx):kind>")
    @has_access
    @permission_name("export")
    def export(self, pk, document, kind):
        from reports import ReportError

        try:
            plan = services.get_plan(pk)
            if document == "report" and plan.report is None:
                raise services.NotFound(gettext("Report not found."))
            if kind == "pdf":
                from app.official import services as official
                from app.official.views import official_response

                record = plan if document == "plan" else plan.report
                data, filename, copy = official.served(record, f"objective_{document}",
                                                       preview="preview" in request.args)
            else:
                data, filename = documents.export(plan, document, kind)
        except WorkflowError:
            return render_error(404)
        except ReportError as error:
            return render_error(503, str(error))
        if kind == "pdf":
            return official_response(data, filename, copy)
        return documents.xlsx_response(data, filename)

    # --- the list (last in the class: the method's name hides the built-in list) ------------

    @expose("/list/")
    @has_access
    def list(self):
        def row(plan):
            return plan.id, workflow.WORKFLOW.may("delete_draft", g.user, plan), record_list.cells((
                plan.year, _owner(plan.unit), plan.revision, workflow.STATES.get(plan.state, plan.state),
                format_date(plan.submitted_on), format_date(plan.approved_on)))

        return record_list.list_page(
            self, arg_names=services.PLAN_LIST_ARGS, fab_filter=record_list.fab_equals(("year", "unit"), {"state": workflow.STATES}),
            query=services.plan_list_query(request.args), read_page=services.plan_page, row=row,
            filters=PLAN_FILTERS, headings=[self.label_columns[name] for name in self.list_columns],
            add_label=_l("New quality objective plan"))


class ObjectiveSummaryView(BaseView):
    """Agency-wide view for Ban ISO: every unit's plan and report, achievement by unit and year."""

    route_base = "/objectives-summary"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        year = request.args.get("year", type=int)
        if year not in services.YEARS:  # none, or no year a plan can be drafted for
            year = datetime.date.today().year
        data = services.summary(year)
        first = db.session.scalar(select(ObjectivePlan.year).order_by(ObjectivePlan.year)) or year
        history = services.rates_by_year(list(range(max(first, year - 5), year + 1)),
                                         [row["owner"] for row in data["rows"] if row["owner"]])
        return self.render_template("objective_summary.html", data=data, year=year, history=history,
                                    owner=_owner, states=workflow.STATES,
                                    plan_due=services.plan_due(year), report_due=services.report_due(year))
