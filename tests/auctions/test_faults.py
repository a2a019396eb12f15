"""Faults: the worker that should close an auction dies; Redis restarts mid-auction."""

from __future__ import annotations

import signal
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
import pytest

from auctions import services
from auctions.models import Auction, Bid
from catalog.models import Variant
from orders import clock
from orders.models import Order
from tests.factories import token_for
from tests.support.processes import run_celery_worker, run_uvicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _wait_closed(auction_id: int, timeout: float = 90) -> Auction:
    deadline = time.monotonic() + timeout
    while True:
        auction = Auction.objects.get(pk=auction_id)
        if auction.status != "running":
            return auction
        assert time.monotonic() < deadline, "the auction never closed"
        time.sleep(0.1)


def _start(show, item, host, **over) -> Auction:
    """An auction of `item` at 5.00 (30 s unless `over` says otherwise)."""
    return services.auction_start(
        user=host,
        show_id=show.pk,
        product_id=item.pk,
        starting_bid=Decimal("5.00"),
        **{"duration_s": 30, **over},
    )


def test_worker_killed_at_the_close_the_sweep_closes_it_exactly_once(host_client_setup, bidder):
    show, item, host = host_client_setup
    ann = bidder("ann")
    schedule = Path(tempfile.mkdtemp(prefix="lc-beat-")) / "schedule"
    with run_celery_worker() as doomed:
        auction = _start(show, item, host)
        services.bid_place(user=ann, auction_id=auction.pk, amount="5.00")
        auction.refresh_from_db()
        # The close task (eta = ends_at) was delivered to `doomed`, the only worker then.
        # A second worker with the beat joins; `doomed` dies just before the end.
        with run_celery_worker(extra_args=["-B", "-s", str(schedule)]):
            time.sleep(max(0.0, (auction.ends_at - clock.now()).total_seconds() - 0.3))
            doomed.kill(signal.SIGKILL)
            closed = _wait_closed(auction.pk)
            assert closed.closed_at is not None
            lag = (closed.closed_at - closed.ends_at).total_seconds()
            print(f"closed {lag:.3f} s after ends_at by the sweep")  # reported, not asserted
    assert (closed.status, closed.winner_id) == ("sold", ann.pk)
    assert Order.objects.filter(product=item).count() == 1
    assert closed.order is not None and closed.order.buyer_id == ann.pk
    assert services.auction_close(auction_id=auction.pk) is False


def test_redis_restarted_mid_auction_loses_and_doubles_no_accepted_bid(
    host_client_setup, bidder, private_redis
):
    show, item, host = host_client_setup
    people = [bidder("ann"), bidder("bob")]
    tokens = [token_for(p) for p in people]
    auction = services.auction_start(
        user=host, show_id=show.pk, product_id=item.pk, starting_bid=Decimal("1.00"), duration_s=600
    )
    accepted: list[str] = []
    with (
        run_uvicorn(env={"REDIS_URL": private_redis.url}) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):

        def place(i: int, amount: str, key: str) -> httpx.Response:
            return http.post(
                f"/api/v1/auctions/{auction.pk}/bids/",
                json={"amount": amount},
                headers={"Authorization": f"Token {tokens[i % 2]}", "Idempotency-Key": key},
            )

        amount = Decimal("1.00")
        for i in range(20):
            if i == 10:
                private_redis.restart()  # empty: every key and event window gone
            r = place(i, str(amount), f"bid-{i}")
            assert r.status_code == 201, r.text
            accepted.append(r.json()["auction"]["current_bid"])
            amount = Decimal(r.json()["auction"]["min_next_bid"])
        # The same request again after the restart: the first answer, no second bid.
        again = place(9, accepted[9], "bid-9")
        assert again.status_code == 201 and again.json()["auction"]["current_bid"] == accepted[9]
    amounts = [
        str(a)
        for a in Bid.objects.filter(auction=auction).order_by("id").values_list("amount", flat=True)
    ]
    assert amounts == accepted
    assert Auction.objects.get(pk=auction.pk).bid_count == 20


def test_a_worker_with_the_db_pool_and_the_relay_publishes_every_close(host_client_setup, bidder):
    """As production runs the worker (a psycopg pool, the live-event relay on, beat): Celery's
    Django fixup closes the pool before and after every task, so an event left to a relay
    thread could meet a closed pool and be lost (it was, for some closes at the eta, before
    `streams.relay.relay_inline`). Every `auction.closed` reaches the show's stream."""
    from core.redis import get_redis
    from streams import catchup, fanout

    show, item, host = host_client_setup
    Variant.objects.filter(product=item).update(stock_on_hand=10)
    ann = bidder("ann")
    schedule = Path(tempfile.mkdtemp(prefix="lc-beat-")) / "schedule"
    env = {"DB_POOL_MAX_SIZE": "3", "LIVE_EVENTS_RELAY": "1", "AUCTION_CLOSE_SWEEP_SECONDS": "1"}
    closed: list[int] = []
    with run_celery_worker(env=env, concurrency=2, extra_args=["-B", "-s", str(schedule)]):
        for _ in range(4):
            auction = _start(show, item, host, duration_s=5, sudden_death=True)
            services.bid_place(user=ann, auction_id=auction.pk, amount="5.00")
            assert _wait_closed(auction.pk).status == "sold"  # and its capture runs
            closed.append(auction.pk)
        deadline = time.monotonic() + 30
        while True:
            entries = get_redis().xrange(fanout.show_stream_key(show.pk))
            frames = [orjson.loads(frame) for _, frame in catchup.parse_entries(entries)]
            published = [f["data"]["auction"] for f in frames if f["type"] == "auction.closed"]
            if published == closed or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert published == closed
