"""Request id: taken from `X-Request-ID` when sane, else generated; echoed back. And the
page-only middleware (sessions, the session user, messages), which token-authenticated
API calls skip."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth import middleware as _auth
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import middleware as _messages
from django.contrib.sessions import middleware as _session
from django.http import HttpRequest, HttpResponse

from core.logging import request_id_var

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = rid  # type: ignore[attr-defined]
        token = request_id_var.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = rid
        return response


# --- page-only middleware, skipped for token-authenticated API calls ----------------------
#
# Sessions, the session user and messages exist for pages (and for API calls made with the
# session cookie, which DRF's SessionAuthentication checks for CSRF itself). A call to
# /api/ that carries `Authorization: Token ...` never needs them: DRF's token
# authentication answers it (a valid token's user, or 401; it runs before session
# authentication and never falls through to it), so loading a session, a message store or
# a lazy session user for it is wasted work. Session-authenticated API calls and every
# page keep the whole stack. (Django's CsrfViewMiddleware stays as it is: `check --deploy`
# wants it by name, and for DRF's csrf_exempt views it does next to nothing.)


def is_token_api_call(request: HttpRequest) -> bool:
    """An /api/ request authenticated (or refused) by its token, never by the session."""
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    return auth[:6].lower() == "token " and request.path_info.startswith("/api/")


class _PageOnly:
    def __call__(self, request: HttpRequest) -> Any:
        if is_token_api_call(request):
            return self.get_response(request)  # type: ignore[attr-defined]
        return super().__call__(request)  # type: ignore[misc]


class SessionMiddleware(_PageOnly, _session.SessionMiddleware):
    pass


class AuthenticationMiddleware(_PageOnly, _auth.AuthenticationMiddleware):
    def __call__(self, request: HttpRequest) -> Any:
        if is_token_api_call(request):
            # DRF sets the token's user here once it authenticates; until then (a 404 from
            # the URL resolver, say) the caller is anonymous, as without a session.
            request.user = AnonymousUser()
        return super().__call__(request)


class MessageMiddleware(_PageOnly, _messages.MessageMiddleware):
    pass
