"""DRF throttles that fail open when their cache (Redis) is unreachable.

Rate limits are a courtesy to the service, not an invariant: PostgreSQL is the stock gate
and idempotency lives in PostgreSQL too, so while Redis is away a request is better served
unthrottled than answered with a 500. Every throttle in the project derives from one of the
classes here. A warning is logged at most once per `WARN_INTERVAL_S` per process so an
outage does not flood the log.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)

WARN_INTERVAL_S = 60.0
CACHE_ERRORS: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)

_warn_lock = threading.Lock()
_last_warned = 0.0


def warn_cache_down(what: str, exc: BaseException) -> None:
    """Log that `what` was skipped because Redis is unreachable (once per interval)."""
    global _last_warned
    now = time.monotonic()
    with _warn_lock:
        if _last_warned and now - _last_warned < WARN_INTERVAL_S:
            return
        _last_warned = now
    logger.warning("Redis unreachable, %s skipped (failing open): %r", what, exc)


def fixed_window_hit(*, key: str, window_s: int) -> tuple[int, int]:
    """Count one hit in a fixed window; returns (hits so far, seconds left in the window).

    Fails open (counts as the first hit) while Redis is unreachable: a rate limit is not
    worth a 500 (docs/operations.md, "Redis outage")."""
    from core.redis import get_redis

    pipe = get_redis().pipeline(transaction=True)
    # SET NX EX starts the window (INCR keeps the expiry); unlike EXPIRE NX it works on
    # every Redis version, not only 7+.
    pipe.set(key, 0, ex=window_s, nx=True)
    pipe.incr(key)
    pipe.ttl(key)
    try:
        _, count, ttl = pipe.execute()
    except CACHE_ERRORS as exc:
        warn_cache_down(f"rate limit {key.rsplit(':', 1)[0]}", exc)
        return 1, window_s
    return int(count), max(int(ttl), 1)


class FailOpenMixin:
    """Let the request through when the throttle's history cannot be read or written."""

    scope: str | None

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return bool(super().allow_request(request, view))  # type: ignore[misc]
        except CACHE_ERRORS as exc:
            warn_cache_down(f"throttle {self.scope!r}", exc)
            return True


class FailOpenSimpleRateThrottle(FailOpenMixin, SimpleRateThrottle):
    """`SimpleRateThrottle` that fails open while Redis is down."""


class FailOpenUserRateThrottle(FailOpenMixin, UserRateThrottle):
    """`UserRateThrottle` that fails open while Redis is down."""
