from flask import g
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l

from app.downloads import services
from app.downloads.models import FAILED, PENDING, READY
from app.ui import render_error

STATES = {PENDING: _l("being made"), READY: _l("ready"), FAILED: _l("failed")}


class DownloadView(BaseView):
    """"Files made for me": what the user asked to be made in the background (the records
    binder), with its state, and the download of those that are ready. Each user sees their own."""

    route_base = "/downloads"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        files = services.own_files(g.user)
        return self.render_template("downloads.html", files=files, states=STATES,
                                    waiting=any(f.status == PENDING for f in files))

    @expose("/<int:file_id>/file")
    @has_access
    def download(self, file_id):
        from app.tickets.views import _disposition
        from flask import Response

        generated = services.own_file(g.user, file_id)
        if generated is None:
            return render_error(404)
        mimetype = "application/pdf" if generated.name.endswith(".pdf") else "application/octet-stream"
        response = Response(generated.content, mimetype=mimetype)
        response.headers["Content-Disposition"] = _disposition(generated.name, inline=mimetype == "application/pdf")
        return response
