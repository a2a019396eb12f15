"""Committed live-room events are published by the relay thread, off the request's path
(streams/relay.py), with `seq` still +1 per event and never reused."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from catalog.models import Variant
from orders import services
from streams import catchup, fanout
from streams.relay import relay_flush
from tests.factories import PinFactory, ProductFactory, ShowFactory, UserFactory
from tests.support.processes import _database_url


def _stream_seqs(show_id: int) -> list[int]:
    from core.redis import get_redis

    entries = get_redis().xrange(fanout.show_stream_key(show_id))
    return [seq for seq, _ in catchup.parse_entries(entries)]


def _live_pin(*, stock: int) -> tuple[Any, Any]:
    show = ShowFactory(status="live", started_at=timezone.now())
    product = ProductFactory(shop=show.shop, stock=stock)
    PinFactory(show=show, product=product)
    return show, product


@pytest.mark.django_db(transaction=True)
def test_a_buy_answers_while_its_event_waits_for_the_show_row(settings) -> None:
    settings.LIVE_EVENTS_RELAY = True
    show, product = _live_pin(stock=5)
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
    settings.LIVE_EVENTS_COALESCE_MS = 0  # every step is sent
    show, product = _live_pin(stock=50)
    for _ in range(10):
        services.hold_create(buyer=UserFactory(), show_id=show.pk, product_id=product.pk)
    assert relay_flush(timeout=60)
    assert _stream_seqs(show.pk) == list(range(1, 11))
    entries = get_frames(show.pk)
    assert [frame["data"]["available"] for frame in entries] == list(range(49, 39, -1))


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_stock_counts_reaches_viewers_as_the_latest_one(settings) -> None:
    """Coalescing: five buys inside the window send one `stock.changed`, with the count
    after the fifth; the private `hold.updated` events are not held back or merged."""
    from streams import fanout as fanout_module

    settings.LIVE_EVENTS_RELAY = True
    settings.LIVE_EVENTS_COALESCE_MS = 60_000  # longer than the test: only the flush sends it
    show, product = _live_pin(stock=50)
    private: list[str] = []
    original = fanout_module.publish_user_event

    def user_event(**kwargs: Any) -> Any:
        private.append(kwargs["type"])
        return original(**kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fanout_module, "publish_user_event", user_event)
        for _ in range(5):
            services.hold_create(buyer=UserFactory(), show_id=show.pk, product_id=product.pk)
        for _ in range(600):  # the private events go out at once, without a flush
            if len(private) == 5:
                break
            threading.Event().wait(0.05)
        assert private == ["hold.updated"] * 5
        assert _stream_seqs(show.pk) == []  # the count waits for its window
        assert relay_flush(timeout=60)
    frames = get_frames(show.pk)
    assert [(f["seq"], f["type"], f["data"]["available"]) for f in frames] == [
        (1, "stock.changed", 45)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_waiting_stock_count_does_not_hold_back_the_events_behind_it(settings) -> None:
    """Only the coalesced event waits: a pin change queued after it goes out at once, and
    the count follows when its window ends, with the next seq."""
    from streams.services import pin_product

    settings.LIVE_EVENTS_RELAY = True
    settings.LIVE_EVENTS_COALESCE_MS = 1500
    show, product = _live_pin(stock=50)
    services.hold_create(buyer=UserFactory(), show_id=show.pk, product_id=product.pk)
    other = ProductFactory(shop=show.shop)
    pin_product(user=show.shop.owner, show_id=show.pk, product_id=other.pk)
    for _ in range(600):
        if _stream_seqs(show.pk):
            break
        threading.Event().wait(0.01)
    assert [f["type"] for f in get_frames(show.pk)] == ["pin.changed"]
    for _ in range(600):  # the window ends: the count follows on its own
        if len(_stream_seqs(show.pk)) == 2:
            break
        threading.Event().wait(0.05)
    frames = get_frames(show.pk)
    assert [(f["seq"], f["type"]) for f in frames] == [(1, "pin.changed"), (2, "stock.changed")]
    assert frames[1]["data"]["available"] == 49


def get_frames(show_id: int) -> list[dict]:
    import orjson

    from core.redis import get_redis

    entries = get_redis().xrange(fanout.show_stream_key(show_id))
    return [orjson.loads(frame) for _, frame in catchup.parse_entries(entries)]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("coalesce_ms", ["0", "100"])  # every step; production's default
def test_a_server_killed_mid_batch_leaves_no_seq_gap_or_duplicate_after_restart(
    coalesce_ms: str,
) -> None:
    """SIGKILL the web server (and its relay thread) while buys and their events are in
    flight, start it again, buy more: the retention stream's seqs are exactly 1..N, once
    each, and PostgreSQL's last_seq is N. Events queued but not yet published when the
    process died are lost (no seq was taken for them); none is sent twice. With stock
    counts coalesced, the last one viewers get is the count in PostgreSQL."""
    import signal
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from streams.models import Show
    from tests.factories import token_for
    from tests.support.processes import run_gunicorn_process

    show, product = _live_pin(stock=1000)
    tokens = [token_for(UserFactory()) for _ in range(40)]
    env = {
        "THROTTLE_BUY_USER": "100000/min",
        "THROTTLE_BUY_IP": "100000/min",
        "LIVE_EVENTS_COALESCE_MS": coalesce_ms,
    }
    every_step = coalesce_ms == "0"  # one stock.changed per buy: they can be counted

    def buy_all(url: str, kill: Callable[[], None] | None = None) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:

            def tap(i_token: tuple[int, str]) -> None:
                i, token = i_token
                if kill is not None and i == len(tokens) // 2:
                    kill()
                # A request the kill cut off has no answer; its hold may or may not exist.
                with contextlib.suppress(httpx.HTTPError):
                    http.post(
                        f"/api/v1/shows/{show.pk}/buy/",
                        json={"product": product.pk},
                        headers={"Authorization": f"Token {token}"},
                    )

            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(tap, enumerate(tokens)))

    def published_all(seqs: list[int], killed_at: int) -> bool:
        if every_step:
            return len(seqs) >= killed_at + len(tokens)
        on_hand, held = Variant.objects.values_list("stock_on_hand", "held").get(product=product)
        last = get_frames(show.pk)[-1]
        return len(seqs) > killed_at and last["data"]["available"] == on_hand - held

    with run_gunicorn_process(env=env, workers=1) as server:
        buy_all(server.url, kill=lambda: server.kill(signal.SIGKILL))
    killed_at = Show.objects.get(pk=show.pk).last_seq
    with run_gunicorn_process(env=env, workers=1) as server:
        buy_all(server.url)
        # Wait for the new server's relay to publish everything it was given.
        for _ in range(600):
            seqs = _stream_seqs(show.pk)
            last = Show.objects.get(pk=show.pk).last_seq
            if seqs and seqs[-1] == last and published_all(seqs, killed_at):
                break
            threading.Event().wait(0.1)
    seqs = _stream_seqs(show.pk)
    last_seq = Show.objects.get(pk=show.pk).last_seq
    assert seqs == list(range(1, last_seq + 1))  # no gap, no duplicate
    assert published_all(seqs, killed_at)  # the restarted server published its all
    frames = get_frames(show.pk)
    assert [f["seq"] for f in frames] == seqs
