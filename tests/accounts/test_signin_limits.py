"""Sign-in limits (accounts/signin.py): every door that takes a password shares them."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

from accounts.signin import DEVICE_COOKIE
from tests.factories import UserFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Secret-123"  # the factories' password


def rates(settings: Any, **scopes: str) -> None:
    merged = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scopes}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": merged}


def api_sign_in(username: str, password: str, ip: str) -> Any:
    return Client().post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


def page_sign_in(client: Client, username: str, password: str, ip: str) -> Any:
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def admin_sign_in(client: Client, username: str, password: str, ip: str) -> Any:
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
    )


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_sign_in_page_is_limited_per_username(settings: Any) -> None:
    user = UserFactory(username="grace")
    for i in range(10):  # 10/min per username, from ten addresses
        r = page_sign_in(Client(), "grace", "wrong", f"10.1.0.{i}")
        assert r.status_code == 200
    client = Client()
    r = page_sign_in(client, user.username, PASSWORD, "10.1.0.99")
    assert r.status_code == 429
    assert b"Too many sign-in attempts" in r.content
    assert not signed_in(client)


def test_the_admin_sign_in_shares_the_apis_counters(settings: Any) -> None:
    UserFactory(username="root", is_staff=True, is_superuser=True)
    for i in range(10):
        assert_error(api_sign_in("root", "wrong", f"10.2.0.{i}"), 401, "not_authenticated")
    client = Client()
    r = admin_sign_in(client, "root", PASSWORD, "10.2.0.99")
    assert r.status_code == 200  # the form again, not the redirect into the admin
    assert b"Too many sign-in attempts" in r.content
    assert not signed_in(client)


def test_guesses_on_the_page_throttle_the_api_too(settings: Any) -> None:
    UserFactory(username="heidi")
    for i in range(10):
        page_sign_in(Client(), "heidi", "wrong", f"10.3.0.{i}")
    err = assert_error(api_sign_in("heidi", PASSWORD, "10.3.0.99"), 429, "throttled")
    assert err["details"]["retry_after_s"] >= 1


def test_sign_up_counts_against_the_per_ip_limit(settings: Any) -> None:
    rates(settings, auth_ip="3/min")
    ip = "10.4.0.1"
    api = Client().post(
        "/api/v1/auth/register/",
        {"username": "ivan", "password": PASSWORD},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )
    assert api.status_code == 201
    page = Client().post(
        "/accounts/signup/",
        {"username": "judy", "password1": PASSWORD, "password2": PASSWORD},
        REMOTE_ADDR=ip,
    )
    assert page.status_code == 302
    assert_error(api_sign_in("ivan", "wrong", ip), 401, "not_authenticated")
    # The fourth password from this address, whatever the door.
    refused = Client().post(
        "/accounts/signup/",
        {"username": "mallory", "password1": PASSWORD, "password2": PASSWORD},
        REMOTE_ADDR=ip,
    )
    assert refused.status_code == 429
    assert_error(api_sign_in("ivan", PASSWORD, ip), 429, "throttled")


def test_the_owner_signs_in_from_a_known_device_while_the_username_is_under_attack(
    settings: Any,
) -> None:
    UserFactory(username="karl")
    owner = Client()
    assert page_sign_in(owner, "karl", PASSWORD, "10.5.0.1").status_code == 302
    assert DEVICE_COOKIE in owner.cookies
    owner.post("/accounts/logout/")
    for i in range(30):  # an attacker keeps the username's window full
        page_sign_in(Client(), "karl", "wrong", f"10.6.0.{i}")
    stranger = Client()
    assert page_sign_in(stranger, "karl", PASSWORD, "10.5.0.2").status_code == 429
    assert page_sign_in(owner, "karl", PASSWORD, "10.5.0.1").status_code == 302
    assert signed_in(owner)


def test_a_device_cookie_for_another_username_does_not_help(settings: Any) -> None:
    UserFactory(username="lena")
    UserFactory(username="mike")
    client = Client()
    assert page_sign_in(client, "lena", PASSWORD, "10.7.0.1").status_code == 302
    for i in range(10):
        page_sign_in(Client(), "mike", "wrong", f"10.8.0.{i}")
    assert page_sign_in(client, "mike", PASSWORD, "10.7.0.1").status_code == 429


def test_a_throttled_username_is_free_again_when_its_window_ends(settings: Any) -> None:
    rates(settings, auth_username="2/s")
    UserFactory(username="nina")
    for i in range(2):
        page_sign_in(Client(), "nina", "wrong", f"10.9.0.{i}")
    assert page_sign_in(Client(), "nina", PASSWORD, "10.9.0.9").status_code == 429
    time.sleep(1.5)
    assert page_sign_in(Client(), "nina", PASSWORD, "10.9.0.9").status_code == 302
