from flask import g, redirect, request
from flask_appbuilder import IndexView, expose

from app.dashboard import services
from app.organisation import roles
from app.organisation.services import current_agency
from app.tenancy import current_agency_id
from app.workflow import id_of, roles_of


def _agency_figures() -> dict:
    """The platform admin's home: how many agencies are active and deactivated."""
    from app.organisation.agencies import agency_list

    rows = agency_list()
    active = sum(1 for agency, _ in rows if agency.active)
    return {"active": active, "inactive": len(rows) - active,
            "people": sum(people for _, people in rows)}


class HomeView(IndexView):
    """The page each user lands on: what waits for them; for Ban ISO and leaders, the figures."""

    index_template = "dashboard.html"

    @expose("/")
    def index(self):
        user = g.user if g.user and g.user.is_authenticated else None
        held = sorted(roles_of(user)) if user else []
        steering = any(name in roles.STEERING for name in held)
        work, work_total = services.my_work_page(user) if user else ([], 0)
        return self.render_template(
            self.index_template, appbuilder=self.appbuilder, settings=current_agency(),
            in_agency=current_agency_id() is not None,
            agencies=_agency_figures() if roles.PLATFORM_ADMIN in held else None,
            user_roles=[roles.role_label(name) for name in held],
            work=work, work_total=work_total,
            figures=services.steering(user) if steering else None,
        )

    @expose("/my-work/")
    def my_work(self):
        """Việc của tôi, every item, a page at a time (the home page shows the most urgent)."""
        user = g.user if g.user and g.user.is_authenticated else None
        if user is None:
            return redirect(self.appbuilder.get_url_for_login)
        page = id_of(request.args.get("page"))
        page = page if page is not None and page < 100000 else 1
        items, total = services.my_work_page(user, page, services.PAGE_ROWS)
        pages = max(1, -(-total // services.PAGE_ROWS))
        return self.render_template("my_work.html", appbuilder=self.appbuilder, work=items, total=total,
                                    page=min(page, pages), pages=pages)
