"""Pages for management reviews and internal audits. Thin: rules live in services/workflow."""
import datetime
import re

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.organisation.models import QmsUser, Unit
from app.reviews import documents, services, workflow
from app.reviews.documents import REVIEW_DOCUMENTS
from app.reviews.models import InternalAudit, Review
from app import record_list
from app.record_list import Filter
from app.ui import QmsInterface, QmsModelView, format_date, refusal, render_error, transition_page
from app.workflow import WorkflowError, parse_date


def _back_url(pk) -> str:
    return url_for("ReviewView.show", pk=pk)


def _back(review_id, anchor=""):
    return redirect(_back_url(review_id) + anchor)


def _rows(form, prefix: str, fields: tuple[str, ...]) -> list[dict]:
    """The rows posted as <prefix>-<n>-<field>, in order; blank rows and rows ticked for
    removal are left out (rows sent replace the part's rows)."""
    numbers = sorted({int(m.group(1)) for key in form if (m := re.fullmatch(rf"{prefix}-(\d+)-\w+", key))})
    rows = []
    for n in numbers:
        row = {name: form.get(f"{prefix}-{n}-{name}", "") for name in ("id",) + fields}
        if form.get(f"{prefix}-{n}-remove") or not any(row.values()):
            continue
        rows.append(row)
    return rows


def _content_from_form(form, review) -> dict:
    """The page's form in the shape services.save_content takes (the API's JSON)."""
    data = {"version": form.get("version")}
    data.update({name: form[name] for name in services.OUTPUT_TEXTS if name in form})
    inputs = {key: form[f"input_{key}"] for key in services.INPUT_SECTIONS if f"input_{key}" in form}
    if inputs:
        data["inputs"] = inputs
    if any(key.startswith("action-") for key in form):
        data["actions"] = _rows(form, "action", ("description", "focal_unit_id", "due_date"))
    if review.form != "meeting":
        return data
    data.update({name: form[name] for name in ("meeting_date", "start_time", "end_time", "place", "chair_id",
                                               "secretary_id", "other_attendees") if name in form})
    if "attendees_present" in form or "attendees" in form:
        data["attendee_ids"] = form.getlist("attendees")
    items = [{"position": item.position, **{part: form[f"item_{item.position}_{part}"]
                                            for part in ("discussion", "conclusion")
                                            if f"item_{item.position}_{part}" in form}}
             for item in review.items]
    if any(len(item) > 1 for item in items):
        data["items"] = items
    if any(key.startswith("presentation-") for key in form):
        data["presentations"] = _rows(form, "presentation", ("reporter", "summary"))
    return data


def _typed(review, data: dict) -> dict:
    """The review's content with what was typed over it, to show a refused save again."""
    content = services.content_of(review)
    content.update({key: value for key, value in data.items() if key not in ("inputs", "items")})
    content["inputs"] = {**content["inputs"], **data.get("inputs", {})}
    typed_items = {item["position"]: item for item in data.get("items", [])}
    content["items"] = [{**item, **typed_items.get(item["position"], {})} for item in content.get("items", [])]
    return content


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


REVIEW_FILTERS = [
    Filter("year", _l("Year"), width=90),
    Filter("form", _l("Form"), choices=workflow.FORMS, any_label=_l("All forms")),
    Filter("state", _l("State"), choices=workflow.STATES, any_label=_l("All states")),
]


class ReviewView(QmsModelView):
    datamodel = QmsInterface(Review)
    route_base = "/reviews"
    base_permissions = ["can_list", "can_show", "can_add", "can_write", "can_transition", "can_comment",
                        "can_export"]
    list_title = _l("Management reviews")
    label_columns = {
        "display_number": _l("Number"), "year": _l("Year"), "form": _l("Form"),
        "period_start": _l("Period from"), "period_end": _l("Period to"), "state": _l("State"),
        "approved_on": _l("Approved on"),
    }
    list_columns = ["display_number", "form", "period_start", "period_end", "state", "approved_on"]

    def _page(self, review, content=None, errors=None, status=200):
        """The review page; its one content form shows `content`: the review's own, or what
        was typed when a save was refused."""
        users = db.session.scalars(select(QmsUser).order_by(QmsUser.username)).all()
        units = db.session.scalars(select(Unit).order_by(Unit.code)).all()
        return self.render_template(
            "review.html", review=review, states=workflow.STATES, forms=workflow.FORMS,
            steps=workflow.workflow_for(review).available(g.user, review),
            next_steps=workflow.workflow_for(review).next_steps(review.state),
            may_write=services.may_write(g.user, review),
            may_write_inputs=services.may_write(g.user, review, {"inputs"}),
            may_comment=workflow.may_comment(g.user, review),
            may_delete=workflow.workflow_for(review).may("prepare", g.user, review),
            sections=services.INPUT_SECTIONS, figure_label=services.figure_label,
            topics=documents.discussion_topics(), event_labels=workflow.workflow_for(review).event_labels(),
            users=[u for u in users if u.active], units=[u for u in units if u.active],
            user_names={u.id: u.get_full_name() for u in users}, unit_names={u.id: u.name for u in units},
            content=content or services.content_of(review), errors=errors or {},
            today=datetime.date.today().isoformat(),
        ), status

    @expose("/show/<int:pk>")
    @has_access
    def show(self, pk):
        try:
            return self._page(services.review_for_page(pk))
        except WorkflowError:
            return render_error(404)

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        form, errors = request.form, {}
        if request.method == "POST":
            # typed dd/mm/yyyy on the page (ISO is taken too)
            start, end = parse_date(form.get("period_start", "")), parse_date(form.get("period_end", ""))
            if start is None or end is None:
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
        """The page's one save: every part of the content, rows added and removed, and
        optionally the inputs gathered again. A refused save shows the page again with
        everything typed."""
        try:
            review = services.get_review(pk)
        except WorkflowError:
            return render_error(404)
        data = _content_from_form(request.form, review)
        regather = "regather" in request.form
        try:
            services.save_content(g.user, pk, data, regather=regather)
        except WorkflowError as error:
            db.session.rollback()
            if error.status not in (409, 422) or not services.may_write(g.user, services.get_review(pk)):
                return refusal(error, _back_url(pk))
            review = services.get_review(pk)
            if error.status == 409:  # changed meanwhile: keep the text, and let it be saved over
                data["version"] = review.version
            flash(error.message, "danger")
            return self._page(review, _typed(review, data), error.errors, error.status)
        if regather:
            flash(gettext("The review was saved and its inputs gathered again from the records."), "success")
            return _back(pk, "#inputs")
        flash(gettext("The review was saved."), "success")
        return _back(pk)

    @expose("/<int:pk>/delete", methods=["POST"])
    @has_access
    @permission_name("write")
    def delete_review(self, pk):
        try:
            services.delete_review(g.user, pk)
        except WorkflowError as error:
            return refusal(error, _back_url(pk))
        flash(gettext("The review was deleted."), "success")
        return redirect(url_for(".list"))

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

        from app.official import services as official
        from app.official.views import official_response

        try:
            review = services.get_review(pk)
            data, filename, copy = official.served(review, REVIEW_DOCUMENTS[document],
                                                   preview="preview" in request.args)
        except WorkflowError:
            return render_error(404)
        except ReportError as error:
            return render_error(503, str(error))
        return official_response(data, filename, copy)

    # --- the list (last in the class: the method's name hides the built-in list) ------------

    @expose("/list/")
    @has_access
    def list(self):
        def row(review):
            return review.id, False, record_list.cells((
                review.display_number, workflow.FORMS.get(review.form, review.form), format_date(review.period_start),
                format_date(review.period_end), workflow.STATES.get(review.state, review.state),
                format_date(review.approved_on)))

        return record_list.list_page(
            self, arg_names=services.REVIEW_LIST_ARGS, fab_filter=record_list.fab_equals(("year",), {"form": workflow.FORMS, "state": workflow.STATES}),
            query=services.review_list_query(request.args), read_page=services.review_page, row=row,
            filters=REVIEW_FILTERS, headings=[self.label_columns[name] for name in self.list_columns],
            add_label=_l("New management review"))
