"""WebSocket tickets: single-use, short-lived, bound to one user and one show.

A client that cannot send a session cookie (an app, a script, a page on another origin)
asks `POST /api/v1/shows/{id}/ws-ticket/` with its token and connects to
``/ws/shows/{id}/?ticket=<ticket>``. Tickets live in Redis for
`settings.WS_TICKET_TTL_SECONDS`; redeeming uses GETDEL, so two connections racing with
the same ticket cannot both win. The ticket itself is 256 random bits: unguessable, and
harmless in a log once used.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings

from catalog.selectors import user_can_manage_shop
from core.errors import NotFound
from core.redis import get_redis, redis_key
from streams.models import Show

_TICKET_RE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def ticket_key(ticket: str) -> str:
    return redis_key("wsticket", ticket)


def ws_ticket_issue(*, user: Any, show_id: int) -> str:
    """A new ticket for `user` to join show `show_id` (404 if they may not see it)."""
    show = Show.objects.select_related("shop").filter(pk=show_id).first()
    if show is None or (show.rehearsal and not _is_host(user=user, show=show)):
        raise NotFound("No such show.")
    ticket = secrets.token_urlsafe(32)
    get_redis().set(
        ticket_key(ticket), f"{user.pk}:{show.pk}", ex=int(settings.WS_TICKET_TTL_SECONDS)
    )
    return ticket


def _is_host(*, user: Any, show: Show) -> bool:
    return user_can_manage_shop(user=user, shop=show.shop)


async def ws_ticket_redeem(*, ticket: str, show_id: int, redis: aioredis.Redis) -> int | None:
    """The user id the ticket was issued to, or None (unknown, used, expired, other show).

    The ticket is consumed whatever the outcome.
    """
    if not _TICKET_RE.match(ticket):
        return None
    raw = await redis.getdel(ticket_key(ticket))
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    user_id, _, bound_show = text.partition(":")
    if not bound_show.isdigit() or int(bound_show) != show_id:
        return None
    return int(user_id)
