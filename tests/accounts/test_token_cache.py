"""API tokens are answered from the Redis cache, and logout revokes them at once."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token

from accounts.authentication import CachedTokenAuthentication, token_cache_key
from tests.factories import UserFactory, token_for
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_a_cached_token_authenticates_without_the_database(django_assert_num_queries) -> None:
    user = UserFactory()
    key = token_for(user)
    auth = CachedTokenAuthentication()
    assert auth.authenticate_credentials(key)[0] == user  # reads PostgreSQL, fills the cache
    with django_assert_num_queries(0):
        cached, _ = auth.authenticate_credentials(key)
    assert (cached.pk, cached.username) == (user.pk, user.username)


def test_logout_revokes_a_cached_token_at_once(client_for) -> None:
    user = UserFactory()
    client = client_for(user)
    assert client.get("/api/v1/me/").status_code == 200
    assert cache.get(token_cache_key(token_for(user))) is not None  # it is cached

    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert_error(client.get("/api/v1/me/"), 401, "not_authenticated")
    assert not Token.objects.filter(user=user).exists()


def test_a_request_racing_logout_cannot_cache_the_revoked_token_again(client_for) -> None:
    user = UserFactory()
    key = token_for(user)
    client = client_for(user)
    assert client.post("/api/v1/auth/logout/").status_code == 204
    # A request that read the token row just before logout deleted it now caches it: the
    # cache only `add`s, so the revocation marker stays.
    assert cache.add(token_cache_key(key), user, 60) is False
    assert_error(client.get("/api/v1/me/"), 401, "not_authenticated")


def test_the_cache_never_holds_the_token_itself() -> None:
    key = token_for(UserFactory())
    assert key not in token_cache_key(key)
