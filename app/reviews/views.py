"""Pages for management reviews and internal audits. Thin: rules live in services/workflow."""
import datetime

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.organisation.models import QmsUser, Unit
from app.reviews import documents, services, workflow
from app.reviews.models import InternalAudit, Review
from app.tickets.views import pdf_response
from app.ui import QmsInterface, QmsModelView, refusal, render_error, transition_page
from app.workflow import WorkflowError


def _back_url(pk) -> str:
    return url_for("ReviewView.show", pk=pk)


def _back(review_id, anchor=""):
    return redirect(_back_url(review_id) + anchor)


class InternalAuditView(QmsModelView):
    datamodel = QmsInterface(InternalAudit)
    route_base = "/internal-audits"
    list_title = _l("Internal audits")
    add_title = _l("Record an internal audit")
    edit_title = _l("Edit internal audit")
    show_title = _l("Internal audit")
    label_columns = {"year": _l("Year"), "done_on": _l("Done on"), "scope": _l("Scope and summary")}
    list_columns = show_columns = add_columns = edit_columns = ["year", "done_on", "scope"]
    search_columns = ["year", "done_on"]
    base_order = ("done_on", "desc")


class ReviewView(QmsModelView):
    datamodel = QmsInterface(Review)
    route_base = "/reviews"
    base_permissions = ["can_list", "can_show", "can_add", "can_write", "can_transition", "can_comment",
                        "can_export"]
    base_order = ("period_end", "desc")
    list_title = _l("Management reviews")
    label_columns = {
        "display_number": _l("Number"), "year": _l("Year"), "form": _l("Form"),
        "period_start": _l("From"), "period_end": _l("To"), "state": _l("State"),
        "approved_on": _l("Approved on"),
    }
    list_columns = ["display_number", "form", "period_start", "period_end", "state", "approved_on"]
    search_columns = ["year", "form", "state"]
    formatters_columns = {
        "form": lambda v: str(workflow.FORMS.get(v, v)),
        "state": lambda v: str(workflow.STATES.get(v, v)),
    }

    def _page(self, review, errors=None, values=None, status=200):
        users = db.session.scalars(select(QmsUser).where(QmsUser.active.is_(True)).order_by(QmsUser.username)).all()
        units = db.session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)).all()
        return self.render_template(
            "review.html", review=review, states=workflow.STATES, forms=workflow.FORMS,
            steps=workflow.workflow_for(review).available(g.user, review),
            next_steps=workflow.workflow_for(review).next_steps(review.state),
            may_write=workflow.may_write(g.user, review), may_comment=workflow.may_comment(g.user, review),
            sections=services.INPUT_SECTIONS, figure_label=services.figure_label,
            topics=workflow.DISCUSSION_TOPICS, users=users, units=units,
            event_labels=workflow.workflow_for(review).event_labels(), errors=errors or {}, values=values,
        ), status

    @expose("/show/<int:pk>")
    @has_access
    def show(self, pk):
        try:
            return self._page(services.get_review(pk))
        except WorkflowError:
            return render_error(404)

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        form, errors = request.form, {}
        if request.method == "POST":
            try:
                start = datetime.date.fromisoformat(form.get("period_start", ""))
                end = datetime.date.fromisoformat(form.get("period_end", ""))
            except ValueError:
                start = end = None
            try:
                review = services.create_review(g.user, form.get("form"), start, end)
            except WorkflowError as error:
                db.session.rollback()
                errors = error.errors or {"form": error.message}
            else:
                flash(gettext("The review was created and its inputs gathered from the records."), "success")
                return _back(review.id)
        year = datetime.date.today().year
        return self.render_template("review_add.html", forms=workflow.FORMS, errors=errors, values=form,
                                    default_start=f"{year}-01-01", default_end=datetime.date.today().isoformat()
                                    ), (422 if errors else 200)

    @expose("/<int:pk>/content", methods=["POST"])
    @has_access
    @permission_name("write")
    def content(self, pk):
        raw = request.form.to_dict()
        raw["attendees"] = request.form.getlist("attendees")
        if "attendees_present" not in request.form:
            raw.pop("attendees")
        try:
            services.update_content(g.user, pk, raw)
        except WorkflowError as error:
            db.session.rollback()
            if error.status == 422:
                flash(error.message, "danger")
                return self._page(services.get_review(pk), errors=error.errors, values=request.form, status=422)
            return refusal(error, _back_url(pk))
        flash(gettext("The review was saved."), "success")
        return _back(pk)

    @expose("/<int:pk>/refresh", methods=["POST"])
    @has_access
    @permission_name("write")
    def refresh(self, pk):
        try:
            services.refresh_inputs(g.user, pk)
        except WorkflowError as error:
            return refusal(error, _back_url(pk))
        flash(gettext("The inputs were gathered again from the records."), "success")
        return _back(pk, "#inputs")

    @expose("/<int:pk>/presentations", methods=["POST"])
    @has_access
    @permission_name("write")
    def presentation(self, pk):
        try:
            services.add_presentation(g.user, pk, request.form.get("reporter", ""), request.form.get("summary", ""))
        except WorkflowError as error:
            return refusal(error, _back_url(pk))
        return _back(pk, "#presentations")

    @expose("/<int:pk>/actions", methods=["POST"])
    @has_access
    @permission_name("write")
    def action(self, pk):
        try:
            services.add_action(g.user, pk, request.form.get("description", ""),
                                request.form.get("focal_unit"), request.form.get("due_date", ""))
        except WorkflowError as error:
            return refusal(error, _back_url(pk))
        return _back(pk, "#actions")

    @expose("/<int:pk>/actions/<int:action_id>/delete", methods=["POST"])
    @has_access
    @permission_name("write")
    def remove_action(self, pk, action_id):
        try:
            services.remove_action(g.user, pk, action_id)
        except WorkflowError as error:
            return refusal(error, _back_url(pk))
        return _back(pk, "#actions")

    @expose("/<int:pk>/comments", methods=["POST"])
    @has_access
    @permission_name("comment")
    def comment(self, pk):
        try:
            services.add_comment(g.user, pk, request.form.get("text", ""))
        except WorkflowError as error:
            return refusal(error, _back_url(pk))
        flash(gettext("Your comment was recorded."), "success")
        return _back(pk, "#comments")

    @expose("/<int:pk>/do/<name>", methods=["GET", "POST"])
    @has_access
    @permission_name("transition")
    def transition(self, pk, name):
        try:
            review = services.get_review(pk)
        except WorkflowError:
            return render_error(404)
        return transition_page(
            self, workflow.workflow_for(review), review, name,
            lambda values, version: services.apply_transition(g.user, pk, name, values, version),
            _back_url(pk), str(review))

    @expose("/<int:pk>/<any(minutes, report, notice):document>.pdf")
    @has_access
    @permission_name("export")
    def export(self, pk, document):
        from reports import ReportError

        try:
            review = services.get_review(pk)
            data, filename = documents.review_pdf(review, document)
        except WorkflowError:
            return render_error(404)
        except ReportError as error:
            return render_error(503, str(error))
        return pdf_response(data, filename)
