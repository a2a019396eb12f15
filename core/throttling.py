"""DRF throttles that fail open when their cache (Redis) is unreachable.

All the throttles of one request are checked in one Redis call (`throttles_wait`, used by
`core.api.ApiView`): a sliding-window log per throttle key, in one Lua script.

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
import uuid
from typing import Any

import redis
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from core.redis import get_redis, redis_key

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


# --- every throttle of a request in one Redis round trip ---------------------------------

# Sliding-window logs (a sorted set of hit times per throttle key), all checked and, only if
# every one allows the request, all recorded: one script, so atomic and one round trip
# however many throttles a view has. Returns 0 (allowed) or the wait in ms until the
# fullest window frees a slot. ARGV: now_ms, a unique member, then limit and window_ms per
# key, in KEYS order.
_THROTTLE_SCRIPT = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
    local limit = tonumber(ARGV[1 + 2 * i])
    local window = tonumber(ARGV[2 + 2 * i])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    if redis.call('ZCARD', key) >= limit then
        local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
        local w = tonumber(oldest[2]) + window - now
        if w > wait then wait = w end
    end
end
if wait > 0 then
    return wait
end
for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, ARGV[2])
    redis.call('PEXPIRE', key, ARGV[2 + 2 * i])
end
return 0
"""

_script_lock = threading.Lock()
_script: Any = None


def _throttle_script() -> Any:
    global _script
    client = get_redis()
    with _script_lock:
        if _script is None or _script.registered_client is not client:
            _script = client.register_script(_THROTTLE_SCRIPT)
        return _script


def throttles_wait(*, request: Request, view: Any, throttles: list[Any]) -> float | None:
    """Check and record every throttle of one request in one Redis call.

    Returns None when the request may go on (and counts it in every window), else the
    seconds to wait. Throttles are DRF `SimpleRateThrottle`s (their rate, scope and
    `get_cache_key`); one without a key (for example a username throttle on a body with no
    username) is skipped, as DRF skips it. Fails open while Redis is unreachable."""
    keys: list[str] = []
    args: list[Any] = []
    for throttle in throttles:
        if getattr(throttle, "rate", None) is None:
            continue
        cache_key = throttle.get_cache_key(request, view)
        if cache_key is None:
            continue
        keys.append(redis_key("throttle", cache_key))
        args += [int(throttle.num_requests), int(throttle.duration * 1000)]
    if not keys:
        return None
    now_ms = int(time.time() * 1000)
    try:
        wait_ms = int(_throttle_script()(keys=keys, args=[now_ms, uuid.uuid4().hex, *args]))
    except CACHE_ERRORS as exc:
        warn_cache_down("throttles", exc)
        return None
    return None if wait_ms <= 0 else wait_ms / 1000
