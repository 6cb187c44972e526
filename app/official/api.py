"""GET /api/v1/documents/<id> and /verify: an official copy and what its signatures say."""
from flask import g
from flask_appbuilder.api import BaseApi, expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from app.official import services
from app.official.documents import DOCUMENTS
from app.workflow import WorkflowError


class DocumentApi(BaseApi):
    resource_name = "documents"
    openapi_spec_tag = "Official copies"

    def _copy(self, pk):
        return services.get_copy(g.user, pk)

    @expose("/<int:pk>", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def get(self, pk):
        """An official copy: document, revision, hash, and the newest revision's id.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: The official copy}
            404: {$ref: '#/components/responses/404'}
        """
        try:
            copy, record = self._copy(pk)
        except WorkflowError as error:
            return self.response(error.status, message=str(error))
        newest = services.current(copy.document, copy.record_id)
        return self.response(200, result={
            "id": copy.id, "document": copy.document, "title": DOCUMENTS[copy.document].title(record),
            "record_id": copy.record_id, "revision": copy.revision, "source": copy.source,
            "sha256": copy.sha256, "size": copy.size, "signed": copy.signed,
            "created_at": copy.created_at.isoformat(), "newest_id": newest.id})

    @expose("/<int:pk>/verify", methods=["GET"])
    @protect()
    @safe
    @permission_name("verify")
    def verify(self, pk):
        """Check the official copy's signatures now: intact or modified, each signer with the
        signing time, the certificate's subject and issuer, trusted or not, valid or not.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: The verification}
            404: {$ref: '#/components/responses/404'}
        """
        try:
            copy, record = self._copy(pk)
        except WorkflowError as error:
            return self.response(error.status, message=str(error))
        return self.response(200, id=copy.id, sha256=copy.sha256, result=services.verify(copy.pdf).as_json())
