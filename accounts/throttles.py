"""Throttles for sign-in: per client IP and per attempted username (SPEC: auth/token)."""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework.request import Request

from core.throttling import FailOpenSimpleRateThrottle


class AuthIpThrottle(FailOpenSimpleRateThrottle):
    scope = "auth_ip"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AuthUsernameThrottle(FailOpenSimpleRateThrottle):
    scope = "auth_username"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data if isinstance(request.data, dict) else {}
        username = str(data.get("username", "")).strip().lower()
        if not username:
            return None
        # Hashed: the body is not validated yet, and any text (a lone surrogate, spaces,
        # control characters) must make a safe cache key.
        ident = hashlib.sha256(username[:150].encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}
