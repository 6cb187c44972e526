from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app.records import services


class RetentionView(BaseView):
    """Records past retention (VII), the same list as `flask qms retention --list`."""

    route_base = "/retention"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        return self.render_template("retention.html", tickets=services.past_retention(),
                                    limit=services.retention_limit(),
                                    years=services.current_agency().retention_years)
