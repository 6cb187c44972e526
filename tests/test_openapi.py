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
