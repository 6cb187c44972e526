"""The official copy page (SPEC §11): the copy and its revisions, what the signatures say,
the preview, and the approver's personal signature (upload, or in the panel)."""
import json

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext

from app.official import services, signing
from app.official.documents import DOCUMENTS
from app.ui import render_error
from app.workflow import Invalid, WorkflowError


def official_response(data: bytes, filename: str, copy=None):
    """A PDF download; an official copy says so, with the hash of exactly the bytes served."""
    from app.tickets.views import pdf_response

    response = pdf_response(data, filename)
    if copy is not None:
        response.headers["X-Official-Copy"] = f"sha256={copy.sha256}"
    return response


def _length(upload, read: int) -> int:
    """The size of an uploaded file, without reading it all."""
    try:
        upload.stream.seek(0, 2)
        return upload.stream.tell()
    except (AttributeError, OSError, ValueError):
        return request.content_length or read


class OfficialCopyView(BaseView):
    route_base = "/official"
    default_view = "certificate"

    def _load(self, pk):
        return services.get_copy(g.user, pk)

    @expose("/<int:pk>")
    @has_access
    @permission_name("show")
    def show(self, pk):
        try:
            copy, record = self._load(pk)
        except WorkflowError:
            return render_error(404)
        document = DOCUMENTS[copy.document]
        history = services.revisions(copy.document, copy.record_id)
        newest = history[-1]
        check = services.verify(copy.pdf)
        return self.render_template(
            "official_copy.html", copy=copy, record=record, document=document, history=history,
            newest=newest, check=check, sources=services.SOURCES, record_url=document.page(record),
            may_sign=services.may_sign(g.user, copy, record),
            my_certificate=services.active_credential(g.user),
            agency_certificate=services.active_credential(), stored=json.loads(copy.verification or "{}"))

    @expose("/of")
    @has_access
    @permission_name("show")
    def of(self):
        """A record's official copy page (?document=<code>&record=<id>), the copy made first
        if the document is final."""
        from reports import ReportError

        code, record_id = request.args.get("document"), request.args.get("record", type=int)
        if code not in DOCUMENTS or record_id is None:
            return render_error(404)
        try:
            record = DOCUMENTS[code].load(g.user, record_id)
            copy = services.official_copy(record, code)
        except WorkflowError:
            return render_error(404)
        except ReportError as error:
            return render_error(503, str(error))
        if copy is None:
            return render_error(404, gettext("This document is not final yet: it has no official copy."))
        return redirect(url_for(".show", pk=copy.id))

    @expose("/<int:pk>/pdf")
    @has_access
    @permission_name("pdf")
    def pdf(self, pk):
        try:
            copy, record = self._load(pk)
        except WorkflowError:
            return render_error(404)
        return official_response(copy.pdf, copy.filename, copy)

    @expose("/<int:pk>/preview")
    @has_access
    @permission_name("pdf")
    def preview(self, pk):
        from reports import ReportError

        try:
            copy, record = self._load(pk)
            data, filename, _ = services.served(record, copy.document, preview=True)
        except WorkflowError:
            return render_error(404)
        except ReportError as error:
            return render_error(503, str(error))
        return official_response(data, filename)

    def _add_revision(self, pk, sign, done: str):
        """Load the copy (404), let `sign(copy, record)` make its next revision and open it, or
        come back to the page with the refusal; nothing is changed on refusal."""
        try:
            copy, record = self._load(pk)
        except WorkflowError:
            return render_error(404)
        try:
            new = sign(copy, record)
        except WorkflowError as error:
            flash(str(error), "danger")
            return redirect(url_for(".show", pk=pk))
        flash(done, "success")
        return redirect(url_for(".show", pk=new.id))

    @expose("/<int:pk>/upload", methods=["POST"])
    @has_access
    @permission_name("sign")
    def upload(self, pk):
        def signed_upload(copy, record):
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                raise Invalid(gettext("Choose the signed PDF file."))
            data = upload.read(services.MAX_UPLOAD_BYTES + 1)  # a larger file is refused unread
            return services.upload_signed(g.user, copy, record, data, size=_length(upload, len(data)))

        return self._add_revision(pk, signed_upload, gettext("The signed file was checked and is now the official copy."))

    @expose("/<int:pk>/sign", methods=["POST"])
    @has_access
    @permission_name("sign")
    def sign(self, pk):
        return self._add_revision(
            pk, lambda copy, record: services.sign_in_panel(g.user, copy, record, request.form.get("password", "")),
            gettext("Signed with your certificate: this is now the official copy."))

    @expose("/<int:pk>/sign-agency", methods=["POST"])
    @has_access
    @permission_name("sign_agency")
    def sign_agency(self, pk):
        return self._add_revision(pk, lambda copy, record: services.sign_for_agency(g.user, copy),
                                  gettext("Signed with the agency's certificate."))

    @expose("/certificate", methods=["GET", "POST"])
    @has_access
    @permission_name("sign")
    def certificate(self):
        """The user's own certificate, to sign in the panel the documents they approve."""
        if request.method == "POST":
            upload = request.files.get("file")
            data = upload.read(1024 * 1024 + 1) if upload and upload.filename else b""
            try:
                if not data:
                    raise signing.SigningError(gettext("Choose your PKCS#12 file (.p12, .pfx)."))
                if len(data) > 1024 * 1024:
                    raise signing.SigningError(gettext("A PKCS#12 file is not this large: choose the right file."))
                services.import_credential(data, request.form.get("password", ""), g.user)
            except signing.SigningError as error:
                flash(str(error), "danger")
            else:
                flash(gettext("Your certificate was imported."), "success")
            return redirect(url_for(".certificate"))
        return self.render_template("official_certificate.html", mine=services.active_credential(g.user),
                                    agency=services.active_credential())
