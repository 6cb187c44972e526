"""REST API (SPEC §8): /api/v1/tickets/ and /api/v1/nonconformities/, with the same row
rules as the pages, and the workflow as discoverable transitions."""
from flask import g, request
from flask_appbuilder.api import ModelRestApi, expose, protect, safe
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name

from app.extensions import db
from app.rest import WorkflowErrorsAsResponses, transition_json
from app.tickets import services, vocabulary
from app.tickets.models import Nonconformity, Ticket
from app.tickets.views import VisibleNonconformities, VisibleTickets, pdf_response


def _check_code(value, allowed: dict, name: str) -> None:
    if value not in allowed:
        raise services.Invalid(f"{name}: {value!r}", {name: f"one of {sorted(allowed)}"})


class TicketApi(WorkflowErrorsAsResponses, ModelRestApi):
    resource_name = "tickets"
    datamodel = SQLAInterface(Ticket)
    base_filters = [["id", VisibleTickets, None]]
    allow_browser_login = False  # JWT only: the API is exempt from CSRF
    page_size = 25
    list_columns = [
        "id", "number", "year", "state", "kind", "source", "requesting_unit.id",
        "requesting_unit.name", "description", "due_date", "version",
    ]
    show_columns = [
        "id", "number", "year", "state", "version", "kind", "source", "requesting_unit.id",
        "requesting_unit.name", "related_documents", "description", "requested_on",
        "requester.username", "signs", "assignee_unit.name", "assignee.username", "cause",
        "measures", "implementing_unit.name", "implementer.username", "due_date",
        "approved_by.username", "approved_on", "result_summary", "verification_result",
        "verified_on", "verified_by.username", "evidence_text", "closed_on", "follows.id",
    ]
    add_columns = edit_columns = [
        "kind", "source", "requesting_unit", "related_documents", "description", "requested_on",
    ]
    search_columns = ["state", "kind", "source", "requesting_unit", "year", "number", "description"]
    order_columns = ["number", "due_date", "requested_on", "id"]

    def pre_add(self, item):
        _check_code(item.kind, vocabulary.KINDS, "kind")
        _check_code(item.source, vocabulary.SOURCES, "source")
        services.check_box1(g.user, item.requesting_unit.id if item.requesting_unit else None)
        item.created_by_id = item.requester_id = g.user.id
        item.state = "draft"

    def post_add(self, item):
        services.record_creation(g.user, item)
        db.session.commit()

    def pre_update(self, item):
        services.ensure_own_draft(g.user, item)
        _check_code(item.kind, vocabulary.KINDS, "kind")
        _check_code(item.source, vocabulary.SOURCES, "source")
        services.check_box1(g.user, item.requesting_unit_id)

    def pre_delete(self, item):
        services.ensure_own_draft(g.user, item)

    def _ticket_or_answer(self, pk):
        try:
            return services.get_ticket(g.user, pk), None
        except services.WorkflowError as error:
            return None, self._answer(error)

    @expose("/<int:pk>/transitions", methods=["GET"])
    @protect()
    @safe
    @permission_name("transition")
    def transitions(self, pk):
        """The transitions the caller may take now, with the fields each needs.
        ---
        get:
          parameters:
          - in: path
            name: pk
            schema:
              type: integer
          responses:
            200:
              description: Transitions available to the caller
            404:
              $ref: '#/components/responses/404'
        """
        ticket, answer = self._ticket_or_answer(pk)
        if answer:
            return answer
        result = [transition_json(step) for step in services.available_transitions(g.user, ticket)]
        return self.response(200, result=result, state=ticket.state, version=ticket.version)

    @expose("/<int:pk>/transitions/<name>", methods=["POST"])
    @protect()
    @safe
    @permission_name("transition")
    def transition(self, pk, name):
        """Take a transition with the fields it requires.
        ---
        post:
          parameters:
          - in: path
            name: pk
            schema:
              type: integer
          - in: path
            name: name
            schema:
              type: string
          requestBody:
            content:
              application/json:
                schema:
                  type: object
          responses:
            200:
              description: The updated ticket
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
            409:
              description: Wrong state or stale version
            422:
              $ref: '#/components/responses/422'
        """
        body = request.get_json(silent=True) or {}
        if not isinstance(body, dict):
            return self.response_400(message="JSON object expected")
        try:
            ticket = services.apply_transition(g.user, pk, name, body, body.get("version"))
        except services.WorkflowError as error:
            return self._answer(error)
        return self.response(200, id=ticket.id, result=self.show_model_schema.dump(ticket))

    @expose("/<int:pk>/pdf", methods=["GET"])
    @protect()
    @safe
    @permission_name("pdf")
    def pdf(self, pk):
        """The ticket as form BM.CTCL.01 (PDF).
        ---
        get:
          parameters:
          - in: path
            name: pk
            schema:
              type: integer
          responses:
            200:
              description: PDF document
              content:
                application/pdf: {}
            404:
              $ref: '#/components/responses/404'
        """
        from reports import ReportError
        from app.tickets.documents import ticket_pdf

        ticket, answer = self._ticket_or_answer(pk)
        if answer:
            return answer
        try:
            data = ticket_pdf(ticket)
        except ReportError as error:
            return self.response(503, message=str(error))
        return pdf_response(data, f"BM.CTCL.01-{ticket.display_number.replace('/', '-') or ticket.id}.pdf")


class NonconformityApi(WorkflowErrorsAsResponses, ModelRestApi):
    resource_name = "nonconformities"
    datamodel = SQLAInterface(Nonconformity)
    base_filters = [["id", VisibleNonconformities, None]]
    allow_browser_login = False  # JWT only: the API is exempt from CSRF
    page_size = 25
    list_columns = [
        "id", "unit.id", "unit.name", "detected_on", "description", "source", "category.id",
        "category.name", "disposition", "correction_checked", "ticket.id",
    ]
    show_columns = list_columns + [
        "related_process", "correction_done", "beyond_authority", "disposition_on", "created_on",
    ]
    add_columns = edit_columns = [
        "unit", "detected_on", "description", "related_process", "source", "category",
        "correction_done", "beyond_authority",
    ]
    search_columns = ["unit", "category", "source", "detected_on", "ticket"]

    def pre_add(self, item):
        _check_code(item.source, vocabulary.SOURCES, "source")
        services.check_box1(g.user, item.unit.id if item.unit else None)
        item.created_by_id = item.detected_by_id = g.user.id

    def pre_update(self, item):
        _check_code(item.source, vocabulary.SOURCES, "source")
        services.check_box1(g.user, item.unit_id)
