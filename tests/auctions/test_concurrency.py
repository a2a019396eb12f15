"""300 bidders against real uvicorn processes on one auction: one writer decides."""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from auctions import services
from auctions.models import Auction, Bid, ProxyBid
from orders.models import Order
from orders.services import address_add, payment_method_add
from tests.factories import UserFactory, token_for
from tests.orders.helpers import ADDRESS
from tests.support.processes import run_uvicorn

BIDDERS = 300


def _bidders(n: int) -> list[tuple[int, str]]:
    users = []
    for i in range(n):
        user = UserFactory(username=f"b{i}")
        payment_method_add(user=user, token="sandbox_ok")
        address_add(user=user, data=ADDRESS)
        users.append((user.pk, token_for(user)))
    return users


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_300_concurrent_bidders_one_writer_one_winner_one_order(host_client_setup):
    show, item, host = host_client_setup
    bidders = _bidders(BIDDERS)
    rng = random.Random(11)
    cents = rng.sample(range(1000, 200000), BIDDERS)  # distinct maximums: one true winner
    maxima = {uid: Decimal(c) / 100 for (uid, _), c in zip(bidders, cents, strict=True)}
    auction = services.auction_start(
        user=host,
        show_id=show.pk,
        product_id=item.pk,
        starting_bid=Decimal("10.00"),
        duration_s=15,
    )
    answers: Counter[tuple[int, str]] = Counter()
    accepted_by: set[int] = set()

    with run_uvicorn(workers=2) as url:
        limits = httpx.Limits(max_connections=64)
        with httpx.Client(base_url=url, timeout=120, limits=limits) as http:

            def bidder(uid_token: tuple[int, str]) -> None:
                uid, token = uid_token
                floor = Decimal("10.00")
                for _ in range(50):  # bounded: each answer either ends or raises the floor
                    if maxima[uid] < floor:
                        return
                    r = http.post(
                        f"/api/v1/auctions/{auction.pk}/bids/",
                        json={"amount": str(floor), "max_amount": str(maxima[uid])},
                        headers={"Authorization": f"Token {token}"},
                    )
                    body = r.json()
                    code = "accepted" if r.status_code == 201 else body["error"]["code"]
                    answers[(r.status_code, code)] += 1
                    if r.status_code == 201:
                        accepted_by.add(uid)
                        return
                    if code != "bid_too_low":
                        return
                    floor = Decimal(body["error"]["details"]["min_next_bid"])

            with ThreadPoolExecutor(max_workers=64) as pool:
                list(pool.map(bidder, bidders))

            # The sweep closes it once it is due (the test plays the beat).
            deadline = time.monotonic() + 120
            while Auction.objects.get(pk=auction.pk).status == "running":
                assert time.monotonic() < deadline, "never closed"
                services.auctions_close_due()
                time.sleep(0.2)
            # Nothing is accepted after the end, whoever asks.
            late = http.post(
                f"/api/v1/auctions/{auction.pk}/bids/",
                json={"amount": "999999.00"},
                headers={"Authorization": f"Token {bidders[0][1]}"},
            )
            assert late.status_code == 409 and late.json()["error"]["code"] == "auction_closed"

    assert set(answers) <= {(201, "accepted"), (409, "bid_too_low"), (409, "auction_closed")}
    auction.refresh_from_db()
    bids = list(Bid.objects.filter(auction=auction).order_by("id"))
    amounts = [b.amount for b in bids]
    assert all(a < b for a, b in itertools.pairwise(amounts)), "not strictly rising"
    assert all(b.created_at < auction.ends_at for b in bids), "accepted after ends_at"
    assert auction.bid_count == len(bids) and auction.current_bid == amounts[-1]
    # Every accepted bidder's maximum is recorded as sent; the highest one won.
    recorded = dict(ProxyBid.objects.filter(auction=auction).values_list("bidder_id", "max_amount"))
    assert set(recorded) == accepted_by
    assert all(recorded[uid] == maxima[uid] for uid in recorded)
    best = max(accepted_by, key=lambda uid: maxima[uid])
    assert best == max(maxima, key=lambda uid: maxima[uid])
    assert (auction.status, auction.winner_id, auction.leader_id) == ("sold", best, best)
    second = sorted((maxima[uid] for uid in accepted_by), reverse=True)[1]
    assert second <= auction.current_bid <= maxima[best]
    assert Order.objects.filter(product=item).count() == 1
    assert services.auction_close(auction_id=auction.pk) is False
