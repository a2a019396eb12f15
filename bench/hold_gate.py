"""Micro-benchmark behind the hold-gate decision (docs/checkout.md, "The hold gate").

Measures, for ONE hot variant (a pinned product in a flash sale) with T threads:

1. ``hold_create``   — the real buy service: checks, hold INSERT, conditional UPDATE, COMMIT.
2. ``pg_gate``       — the conditional UPDATE alone, autocommit (the hot row's ceiling).
3. ``redis_gate``    — a Lua decrement-if-enough on one Redis key (what a Redis gate would
                       cost before it still has to write the hold to PostgreSQL).

and checks the outcome of (1): exactly `units` held, then sold_out.

Run from the repository root against a migrated database (it creates and deletes its own
shop, users and holds):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lc_orders \\
    REDIS_URL=redis://127.0.0.1:6379/6 /tmp/v/bin/python bench/hold_gate.py --threads 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livecommerce.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from catalog.models import Product, Shop, Variant  # noqa: E402
from core.errors import ApiError  # noqa: E402
from core.redis import get_redis  # noqa: E402
from orders import inventory, services  # noqa: E402
from orders.models import Hold  # noqa: E402
from streams.models import Pin, Show  # noqa: E402

LUA_TAKE = """
local available = tonumber(redis.call('GET', KEYS[1]) or '0')
local q = tonumber(ARGV[1])
if available >= q then return redis.call('DECRBY', KEYS[1], q) end
return -1
"""


def run_threads(threads: int, ops: int, op: Callable[[int], None]) -> tuple[float, list[float]]:
    """Run `ops` calls of `op(thread_index)` spread over `threads`; (seconds, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)
    per_thread = ops // threads

    def worker(index: int) -> None:
        mine: list[float] = []
        barrier.wait()
        for _ in range(per_thread):
            t0 = time.perf_counter()
            op(index)
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)
        connection.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - started, latencies


def report(name: str, seconds: float, latencies: list[float]) -> None:
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{name:12s} {len(latencies):6d} ops  {len(latencies) / seconds:8.0f} ops/s  "
        f"p50 {q[49] * 1000:6.2f} ms  p99 {q[98] * 1000:6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--units", type=int, default=2000, help="stock, and buys attempted")
    args = parser.parse_args()
    threads, units = args.threads, args.units - args.units % args.threads

    suffix = str(time.time_ns())
    owner = User.objects.create(username=f"bench-owner-{suffix}")
    buyers = [User.objects.create(username=f"bench-buyer-{suffix}-{i}") for i in range(threads)]
    shop = Shop.objects.create(name="bench", owner=owner)
    product = Product.objects.create(shop=shop, handle=f"bench-{suffix}", title="b", price=1)
    variant = Variant.objects.create(
        product=product, shop=shop, sku=f"B-{suffix}", stock_on_hand=units
    )
    show = Show.objects.create(
        shop=shop,
        title="bench",
        status="live",
        scheduled_at=timezone.now(),
        started_at=timezone.now(),
    )
    Pin.objects.create(show=show, product=product, pinned_at=timezone.now())
    print(f"one hot variant, {threads} threads, {units} units, {os.cpu_count()} CPUs")
    try:

        def buy(index: int) -> None:
            services.hold_create(buyer=buyers[index], show_id=show.pk, product_id=product.pk)

        report("hold_create", *run_threads(threads, units, buy))
        variant.refresh_from_db()
        assert (variant.stock_on_hand, variant.held) == (units, units), variant.held
        try:
            buy(0)
            raise AssertionError("sold out expected")
        except ApiError as exc:
            assert exc.code == "sold_out"

        Variant.objects.filter(pk=variant.pk).update(held=0)

        def gate(index: int) -> None:
            assert inventory.reserve(variant_id=variant.pk, quantity=1) is not None

        report("pg_gate", *run_threads(threads, units, gate))
        Variant.objects.filter(pk=variant.pk).update(held=units)

        redis = get_redis()
        key = f"bench:avail:{suffix}"
        redis.set(key, units)
        take = redis.register_script(LUA_TAKE)

        def redis_gate(index: int) -> None:
            assert int(take(keys=[key], args=[1])) >= 0

        report("redis_gate", *run_threads(threads, units, redis_gate))
        assert int(redis.get(key) or 0) == 0
        redis.delete(key)
    finally:
        Hold.objects.filter(show=show).delete()
        Pin.objects.filter(show=show).delete()
        show.delete()
        product.delete()
        shop.delete()
        User.objects.filter(pk__in=[owner.pk, *(b.pk for b in buyers)]).delete()


if __name__ == "__main__":
    main()
