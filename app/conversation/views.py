from flask import flash, g, redirect, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext

from app.conversation import services
from app.conversation.kinds import KINDS, kind_of
from app.tickets.files import UploadRefused
from app.ui import keep_typed, refusal


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
            keep_typed(typed_form(kind, record_id), text)
            return redirect(back)
        except services.WorkflowError as error:
            keep_typed(typed_form(kind, record_id), text)
            return refusal(error, back)
        flash(gettext("Your comment was posted."), "success")
        return redirect(back)


def typed_form(kind: str, record_id: int) -> str:
    """The name under which a refused comment's text waits (app.ui.keep_typed)."""
    return f"comment:{kind}:{record_id}"
