"""Viewer counts across processes, and after one dies (streams/presence.py, streams/hub.py)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from core.redis import get_redis
from streams import presence
from streams.hub import Hub, get_hub
from streams.models import Show
from tests.factories import ShowFactory
from tests.streams.livekit import app_for_hub, hubs_closed, room  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs_closed")]


@pytest.fixture
def live_show():  # type: ignore[no-untyped-def]
    return ShowFactory(status="live", started_at=timezone.now())


@pytest.fixture
def fast_presence(settings):  # type: ignore[no-untyped-def]
    settings.PRESENCE_HEARTBEAT_SECONDS = 0.2
    settings.PRESENCE_TTL_SECONDS = 1.0
    return settings


async def count_reaches(r, expected: int, timeout: float = 15.0) -> dict:  # type: ignore[no-untyped-def]
    """The first `viewers.changed` announcing `expected` (earlier counts are skipped)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        event = await r.event_of("viewers.changed", timeout=max(0.1, deadline - loop.time()))
        if event["data"]["count"] == expected:
            return event


async def test_viewers_changed_counts_sockets_of_every_process(
    live_show: Show, fast_presence
) -> None:  # type: ignore[no-untyped-def]
    other = Hub(proc_id="process-b")
    try:
        async with (
            room(live_show.pk) as a1,
            room(live_show.pk) as _a2,
            room(live_show.pk, app=app_for_hub(other)) as _b1,
        ):
            event = await count_reaches(a1, 3)
            assert "seq" in event
            count = await database_sync_to_async(presence.viewer_count)(show_id=live_show.pk)
            assert count == 3
    finally:
        await other.close()


async def test_a_dead_process_stops_counting_after_the_ttl(live_show: Show, fast_presence) -> None:  # type: ignore[no-untyped-def]
    other = Hub(proc_id="process-doomed")
    try:
        async with room(live_show.pk) as a1, room(live_show.pk, app=app_for_hub(other)) as _b1:
            await count_reaches(a1, 2)
            await other.close(graceful=False)  # killed: no goodbye, its heartbeat just stops
            await count_reaches(a1, 1)
            count = await database_sync_to_async(presence.viewer_count)(show_id=live_show.pk)
            assert count == 1
    finally:
        await other.close()


async def test_leaving_lowers_the_count(live_show: Show, fast_presence) -> None:  # type: ignore[no-untyped-def]
    async with room(live_show.pk) as a1:
        async with room(live_show.pk):
            await count_reaches(a1, 2)
        await count_reaches(a1, 1)


async def test_snapshot_carries_the_viewer_count(live_show: Show, fast_presence) -> None:  # type: ignore[no-untyped-def]
    async with room(live_show.pk) as a1, room(live_show.pk):
        await count_reaches(a1, 2)
        async with room(live_show.pk) as third:
            assert third.snapshot is not None
            assert third.snapshot["viewer_count"] == 2  # the third one counts from now on


async def test_only_one_broadcast_per_interval_whatever_the_processes(live_show: Show) -> None:
    hub_a, hub_b = get_hub(), Hub(proc_id="process-b2")
    try:
        keys = [
            presence.presence_key(live_show.pk),
            presence.tick_key(live_show.pk),
            presence.last_key(live_show.pk),
        ]
        tick_a = hub_a._script(presence.TICK_SCRIPT)
        tick_b = hub_b._script(presence.TICK_SCRIPT)
        await hub_a._heartbeat({live_show.pk: 2})
        assert await tick_a(keys=keys, args=[hub_a.proc_id, 60_000]) == 2
        await hub_b._heartbeat({live_show.pk: 5})  # the count changed...
        assert await tick_b(keys=keys, args=[hub_b.proc_id, 60_000]) == -1  # ...but not yet
        await database_sync_to_async(get_redis().delete)(keys[1])  # the interval is over
        assert await tick_b(keys=keys, args=[hub_b.proc_id, 60_000]) == 7
    finally:
        await hub_b.close()


async def test_unchanged_count_is_not_broadcast_again(live_show: Show) -> None:
    hub = get_hub()
    keys = [
        presence.presence_key(live_show.pk),
        presence.tick_key(live_show.pk),
        presence.last_key(live_show.pk),
    ]
    tick = hub._script(presence.TICK_SCRIPT)
    await hub._heartbeat({live_show.pk: 4})
    assert await tick(keys=keys, args=[hub.proc_id, 1]) == 4
    await database_sync_to_async(get_redis().delete)(keys[1])
    assert await tick(keys=keys, args=[hub.proc_id, 1]) == -1
