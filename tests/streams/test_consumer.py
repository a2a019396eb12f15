"""The live room socket: snapshot, client frames, errors and close codes (SPEC "WebSocket")."""

from __future__ import annotations

import orjson
import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from streams import fanout
from streams.models import Show
from tests.factories import ShowFactory, UserFactory
from tests.streams.livekit import hubs_closed, room, session_headers  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs_closed")]


@pytest.fixture
def live_show():  # type: ignore[no-untyped-def]
    return ShowFactory(status="live", started_at=timezone.now())


publish = database_sync_to_async(fanout.publish_show_event)


async def test_snapshot_is_the_first_frame_with_the_last_seq(live_show: Show) -> None:
    await publish(show_id=live_show.pk, type="pin.changed", data={"pin": None})
    await publish(show_id=live_show.pk, type="pin.changed", data={"pin": None})
    async with room(live_show.pk) as r:
        snap = r.snapshot
        assert snap is not None
        assert snap["seq"] == 2
        assert snap["show"]["id"] == live_show.pk
        assert {"current_pin", "stock", "viewer_count", "recent_messages"} <= set(snap)


async def test_broadcast_events_carry_consecutive_seqs(live_show: Show) -> None:
    async with room(live_show.pk) as r:
        await r.send("ping")
        assert (await r.frame())["type"] == "pong"
        for _ in range(3):
            await publish(show_id=live_show.pk, type="pin.changed", data={"pin": None})
        events = [await r.event_of("pin.changed") for _ in range(3)]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert all(set(e) == {"type", "seq", "ts", "data"} for e in events)


async def test_ping_is_answered_by_pong(live_show: Show) -> None:
    async with room(live_show.pk) as r:
        await r.send("ping", {"n": 7})
        pong = await r.frame()
    assert pong["type"] == "pong"
    assert pong["data"] == {"n": 7}


async def test_unknown_show_closes_with_4404(db: None) -> None:
    async with room(999999, expect_snapshot=False) as r:
        assert r.connected  # type: ignore[attr-defined]
        assert await r.closed_with() == 4404


async def test_rehearsal_closes_with_4403_for_a_viewer() -> None:
    show = await database_sync_to_async(ShowFactory)(rehearsal=True)
    async with room(show.pk, expect_snapshot=False) as r:
        assert await r.closed_with() == 4403


async def test_malformed_json_gets_an_error_and_the_socket_stays_open(live_show: Show) -> None:
    async with room(live_show.pk) as r:
        await r.send_raw("{not json")
        err = await r.frame()
        assert err["type"] == "error"
        assert err["data"]["code"] == "parse_error"
        await r.send("ping")
        assert (await r.frame())["type"] == "pong"


async def test_frame_without_type_is_invalid(live_show: Show) -> None:
    async with room(live_show.pk) as r:
        await r.send_raw(orjson.dumps([1, 2]).decode())
        err = await r.frame()
    assert err["data"]["code"] == "invalid"


async def test_unknown_type_gets_an_error(live_show: Show) -> None:
    async with room(live_show.pk) as r:
        await r.send("dance", {})
        err = await r.frame()
        assert err["type"] == "error"
        assert err["data"]["code"] == "unknown_type"
        await r.send("ping")
        assert (await r.frame())["type"] == "pong"


async def test_frame_over_4_kib_gets_an_error_and_the_socket_stays_open(live_show: Show) -> None:
    async with room(live_show.pk) as r:
        await r.send("chat.send", {"text": "x" * 5000})
        err = await r.frame()
        assert err["type"] == "error"
        assert err["data"]["code"] == "frame_too_large"
        await r.send("ping")
        assert (await r.frame())["type"] == "pong"


async def test_the_frame_limit_and_its_message_come_from_the_setting(
    live_show: Show, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.WS_FRAME_MAX_BYTES = 1024
    async with room(live_show.pk) as r:
        await r.send("ping", {"pad": "é" * 400})  # 400 characters, over 800 bytes: fine
        assert (await r.frame())["type"] == "pong"
        await r.send("ping", {"pad": "é" * 600})  # 600 characters, 1,200 bytes
        err = await r.frame()
    assert err["data"]["code"] == "frame_too_large"
    assert err["data"]["message"] == "Frames are limited to 1 KiB."


async def test_frame_over_the_hard_cap_closes_with_1009(live_show: Show) -> None:
    async with room(live_show.pk) as r:
        await r.send("chat.send", {"text": "x" * 70_000})
        assert await r.closed_with() == 1009


async def test_anonymous_chat_send_gets_not_authenticated(live_show: Show) -> None:
    async with room(live_show.pk) as r:
        await r.send("chat.send", {"text": "hello"})
        err = await r.frame()
    assert err["type"] == "error"
    assert err["data"]["code"] == "not_authenticated"


async def test_origin_of_another_site_is_rejected(live_show: Show) -> None:
    headers = [(b"origin", b"https://evil.example")]
    async with room(live_show.pk, headers=headers, expect_snapshot=False) as r:
        assert not r.connected  # type: ignore[attr-defined]


async def test_origin_matching_allowed_hosts_is_accepted(live_show: Show) -> None:
    headers = [(b"origin", b"http://localhost:8000")]
    async with room(live_show.pk, headers=headers) as r:
        assert r.snapshot is not None


async def test_absent_origin_is_accepted(live_show: Show) -> None:
    async with room(live_show.pk) as r:
        assert r.snapshot is not None


@pytest.fixture
def two_sessions():  # type: ignore[no-untyped-def]
    alice, bob = UserFactory(), UserFactory()
    return alice, session_headers(alice), bob, session_headers(bob)


async def test_private_event_reaches_only_its_user(live_show: Show, two_sessions) -> None:  # type: ignore[no-untyped-def]
    alice, a_headers, _bob, b_headers = two_sessions
    async with (
        room(live_show.pk, headers=a_headers) as a,
        room(live_show.pk, headers=b_headers) as b,
    ):
        await a.send("ping")
        await b.send("ping")
        assert (await a.frame())["type"] == "pong"
        assert (await b.frame())["type"] == "pong"
        await database_sync_to_async(fanout.publish_user_event)(
            user_id=alice.pk, type="hold.updated", data={"id": 1}
        )
        got = await a.event_of("hold.updated")
        assert "seq" not in got
        assert got["data"] == {"id": 1}
        assert "hold.updated" not in await b.types_within(0.5)
