"""REST API (SPEC §8): /api/v1/tickets/ and /api/v1/nonconformities/, with the same row
rules as the pages, and the workflow as discoverable transitions."""
import datetime

from flask import g, request
from flask_appbuilder.api import ModelRestApi, expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.official import services as official
from app.rest import QuickListDump, WorkflowApi, WorkflowErrorsAsResponses, is_auto_label
from app.tickets import files, services, vocabulary, workflow as ticket_workflow
from app.tickets.crud import NonconformityRules, TicketRules
from app.tickets.models import Nonconformity, Ticket
from app.tickets.views import NonconformityView, TicketView, VisibleNonconformities, VisibleTickets
from app.ui import ModelInterface

INTEGRATION_LABELS = {
    "external_source": _l("Sending system"),
    "external_ref": _l("Reference in the sending system"),
    "updated_at": _l("Last changed"),
}
INTEGRATION_COLUMNS = ["external_source", "external_ref", "updated_at"]


class ExternalRefCreate:
    """Idempotent create for other systems: a POST that carries `external_source` (the
    sending system's code, e.g. DVC) and `external_ref` (its own id) creates the record the
    first time (201) and answers every later POST with the same pair with that record,
    unchanged (200): a create, never an update. Two simultaneous POSTs meet the unique
    constraint (agency, source, ref): the one that loses answers with the winner's record."""

    def existing(self, source, ref):
        """The current agency's record sent with this pair, or None."""
        model = self.datamodel.obj
        return db.session.query(model).filter_by(external_source=source, external_ref=ref).one_or_none()

    def _already_sent(self, record):
        visible = self.datamodel.get(record.id, self._base_filters)
        if visible is None:
            return self.response(409, message=gettext("This record was sent already, but you may not see it."))
        return self.response(200, id=visible.id, result=self.show_model_schema.dump(visible))

    def post_headless(self):
        body = request.get_json(silent=True)
        source = ref = None
        if isinstance(body, dict) and body.get("external_ref") is not None:
            source, ref = body.get("external_source"), body.get("external_ref")
            if not (isinstance(source, str) and source.strip()):
                return self._answer(self._invalid({"external_source": gettext(
                    "Give the sending system's code with its reference.")}))
            if isinstance(ref, str):
                found = self.existing(source, ref)
                if found is not None:
                    return self._already_sent(found)
        try:
            return super().post_headless()
        except IntegrityError:
            db.session.rollback()
            found = self.existing(source, ref) if isinstance(ref, str) and isinstance(source, str) else None
            if found is None:
                raise
            return self._already_sent(found)


class DateTimeFilters:
    """A filter on a date-time column (updated_at: eq, neq, gt, lt) whose value is not a
    date-time is a 400, not a filter FAB silently drops (which would list every record)."""

    def get_list_headless(self, **kwargs):
        filters = kwargs.get("rison", {}).get("filters") or []
        for item in filters if isinstance(filters, list) else []:
            column = item.get("col") if isinstance(item, dict) else None
            if isinstance(column, str) and column in self.search_columns and self.datamodel.is_datetime(column):
                value = item.get("value")
                try:
                    if not isinstance(value, str):
                        raise ValueError(value)
                    datetime.datetime.fromisoformat(value)
                except ValueError:
                    return self.response_400(message="date-time filter value")
        return super().get_list_headless(**kwargs)


class FilesApi:
    """POST <pk>/files: evidence files through the API, by the pages' rules (size cap,
    allowed types checked by content, zip containers opened before they are stored)."""

    @staticmethod
    def attach_files(user, pk, uploads):
        raise NotImplementedError

    @expose("/<int:pk>/files", methods=["POST"])
    @protect()
    @safe
    @permission_name("upload")
    def upload_files(self, pk):
        """Attach one or several files (multipart/form-data, field `files`).
        ---
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          requestBody:
            content:
              multipart/form-data:
                schema:
                  type: object
                  properties:
                    files: {type: array, items: {type: string, format: binary}}
          responses:
            201:
              description: The ids of the attachments stored
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      ids: {type: array, items: {type: integer}}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        if self.datamodel.get(pk, self._base_filters) is None:
            return self.response_404()  # a record the caller may not see, files or not
        uploads = [(f.filename, f.read()) for f in request.files.getlist("files") if f and f.filename]
        try:
            if not uploads:
                raise services.Invalid(gettext("Choose at least one file."),
                                       {"files": gettext("Choose at least one file.")})
            stored = self.attach_files(g.user, pk, uploads)
        except files.UploadRefused as error:
            db.session.rollback()
            return self.response(422, message=str(error))
        except services.WorkflowError as error:
            return self._answer(error)
        return self.response(201, ids=[attachment.id for attachment in stored])


class TicketApi(TicketRules, ExternalRefCreate, DateTimeFilters, FilesApi, WorkflowApi, QuickListDump, ModelRestApi):
    resource_name = "tickets"
    datamodel = ModelInterface(Ticket)
    base_filters = [["id", VisibleTickets, None]]
    allow_browser_login = False  # JWT only: the API is exempt from CSRF
    page_size = 25
    list_columns = [
        "id", "number", "year", "state", "kind", "source", "requesting_unit.id",
        "requesting_unit.name", "description", "due_date", "version", *INTEGRATION_COLUMNS,
    ]
    show_columns = [
        "id", "number", "year", "state", "version", "kind", "source", "requesting_unit.id",
        "requesting_unit.name", "related_documents", "description", "requested_on",
        "requester.username", "signs", "assignee_unit.name", "assignee.username", "cause",
        "measures", "implementing_unit.name", "implementer.username", "due_date",
        "approved_by.username", "approved_on", "result_summary", "verification_result",
        "verified_on", "verified_by.username", "evidence_text", "closed_on", "follows.id",
        *INTEGRATION_COLUMNS,
    ]
    edit_columns = [
        "kind", "source", "requesting_unit", "related_documents", "description", "requested_on",
    ]
    add_columns = edit_columns + ["external_source", "external_ref"]
    label_columns = {
        **{column: label for column, label in TicketView.label_columns.items() if not is_auto_label(column, label)},
        **{column: label for column, label in ticket_workflow.FIELD_LABELS.items()
           if not column.endswith("_id") and is_auto_label(column, TicketView.label_columns.get(column))},
        "due_date": _l("Due date"), "approved_on": _l("Approved on"), **INTEGRATION_LABELS,
    }
    vocabularies = {"kind": vocabulary.KINDS, "source": vocabulary.SOURCES}
    search_columns = ["state", "kind", "source", "requesting_unit", "year", "number", "description",
                      "updated_at", "external_source", "external_ref"]
    order_columns = ["number", "due_date", "requested_on", "id", "updated_at"]
    attach_files = staticmethod(services.attach_to_ticket)

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


class NonconformityApi(NonconformityRules, ExternalRefCreate, DateTimeFilters, FilesApi, WorkflowErrorsAsResponses,
                       QuickListDump, ModelRestApi):
    resource_name = "nonconformities"
    datamodel = ModelInterface(Nonconformity)
    base_filters = [["id", VisibleNonconformities, None]]
    allow_browser_login = False  # JWT only: the API is exempt from CSRF
    page_size = 25
    list_columns = [
        "id", "unit.id", "unit.name", "detected_on", "description", "source", "category.id",
        "category.name", "disposition", "correction_checked", "ticket.id", *INTEGRATION_COLUMNS,
    ]
    show_columns = list_columns + [
        "related_process", "correction_done", "beyond_authority", "disposition_on", "created_on",
    ]
    edit_columns = [
        "unit", "detected_on", "description", "related_process", "source", "category",
        "correction_done", "beyond_authority",
    ]
    add_columns = edit_columns + ["external_source", "external_ref"]
    label_columns = {**NonconformityView.label_columns, **INTEGRATION_LABELS}
    vocabularies = {"source": vocabulary.SOURCES}
    search_columns = ["unit", "category", "source", "detected_on", "ticket", "updated_at",
                      "external_source", "external_ref"]
    order_columns = ["id", "detected_on", "updated_at"]
    attach_files = staticmethod(services.attach_to_nonconformity)
