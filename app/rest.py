"""Shared behaviour of our REST APIs (FAB ModelRestApi)."""
from flask import request
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from app.extensions import db
from app.workflow import WorkflowError, choices_for


def transition_json(step) -> dict:
    """A transition as other systems discover it: its name, label and the fields it needs
    (with the accepted values for choice, user and unit fields)."""
    fields = []
    for field in step.fields:
        spec = {"name": field.name, "type": field.type, "label": str(field.label), "required": field.required}
        if field.multiple:
            spec["multiple"] = True
        if field.type in ("choice", "user", "unit"):
            spec["choices"] = [{"value": value, "label": label} for value, label in choices_for(field)]
        fields.append(spec)
    return {"name": step.name, "label": str(step.label), "target": step.target, "fields": fields}


class WorkflowErrorsAsResponses:
    """Turn the rules' refusals into 403/404/409/422 answers instead of 500."""

    def _answer(self, error: WorkflowError):
        db.session.rollback()
        body = {"message": error.message}
        if error.errors:
            body["errors"] = error.errors
        return self.response(error.status, **body)

    def post_headless(self):
        try:
            return super().post_headless()
        except WorkflowError as error:
            return self._answer(error)

    def put_headless(self, pk):
        try:
            return super().put_headless(pk)
        except WorkflowError as error:
            return self._answer(error)

    def delete_headless(self, pk):
        try:
            return super().delete_headless(pk)
        except WorkflowError as error:
            return self._answer(error)



class WorkflowApi(WorkflowErrorsAsResponses):
    """The workflow endpoints of a record type, the same for every workflow table:
    GET <pk>/transitions, POST <pk>/transitions/<name>, GET <pk>/pdf. A subclass says how
    to load a record the caller may see, which steps they may take, how to take one, and
    which PDF to print."""

    def load(self, pk):
        raise NotImplementedError

    def steps(self, record) -> list:
        raise NotImplementedError

    def take(self, pk, name: str, body: dict):
        raise NotImplementedError

    def document(self, record) -> tuple[bytes, str]:
        raise NotImplementedError

    @expose("/<int:pk>/transitions", methods=["GET"])
    @protect()
    @safe
    @permission_name("transition")
    def transitions(self, pk):
        """The transitions the caller may take now, with the fields each needs.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: "Transitions available to the caller, the state and the version"}
            404: {$ref: '#/components/responses/404'}
        """
        try:
            record = self.load(pk)
        except WorkflowError as error:
            return self._answer(error)
        return self.response(200, result=[transition_json(step) for step in self.steps(record)],
                             state=record.state, version=record.version)

    @expose("/<int:pk>/transitions/<name>", methods=["POST"])
    @protect()
    @safe
    @permission_name("transition")
    def transition(self, pk, name):
        """Take a transition with the fields it requires (JSON), optionally with the
        `version` the caller saw.
        ---
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          - {in: path, name: name, schema: {type: string}}
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            200: {description: The updated record}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Wrong state or stale version}
            422: {$ref: '#/components/responses/422'}
        """
        body = request.get_json(silent=True) or {}
        if not isinstance(body, dict):
            return self.response_400(message="JSON object expected")
        try:
            record = self.take(pk, name, body)
        except WorkflowError as error:
            return self._answer(error)
        return self.response(200, id=record.id, result=self.show_model_schema.dump(record))

    @expose("/<int:pk>/pdf", methods=["GET"])
    @protect()
    @safe
    @permission_name("pdf")
    def pdf(self, pk):
        """The record's official form as PDF.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          - {in: query, name: document, schema: {type: string}}
          responses:
            200: {description: PDF document, content: {application/pdf: {}}}
            404: {$ref: '#/components/responses/404'}
            503: {description: The PDF engine is missing or failed}
        """
        from reports import ReportError

        from app.tickets.views import pdf_response

        try:
            data, filename = self.document(self.load(pk))
        except WorkflowError as error:
            return self._answer(error)
        except ReportError as error:
            return self.response(503, message=str(error))
        return pdf_response(data, filename)
