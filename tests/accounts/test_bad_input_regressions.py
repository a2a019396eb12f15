"""Bad input the contract probing found answered with a 500 in the accounts API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import UserFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_a_username_with_a_lone_surrogate_is_400_not_500(api_client: Any) -> None:
    # The per-username throttle built its cache key from the raw text before validation:
    # UnicodeEncodeError ("surrogates not allowed") → 500.
    r = api_client.post(
        "/api/v1/auth/token/",
        data='{"username": "x\\ud800", "password": "pw-Secret-123"}',
        content_type="application/json",
    )
    assert_error(r, 400, "invalid")


def test_usernames_differing_only_in_case_and_spaces_share_a_throttle(api_client: Any) -> None:
    UserFactory(username="gina")
    codes = []
    for i, name in enumerate(["gina", " GINA", "Gina "] * 4):
        r = api_client.post(
            "/api/v1/auth/token/",
            {"username": name, "password": "wrong"},
            format="json",
            REMOTE_ADDR=f"10.0.1.{i}",
        )
        codes.append(r.status_code)
    assert codes[:10] == [401] * 10
    assert_error(r, 429, "throttled")


def test_a_forged_x_forwarded_for_does_not_escape_the_per_ip_throttle(api_client: Any) -> None:
    # DRF trusted X-Forwarded-For from anyone: a new address per attempt, never throttled.
    codes = []
    for i in range(35):  # THROTTLE_AUTH_IP is 30/min
        r = api_client.post(
            "/api/v1/auth/token/",
            {"username": f"nobody{i}", "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        )
        codes.append(r.status_code)
    assert codes[:30] == [401] * 30
    assert_error(r, 429, "throttled")
