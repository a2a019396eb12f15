"""API token authentication with a Redis cache in front of PostgreSQL.

A valid token's user is cached for TOKEN_CACHE_SECONDS under a key derived from the token
(hashed: the cache never holds a usable token), so a request authenticates with one Redis
GET instead of a database query. Revocation takes effect at once: `token_revoke` writes a
*revoked* marker over the cache entry before deleting the token row, and a request that
read the row just before it was deleted can only `add` its entry, which never overwrites
the marker. Other changes to a user (a new username, deactivation in the admin) reach the
cache within TOKEN_CACHE_SECONDS. While Redis is unreachable every request is checked in
PostgreSQL, as before (failing open on the cache, never on the check).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from core.throttling import CACHE_ERRORS, warn_cache_down

REVOKED = "revoked"


def token_cache_key(key: str) -> str:
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"token:{digest}"


def token_cache_revoke(*, key: str) -> None:
    """Mark the token revoked in the cache (raises a Redis error when Redis is down: the
    caller must then not report the token as revoked)."""
    # Outlives any entry cached before it, so a stale one can never come back.
    cache.set(token_cache_key(key), REVOKED, settings.TOKEN_CACHE_SECONDS + 60)


class CachedTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` (SPEC), answered from Redis when it can be."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        cache_key = token_cache_key(key)
        try:
            cached = cache.get(cache_key)
        except CACHE_ERRORS as exc:
            warn_cache_down("token cache", exc)
            return super().authenticate_credentials(key)
        if cached == REVOKED:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if cached is not None:
            return cached, key
        user, token = super().authenticate_credentials(key)
        try:
            cache.add(cache_key, user, settings.TOKEN_CACHE_SECONDS)
        except CACHE_ERRORS as exc:
            warn_cache_down("token cache", exc)
        return user, token
