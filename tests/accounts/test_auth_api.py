import pytest

from tests.factories import UserFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_register_returns_id_username_and_working_token(api_client):
    r = api_client.post(
        "/api/v1/auth/register/", {"username": "alice", "password": "pw-Secret-123"}, format="json"
    )
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "username", "token"}
    assert body["username"] == "alice"
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    me = api_client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json() == {"id": body["id"], "username": "alice", "shops": []}


def test_register_rejects_taken_username_case_insensitively(api_client):
    UserFactory(username="bob")
    r = api_client.post(
        "/api/v1/auth/register/", {"username": "BOB", "password": "pw-Secret-123"}, format="json"
    )
    err = assert_error(r, 400, "invalid")
    assert "username" in err["details"]


def test_register_rejects_weak_password(api_client):
    r = api_client.post(
        "/api/v1/auth/register/", {"username": "carol", "password": "123"}, format="json"
    )
    err = assert_error(r, 400, "invalid")
    assert "password" in err["details"]


def test_token_with_right_password_then_logout_revokes_it(api_client):
    UserFactory(username="dave")
    r = api_client.post(
        "/api/v1/auth/token/", {"username": "dave", "password": "pw-Secret-123"}, format="json"
    )
    assert r.status_code == 200
    token = r.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.post("/api/v1/auth/logout/").status_code == 204
    assert_error(api_client.get("/api/v1/me/"), 401, "not_authenticated")


def test_token_with_wrong_password_is_401(api_client):
    UserFactory(username="erin")
    r = api_client.post(
        "/api/v1/auth/token/", {"username": "erin", "password": "nope"}, format="json"
    )
    assert_error(r, 401, "not_authenticated")


def test_token_is_throttled_per_username(api_client, settings):
    UserFactory(username="frank")
    codes = []
    for i in range(12):
        # vary the client IP so only the per-username throttle can trigger
        r = api_client.post(
            "/api/v1/auth/token/",
            {"username": "frank", "password": "wrong"},
            format="json",
            REMOTE_ADDR=f"10.0.0.{i}",
        )
        codes.append(r.status_code)
    assert codes[:10] == [401] * 10
    assert_error(r, 429, "throttled")


def test_me_anonymous_is_401(api_client):
    assert_error(api_client.get("/api/v1/me/"), 401, "not_authenticated")
