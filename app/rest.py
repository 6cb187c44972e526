"""Shared behaviour of our REST APIs (FAB ModelRestApi)."""
from app.extensions import db
from app.workflow import WorkflowError


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
