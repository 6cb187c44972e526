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
