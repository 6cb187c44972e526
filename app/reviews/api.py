"""REST API for management reviews: /api/v1/reviews/ with transitions, PDFs and the inputs."""
import datetime

from flask import g, request
from flask_appbuilder.api import ModelRestApi, expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext, lazy_gettext as _l

from app.rest import QuickListDump, WorkflowApi
from app.reviews import services, workflow
from app.reviews.models import Review
from app.ui import ModelInterface
from app.workflow import WorkflowError


PERIOD_YEARS = (1900, 2999)


def _figures_json(figures: dict) -> dict:
    return {key: [{**f, "label": services.figure_label(f)} for f in rows] for key, rows in figures.items()}


class ReviewApi(WorkflowApi, QuickListDump, ModelRestApi):
    resource_name = "reviews"
    datamodel = ModelInterface(Review)
    allow_browser_login = False  # JWT only: the API is exempt from CSRF
    list_columns = ["id", "year", "number", "form", "period_start", "period_end", "state", "version",
                    "approved_on"]
    show_columns = list_columns + [
        "meeting_date", "start_time", "end_time", "place", "chair.username", "secretary.username",
        "general_conclusion", "improvement_needs", "qms_change_needs", "resource_needs", "inputs", "figures",
        "notice_year", "notice_number",
    ]
    add_columns = ["form", "period_start", "period_end"]
    edit_columns = ["period_start", "period_end"]
    label_columns = {
        **{column: label for column, label in services.CONTENT_LABELS.items() if column in services.CONTENT_PARTS},
        "form": _l("Form"), "period_start": _l("Start of the period"), "period_end": _l("End of the period"),
        "approved_on": _l("Approved on"), "figures": _l("Figures of the review period"),
        "notice_year": _l("Year of the notice of results"), "notice_number": _l("Number of the notice of results"),
    }
    vocabularies = {"form": workflow.FORMS}
    search_columns = ["year", "form", "state"]

    def post_headless(self):
        try:
            body = self.checked_body(self.add_columns)
            dates, errors = {}, {}
            for name in ("period_start", "period_end"):
                try:
                    dates[name] = datetime.date.fromisoformat(body.get(name) or "")
                except (TypeError, ValueError):
                    errors[name] = self._label(name) + ": " + gettext("Enter a date as YYYY-MM-DD.")
            if errors:
                raise self._invalid(errors)
            review = services.create_review(g.user, body.get("form"), dates["period_start"], dates["period_end"])
        except WorkflowError as error:
            return self._answer(error)
        return self.response(201, id=review.id, result=self.show_model_schema.dump(review))

    def pre_update(self, review):
        services.change_period(g.user, review)

    def pre_delete(self, review):
        services.ensure_draft(g.user, review)

    @expose("/inputs", methods=["GET"])
    @protect()
    @safe
    @permission_name("inputs")
    def inputs(self):
        """The input figures of 5.8.1.1 for a period, each with the list it comes from.
        ---
        get:
          parameters:
          - {in: query, name: from, required: true, schema: {type: string, format: date}}
          - {in: query, name: to, required: true, schema: {type: string, format: date}}
          responses:
            200: {description: Figures by section}
            422: {$ref: '#/components/responses/422'}
        """
        try:
            start = datetime.date.fromisoformat(request.args.get("from", ""))
            end = datetime.date.fromisoformat(request.args.get("to", ""))
        except ValueError:
            start = end = None
        if not all(d and PERIOD_YEARS[0] <= d.year <= PERIOD_YEARS[1] for d in (start, end)):
            # the figures count years around the period: a year 1 or 9999 overflows
            return self.response(422, message=gettext(
                "The period runs from (from) to (to): two dates as YYYY-MM-DD between the years 1900 and 2999."))
        if start > end:
            return self.response(422, message=gettext("The start of the period is after its end."))
        return self.response(200, result=_figures_json(services.gather_inputs(start, end, g.user)),
                             sections={k: str(v) for k, v in services.INPUT_SECTIONS.items()})

    @expose("/<int:pk>/content", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def get_content(self, pk):
        """The content of a review: meeting details, attendees, input texts, discussion items,
        reports, follow-up actions and conclusions, in the shape PUT takes back.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: The content and the version}
            404: {$ref: '#/components/responses/404'}
        """
        try:
            review = services.get_review(pk)
        except WorkflowError as error:
            return self._answer(error)
        return self.response(200, result=services.content_of(review))

    # Writing a review's content is part of preparing it: the permission to create reviews.
    @expose("/<int:pk>/content", methods=["PUT"])
    @protect()
    @safe
    @permission_name("post")
    def put_content(self, pk):
        """Save any parts of the content at once, as the page does (the same rule). Users and
        units are given by id; rows sent replace their part's rows (keep a row by its id);
        `?regather=1` also gathers the input figures again from the records.
        ---
        put:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          - {in: query, name: regather, schema: {type: boolean}}
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            200: {description: The saved content}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: 'The review is finished, or changed meanwhile (version)'}
            422: {$ref: '#/components/responses/422'}
        """
        body = request.get_json(silent=True)
        regather = request.args.get("regather", "").lower() in ("1", "true", "yes")
        try:
            review = services.save_content(g.user, pk, {} if body is None else body, regather=regather)
        except WorkflowError as error:
            return self._answer(error)
        return self.response(200, result=services.content_of(review))

    @expose("/<int:pk>/comments", methods=["POST"])
    @protect()
    @safe
    @permission_name("transition")
    def comment(self, pk):
        """A comment on the QMS operation report (5.8.2.1), while it is open for comments;
        who may comment is the review workflow's rule.
        ---
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          requestBody: {content: {application/json: {schema: {type: object, properties: {text: {type: string}}}}}}
          responses:
            201: {description: The comment was recorded}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        body = request.get_json(silent=True)
        text = body.get("text") if isinstance(body, dict) else None
        try:
            comment = services.add_comment(g.user, pk, text if isinstance(text, str) else "")
        except WorkflowError as error:
            return self._answer(error)
        return self.response(201, id=comment.id)

    def load(self, pk):
        return services.get_review(pk)

    def steps(self, review):
        return workflow.workflow_for(review).available(g.user, review)

    def take(self, pk, name, body):
        return services.apply_transition(g.user, pk, name, body, body.get("version"))

    def document(self, review):
        """The minutes (meeting) or the notice by default; ?document=minutes|report|notice."""
        from app.official import services as official
        from app.reviews.documents import REVIEW_DOCUMENTS

        default = "minutes" if review.form == "meeting" else "notice"
        kind = request.args.get("document", default)
        if kind not in REVIEW_DOCUMENTS:
            raise services.NotFound(gettext("Document not found."))
        return official.served(review, REVIEW_DOCUMENTS[kind], preview="preview" in request.args)
