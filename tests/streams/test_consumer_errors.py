"""A failure inside a live-room call is answered like REST answers it (core.errors.error_reply):
an `error` frame with the same code, and the socket stays open.

Redis is made really unreachable: after the socket joined, the app's Redis settings point at
a port nothing listens on (connections are refused), so the next call that needs Redis fails
as it would in an outage. `chat.send` is not the example: it degrades on purpose while Redis
is down (tests/core/test_redis_outage.py); `reaction.send` counts in Redis and cannot.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from core.redis import get_redis
from streams import fanout
from streams.models import Show
from tests.factories import ShowFactory, UserFactory
from tests.helpers import assert_error
from tests.streams.livekit import hubs_closed, room, session_headers  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs_closed")]


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on leaving: connections are refused


def _forget_clients() -> None:
    get_redis.cache_clear()
    fanout._append_publish_script.cache_clear()


@pytest.fixture
def redis_down(settings: Any) -> Iterator[Any]:
    """Call it to make the app's Redis unreachable (the `settings` fixture restores it)."""

    def go() -> None:
        url = f"redis://127.0.0.1:{_closed_port()}/0"
        settings.REDIS_URL = url
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "lc",
            }
        }
        _forget_clients()

    yield go
    _forget_clients()


async def test_a_redis_failure_in_a_ws_call_is_an_error_frame_and_the_socket_stays(
    redis_down: Any,
) -> None:
    viewer = await sync_to_async(UserFactory)()
    show = await sync_to_async(ShowFactory)(status=Show.Status.LIVE, started_at=timezone.now())
    headers = await sync_to_async(session_headers)(viewer)
    async with room(show.pk, headers=headers) as r:
        await r.send("ping")
        await r.event_of("pong")
        await sync_to_async(redis_down)()

        await r.send("reaction.send", {"kind": "heart"})

        err = await r.event_of("error")
        assert err["data"]["code"] == "service_unavailable", err
        assert err["data"]["message"]
        await r.send("ping")  # still connected
        assert (await r.event_of("pong"))["type"] == "pong"


def test_the_rest_path_gives_the_same_code(redis_down: Any, db: Any, client_for: Any) -> None:
    show = ShowFactory(status=Show.Status.LIVE, started_at=timezone.now())
    redis_down()

    r = client_for(UserFactory()).post(f"/api/v1/shows/{show.pk}/ws-ticket/")

    assert_error(r, 503, "service_unavailable")
