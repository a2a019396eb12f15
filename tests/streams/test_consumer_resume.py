"""Resume after reconnect: exactly the missed events, in order, or `resync` (SPEC "WebSocket")."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from core.redis import get_redis
from streams import fanout
from streams.models import Show
from tests.factories import ShowFactory
from tests.streams.livekit import hubs_closed, room  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs_closed")]


@pytest.fixture
def live_show():  # type: ignore[no-untyped-def]
    return ShowFactory(status="live", started_at=timezone.now())


def _publish_n(show_id: int, n: int, type: str) -> None:
    for i in range(n):
        fanout.publish_show_event(show_id=show_id, type=type, data={"i": i})


async def publish_n(show_id: int, n: int, type: str = "chat.message") -> None:
    await database_sync_to_async(_publish_n)(show_id, n, type)


async def _events_until(r, n_chat: int) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every event (presence ticks included) up to and including the n-th chat.message."""
    events: list[dict] = []
    while sum(e["type"] == "chat.message" for e in events) < n_chat:
        events.append(await r.event())
    return events


def _assert_contiguous(events: list[dict], first_seq: int) -> None:
    assert [e["seq"] for e in events] == list(range(first_seq, first_seq + len(events)))


async def test_resume_replays_exactly_the_missed_events_then_live_ones(live_show: Show) -> None:
    # Presence (`viewers.changed`) is a broadcast event too and may take a seq between
    # ours, so the checks are: no gap, no duplicate, and our chat events in order.
    async with room(live_show.pk) as first:
        await first.send("ping")
        await first.event_of("pong")
        await publish_n(live_show.pk, 3)
        seen = await _events_until(first, 3)
    first_seq = first.snapshot["seq"] + 1 if first.snapshot else 1
    _assert_contiguous(seen, first_seq)
    last_seen = seen[-1]["seq"]

    await publish_n(live_show.pk, 4)  # missed while away
    async with room(live_show.pk) as again:
        assert again.snapshot is not None
        snapshot_seq = again.snapshot["seq"]
        assert snapshot_seq >= last_seen + 4
        await again.send("resume", {"after_seq": last_seen})
        replayed = [await again.event() for _ in range(snapshot_seq - last_seen)]
        _assert_contiguous(replayed, last_seen + 1)
        missed_chat = [e["data"]["i"] for e in replayed if e["type"] == "chat.message"]
        assert missed_chat == [0, 1, 2, 3]
        await publish_n(live_show.pk, 2)
        live = await _events_until(again, 2)
        _assert_contiguous(live, snapshot_seq + 1)
        assert [e["data"]["i"] for e in live if e["type"] == "chat.message"] == [0, 1]
        assert "chat.message" not in await again.types_within(0.3)


async def test_resume_from_the_snapshot_seq_replays_nothing(live_show: Show) -> None:
    await publish_n(live_show.pk, 2)
    async with room(live_show.pk) as r:
        await r.send("resume", {"after_seq": 2})
        await publish_n(live_show.pk, 1)
        event = await r.event_of("chat.message")
        assert event["seq"] == 3


async def test_events_published_while_connecting_are_neither_lost_nor_doubled(
    live_show: Show,
) -> None:
    await publish_n(live_show.pk, 5)
    async with room(live_show.pk) as r:
        snap_seq = r.snapshot["seq"]  # type: ignore[index]
        await publish_n(live_show.pk, 3)
        got = [(await r.event_of("chat.message"))["seq"] for _ in range(3)]
        assert got == [snap_seq + 1, snap_seq + 2, snap_seq + 3]
        assert "chat.message" not in await r.types_within(0.3)


async def test_resume_older_than_the_retained_window_gets_resync_and_a_fresh_snapshot(
    live_show: Show,
) -> None:
    await publish_n(live_show.pk, 1200)  # retention keeps >= 1000, not all 1200
    async with room(live_show.pk) as r:
        await r.send("resume", {"after_seq": 0})
        resync = await r.frame()
        assert resync["type"] == "resync"
        snapshot = await r.frame()
        assert snapshot["type"] == "show.snapshot"
        assert snapshot["data"]["seq"] == 1200
        await publish_n(live_show.pk, 1)
        assert (await r.event_of("chat.message"))["seq"] == 1201


async def test_resume_within_the_last_1000_events_is_replayed(live_show: Show) -> None:
    await publish_n(live_show.pk, 1200)
    async with room(live_show.pk) as r:
        await r.send("resume", {"after_seq": 200})
        seqs = [(await r.event())["seq"] for _ in range(1000)]
    assert seqs == list(range(201, 1201))


async def test_resume_after_redis_lost_the_events_gets_resync(live_show: Show) -> None:
    await publish_n(live_show.pk, 5)
    await database_sync_to_async(get_redis().flushdb)()
    async with room(live_show.pk) as r:
        assert r.snapshot is not None
        assert r.snapshot["seq"] == 5  # from PostgreSQL
        await r.send("resume", {"after_seq": 2})
        assert (await r.frame())["type"] == "resync"
        fresh = await r.frame()
        assert fresh["type"] == "show.snapshot"
        assert fresh["data"]["seq"] == 5
        await publish_n(live_show.pk, 1)
        assert (await r.event_of("chat.message"))["seq"] == 6


async def test_resume_ahead_of_the_server_gets_resync(live_show: Show) -> None:
    await publish_n(live_show.pk, 2)
    async with room(live_show.pk) as r:
        await r.send("resume", {"after_seq": 50})
        assert (await r.frame())["type"] == "resync"
        assert (await r.frame())["type"] == "show.snapshot"


async def test_resume_with_a_bad_after_seq_is_invalid(live_show: Show) -> None:
    async with room(live_show.pk) as r:
        await r.send("resume", {"after_seq": "ten"})
        err = await r.frame()
    assert err["type"] == "error"
    assert err["data"]["code"] == "invalid"


async def test_late_resume_still_replays_when_nothing_went_out_since_the_snapshot(
    live_show: Show, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.WS_RESUME_GRACE_SECONDS = 0.05
    await publish_n(live_show.pk, 4)
    async with room(live_show.pk) as r:
        await asyncio.sleep(0.3)  # the grace period is over: live mode
        await r.send("resume", {"after_seq": 1})
        assert [(await r.event())["seq"] for _ in range(3)] == [2, 3, 4]


async def test_late_resume_after_live_events_gets_resync(live_show: Show, settings) -> None:  # type: ignore[no-untyped-def]
    settings.WS_RESUME_GRACE_SECONDS = 0.05
    await publish_n(live_show.pk, 4)
    async with room(live_show.pk) as r:
        await asyncio.sleep(0.3)
        await publish_n(live_show.pk, 1)
        assert (await r.event_of("chat.message"))["seq"] == 5
        await r.send("resume", {"after_seq": 1})  # 2..4 can no longer come in order
        resync = await r.event_of("resync")
        assert resync["data"]["reason"] == "late_resume"
        assert (await r.frame())["type"] == "show.snapshot"
