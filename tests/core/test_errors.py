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


def test_one_mapping_for_every_failure():
    from django.db import OperationalError
    from psycopg_pool import PoolTimeout
    from redis.exceptions import ConnectionError as RedisConnectionError

    from core.errors import ApiError, InternalError, error_reply

    sold_out = error_reply(ApiError("sold_out", "Gone.", details={"a": 1}))
    assert (sold_out.status, sold_out.code, sold_out.details, sold_out.expected) == (
        409,
        "sold_out",
        {"a": 1},
        True,
    )
    assert error_reply(RedisConnectionError("refused")).code == "service_unavailable"
    pool = OperationalError("no connection")
    pool.__cause__ = PoolTimeout("timed out")
    busy = error_reply(pool)
    assert (busy.status, busy.code, busy.headers) == (
        503,
        "service_unavailable",
        {"Retry-After": "1"},
    )
    retry = error_reply(InternalError("lost three races", retryable=True))
    assert (retry.status, retry.code, retry.expected) == (503, "service_unavailable", True)
    for bug in (InternalError("an award without a winner"), KeyError("x")):
        broken = error_reply(bug)
        assert (broken.status, broken.code, broken.expected) == (500, "server_error", False)
        assert broken.body()["error"]["code"] == "server_error"
