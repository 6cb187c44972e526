from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app import record_list
from app.records import services


class RetentionView(BaseView):
    """Records past retention (VII), the same list as `flask qms retention --list`, a page at a time."""

    route_base = "/retention"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        query = services.past_retention_query()
        total, page, pages = record_list.count_and_page(query)
        return self.render_template("retention.html",
                                    tickets=services.past_retention_page(query, page, record_list.PAGE_SIZE),
                                    total=total, page=page, pages=pages,
                                    page_links=record_list.linked_pages([], page, pages),
                                    limit=services.retention_limit(),
                                    years=services.current_agency().retention_years)
