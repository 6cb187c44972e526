"""Shared behaviour of our REST APIs (FAB ModelRestApi)."""
import datetime
import functools
import importlib
import json
import logging
import re
import sys

import jsonschema
import prison
from apispec import APISpec
from apispec.exceptions import DuplicateComponentNameError
from flask import request
import flask_appbuilder.api as fab_api
from flask_appbuilder.api import BaseApi, expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
import flask_babel
from flask_babel import gettext, lazy_gettext as _l
from marshmallow import fields, missing

from app.extensions import db
from app.workflow import Invalid, WorkflowError, choices_for, get_by_id, looks_like_id, transition_schema

log = logging.getLogger(__name__)
MAX_INTEGER = 2**31 - 1  # an integer column's range (PostgreSQL)


def _too_large(value) -> bool:
    """Whether a parsed `q` holds a number no integer column can hold (PostgreSQL refuses the
    query: a 500 otherwise)."""
    if isinstance(value, dict):
        return any(_too_large(v) for v in value.values())
    if isinstance(value, list):
        return any(_too_large(v) for v in value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER


def rison_error(value) -> str | None:
    """Why the `q` argument is not rison (nor JSON, as FAB also accepts), or None."""
    if not value:
        return None
    for parse in (prison.loads, json.loads):
        try:
            parsed = parse(value)
        except (Exception, RecursionError):  # noqa: BLE001 - any failure of the parsers
            continue
        if _too_large(parsed):
            return gettext("The request's parameters are not valid.")
        return None
    return gettext("The query argument q is not valid (write it in rison or JSON).")


def _response_400(self, message=None):
    """FAB's English 400s (rison schema, filters, order) → one Vietnamese message."""
    log.info("400 %s %s: %s", request.method, request.path, message)
    return self.response(400, message=gettext("The request's parameters are not valid."))


def _response_404(self):
    from app.ui import ERROR_MESSAGES

    return self.response(404, message=str(ERROR_MESSAGES[404]))


def _response_500(self, message=None):
    """FAB's `safe` answers every exception with 500; a database gone away is a 503, and no
    answer quotes the error."""
    from sqlalchemy.exc import OperationalError

    from app.ui import ERROR_MESSAGES

    db.session.rollback()
    code = 503 if isinstance(sys.exc_info()[1], OperationalError) else 500
    return self.response(code, message=str(ERROR_MESSAGES[code]))


class OneLineForDatabaseDown(logging.Filter):
    """FAB logs a traceback for each exception it catches: a database gone away is one line."""

    def filter(self, record):
        from sqlalchemy.exc import OperationalError

        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, OperationalError):
            record.msg, record.args = "Cơ sở dữ liệu không truy cập được: %s", (str(error.orig).splitlines() or [""])[0]
            record.exc_info = record.exc_text = None
        return True


LOCAL_DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$"
_NESTED_COMPONENT = re.compile(r"^\w+Api\.(get|get_list)\.\w+$")


def correct_openapi(spec: dict) -> dict:
    """What FAB's generated OpenAPI says wrongly about its own answers (found by the fuzz
    test, tests/test_fuzz.py): list `ids` are integers (our keys), `_info`'s add/edit
    columns are lists of field descriptions, a related record (a nested `Api.get.Model`) may
    be null, a record's id is a number, times carry no zone, a menu's children include "-" separators, and an id in a path is a whole number
    an id column holds."""
    for component, schema in spec.get("components", {}).get("schemas", {}).items():
        if _NESTED_COMPONENT.match(component):
            schema["nullable"] = True
        for prop in (schema.get("properties") or {}).values():
            if prop.get("format") == "date-time":
                # our columns hold local times without a zone: ISO 8601, not RFC 3339's date-time
                del prop["format"]
                prop["pattern"] = LOCAL_DATE_TIME
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema") or {}
                if parameter.get("in") == "path" and schema.get("type") == "integer":
                    # an id route takes 1…2³¹−1 (app.DatabaseId); a GET of "-1" is no route
                    schema.update(minimum=1, maximum=MAX_INTEGER)
            for answer in operation.get("responses", {}).values():
                schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
                properties = schema.get("properties") or {}
                if properties.get("id", {}).get("type") == "string":
                    properties["id"]["type"] = "integer"  # FAB's "item id": our keys are numbers
                if properties.get("ids", {}).get("items") == {"type": "string"}:
                    properties["ids"]["items"] = {"type": "integer"}
                for key in ("add_columns", "edit_columns"):
                    if properties.get(key) == {"type": "object"}:
                        properties[key] = {"type": "array", "items": {"type": "object"}}
                children = (properties.get("result", {}).get("items", {}).get("properties", {}).get("childs"))
                if children and children.get("items") == {"type": "object"}:
                    children["items"] = {"anyOf": [{"type": "object"}, {"type": "string"}]}
    return spec


class _SchemaCheckedOnce:
    """Stands for the `jsonschema` module in FAB's api package, whose @rison decorator calls
    jsonschema.validate on every request: that checks FAB's fixed schema against the
    meta-schema each time (a quarter of a REST list's time). Here each schema is checked once,
    then every request's arguments against it, with the same errors."""

    ValidationError = jsonschema.ValidationError

    def __init__(self):
        self._validators: dict[int, tuple] = {}

    def validate(self, instance, schema) -> None:
        kept = self._validators.get(id(schema))  # the schema is kept with it: its id stays its own
        if kept is None:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            kept = self._validators[id(schema)] = (schema, cls(schema))
        error = jsonschema.exceptions.best_match(kept[1].iter_errors(instance))
        if error is not None:
            raise error


class _CorrectedSpec(APISpec):
    def to_dict(self):
        return correct_openapi(super().to_dict())


def install_api_answers() -> None:
    """Every FAB API (ours, security, OpenAPI) answers 400/404/500 in Vietnamese, and the
    OpenAPI document is corrected where FAB gets it wrong (correct_openapi)."""
    from flask_appbuilder.api.manager import OpenApi

    if not getattr(OpenApi._create_api_spec, "corrected", False):
        create = OpenApi._create_api_spec

        def corrected(version):
            spec = create(version)
            spec.__class__ = _CorrectedSpec
            return spec

        corrected.corrected = True
        OpenApi._create_api_spec = staticmethod(corrected)
    if not isinstance(fab_api.jsonschema, _SchemaCheckedOnce):
        fab_api.jsonschema = _SchemaCheckedOnce()
    BaseApi.response_400 = _response_400
    BaseApi.response_404 = _response_404
    BaseApi.response_500 = _response_500
    for name in ("flask_appbuilder.api", "flask_appbuilder.models.sqla.interface", "flask_appbuilder.security.api"):
        target = logging.getLogger(name)
        if not any(isinstance(f, OneLineForDatabaseDown) for f in target.filters):
            target.addFilter(OneLineForDatabaseDown())


def transition_json(step) -> dict:
    """A transition as other systems discover it: its name, label and the fields it needs
    (with the accepted values for choice, user and unit fields)."""
    fields = []
    for field in step.fields:
        spec = {"name": field.name, "type": field.type, "label": str(field.label), "required": field.required}
        if field.multiple:
            spec["multiple"] = True
        if field.type in ("choice", "user", "unit"):
            spec["choices"] = [{"value": value, "label": label} for value, label in choices_for(field)]
        fields.append(spec)
    return {"name": step.name, "label": str(step.label), "target": step.target, "fields": fields}


# marshmallow's English messages (FAB's schemas) → ours, by their first words
SCHEMA_MESSAGES = (
    ("Missing data", _l("This field is required.")),
    ("Field may not be null", _l("This field is required.")),
    ("Not a valid date", _l("Enter a date as YYYY-MM-DD.")),
    ("Not a valid integer", _l("Enter a whole number.")),
    ("Longer than maximum length", _l("The text is too long.")),
)


class WorkflowErrorsAsResponses:
    """Turn the rules' refusals into 403/404/409/422 answers instead of 500, and check a JSON
    body before FAB's schema loads it: marshmallow would create a new row from a nested
    object or an unknown id (units, categories the caller may not create), and answers in
    English. `label_columns` must name every add/edit column in Vietnamese; `vocabularies`
    maps a column to its controlled list of codes."""

    vocabularies: dict = {}

    def _get_field_info(self, field, filter_rel_field, page=None, page_size=None):
        """FAB translates a missing label or description as gettext(""), which is the
        catalogue's header ("Project-Id-Version: …"): an empty one stays empty, a missing
        label is the column's own label."""
        info = super()._get_field_info(field, filter_rel_field, page=page, page_size=page_size)
        if not self.description_columns.get(field.name):
            info["description"] = ""
        if not self.label_columns.get(field.name):
            info["label"] = self._prettify_column(field.name)
        return info

    def info_headless(self, **kwargs):
        """FAB's `_info`, except that a record type without PUT (objective plans) has no edit
        columns to describe: FAB would list every column of the table, with labels nobody wrote."""
        editable = "put" not in (self.exclude_route_methods or ()) and (
            self.include_route_methods is None or "put" in self.include_route_methods)
        if editable:
            return super().info_headless(**kwargs)
        payload = {}
        rison_args = kwargs.get("rison", {})
        self.set_response_key_mappings(payload, self.info, rison_args, **rison_args)
        if "edit_columns" in payload:
            payload["edit_columns"] = []
        return self.response(200, **payload)

    def _answer(self, error: WorkflowError):
        db.session.rollback()
        body = {"message": error.message}
        if error.errors:
            body["errors"] = error.errors
        return self.response(error.status, **body)

    @staticmethod
    def _invalid(errors: dict) -> Invalid:
        """422 with a message that names every field at fault."""
        return Invalid(" ".join([gettext("Some fields are missing or invalid."), *errors.values()]), errors)

    def _label(self, column) -> str:
        return str(self.label_columns[column])

    def _reference_error(self, column, value) -> str | None:
        """Related records are given by id only, and must exist (and be active)."""
        many = self.datamodel.is_relation_one_to_many(column) or self.datamodel.is_relation_many_to_many(column)
        ids = value if many and isinstance(value, list) else [value]
        if (many and not isinstance(value, list)) or not all(looks_like_id(v) for v in ids):
            return gettext("%(field)s: give the id of an existing entry, not an object.", field=self._label(column))
        model = self.datamodel.get_related_model(column)
        for related_id in ids:
            related = get_by_id(model, related_id)
            if related is None or not getattr(related, "active", True):
                return gettext("%(field)s: there is no active entry with the id %(id)s.",
                               field=self._label(column), id=related_id)
        return None

    def _type_fits(self, column, value) -> bool:
        """The JSON type the column takes: a whole number in range, a text, a yes/no."""
        model = self.datamodel
        if isinstance(value, (dict, list)):
            return False
        if model.is_integer(column):
            if isinstance(value, str) and WHOLE_NUMBER.fullmatch(value.strip()):
                value = int(value)
            return isinstance(value, int) and not isinstance(value, bool) and -MAX_INTEGER <= value <= MAX_INTEGER
        if model.is_boolean(column):
            return isinstance(value, bool)
        if model.is_string(column) or model.is_text(column) or model.is_date(column) or model.is_datetime(column):
            return isinstance(value, str)
        return True

    def _type_message(self, column) -> str:
        if self.datamodel.is_integer(column):
            return gettext("Enter a whole number.")
        if self.datamodel.is_boolean(column):
            return gettext("Answer true or false.")
        return gettext("Enter a text.")

    def checked_body(self, columns) -> dict:
        """The request's JSON object, or Invalid (422) before anything is loaded."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise Invalid(gettext("Send the record as a JSON object."))
        errors = {}
        for column in columns:
            value = body.get(column)
            if value is None:
                continue  # absent or null: the schema says whether it is required
            problem = None
            if self.datamodel.is_relation(column):
                problem = self._reference_error(column, value)
            elif not self._type_fits(column, value):
                problem = f"{self._label(column)}: {self._type_message(column)}"
            elif column in self.vocabularies and not (isinstance(value, str) and value in self.vocabularies[column]):
                problem = gettext("%(field)s: choose one of the accepted values.", field=self._label(column))
            if problem:
                errors[column] = problem
        if errors:
            raise self._invalid(errors)
        return body

    def response_422(self, message=None):
        """FAB's schema errors ({field: [English texts]}) in Vietnamese, naming each field."""
        if not isinstance(message, dict):
            return self._answer(Invalid(gettext("The record could not be saved: some values are not valid.")))
        columns = set(self.add_columns or ()) | set(self.edit_columns or ())
        errors = {}
        for field, texts in message.items():
            if field not in columns:
                errors[field] = gettext("“%(name)s” cannot be set here.", name=field)
                continue
            text = " ".join(map(str, texts)) if isinstance(texts, list) else str(texts)
            problem = next((str(ours) for start, ours in SCHEMA_MESSAGES if text.startswith(start)),
                           gettext("The value is not valid."))
            errors[field] = f"{self._label(field)}: {problem}"
        return self._answer(self._invalid(errors))

    def post_headless(self):
        try:
            self.checked_body(self.add_columns)
            return super().post_headless()
        except WorkflowError as error:
            return self._answer(error)

    def put_headless(self, pk):
        try:
            if self.datamodel.get(pk, self._base_filters) is not None:  # else FAB's 404
                self.checked_body(self.edit_columns)
            return super().put_headless(pk)
        except WorkflowError as error:
            return self._answer(error)

    def delete_headless(self, pk):
        try:
            return super().delete_headless(pk)
        except WorkflowError as error:
            return self._answer(error)


def _row_writer(schema):
    """A function writing one record as `schema` dumps it. Integers, texts, ISO dates and
    times, yes/no and one related record are written directly; any other field through its
    own serialize."""
    plan = []
    for name, field in schema.dump_fields.items():
        kind = type(field)
        if kind is fields.Integer and not field.as_string:
            write = int
        elif kind is fields.String:
            write = str
        elif kind in (fields.Date, fields.DateTime) and field.format in (None, "iso"):
            write = datetime.date.isoformat if kind is fields.Date else datetime.datetime.isoformat
        elif kind is fields.Boolean:
            write = bool
        elif kind is fields.Nested and not field.many:
            write = _row_writer(field.schema)
        else:
            write = None
        plan.append((field.data_key or name, field.attribute or name, write, field))

    def row(record) -> dict:
        written = {}
        for key, attribute, write, field in plan:
            if write is None:
                value = field.serialize(attribute, record, accessor=schema.get_attribute)
                if value is not missing:
                    written[key] = value
            else:
                value = getattr(record, attribute)
                written[key] = None if value is None else write(value)
        return written

    return row


def _quicken(schema):
    """`schema` writing its records straight from them (_row_writer), one or many."""
    row = _row_writer(schema)
    schema.dump = lambda records, *, many=None: [row(r) for r in records] if many else row(records)
    return schema


SCHEMAS_KEPT = 64  # schemas of columns a client chose (?q=(columns:…)), kept per resource
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,20}")  # a whole number a body may give as a text
LABELS_KEPT = 256  # an answer's translated column labels, kept per language (each resource and choice of columns)


class QuickListDump:
    """A REST answer's rows written straight from the records: marshmallow's field machinery
    cost about 15 µs a row and column (1.8 ms for a page of 100 tickets). The schema stays
    what FAB made (the OpenAPI document describes it); its dump gives the same JSON
    (tests/test_list_scale.py). A client choosing its columns gets a schema FAB made for
    them once, kept: FAB made one on every request (4 ms, more than the whole list)."""

    def _init_model_schemas(self) -> None:
        super()._init_model_schemas()
        _quicken(self.list_model_schema)
        convert = self.model2schemaconverter.convert

        @functools.lru_cache(maxsize=SCHEMAS_KEPT)
        def kept(columns: tuple):
            return _quicken(convert(list(columns)))

        def converted(columns, *more, **named):  # FAB's nested relations ask with more arguments
            return convert(columns, *more, **named) if more or named else kept(tuple(columns))

        self.model2schemaconverter.convert = converted
        self.chosen_schemas = kept

    def _label_columns_json(self, cols=None):
        """FAB's labels of an answer's columns, translated once per language, resource and
        choice of columns: FAB translated each label, twice over, on every request (about 4 %
        of a list of 100 tickets)."""
        kept = flask_babel.get_translations().__dict__.setdefault("qms_api_labels", {})
        key = (type(self), tuple(cols or ()))
        labels = kept.get(key)
        if labels is None:
            labels = super()._label_columns_json(cols)
            if len(kept) < LABELS_KEPT:
                kept[key] = labels
        return dict(labels)


class WorkflowApi(WorkflowErrorsAsResponses):
    """The workflow endpoints of a record type, the same for every workflow table:
    GET <pk>/transitions, POST <pk>/transitions/<name>, GET <pk>/pdf. A subclass says how
    to load a record the caller may see, which steps they may take, how to take one, and
    which PDF to print."""

    def load(self, pk):
        raise NotImplementedError

    def steps(self, record) -> list:
        raise NotImplementedError

    def take(self, pk, name: str, body: dict):
        raise NotImplementedError

    def document(self, record) -> tuple:
        """(pdf bytes, file name, the official copy served or None) (app.official.services.served)."""
        raise NotImplementedError

    def workflows(self) -> list:
        """The workflow tables of the record type: WORKFLOW (or the WORKFLOWS by kind) of the
        `workflow` module beside the model's."""
        package = self.datamodel.obj.__module__.rpartition(".")[0]
        module = importlib.import_module(f"{package}.workflow")
        tables = getattr(module, "WORKFLOWS", None)
        return list(tables.values()) if tables else [module.WORKFLOW]

    # OpenAPI: each transition's body as a schema of its own (Transition.<workflow>.<name>),
    # typed from the table's fields; the endpoint's body is any of the type's transitions
    # and its `name` one of their names

    def add_apispec_components(self, api_spec) -> None:
        super().add_apispec_components(api_spec)
        refs = []
        for workflow in self.workflows():
            for step in workflow.transitions:
                component = f"Transition.{workflow.name}.{step.name}"
                try:
                    api_spec.components.schema(component, transition_schema(step))
                except DuplicateComponentNameError:
                    pass
                refs.append({"$ref": f"#/components/schemas/{component}"})
        try:
            api_spec.components.schema(f"{self.__class__.__name__}.transition", {"anyOf": refs})
        except DuplicateComponentNameError:
            pass

    def operation_helper(self, path=None, operations=None, methods=None, func=None, **kwargs) -> None:
        super().operation_helper(path=path, operations=operations, methods=methods, func=func, **kwargs)
        if func is not None and func.__name__ == "transition" and "post" in (operations or {}):
            names = sorted({step.name for workflow in self.workflows() for step in workflow.transitions})
            for parameter in operations["post"].get("parameters", []):
                if parameter.get("name") == "name":
                    parameter["schema"] = {"type": "string", "enum": names}

    @expose("/<int:pk>/transitions", methods=["GET"])
    @protect()
    @safe
    @permission_name("transition")
    def transitions(self, pk):
        """The transitions the caller may take now, with the fields each needs.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          responses:
            200: {description: "Transitions available to the caller, the state and the version"}
            404: {$ref: '#/components/responses/404'}
        """
        try:
            record = self.load(pk)
        except WorkflowError as error:
            return self._answer(error)
        return self.response(200, result=[transition_json(step) for step in self.steps(record)],
                             state=record.state, version=record.version)

    @expose("/<int:pk>/transitions/<name>", methods=["POST"])
    @protect()
    @safe
    @permission_name("transition")
    def transition(self, pk, name):
        """Take a transition with the fields it requires (JSON), optionally with the
        `version` the caller saw.
        ---
        post:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          - {in: path, name: name, schema: {type: string}}
          requestBody:
            content:
              application/json:
                schema: {$ref: '#/components/schemas/{{self.__class__.__name__}}.transition'}
          responses:
            200:
              description: The updated record
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id: {type: integer}
                      result: {$ref: '#/components/schemas/{{self.__class__.__name__}}.get'}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409:
              description: 'Not possible in the current state, or the record changed meanwhile (version)'
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      message: {type: string}
            422: {$ref: '#/components/responses/422'}
        """
        body = request.get_json(silent=True) or {}
        if not isinstance(body, dict):
            return self.response_400(message="JSON object expected")
        try:
            record = self.take(pk, name, body)
        except WorkflowError as error:
            return self._answer(error)
        return self.response(200, id=record.id, result=self.show_model_schema.dump(record))

    @expose("/<int:pk>/pdf", methods=["GET"])
    @protect()
    @safe
    @permission_name("pdf")
    def pdf(self, pk):
        """The record's form as PDF: its official copy once the document is final (header
        X-Official-Copy: sha256=<hex>), else (or with ?preview=1) a fresh preview.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          - {in: query, name: document, schema: {type: string}}
          - {in: query, name: preview, schema: {type: string}}
          responses:
            200: {description: PDF document, content: {application/pdf: {}}}
            404: {$ref: '#/components/responses/404'}
            503: {description: The PDF engine is missing or failed}
        """
        from reports import ReportError

        from app.official.views import official_response

        try:
            data, filename, copy = self.document(self.load(pk))
        except WorkflowError as error:
            return self._answer(error)
        except ReportError as error:
            return self.response(503, message=str(error))
        return official_response(data, filename, copy)


# --- Vietnamese labels of every API column -------------------------------------------------

# Columns named alike in every API, and the field of a related record a dotted column shows.
COLUMN_LABELS = {
    "id": _l("Record number (ID)"),
    "version": _l("Version (for concurrent edits)"),
}
RELATED_FIELDS = {
    "id": _l("ID number"),
    "name": _l("Name"),
    "username": _l("Username"),
    "code": _l("Code"),
}


def is_auto_label(column: str, label) -> bool:
    """A label FAB made up from the column's name ("Unit Name"), or none at all."""
    return not label or (isinstance(label, str) and label in (column, BaseApi._prettify_column(column)))


class _Joined:
    """A label made of two labels, translated when it is shown: "Đơn vị (Tên)"."""

    def __init__(self, head, tail):
        self.head, self.tail = head, tail

    def __str__(self) -> str:
        return f"{self.head} ({str(self.tail).lower()})"


def vietnamese_api_labels(appbuilder) -> None:
    """Every column an API lists, shows, adds or edits gets a label of ours: the API's own
    label, else the page views' label of the same model's column, else COLUMN_LABELS; a
    dotted column ("unit.name") its relation's label and the field's ("Đơn vị (tên)").
    FAB would otherwise answer its English guess ("Unit Name"). Run once the views exist."""
    from flask_appbuilder.api import ModelRestApi
    from flask_appbuilder.baseviews import BaseModelView
    from flask_babel import LazyString

    pages: dict = {}
    for view in appbuilder.baseviews:
        if isinstance(view, BaseModelView) and getattr(view, "datamodel", None) is not None:
            own = pages.setdefault(view.datamodel.obj, {})
            for column, label in view.label_columns.items():
                if not is_auto_label(column, label):
                    own.setdefault(column, label)
    for view in appbuilder.baseviews:
        if not isinstance(view, ModelRestApi):
            continue
        model_labels = pages.get(view.datamodel.obj, {})

        def label_of(column, view=view, model_labels=model_labels):
            current = view.label_columns.get(column)
            if not is_auto_label(column, current):
                return current
            if column in model_labels:
                return model_labels[column]
            if column in COLUMN_LABELS:
                return COLUMN_LABELS[column]
            head, _, tail = column.partition(".")
            if tail and tail in RELATED_FIELDS:
                joined = _Joined(label_of(head), RELATED_FIELDS[tail])
                return LazyString(str, joined)
            return current

        columns = {*view.label_columns, *view.list_columns, *view.show_columns,
                   *view.add_columns, *view.edit_columns}
        for column in sorted(columns):
            view.label_columns[column] = label_of(column)
