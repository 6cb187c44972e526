"""One help page per workflow, drawn from its table: states, who acts next, the
transitions and what they need, the actions inside a state, and the system's own steps."""
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app.ui import render_error


def all_workflows() -> dict:
    """Every workflow of the product, by the name in its help page's address."""
    from app.objectives.workflow import WORKFLOW as objectives
    from app.reviews.workflow import WORKFLOWS as reviews
    from app.tickets.workflow import WORKFLOW as tickets

    return {w.name: w for w in (tickets, objectives, *reviews.values())}


class WorkflowHelpView(BaseView):
    route_base = "/help"
    default_view = "workflow"

    @expose("/workflow")
    @expose("/workflow/<name>")
    @has_access
    def workflow(self, name="tickets"):
        workflows = all_workflows()
        if name not in workflows:
            return render_error(404)
        return self.render_template("workflow_help.html", workflow=workflows[name], workflows=workflows)
