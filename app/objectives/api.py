"""REST API for objective plans: /api/v1/objective-plans/ with rows, report, transitions, PDF."""
from flask import g, request
from flask_appbuilder.api import ModelRestApi, expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from app.objectives import services, workflow
from app.objectives.models import ObjectivePlan
from app.objectives.views import ObjectivePlanView
from app.rest import QuickListDump, WorkflowApi, transition_json
from app.ui import ModelInterface
from app.workflow import WorkflowError


def row_json(row) -> dict:
    return {
        "id": row.id, "position": row.position, "objective": row.objective,
        "measurement_method": row.measurement_method, "target_kind": row.target_kind,
        "target": services.format_target(row), "target_value": row.target_value,
        "target_unit": row.target_unit, "measures": row.measures,
        "start_date": row.start_date.isoformat() if row.start_date else None,
        "end_date": row.end_date.isoformat() if row.end_date else None,
    }


def report_json(report) -> dict:
    return {
        "id": report.id, "state": report.state, "version": report.version,
        "approved_on": report.approved_on.isoformat() if report.approved_on else None,
        "rows": [{"id": r.id, "objective_row_id": r.objective_row_id, "objective": r.objective_row.objective,
                  "target": services.format_target(r.objective_row), "actual": r.actual,
                  "achieved": r.achieved, "reason": r.reason, "direction": r.direction,
                  "ticket_id": r.ticket_id} for r in report.rows],
    }


class ObjectivePlanApi(WorkflowApi, QuickListDump, ModelRestApi):
    resource_name = "objective-plans"
    datamodel = ModelInterface(ObjectivePlan)
    allow_browser_login = False  # JWT only: the API is exempt from CSRF
    list_columns = ["id", "year", "unit.id", "unit.name", "revision", "state", "version",
                    "submitted_on", "approved_on"]
    show_columns = list_columns + ["approved_by.username", "replaces.id"]
    add_columns = ["year", "unit"]
    label_columns = dict(ObjectivePlanView.label_columns)
    search_columns = ["year", "unit", "state"]
    order_columns = ["year", "revision"]
    # A plan changes through its rows and its revisions, never by a PUT of the record.
    exclude_route_methods = {"put"}

    def post_headless(self):
        """Create a plan through the rules (who may draft it, one per owner and year)."""
        try:
            body = self.checked_body(self.add_columns)
            unit = body.get("unit")
            plan = services.create_plan(g.user, body.get("year") or 0, int(unit) if unit is not None else None)
        except WorkflowError as error:
            return self._answer(error)
        return self.response(201, id=plan.id, result=self.show_model_schema.dump(plan))

    def pre_delete(self, plan):
        services.check_plan_delete(g.user, plan)

    @expose("/<int:pk>/rows", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def rows(self, pk):
        """The plan's objectives.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: Objectives of the plan}
            404: {$ref: '#/components/responses/404'}
        """
        try:
            plan = self.load(pk)
        except WorkflowError as error:
            return self._answer(error)
        return self.response(200, result=[row_json(r) for r in plan.rows])

    @expose("/<int:pk>/rows", methods=["POST"])
    @expose("/<int:pk>/rows/<int:row_id>", methods=["PUT"])
    @protect()
    @safe
    @permission_name("edit_rows")
    def save_row(self, pk, row_id=None):
        """Add (POST) or change (PUT) an objective of a draft plan.
        ---
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            201: {description: The objective}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: The plan is not a draft}
            422: {$ref: '#/components/responses/422'}
        put:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          - {in: path, name: row_id, schema: {type: integer}}
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            200: {description: The objective}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: The plan is not a draft}
            422: {$ref: '#/components/responses/422'}
        """
        try:
            row = services.save_row(g.user, pk, request.get_json(silent=True) or {}, row_id)
        except WorkflowError as error:
            return self._answer(error)
        return self.response(200 if row_id else 201, result=row_json(row))

    def load(self, pk):
        return services.get_plan(pk)

    def steps(self, plan):
        return workflow.WORKFLOW.available(g.user, plan)

    def take(self, pk, name, body):
        return services.apply_transition(g.user, services.get_plan(pk), name, body, body.get("version"))

    def document(self, plan):
        """The plan, or with ?document=report its report, in the Phụ lục 3 layout."""
        kind = request.args.get("document", "plan")
        if kind not in ("plan", "report") or (kind == "report" and plan.report is None):
            raise services.NotFound("Report not found.")
        from app.official import services as official

        return official.served(plan if kind == "plan" else plan.report, f"objective_{kind}",
                               preview="preview" in request.args)

    def _report(self, pk):
        plan = services.get_plan(pk)
        if plan.report is None:
            raise services.NotFound("Report not found.")
        return plan

    @expose("/<int:pk>/report/transitions", methods=["GET"])
    @protect()
    @safe
    @permission_name("transition")
    def report_transitions(self, pk):
        """The transitions the caller may take now on the plan's report.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: Transitions}
            404: {$ref: '#/components/responses/404'}
        """
        try:
            report = self._report(pk).report
        except WorkflowError as error:
            return self._answer(error)
        return self.response(200, result=[transition_json(t) for t in workflow.WORKFLOW.available(g.user, report)],
                             state=report.state, version=report.version)

    @expose("/<int:pk>/report/transitions/<name>", methods=["POST"])
    @protect()
    @safe
    @permission_name("transition")
    def report_transition(self, pk, name):
        """Submit, approve or return the plan's report.
        ---
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          - {in: path, name: name, schema: {type: string}}
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            200: {description: The report}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Wrong state or stale version}
            422: {$ref: '#/components/responses/422'}
        """
        body = request.get_json(silent=True) or {}
        try:
            plan = self._report(pk)
            services.apply_transition(g.user, plan.report, name, body, body.get("version"))
        except WorkflowError as error:
            return self._answer(error)
        return self.response(200, id=plan.id, result=report_json(plan.report))

    @expose("/<int:pk>/report", methods=["GET", "POST"])
    @protect()
    @safe
    @permission_name("transition")
    def report(self, pk):
        """The plan's report (GET), or make it from the approved plan (POST).
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: The report with its rows}
            404: {$ref: '#/components/responses/404'}
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            201: {description: The new report}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: 'The plan is not approved, or has a report'}
        """
        try:
            plan = self.load(pk)
            if request.method == "POST":
                return self.response(201, result=report_json(services.create_report(g.user, pk)))
            if plan.report is None:
                raise services.NotFound("Report not found.")
        except WorkflowError as error:
            return self._answer(error)
        return self.response(200, result=report_json(plan.report))

    @expose("/<int:pk>/report/rows/<int:row_id>", methods=["PUT"])
    @protect()
    @safe
    @permission_name("edit_rows")
    def save_report_row(self, pk, row_id):
        """Record what was achieved for one objective of a draft report.
        ---
        put:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          - {in: path, name: row_id, schema: {type: integer}}
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            200: {description: The report}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: The report is not a draft}
            422: {$ref: '#/components/responses/422'}
        """
        try:
            plan = self.load(pk)
            if plan.report is None:
                raise services.NotFound("Report not found.")
            services.save_report_row(g.user, plan.report.id, row_id, request.get_json(silent=True) or {})
        except WorkflowError as error:
            return self._answer(error)
        return self.response(200, result=report_json(plan.report))
