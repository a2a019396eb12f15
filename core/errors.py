"""The error types, and the one mapping from any exception to the SPEC error shape.

Two types are raised on purpose:

- `ApiError` (and its subclasses): an expected failure the client is told about, a 4xx
  with a SPEC code (`sold_out`, `invalid_state`, ...).
- `InternalError`: our own invariant broke or a dependency failed. Never the client's
  fault: a logged `server_error` 500, or with ``retryable=True`` a 503
  `service_unavailable` (nothing changed; try again).

`error_reply` maps *any* exception (those two, an unreachable Redis, a database with no
connection free, DRF's own exceptions, a bug) to one `ErrorReply`: status, SPEC body,
headers. The REST exception handler below and the WebSocket consumer
(`streams.consumers`) both use it, so a failure gets the same code on either path.
Every body has the SPEC shape
``{"error": {"code": "<snake_case>", "message": "<sentence>", "details": {...}}}``.
See docs/architecture.md, "Errors".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, HttpRequest, HttpResponseBase, JsonResponse
from django.views.defaults import bad_request, page_not_found, server_error
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An expected failure with a SPEC error code (`sold_out`, `invalid_state`, ...)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 409,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class NotFound(ApiError):
    def __init__(self, message: str = "Not found.") -> None:
        super().__init__("not_found", message, status=404)


class Forbidden(ApiError):
    def __init__(self, message: str = "You do not have permission to do this.") -> None:
        super().__init__("permission_denied", message, status=403)


class InvalidState(ApiError):
    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__("invalid_state", message, status=409, details=details)


class Invalid(ApiError):
    """Validation failure found by a service (details map field -> messages)."""

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__("invalid", message, status=400, details=details)


class InternalError(Exception):
    """Our own invariant broke, or a dependency failed: not the client's doing.

    Raise it instead of `assert`, `RuntimeError` or an ad-hoc `ValueError` when the code
    reaches a state it promises never to reach (an award without a winner, an event type
    nobody registered). ``retryable=True`` says that nothing changed and a retry may
    succeed (contention that outlasted our retries): it becomes a 503
    `service_unavailable` rather than a 500 `server_error`.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": _encodable({"code": code, "message": message, "details": details or {}})}


def _encodable(value: Any) -> Any:
    """Error texts may echo the input (`"\\ud800" is not a valid choice.`); a lone surrogate
    from a JSON escape cannot be encoded as UTF-8, so it is written as its escape."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(v) for v in value]
    return value


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            msg = _first_message(value)
            if msg:
                return msg if key == "non_field_errors" else f"{key}: {msg}"
    if isinstance(detail, list):
        for value in detail:
            msg = _first_message(value)
            if msg:
                return msg
    return str(detail) if detail else ""


def _as_details(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {str(k): _plain(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": _plain(detail)}
    return {"non_field_errors": [str(detail)]}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)


_DRF_CODES: list[tuple[type[Exception], str]] = [
    (drf_exceptions.ParseError, "parse_error"),
    (drf_exceptions.NotAuthenticated, "not_authenticated"),
    (drf_exceptions.AuthenticationFailed, "not_authenticated"),
    (drf_exceptions.PermissionDenied, "permission_denied"),
    (drf_exceptions.NotFound, "not_found"),
    (drf_exceptions.MethodNotAllowed, "method_not_allowed"),
    (drf_exceptions.NotAcceptable, "not_acceptable"),
    (drf_exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (drf_exceptions.Throttled, "throttled"),
]


@dataclass(frozen=True)
class ErrorReply:
    """What a failure becomes on the wire: the HTTP status (a WebSocket error frame carries
    only code, message and details), the SPEC code, and the headers a REST answer sends.
    ``expected`` is False for a bug or a broken invariant: the caller logs the traceback."""

    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    expected: bool = True

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


SERVER_ERROR_MESSAGE = "Something went wrong on our side; it has been logged."


def error_reply(exc: BaseException) -> ErrorReply:
    """The one mapping from an exception to the SPEC error it is answered with."""
    if isinstance(exc, ApiError):
        return ErrorReply(exc.status, exc.code, exc.message, exc.details)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        # Redis is down and this request truly needs it (e.g. a ws-ticket): nothing changed,
        # tell the client to come back rather than calling it a bug.
        logger.warning("Redis unreachable while serving a request: %r", exc)
        return _unavailable("This is temporarily unavailable; please retry shortly.", 5)
    if database_busy(exc):
        # Every pooled connection is in use (or PostgreSQL is out of connection slots):
        # nothing was done; shed the load at once rather than queueing without bound.
        logger.warning("no database connection free: %r", exc)
        return _unavailable("We are very busy right now; please retry.", 1)
    if isinstance(exc, InternalError) and exc.retryable:
        logger.warning("retryable internal failure: %r", exc)
        return _unavailable("This is temporarily unavailable; please retry shortly.", 1)
    if isinstance(exc, drf_exceptions.APIException):
        return _drf_reply(exc)
    # A bug, or an InternalError: a 500 whose traceback the caller logs.
    return ErrorReply(500, "server_error", SERVER_ERROR_MESSAGE, expected=False)


def _unavailable(message: str, retry_after_s: int) -> ErrorReply:
    """Nothing changed and a retry may succeed: 503 with Retry-After."""
    return ErrorReply(
        503, "service_unavailable", message, headers={"Retry-After": str(retry_after_s)}
    )


def _drf_reply(api_exc: drf_exceptions.APIException) -> ErrorReply:
    headers: dict[str, str] = {}
    if getattr(api_exc, "auth_header", None):
        headers["WWW-Authenticate"] = str(api_exc.auth_header)  # type: ignore[attr-defined]
    wait = getattr(api_exc, "wait", None)
    if wait is not None:
        headers["Retry-After"] = str(int(wait))

    if isinstance(api_exc, drf_exceptions.ValidationError):
        return ErrorReply(
            400,
            "invalid",
            _first_message(api_exc.detail) or "The request is not valid.",
            _as_details(api_exc.detail),
            headers,
        )

    code = "error"
    for klass, name in _DRF_CODES:
        if isinstance(api_exc, klass):
            code = name
            break
    status = api_exc.status_code
    if isinstance(api_exc, drf_exceptions.AuthenticationFailed | drf_exceptions.NotAuthenticated):
        status = 401
    details: dict[str, Any] = {}
    if isinstance(api_exc, drf_exceptions.Throttled) and wait is not None:
        details["retry_after_s"] = int(wait)
    return ErrorReply(status, code, _first_message(api_exc.detail), details, headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponseBase | None:
    """DRF exception handler: `error_reply`'s answer, in the SPEC shape.

    An unexpected failure (a bug, an `InternalError`) is left to Django (None): it logs
    the traceback and answers with `handler500`, the same `server_error` body."""
    from core.idempotency import IdempotentReplay  # it imports this module (and models)

    if isinstance(exc, IdempotentReplay):
        return exc.response
    reply = error_reply(exc)
    if not reply.expected:
        return None
    set_rollback()
    return Response(reply.body(), status=reply.status, headers=reply.headers or None)


def database_busy(exc: BaseException) -> bool:
    """Whether `exc` means "no database connection to be had now": the connection pool had
    none free within DB_POOL_TIMEOUT_SECONDS, or PostgreSQL refused a new connection (too
    many clients). Both are load, not bugs: the request is answered 503."""
    if not isinstance(exc, DatabaseOperationalError):
        return False
    cause = exc.__cause__
    if isinstance(cause, PoolTimeout | pg_errors.TooManyConnections):
        return True
    # A refused *connection* carries no SQLSTATE class in psycopg, only the server's text.
    return "too many clients" in str(exc)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def json_500(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("server_error", SERVER_ERROR_MESSAGE), status=500)


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Requests Django refuses before any view runs (a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE, too many form fields, a Host not in ALLOWED_HOSTS)."""
    if isinstance(exception, RequestDataTooBig):
        body = error_body("parse_error", "The request body is larger than this server accepts.")
    elif isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        body = error_body("parse_error", "The request body has too many fields or files.")
    else:
        body = error_body("bad_request", "The request was refused as malformed.")
    return JsonResponse(body, status=400)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponseBase:
    if _is_api(request):
        return json_400(request, exception)
    return bad_request(request, exception or SuspiciousOperation())


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponseBase:
    if _is_api(request):
        return json_404(request, exception)
    return page_not_found(request, exception or Http404())


def handler500(request: HttpRequest) -> HttpResponseBase:
    if _is_api(request):
        return json_500(request)
    return server_error(request)
