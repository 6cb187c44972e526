from flask import flash, g, redirect, request, session
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext

from app.conversation import services
from app.conversation.kinds import KINDS, kind_of
from app.tickets.files import UploadRefused
from app.ui import refusal


class CommentView(BaseView):
    """Posts a comment on a record's page; the thread shows in the record's history."""

    route_base = "/comments"

    @expose(f"/<any({', '.join(KINDS)}):kind>/<int:record_id>", methods=["POST"])
    @has_access
    @permission_name("comment")
    def post(self, kind, record_id):
        try:
            record = services.load(g.user, kind, record_id)
        except services.WorkflowError as error:
            return refusal(error, "/")
        back = kind_of(record).link(record) + "#conversation"
        uploads = [(f.filename, f.read()) for f in request.files.getlist("files") if f and f.filename]
        text = request.form.get("text", "")
        try:
            services.add_comment(g.user, kind, record_id, text, uploads)
        except UploadRefused as error:
            flash(str(error), "danger")
            return _keeping(kind, record_id, text, redirect(back))
        except services.WorkflowError as error:
            return _keeping(kind, record_id, text, refusal(error, back))
        flash(gettext("Your comment was posted."), "success")
        return redirect(back)


DRAFT = "comment_draft"
# Characters of a refused comment kept for its author: the session is a cookie (about 4 KB in
# all, and Vietnamese letters take up to 6 bytes each there); a longer text is cut, never lost
# with the whole cookie and its refusal message.
DRAFT_KEPT = 500


def _keeping(kind: str, record_id: int, text: str, response):
    """A refused comment's text waits for its author on the record's page (nothing typed is lost)."""
    if text.strip():
        session[DRAFT] = {"kind": kind, "id": record_id, "text": text[:DRAFT_KEPT]}
    return response


def take_draft(kind: str, record_id: int) -> str:
    """The text of this record's comment refused just now, once."""
    draft = session.get(DRAFT)
    if not draft or draft.get("kind") != kind or draft.get("id") != record_id:
        return ""
    session.pop(DRAFT)
    return draft.get("text", "")
