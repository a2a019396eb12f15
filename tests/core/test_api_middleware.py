"""Token-authenticated API calls skip the page-only middleware (core/middleware.py);
session-authenticated API calls and pages keep it, CSRF included. And the cache backend
reuses its Redis client (core/cache.py)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from core.middleware import is_token_api_call

pytestmark = pytest.mark.django_db


def test_a_token_call_reads_no_session_and_sets_no_cookie(client_for, user):
    other = type(user).objects.create_user(username="someone-else", password="pw-123456789")
    client = client_for(user)
    client.force_login(other)  # a session cookie for another user rides along
    r = client.get("/api/v1/me/")
    assert r.status_code == 200
    assert r.json()["username"] == user.username  # the token decides, never the session
    assert "Cookie" not in r.get("Vary", "")
    assert not r.cookies


def test_a_bad_token_is_401_even_with_a_valid_session(api_client, user):
    api_client.force_login(user)
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    r = api_client.get("/api/v1/me/")
    assert r.status_code == 401


def test_a_session_call_to_the_api_still_needs_csrf(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/v1/me/").json()["username"] == user.username
    r = client.post("/api/v1/shops/", {"name": "No token"}, content_type="application/json")
    assert r.status_code == 403
    client.get("/accounts/login/")  # a page: sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    r = client.post(
        "/api/v1/shops/",
        {"name": "With token"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert r.status_code == 201, r.content


def test_an_unknown_api_path_with_a_token_is_a_json_404(client_for, user):
    r = client_for(user).get("/api/v1/no-such-thing/")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_what_counts_as_a_token_api_call(rf):
    def req(path: str, auth: str | None) -> bool:
        headers = {"HTTP_AUTHORIZATION": auth} if auth is not None else {}
        return is_token_api_call(rf.get(path, **headers))

    assert req("/api/v1/me/", f"Token {'a' * 40}")
    assert req("/api/v1/me/", "token abc")  # DRF compares the keyword case-insensitively
    assert not req("/api/v1/me/", None)
    assert not req("/api/v1/me/", "Bearer abc")
    assert not req("/accounts/login/", "Token abc")


def test_the_cache_reuses_one_redis_client():
    cache.set("probe", 1)
    client = cache._cache.get_client()  # type: ignore[attr-defined]
    assert cache.get("probe") == 1
    assert cache._cache.get_client() is client  # type: ignore[attr-defined]
    assert cache._cache.get_client(write=True) is client  # type: ignore[attr-defined]
