import pytest

from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_malformed_json_is_parse_error(api_client):
    r = api_client.post("/api/v1/auth/register/", data="{not json", content_type="application/json")
    assert_error(r, 400, "parse_error")


def test_unknown_api_path_is_json_404(api_client):
    assert_error(api_client.get("/api/v1/nope/"), 404, "not_found")


def test_wrong_method_is_405(api_client):
    assert_error(api_client.get("/api/v1/auth/register/"), 405, "method_not_allowed")


def test_validation_error_maps_fields(api_client):
    r = api_client.post("/api/v1/auth/register/", {"username": 5}, format="json")
    err = assert_error(r, 400, "invalid")
    assert "password" in err["details"]


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_request_id_is_echoed(client):
    r = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert r["X-Request-ID"] == "abc-123"
