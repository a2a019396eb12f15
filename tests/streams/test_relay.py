"""Committed live-room events are published by the relay thread, off the request's path
(streams/relay.py), with `seq` still +1 per event and never reused."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from orders import services
from streams import fanout
from streams.relay import relay_flush
from tests.factories import PinFactory, ProductFactory, ShowFactory, UserFactory
from tests.support.processes import _database_url


def _stream_seqs(show_id: int) -> list[int]:
    from core.redis import get_redis

    entries = get_redis().xrange(fanout.show_stream_key(show_id))
    return [seq for seq, _ in fanout.parse_entries(entries)]


@pytest.mark.django_db(transaction=True)
def test_a_buy_answers_while_its_event_waits_for_the_show_row(settings) -> None:
    settings.LIVE_EVENTS_RELAY = True
    show = ShowFactory(status="live", started_at=timezone.now())
    product = ProductFactory(shop=show.shop, stock=5)
    PinFactory(show=show, product=product)
    buyer = UserFactory()
    done = threading.Event()

    def tap() -> None:
        try:
            services.hold_create(buyer=buyer, show_id=show.pk, product_id=product.pk)
            done.set()
        finally:
            connection.close()

    with psycopg.connect(_database_url()) as locker:
        # Another transaction holds the show row the way a `seq` allocation does.
        locker.execute("SELECT 1 FROM streams_show WHERE id = %s FOR NO KEY UPDATE", [show.pk])
        buying = threading.Thread(target=tap)
        buying.start()
        assert done.wait(60), "the buy waited for its live-room event"
        assert _stream_seqs(show.pk) == []  # not published yet: the relay waits
        locker.rollback()
    buying.join(60)
    assert relay_flush(timeout=60)
    assert _stream_seqs(show.pk) == [1]


@pytest.mark.django_db(transaction=True)
def test_relayed_events_keep_seq_plus_one_in_order(settings) -> None:
    settings.LIVE_EVENTS_RELAY = True
    show = ShowFactory(status="live", started_at=timezone.now())
    product = ProductFactory(shop=show.shop, stock=50)
    PinFactory(show=show, product=product)
    for _ in range(10):
        services.hold_create(buyer=UserFactory(), show_id=show.pk, product_id=product.pk)
    assert relay_flush(timeout=60)
    assert _stream_seqs(show.pk) == list(range(1, 11))
    entries = get_frames(show.pk)
    assert [frame["data"]["available"] for frame in entries] == list(range(49, 39, -1))


def get_frames(show_id: int) -> list[dict]:
    import orjson

    from core.redis import get_redis

    entries = get_redis().xrange(fanout.show_stream_key(show_id))
    return [orjson.loads(frame) for _, frame in fanout.parse_entries(entries)]
