"""Sign-in limits: one set of counters for every way to present a password.

Every password check goes through `signin_attempt_check`: Django's `authenticate()` calls
it from our authentication backend (`accounts.backends.ThrottledModelBackend`), which
covers the API token, the HTML sign-in form, the admin sign-in and anything else that
authenticates a password; sign-up (API and page) calls it directly. So the per-IP and
per-username limits are the same counters whatever the door (docs/operations.md
"Sign-in limits").

Policy (fixed windows that expire, with a known-device lane):

* per client IP: `THROTTLE_AUTH_IP` attempts (default 30/min);
* per username, from anywhere: `THROTTLE_AUTH_USERNAME` attempts (default 10/min);
* a **known device** — a browser or client that carries the signed `lc_signin_device`
  cookie set by an earlier successful sign-in *as that username* — is counted in its own
  lane (`THROTTLE_AUTH_USERNAME` per username and device) instead of the IP and username
  windows. Someone guessing a password cannot get that cookie, so however long they keep
  a username's window full, its owner still signs in from their own device; and every
  window ends by itself after its period.

Attempts are counted before the password is checked (INCR first), so concurrent guesses
cannot slip past the limit together. While Redis is unreachable the limits fail open, as
every rate limit here does (docs/operations.md "Redis outage").
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import BaseThrottle

from core.errors import ApiError
from core.redis import redis_key
from core.throttling import fixed_window_hit

DEVICE_COOKIE = "lc_signin_device"
DEVICE_COOKIE_MAX_AGE_S = 180 * 24 * 3600
_DEVICE_SALT = "accounts.signin.device"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SignInThrottled(ApiError):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            "throttled",
            f"Too many sign-in attempts; try again in {retry_after_s} s.",
            status=429,
            details={"retry_after_s": retry_after_s},
        )
        self.retry_after_s = retry_after_s


def _rate(scope: str) -> tuple[int, int]:
    """(attempts, window seconds) of a ``"10/min"`` rate in REST_FRAMEWORK's rates."""
    rates: dict[str, str] = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    raw = rates[scope]
    count, period = raw.split("/")
    return int(count), _PERIODS[period.strip()[0]]


def _username_key(username: str) -> str:
    # Hashed: any text (a lone surrogate, spaces, control characters) must make a safe key.
    name = username.strip().lower()[:150]
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def client_ip(request: HttpRequest) -> str:
    """The address the limits count by (REMOTE_ADDR; see NUM_PROXIES in settings)."""
    return str(BaseThrottle().get_ident(request) or "unknown")  # type: ignore[arg-type]


def _known_device(request: HttpRequest, user_key: str) -> str | None:
    """The device id of a valid device cookie for this username, if the request has one."""
    raw = request.COOKIES.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        value = signing.loads(raw, salt=_DEVICE_SALT, max_age=DEVICE_COOKIE_MAX_AGE_S)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or value.get("u") != user_key:
        return None
    device = value.get("d")
    return device if isinstance(device, str) else None


def _hit(key: str, scope: str) -> None:
    limit, window_s = _rate(scope)
    count, ttl = fixed_window_hit(key=redis_key("accounts", "signin", key), window_s=window_s)
    if count > limit:
        raise SignInThrottled(ttl)


def signin_attempt_check(*, request: HttpRequest, username: Any) -> None:
    """Count one password attempt for `username` from `request`; raise `SignInThrottled`
    (429 `throttled`, `details.retry_after_s`) once a window is full. See the module
    docstring for the policy."""
    user_key = _username_key(str(username or ""))
    device = _known_device(request, user_key)
    if device is not None:
        _hit(f"device:{user_key}:{device}", "auth_username")
        return
    _hit(f"ip:{client_ip(request)}", "auth_ip")
    _hit(f"user:{user_key}", "auth_username")


# --- the known-device cookie ------------------------------------------------------------

_SIGNED_IN_ATTR = "_lc_signed_in_username"
_REFUSAL_ATTR = "_lc_signin_refusal"


def signin_note_success(*, request: HttpRequest, username: str) -> None:
    """Remember on the request that `username` signed in, so the response sets the device
    cookie (`SignInDeviceCookieMiddleware`)."""
    setattr(request, _SIGNED_IN_ATTR, username)


def signin_note_refusal(*, request: HttpRequest, refusal: SignInThrottled) -> None:
    setattr(request, _REFUSAL_ATTR, refusal)


def signin_refusal(request: HttpRequest) -> SignInThrottled | None:
    """The throttle refusal of this request's sign-in, if `authenticate()` hit one."""
    refusal = getattr(request, _REFUSAL_ATTR, None)
    return refusal if isinstance(refusal, SignInThrottled) else None


def device_cookie_set(*, request: HttpRequest, response: HttpResponse) -> None:
    username = getattr(request, _SIGNED_IN_ATTR, None)
    if not isinstance(username, str):
        return
    user_key = _username_key(username)
    device = _known_device(request, user_key) or secrets.token_hex(8)
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps({"u": user_key, "d": device}, salt=_DEVICE_SALT),
        max_age=DEVICE_COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )


class SignInDeviceCookieMiddleware:
    """Sets the known-device cookie on the response of a successful sign-in."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        device_cookie_set(request=request, response=response)
        return response
