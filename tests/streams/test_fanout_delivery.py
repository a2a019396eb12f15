"""Delivery to sockets: batches, slow sockets, lost subscriptions (streams/hub.py)."""

from __future__ import annotations

import orjson
import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from core.redis import get_redis
from streams import fanout
from streams.connection import LIVE, Conn
from streams.direct import uvicorn_direct_write
from streams.frames import encode_frame, ws_text_frame
from streams.hub import get_hub
from streams.models import Show
from tests.factories import ShowFactory
from tests.streams.livekit import hubs_closed, room  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs_closed")]


@pytest.fixture
def live_show():  # type: ignore[no-untyped-def]
    return ShowFactory(status="live", started_at=timezone.now())


def frame_text(seq: int) -> str:
    return encode_frame(type="chat.message", seq=seq, data={"n": seq}).decode()


def the_conn(show_id: int) -> Conn:
    [conn] = get_hub().show_conns[show_id]
    return conn


async def live_conn(r, show_id: int) -> Conn:  # type: ignore[no-untyped-def]
    await r.send("ping")
    await r.event_of("pong")
    conn = the_conn(show_id)
    assert conn.state == LIVE
    return conn


async def test_a_backlog_goes_out_as_one_batch_in_order(live_show: Show) -> None:
    async with room(live_show.pk) as r:
        conn = await live_conn(r, live_show.pk)
        base = conn.last_seq
        sent = [frame_text(seq) for seq in range(base + 1, base + 11)]
        for seq, text in zip(range(base + 1, base + 11), sent, strict=True):
            conn.offer_show(seq, text)  # all arrive before the writer runs
        frame = await r.frame()
    assert frame["type"] == "batch"
    assert [e["seq"] for e in frame["data"]["events"]] == list(range(base + 1, base + 11))
    assert frame["data"]["events"] == [orjson.loads(text) for text in sent]  # bytes as published


async def test_a_single_event_is_not_wrapped(live_show: Show) -> None:
    async with room(live_show.pk) as r:
        conn = await live_conn(r, live_show.pk)
        conn.offer_show(conn.last_seq + 1, frame_text(conn.last_seq + 1))
        frame = await r.frame()
    assert frame["type"] == "chat.message"


async def test_a_socket_that_cannot_keep_up_is_resynced_and_holds_nobody_back(
    live_show: Show,
) -> None:
    async with room(live_show.pk) as slow:
        slow_conn = await live_conn(slow, live_show.pk)
        slow_conn.max_queue = 5
        async with room(live_show.pk) as fine:
            await fine.send("ping")
            await fine.event_of("pong")
            base = slow_conn.last_seq
            # What the hub does when 30 frames arrive at once: one offer per socket each.
            for seq in range(base + 1, base + 31):
                for conn in tuple(get_hub().show_conns[live_show.pk]):
                    conn.offer_show(seq, frame_text(seq))
            got = [(await fine.event())["seq"] for _ in range(30)]
            assert got == list(range(base + 1, base + 31))
            resync = await slow.event_of("resync")
            assert resync["data"]["reason"] == "lagging"
            assert (await slow.frame())["type"] == "show.snapshot"


def _publish_burst(show_id: int, n: int) -> None:
    for _ in range(n):
        fanout.publish_show_event(show_id=show_id, type="chat.message", data={})


async def test_a_gap_in_seq_makes_the_socket_resync(live_show: Show) -> None:
    async with room(live_show.pk) as r:
        conn = await live_conn(r, live_show.pk)
        conn.offer_show(conn.last_seq + 2, frame_text(conn.last_seq + 2))
        frame = await r.frame()
        assert frame["type"] == "resync"
        assert (await r.frame())["type"] == "show.snapshot"


async def test_losing_the_redis_subscription_resyncs_sockets_then_events_flow(
    live_show: Show,
) -> None:
    async with room(live_show.pk) as r:
        await live_conn(r, live_show.pk)
        killed = await database_sync_to_async(_kill_client_named)(get_hub().client_name)
        assert killed == 1
        resync = await r.event_of("resync")
        assert resync["data"]["reason"] == "reconnected"
        snapshot = await r.frame()
        assert snapshot["type"] == "show.snapshot"
        seq = await database_sync_to_async(fanout.publish_show_event)(
            show_id=live_show.pk, type="pin.changed", data={"pin": None}
        )
        assert (await r.event_of("pin.changed"))["seq"] == seq


def _kill_client_named(name: str) -> int:
    client = get_redis()
    ids = [c["id"] for c in client.client_list(_type="pubsub") if c.get("name") == name]
    for client_id in ids:
        client.client_kill_filter(_id=client_id)
    return len(ids)


async def test_events_wait_for_a_resume_frame_only_for_the_grace_period(
    live_show: Show, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.WS_RESUME_GRACE_SECONDS = 0.2
    async with room(live_show.pk) as r:
        await database_sync_to_async(_publish_burst)(live_show.pk, 1)
        event = await r.event_of("chat.message")
        assert event["seq"] == r.snapshot["seq"] + 1  # type: ignore[index]


@pytest.mark.parametrize("size", [0, 5, 125, 126, 127, 65535, 65536, 70000])
def test_ready_made_frame_is_byte_for_byte_what_websockets_sends(size: int) -> None:
    from websockets.frames import Frame, Opcode

    payload = b"x" * size
    assert ws_text_frame(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False)


def test_the_direct_path_is_only_taken_on_uvicorn_sockets() -> None:
    async def some_other_send(message: dict) -> None:  # e.g. Channels' test communicator
        pass

    assert uvicorn_direct_write(some_other_send) is None
