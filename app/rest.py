"""Shared behaviour of our REST APIs (FAB ModelRestApi)."""
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
