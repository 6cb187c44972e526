"""REST API (SPEC §8): /api/v1/tickets/ and /api/v1/nonconformities/, with the same row
rules as the pages, and the workflow as discoverable transitions."""
from flask import g, request
from flask_appbuilder.api import ModelRestApi, expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app.official import services as official
from app.rest import WorkflowApi, WorkflowErrorsAsResponses
from app.tickets import services, vocabulary
from app.tickets.crud import NonconformityRules, TicketRules
from app.tickets.models import Nonconformity, Ticket
from app.tickets.views import NonconformityView, TicketView, VisibleNonconformities, VisibleTickets


class TicketApi(TicketRules, WorkflowApi, ModelRestApi):
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
    label_columns = dict(TicketView.label_columns)
    vocabularies = {"kind": vocabulary.KINDS, "source": vocabulary.SOURCES}
    search_columns = ["state", "kind", "source", "requesting_unit", "year", "number", "description"]
    order_columns = ["number", "due_date", "requested_on", "id"]

    @expose("/<int:pk>/nonconformities/<int:nc_id>", methods=["POST", "DELETE"])
    @protect()
    @safe
    @permission_name("put")
    def link(self, pk, nc_id):
        """Link (POST) or unlink (DELETE) a nonconformity and a draft ticket (its author only),
        written in both histories.
        ---
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          - {in: path, name: nc_id, schema: {type: integer}}
          responses:
            200: {description: "The ticket's linked nonconformities"}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: 'Not a draft, or the nonconformity is linked already'}
        delete:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          - {in: path, name: nc_id, schema: {type: integer}}
          responses:
            200: {description: "The ticket's linked nonconformities"}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: 'Not a draft, or the nonconformity is not linked to it'}
        """
        change = services.link_nonconformity if request.method == "POST" else services.unlink_nonconformity
        try:
            ticket = change(g.user, pk, nc_id)
        except services.WorkflowError as error:
            return self._answer(error)
        return self.response(200, id=ticket.id, nonconformities=sorted(nc.id for nc in ticket.nonconformities))

    def load(self, pk):
        return services.get_ticket(g.user, pk)

    @expose("/present", methods=["POST"])
    @protect()
    @safe
    @permission_name("transition")
    def present(self):
        """5.3: the ISO secretary presents several tickets at once with one consolidation note.
        ---
        post:
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    tickets: {type: array, items: {type: integer}}
                    note: {type: string}
          responses:
            200: {description: The tickets presented}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: 'A ticket is not waiting to be presented, or was changed meanwhile'}
            422: {$ref: '#/components/responses/422'}
        """
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("tickets"), list):
            return self._answer(services.Invalid(gettext("Some fields are missing or invalid."),
                                                 {"tickets": gettext("Choose at least one ticket.")}))
        try:
            presented = services.present_tickets(g.user, body["tickets"], body.get("note"))
        except services.WorkflowError as error:
            return self._answer(error)
        return self.response(200, result=[{"id": t.id, "number": t.display_number, "state": t.state}
                                          for t in presented])

    def steps(self, ticket):
        return services.available_transitions(g.user, ticket)

    def take(self, pk, name, body):
        return services.apply_transition(g.user, pk, name, body, body.get("version"))

    def document(self, ticket):
        return official.served(ticket, "ticket", preview="preview" in request.args)


class NonconformityApi(NonconformityRules, WorkflowErrorsAsResponses, ModelRestApi):
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
    label_columns = dict(NonconformityView.label_columns)
    vocabularies = {"source": vocabulary.SOURCES}
    search_columns = ["unit", "category", "source", "detected_on", "ticket"]
