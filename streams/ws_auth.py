"""Who is on a live-room socket, and whether the page that opened it may.

* Origin: a present ``Origin`` header must name a host in `ALLOWED_HOSTS` (browsers always
  send one, so a page on another site cannot ride a viewer's session cookie). A client
  that sends none — an app, a script — is allowed, and authenticates by ticket.
* User: ``?ticket=`` (see `streams.tickets`) or the session cookie; neither means an
  anonymous, read-only viewer. A ticket that is not valid (unknown, used, expired, for
  another show) is refused rather than silently downgraded: the socket closes with 4401
  so the client knows to fetch a new one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from streams.tickets import ws_ticket_redeem


class TicketRejected(Exception):
    pass


class AllowedHostsOrAbsentOriginValidator(OriginValidator):
    """Channels' origin check, except that a missing Origin header is allowed."""

    def valid_origin(self, parsed_origin: Any) -> bool:
        if parsed_origin is None:
            return True
        return bool(self.validate_origin(parsed_origin))


def origin_validator(application: Any) -> AllowedHostsOrAbsentOriginValidator:
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = ["localhost", "127.0.0.1", "[::1]"]
    return AllowedHostsOrAbsentOriginValidator(application, allowed)


def query_param(scope: dict[str, Any], name: str) -> str | None:
    raw = scope.get("query_string", b"")
    values = parse_qs(raw.decode("latin1") if isinstance(raw, bytes) else str(raw)).get(name)
    return values[0] if values else None


def _active_user(user_id: int) -> Any:
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


async def ws_user(*, scope: dict[str, Any], show_id: int, redis: Any) -> Any:
    """The socket's user (AnonymousUser when none); raises TicketRejected."""
    ticket = query_param(scope, "ticket")
    if ticket is not None:
        user_id = await ws_ticket_redeem(ticket=ticket, show_id=show_id, redis=redis)
        user = None if user_id is None else await database_sync_to_async(_active_user)(user_id)
        if user is None:
            raise TicketRejected()
        return user
    user = scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    return AnonymousUser()
