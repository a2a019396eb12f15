"""Client frames that act: chat.send, moderate, reaction.send (thin calls of streams.services)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from core.redis import get_redis, redis_key
from streams.hub import Hub
from streams.models import ChatMessage, ModerationAction, Show
from streams.services import moderation_apply, reaction_counts_key
from tests.factories import ShopFactory, ShowFactory, UserFactory
from tests.streams.livekit import app_for_hub, hubs_closed, room, session_headers  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs_closed")]


class Cast:
    def __init__(self) -> None:
        self.host = UserFactory()
        self.show = ShowFactory(
            shop=ShopFactory(owner=self.host), status=Show.Status.LIVE, started_at=timezone.now()
        )
        self.viewer = UserFactory()
        self.other = UserFactory()
        self.headers = {
            name: session_headers(getattr(self, name)) for name in ("host", "viewer", "other")
        }


@pytest.fixture
def cast() -> Cast:
    return Cast()


async def ready(r: Any) -> None:
    await r.send("ping")
    await r.event_of("pong")


async def test_chat_send_is_broadcast_to_everyone(cast: Cast) -> None:
    async with room(cast.show.pk, headers=cast.headers["viewer"]) as v, room(cast.show.pk) as anon:
        await ready(v)
        await ready(anon)
        await v.send("chat.send", {"text": "hello <b>all</b>"})
        for r in (v, anon):
            message = await r.event_of("chat.message")
            assert message["data"]["text"] == "hello <b>all</b>"
            assert message["data"]["user"]["id"] == cast.viewer.pk
            assert message["seq"] >= 1


async def test_banned_viewer_gets_banned_with_the_reason_and_stays_connected(cast: Cast) -> None:
    await database_sync_to_async(moderation_apply)(
        show_id=cast.show.pk,
        actor=cast.host,
        action="ban",
        target_user_id=cast.viewer.pk,
        reason="Spam links, again",
    )
    async with room(cast.show.pk, headers=cast.headers["viewer"]) as v:
        await v.send("chat.send", {"text": "let me in"})
        err = await v.event_of("error")
        assert err["data"]["code"] == "banned"
        assert err["data"]["message"] == "Spam links, again"
        await v.send("ping")
        assert (await v.event_of("pong"))["type"] == "pong"
    assert not await database_sync_to_async(ChatMessage.objects.filter(user=cast.viewer).exists)()


async def test_timed_out_viewer_gets_timed_out_with_the_reason(cast: Cast) -> None:
    await database_sync_to_async(moderation_apply)(
        show_id=cast.show.pk,
        actor=cast.host,
        action="timeout",
        target_user_id=cast.viewer.pk,
        reason="Cool down",
        duration_s=600,
    )
    async with room(cast.show.pk, headers=cast.headers["viewer"]) as v:
        await v.send("chat.send", {"text": "hi"})
        err = await v.event_of("error")
    assert err["data"]["code"] == "timed_out"
    assert err["data"]["message"] == "Cool down"


async def test_service_refusal_becomes_an_error_frame(cast: Cast) -> None:
    async with room(cast.show.pk, headers=cast.headers["viewer"]) as v:
        await v.send("chat.send", {"text": "   "})
        err = await v.event_of("error")
    assert err["data"]["code"] == "invalid"


async def test_host_removes_a_message_with_a_moderate_frame(cast: Cast) -> None:
    async with (
        room(cast.show.pk, headers=cast.headers["host"]) as host,
        room(cast.show.pk, headers=cast.headers["viewer"]) as viewer,
    ):
        await ready(host)
        await ready(viewer)
        await viewer.send("chat.send", {"text": "buy my stuff elsewhere"})
        message = await host.event_of("chat.message")
        await host.send(
            "moderate",
            {"action": "remove_message", "message": message["data"]["id"], "reason": "Off-topic"},
        )
        removed = await viewer.event_of("chat.removed")
        assert removed["data"] == {"id": message["data"]["id"]}
        assert removed["seq"] == message["seq"] + 1
        notice = await viewer.event_of("moderation.notice")
        assert notice["data"]["reason"] == "Off-topic"
        assert "seq" not in notice


async def test_a_viewer_cannot_moderate(cast: Cast) -> None:
    async with room(cast.show.pk, headers=cast.headers["viewer"]) as v:
        await v.send(
            "moderate", {"action": "ban", "user": cast.other.pk, "reason": "I do not like them"}
        )
        err = await v.event_of("error")
    assert err["data"]["code"] == "permission_denied"
    assert not await database_sync_to_async(ModerationAction.objects.exists)()


async def test_anonymous_cannot_react(cast: Cast) -> None:
    async with room(cast.show.pk) as anon:
        await anon.send("reaction.send", {"kind": "heart"})
        err = await anon.event_of("error")
    assert err["data"]["code"] == "not_authenticated"


async def test_reactions_are_coalesced_into_one_burst(cast: Cast) -> None:
    lock = redis_key("reactions", cast.show.pk, "tick")
    counts_key = reaction_counts_key(cast.show.pk)
    redis = get_redis()
    async with (
        room(cast.show.pk, headers=cast.headers["viewer"]) as v,
        room(cast.show.pk, headers=cast.headers["other"]) as o,
    ):
        await ready(v)
        await ready(o)
        # Hold the tick (as if another process had just taken it) while 15 reactions land.
        await database_sync_to_async(redis.set)(lock, "test", px=60_000)
        for _ in range(10):
            await v.send("reaction.send", {"kind": "heart"})
        for _ in range(5):
            await o.send("reaction.send", {"kind": "fire"})
        await _wait_for(lambda: _total(redis.hgetall(counts_key)) == 15)
        await database_sync_to_async(redis.delete)(lock)
        burst = await v.event_of("reaction.burst")
        assert burst["data"]["counts"] == {"heart": 10, "fire": 5}
        assert "seq" in burst
        assert "reaction.burst" not in await v.types_within(1.0)  # nothing left to send


async def test_two_processes_never_count_a_reaction_twice(cast: Cast) -> None:
    other_process = Hub(proc_id="reactions-b")
    try:
        async with (
            room(cast.show.pk, headers=cast.headers["viewer"]) as v,
            room(cast.show.pk, headers=cast.headers["other"], app=app_for_hub(other_process)) as o,
        ):
            await ready(v)
            await ready(o)
            for _ in range(6):
                await v.send("reaction.send", {"kind": "clap"})
                await o.send("reaction.send", {"kind": "clap"})
            total = 0
            while total < 12:
                burst = await v.event_of("reaction.burst")
                total += burst["data"]["counts"].get("clap", 0)
            assert total == 12
            assert "reaction.burst" not in await v.types_within(1.0)
    finally:
        await other_process.close()


def _total(counts: dict[bytes, bytes]) -> int:
    return sum(int(v) for v in counts.values())


async def _wait_for(check: Any, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await database_sync_to_async(check)():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)
