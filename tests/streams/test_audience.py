"""Who sees which live-room event (streams.audience): sales figures are for hosts only."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from core.errors import InternalError
from streams import catchup, fanout
from streams.audience import EVENT_AUDIENCE, Audience, event_audience
from streams.events import emit_show_event, emit_user_event
from streams.models import Show
from tests.factories import PinFactory, ProductFactory, ShopFactory, ShowFactory, UserFactory
from tests.orders.helpers import paid_order
from tests.streams.livekit import hubs_closed, room, session_headers  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs_closed")]


class Shop:
    def __init__(self) -> None:
        self.host = UserFactory()
        self.show = ShowFactory(
            shop=ShopFactory(owner=self.host), status=Show.Status.LIVE, started_at=timezone.now()
        )
        self.pin = PinFactory(show=self.show, product=ProductFactory(shop=self.show.shop, stock=5))
        self.viewer = UserFactory()
        self.host_headers = session_headers(self.host)
        self.viewer_headers = session_headers(self.viewer)


@pytest.fixture
def shop() -> Shop:
    return Shop()


async def ready(r: Any) -> None:
    await r.send("ping")
    await r.event_of("pong")


async def _events_until(r: Any, type: str) -> list[dict[str, Any]]:
    """Every event up to and including the first of `type`."""
    seen = []
    while True:
        event = await r.event()
        seen.append(event)
        if event["type"] == type:
            return seen


async def _events_until_seq(r: Any, seq: int) -> list[dict[str, Any]]:
    """Every event up to and including broadcast `seq`."""
    seen = []
    while True:
        event = await r.event()
        seen.append(event)
        if event.get("seq", 0) >= seq:
            return seen


async def _broadcast_after(show_id: int, host: Any) -> int:
    """Broadcast one event after the sale and return its seq, once `host` has it: the end
    marker (a sale sends no `stock.changed`: units move from held to sold, available does
    not change)."""
    seq = await database_sync_to_async(fanout.publish_show_event)(
        show_id=show_id, type="chat.settings", data={"slow_mode_s": 0}
    )
    assert seq is not None
    await host.event_of("chat.settings")
    return int(seq)


async def test_sale_recorded_reaches_hosts_only_and_takes_no_seq(shop: Shop) -> None:
    async with (
        room(shop.show.pk) as anon,
        room(shop.show.pk, headers=shop.viewer_headers) as viewer,
        room(shop.show.pk, headers=shop.host_headers) as host,
    ):
        for r in (anon, viewer, host):
            await ready(r)
        order = await database_sync_to_async(paid_order)(shop.pin)
        sale = await host.event_of("sale.recorded")
        assert sale["data"]["order"] == order.pk
        assert "seq" not in sale
        last = await _broadcast_after(shop.show.pk, host)
        for r in (anon, viewer):
            seen = await _events_until_seq(r, last)
            assert "sale.recorded" not in [e["type"] for e in seen]
            # Every broadcast seq arrives, without a hole where the host-only event was.
            seqs = [e["seq"] for e in seen if "seq" in e]
            first = r.snapshot["seq"] + 1  # type: ignore[index]
            assert seqs == list(range(first, last + 1))


async def test_resume_replays_no_sales_to_a_viewer_and_has_no_gap(shop: Shop) -> None:
    async with room(shop.show.pk) as first:
        start = first.snapshot["seq"]  # type: ignore[index]
    await database_sync_to_async(paid_order)(shop.pin)
    await database_sync_to_async(paid_order)(shop.pin)
    async with room(shop.show.pk) as anon:
        await anon.send("resume", {"after_seq": start})
        upto = anon.snapshot["seq"]  # type: ignore[index]
        replayed = [await anon.event() for _ in range(upto - start)]
        await ready(anon)
    assert "stock.changed" in [e["type"] for e in replayed]
    assert "sale.recorded" not in [e["type"] for e in replayed]
    assert [e["seq"] for e in replayed] == list(range(start + 1, upto + 1))


def test_the_retention_stream_holds_no_host_only_event(shop: Shop) -> None:
    from core.redis import get_redis

    paid_order(shop.pin)
    entries = get_redis().xrange(fanout.show_stream_key(shop.show.pk))
    frames = [frame for _, frame in catchup.parse_entries(entries)]
    assert frames
    assert not any(b'"sale.recorded"' in frame for frame in frames)


async def test_a_moderator_is_not_a_host_and_gets_no_sales(shop: Shop) -> None:
    from streams.models import ShowModerator

    moderator = await database_sync_to_async(UserFactory)()
    await database_sync_to_async(ShowModerator.objects.create)(show=shop.show, user=moderator)
    headers = await database_sync_to_async(session_headers)(moderator)
    async with (
        room(shop.show.pk, headers=headers) as mod,
        room(shop.show.pk, headers=shop.host_headers) as host,
    ):
        await ready(mod)
        await ready(host)
        await database_sync_to_async(paid_order)(shop.pin)
        await host.event_of("sale.recorded")
        last = await _broadcast_after(shop.show.pk, host)
        seen = await _events_until_seq(mod, last)
        assert "sale.recorded" not in [e["type"] for e in seen]


def test_every_event_has_an_audience_and_unknown_types_are_refused() -> None:
    assert event_audience("sale.recorded") is Audience.HOSTS
    assert event_audience("chat.message") is Audience.EVERYONE
    assert event_audience("moderation.notice") is Audience.USER
    assert set(EVENT_AUDIENCE.values()) == set(Audience)
    with pytest.raises(InternalError, match="no audience"):
        emit_show_event(show_id=1, type="sales.total", data={})
    with pytest.raises(InternalError, match="one user"):
        emit_show_event(show_id=1, type="order.updated", data={})
    with pytest.raises(InternalError, match="not a one-user event"):
        emit_user_event(user_id=1, type="sale.recorded", data={})


def test_docs_table_lists_every_event_with_its_audience() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "live-room.md").read_text()
    for type, audience in EVENT_AUDIENCE.items():
        assert f"| `{type}` | {audience.value} |" in doc, type
