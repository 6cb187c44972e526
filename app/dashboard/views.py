from flask import g
from flask_appbuilder import IndexView, expose

from app.dashboard import services
from app.organisation import roles
from app.organisation.services import current_agency
from app.workflow import roles_of


class HomeView(IndexView):
    """The page each user lands on: what waits for them; for Ban ISO and leaders, the figures."""

    index_template = "dashboard.html"

    @expose("/")
    def index(self):
        user = g.user if g.user and g.user.is_authenticated else None
        held = sorted(roles_of(user)) if user else []
        steering = any(name in roles.STEERING for name in held)
        return self.render_template(
            self.index_template, appbuilder=self.appbuilder, settings=current_agency(),
            user_roles=[roles.role_label(name) for name in held],
            work=services.my_work(user) if user else [],
            figures=services.steering(user) if steering else None,
        )
