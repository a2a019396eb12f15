"""Publishing: seq allocation, retention and the wire frame (streams/fanout.py)."""

from __future__ import annotations

import threading

import orjson
import pytest
import redis

from core.redis import get_redis
from streams import catchup, fanout
from streams.models import Show
from tests.factories import ShowFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def show():  # type: ignore[no-untyped-def]
    return ShowFactory()


def retained(show_id: int) -> list[tuple[int, dict]]:
    entries = get_redis().xrange(fanout.show_stream_key(show_id))
    return [(seq, orjson.loads(frame)) for seq, frame in catchup.parse_entries(entries)]


def test_seq_goes_up_by_one_per_event(show: Show) -> None:
    seqs = [
        fanout.publish_show_event(show_id=show.pk, type="pin.changed", data={"pin": None})
        for _ in range(5)
    ]
    assert seqs == [1, 2, 3, 4, 5]
    show.refresh_from_db()
    assert show.last_seq == 5


def test_frame_is_serialized_once_with_type_seq_ts_and_data(show: Show) -> None:
    from decimal import Decimal

    fanout.publish_show_event(
        show_id=show.pk, type="stock.changed", data={"product": 1, "price": Decimal("1.50")}
    )
    [(seq, frame)] = retained(show.pk)
    assert seq == 1
    assert set(frame) == {"type", "seq", "ts", "data"}
    assert frame["type"] == "stock.changed"
    assert frame["seq"] == 1
    assert frame["ts"].endswith("Z")
    assert frame["data"] == {"product": 1, "price": "1.50"}


def test_seq_is_never_reused_after_redis_flushdb(show: Show) -> None:
    for _ in range(3):
        fanout.publish_show_event(show_id=show.pk, type="pin.changed", data={})
    get_redis().flushdb()
    after = [
        fanout.publish_show_event(show_id=show.pk, type="pin.changed", data={}) for _ in range(2)
    ]
    assert after == [4, 5]
    assert [seq for seq, _ in retained(show.pk)] == [4, 5]


def test_seq_moves_past_redis_when_a_commit_was_lost(show: Show) -> None:
    """The script reached Redis but PostgreSQL's COMMIT did not: never hand the seq out twice."""
    for _ in range(3):
        fanout.publish_show_event(show_id=show.pk, type="pin.changed", data={})
    Show.objects.filter(pk=show.pk).update(last_seq=1)  # as if the commits of 2 and 3 were lost
    seq = fanout.publish_show_event(show_id=show.pk, type="pin.changed", data={})
    assert seq == 4
    assert [s for s, _ in retained(show.pk)] == [1, 2, 3, 4]
    show.refresh_from_db()
    assert show.last_seq == 4


def test_concurrent_publishers_get_distinct_consecutive_seqs_in_stream_order(show: Show) -> None:
    from django.db import connection

    errors: list[BaseException] = []

    def publish_many() -> None:
        try:
            for _ in range(25):
                fanout.publish_show_event(show_id=show.pk, type="chat.message", data={})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    seqs = [seq for seq, _ in retained(show.pk)]
    assert seqs == list(range(1, 101))  # stream (= publish) order is seq order
    assert [frame["seq"] for _, frame in retained(show.pk)] == seqs


def test_retention_keeps_at_least_the_last_1000_events(show: Show) -> None:
    for _ in range(1200):
        fanout.publish_show_event(show_id=show.pk, type="chat.message", data={})
    seqs = [seq for seq, _ in retained(show.pk)]
    assert len(seqs) >= 1000
    assert seqs == list(range(seqs[0], 1201))
    assert seqs[0] > 1  # and it is trimmed: memory stays bounded


def test_publish_for_a_missing_show_does_nothing(db: None) -> None:
    assert fanout.publish_show_event(show_id=987654, type="pin.changed", data={}) is None
    assert get_redis().exists(fanout.show_stream_key(987654)) == 0


def test_unreachable_redis_consumes_no_seq(show: Show, monkeypatch: pytest.MonkeyPatch) -> None:
    fanout.publish_show_event(show_id=show.pk, type="pin.changed", data={})
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    dead = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    monkeypatch.setattr(fanout, "get_redis", lambda: dead)
    fanout._append_publish_script.cache_clear()
    try:
        assert fanout.publish_show_event(show_id=show.pk, type="pin.changed", data={}) is None
    finally:
        monkeypatch.undo()
        fanout._append_publish_script.cache_clear()
    show.refresh_from_db()
    assert show.last_seq == 1
    assert fanout.publish_show_event(show_id=show.pk, type="pin.changed", data={}) == 2


def test_user_events_are_published_on_the_users_channel_without_seq(db: None) -> None:
    pubsub = get_redis().pubsub()
    pubsub.subscribe(fanout.user_channel(42))
    try:
        pubsub.get_message(timeout=2)  # the subscribe confirmation
        fanout.publish_user_event(user_id=42, type="hold.updated", data={"id": 7})
        message = pubsub.get_message(timeout=5)
    finally:
        pubsub.close()
    assert message is not None
    prefix, _, frame = message["data"].partition(b"|")
    assert prefix == b"0"
    decoded = orjson.loads(frame)
    assert decoded["type"] == "hold.updated"
    assert "seq" not in decoded
    assert decoded["data"] == {"id": 7}


def test_channels_are_namespaced_by_redis_database(settings) -> None:
    # Pub/Sub is global to a Redis server: two databases must not hear each other.
    settings.REDIS_URL = "redis://127.0.0.1:6379/5"
    five = fanout.show_channel(1)
    settings.REDIS_URL = "redis://127.0.0.1:6379/6"
    assert fanout.show_channel(1) != five
