"""The API's OpenAPI document validates, types each transition's body from its table, and the
field descriptions of `_info` are real descriptions, not the catalogue's header."""
import pytest
from openapi_spec_validator import validate

from app.tickets import workflow as ticket_workflow


@pytest.fixture(scope="module")
def spec(app):
    from tests.conftest import new_client, DEMO_PASSWORD

    client = new_client(app)
    response = client.post("/api/v1/security/login", json={
        "username": "admin", "password": DEMO_PASSWORD, "provider": "db"})
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {response.json['access_token']}"
    response = client.get("/api/v1/_openapi")
    assert response.status_code == 200
    return response.json


def test_the_openapi_document_validates(spec):
    validate(spec)


def test_no_info_description_is_the_catalogue_header(api):
    response = api("thuky.iso").get("/api/v1/tickets/_info")
    assert response.status_code == 200
    assert "Project-Id-Version" not in response.text


def _transition_operation(spec, resource):
    return spec["paths"][f"/api/v1/{resource}/{{pk}}/transitions/{{name}}"]["post"]


def _resolve(spec, schema):
    ref = schema.get("$ref")
    if not ref:
        return schema
    node = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


@pytest.mark.parametrize("resource", ["tickets", "objective-plans", "reviews"])
def test_transition_bodies_are_typed_from_the_workflow_table(spec, resource):
    operation = _transition_operation(spec, resource)
    assert {"200", "403", "404", "409", "422"} <= set(map(str, operation["responses"]))
    body = _resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
    choices = [_resolve(spec, s) for s in body["anyOf"]]
    assert choices and all(c["type"] == "object" for c in choices)
    [name] = [p for p in operation["parameters"] if p["name"] == "name"]
    assert len(name["schema"]["enum"]) >= 2


def test_each_ticket_transition_has_its_fields_types_and_required(spec):
    schemas = spec["components"]["schemas"]
    [name] = [p for p in _transition_operation(spec, "tickets")["parameters"] if p["name"] == "name"]
    assert set(name["schema"]["enum"]) == {t.name for t in ticket_workflow.WORKFLOW.transitions}
    kinds = {"date": {"type": "string", "format": "date"}, "integer": {"type": "integer"},
             "boolean": {"type": "boolean"}, "text": {"type": "string"}, "string": {"type": "string"},
             "user": {"type": "integer"}, "unit": {"type": "integer"}}
    for transition in ticket_workflow.WORKFLOW.transitions:
        schema = schemas[f"Transition.{ticket_workflow.WORKFLOW.name}.{transition.name}"]
        assert set(schema["properties"]) == {f.name for f in transition.fields} | {"version"}
        assert set(schema.get("required", [])) == {f.name for f in transition.fields if f.required}
        for field in transition.fields:
            prop = schema["properties"][field.name]
            if field.multiple:
                assert prop["type"] == "array"
                prop = prop["items"]
            if field.type == "choice":
                assert prop["enum"] == list(field.choices)
            else:
                assert {k: prop[k] for k in kinds[field.type]} == kinds[field.type]


# --- what the fuzz test (tests/test_fuzz.py) found the document saying wrongly ---------------

def _answer_schema(spec, path, method="get", status="200"):
    return spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


@pytest.mark.parametrize("resource", ["tickets", "nonconformities", "objective-plans", "reviews"])
def test_list_ids_are_integers_and_info_columns_are_lists(spec, resource, api):
    listing = _answer_schema(spec, f"/api/v1/{resource}/")
    assert listing["properties"]["ids"]["items"] == {"type": "integer"}
    assert all(isinstance(i, int) for i in api("admin").get(f"/api/v1/{resource}/").json["ids"])
    info = _answer_schema(spec, f"/api/v1/{resource}/_info")
    for key in ("add_columns", "edit_columns"):
        assert info["properties"][key]["type"] == "array"


def test_a_related_record_may_be_null(spec, api):
    schemas = spec["components"]["schemas"]
    assert schemas["NonconformityApi.get_list.Ticket"]["nullable"] is True
    assert any(nc["ticket"] is None for nc in api("admin").get("/api/v1/nonconformities/").json["result"])


def test_menu_children_may_be_separators(spec, api):
    children = _answer_schema(spec, "/api/v1/menu/")["properties"]["result"]["items"]["properties"]["childs"]
    assert {"type": "string"} in children["items"]["anyOf"]


@pytest.mark.parametrize("path,method", [
    ("/api/v1/objective-plans/{pk}/rows", "post"),
    ("/api/v1/objective-plans/{pk}/rows/{row_id}", "put"),
    ("/api/v1/objective-plans/{pk}/report", "post"),
    ("/api/v1/objective-plans/{pk}/report/rows/{row_id}", "put"),
])
def test_objective_writes_declare_their_refusals(spec, path, method, api):
    assert {"403", "404", "409"} <= set(map(str, spec["paths"][path][method]["responses"]))
    url = path.replace("{pk}", "987654321").replace("{row_id}", "1")
    assert api("admin").open(url, method=method.upper(), json={}).status_code == 404


def test_ids_in_paths_are_declared_in_the_range_an_id_column_holds(spec):
    found = 0
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                    assert (parameter["schema"]["minimum"], parameter["schema"]["maximum"]) == (1, 2**31 - 1), path
                    found += 1
    assert found > 20


@pytest.mark.parametrize("resource", ["tickets", "nonconformities", "objective-plans", "reviews"])
def test_a_records_id_is_an_integer_and_its_times_match_the_declared_pattern(spec, resource, api):
    import re

    assert _answer_schema(spec, f"/api/v1/{resource}/{{pk}}")["properties"]["id"]["type"] == "integer"
    assert _answer_schema(spec, f"/api/v1/{resource}/", "post", "201")["properties"]["id"]["type"] == "integer"
    listing = api("admin").get(f"/api/v1/{resource}/").json
    record = api("admin").get(f"/api/v1/{resource}/{listing['ids'][0]}").json
    assert isinstance(record["id"], int)
    properties = spec["components"]["schemas"][resource_schema(resource)]["properties"]
    for name, prop in properties.items():
        assert prop.get("format") != "date-time", name
        if "pattern" in prop and record["result"].get(name):
            assert re.match(prop["pattern"], record["result"][name]), (name, record["result"][name])


def resource_schema(resource):
    return {"tickets": "TicketApi.get", "nonconformities": "NonconformityApi.get",
            "objective-plans": "ObjectivePlanApi.get", "reviews": "ReviewApi.get"}[resource]


def test_a_nonconformitys_creation_time_is_described_by_a_pattern(spec):
    created = spec["components"]["schemas"]["NonconformityApi.get"]["properties"]["created_on"]
    assert "pattern" in created and "format" not in created


# --- `_info`: labels and descriptions real and Vietnamese (issue 14 item 5) -------------------

INFO_VIEWS = {
    "tickets": ("app.tickets.views", "TicketView"),
    "nonconformities": ("app.tickets.views", "NonconformityView"),
    "objective-plans": ("app.objectives.views", "ObjectivePlanView"),
    "reviews": ("app.reviews.views", "ReviewView"),
}


@pytest.mark.parametrize("resource", sorted(INFO_VIEWS))
def test_info_labels_and_descriptions_are_real_and_vietnamese(app, api, resource):
    import importlib

    from flask_babel import force_locale

    from tests.test_i18n import _english_strings

    english = {s.lower() for s in _english_strings()}
    module, name = INFO_VIEWS[resource]
    view = getattr(importlib.import_module(module), name, None)
    info = api("thuky.iso").get(f"/api/v1/{resource}/_info").json
    fields = info["add_columns"] + info.get("edit_columns", [])
    assert fields
    problems = []
    with app.test_request_context(), force_locale("vi"):
        for field in fields:
            column, label = field["name"], field["label"]
            pretty = column.replace("_", " ").title()
            if not label or label in (column, pretty) or label.lower() in english or label.isascii():
                problems.append(f"{column}: label {label!r}")
            described = str((getattr(view, "description_columns", None) or {}).get(column) or "")
            if described and field["description"] != described:
                problems.append(f"{column}: description {field['description']!r}, the view says {described!r}")
            if "Project-Id-Version" in field["description"]:
                problems.append(f"{column}: the catalogue's header as description")
    assert not problems, "\n".join(problems)


def test_a_record_type_without_put_lists_no_edit_columns(api):
    info = api("thuky.iso").get("/api/v1/objective-plans/_info").json
    assert info["edit_columns"] == [] and [f["name"] for f in info["add_columns"]] == ["year", "unit"]
