"""The one-writer decision, measured both ways (docs/auctions.md, "One writer").

For ONE running auction and T threads, bids per second and latency of:

1. ``bid_place``        the real service: bidder checks, then the row-locked decision
                        (SELECT ... FOR UPDATE, Bid INSERT, auction UPDATE, COMMIT).
2. ``pg_row_lock``      the decision alone in PostgreSQL: the same three statements.
3. ``redis_lua``        a Lua script deciding the bid in Redis (check min-next, set the
                        price and leader, append the bid): NOT durable on its own.
4. ``lua+pg_write``     (3) plus the write-through that durability needs: the accepted
                        bid INSERTed in PostgreSQL before answering.

Run from the repository root against a migrated database (it creates and deletes its own
shop, users, show and auction):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lc_i11 REDIS_URL=redis://127.0.0.1:6379/8 \\
    .venv/bin/python bench/auction/engines.py --threads 8 --ops 2000
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livecommerce.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from auctions import rules, services  # noqa: E402
from auctions.models import Auction, Bid  # noqa: E402
from bench.hold_gate import report, run_threads  # noqa: E402
from catalog.models import Product, Shop, Variant  # noqa: E402
from core.errors import ApiError  # noqa: E402
from core.redis import get_redis  # noqa: E402
from orders.services import address_add, payment_method_add  # noqa: E402
from streams.models import Show  # noqa: E402

# KEYS[1] auction hash (price, count), KEYS[2] bids list; ARGV bidder, amount (cents).
# Atomic because Redis runs one script at a time: the check and the write cannot interleave.
LUA_BID = """
local price = tonumber(redis.call('HGET', KEYS[1], 'price') or '0')
local amount = tonumber(ARGV[2])
local step = 100
if price >= 50000 then step = 1000 elseif price >= 10000 then step = 500
elseif price >= 2000 then step = 200 end
if amount < price + step then return -1 end
redis.call('HSET', KEYS[1], 'price', amount, 'leader', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'count', 1)
return redis.call('RPUSH', KEYS[2], ARGV[1] .. ':' .. amount)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--ops", type=int, default=2000)
    args = parser.parse_args()
    threads, ops = args.threads, args.ops - args.ops % args.threads

    suffix = str(time.time_ns())
    owner = User.objects.create(username=f"bench-auctioneer-{suffix}")
    bidders = [User.objects.create(username=f"bench-bidder-{suffix}-{i}") for i in range(threads)]
    for b in bidders:
        payment_method_add(user=b, token="sandbox_ok")
        address_add(
            user=b,
            data={"name": "B", "line1": "1", "city": "X", "postal_code": "1", "country": "US"},
        )
    shop = Shop.objects.create(name="bench", owner=owner)
    product = Product.objects.create(
        shop=shop, handle=f"bench-{suffix}", title="Bench mug", price=1
    )
    Variant.objects.create(product=product, shop=shop, sku=f"A-{suffix}", stock_on_hand=10)
    show = Show.objects.create(
        shop=shop,
        title="bench",
        status="live",
        scheduled_at=timezone.now(),
        started_at=timezone.now(),
    )
    print(f"one auction, {threads} threads, {ops} bids each engine, {os.cpu_count()} CPUs")
    redis = get_redis()
    try:
        auction = services.auction_start(
            user=owner,
            show_id=show.pk,
            product_id=product.pk,
            starting_bid=Decimal("1.00"),
            duration_s=600,
        )
        seen = {"next": Decimal("1.00")}
        outcomes = {"accepted": 0, "bid_too_low": 0}
        lock = threading.Lock()

        def service_bid(index: int) -> None:
            try:
                r = services.bid_place(
                    user=bidders[index], auction_id=auction.pk, amount=seen["next"]
                )
                nxt = rules.min_next_bid(starting_bid=Decimal("1.00"), current_bid=r.amount)
                code = "accepted"
            except ApiError as exc:
                nxt = Decimal(exc.details.get("min_next_bid", seen["next"]))
                code = exc.code
            with lock:
                outcomes[code] = outcomes.get(code, 0) + 1
                seen["next"] = max(seen["next"], nxt)

        report("bid_place", *run_threads(threads, ops, service_bid))
        print(f"             outcomes {outcomes}")
        amounts = list(
            Bid.objects.filter(auction=auction).order_by("id").values_list("amount", flat=True)
        )
        assert all(a < b for a, b in itertools.pairwise(amounts))

        def pg_lock(index: int) -> None:
            with transaction.atomic():
                a = (
                    Auction.objects.select_for_update(of=("self",))
                    .only("current_bid", "bid_count")
                    .get(pk=auction.pk)
                )
                amount = (a.current_bid or Decimal("0")) + 1
                Bid.objects.create(auction_id=auction.pk, bidder=bidders[index], amount=amount)
                Auction.objects.filter(pk=auction.pk).update(
                    current_bid=amount, bid_count=a.bid_count + 1
                )

        report("pg_row_lock", *run_threads(threads, ops, pg_lock))

        key, bids_key = f"bench:auction:{suffix}", f"bench:auction:{suffix}:bids"
        script = redis.register_script(LUA_BID)
        redis.hset(key, mapping={"price": 0, "count": 0})

        def lua(index: int) -> None:
            price = int(redis.hget(key, "price") or 0)
            script(keys=[key, bids_key], args=[bidders[index].pk, price + 1000])

        report("redis_lua", *run_threads(threads, ops, lua))
        redis.hset(key, mapping={"price": 0, "count": 0})
        Bid.objects.filter(auction=auction).delete()
        base = 10**9

        def lua_write_through(index: int) -> None:
            price = int(redis.hget(key, "price") or 0)
            if script(keys=[key, bids_key], args=[bidders[index].pk, price + 1000]) > 0:
                Bid.objects.create(
                    auction_id=auction.pk,
                    bidder=bidders[index],
                    amount=Decimal(base + price + 1000) / 100,
                )

        report("lua+pg_write", *run_threads(threads, ops, lua_write_through))
    finally:
        redis.delete(f"bench:auction:{suffix}", f"bench:auction:{suffix}:bids")
        Auction.objects.filter(show=show).delete()
        connection.close()


if __name__ == "__main__":
    main()
