"""Benchmark: `catalog.services.stock_adjust` under contention, and a 1,000-row CSV import.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lc_catalog \
        /tmp/v/bin/python bench/stock_adjust.py [--threads 8] [--ops 200]

Runs `migrate` on that database, works in a throwaway shop and deletes it afterwards.
Every thread adjusts the *same* variant (the worst case: all writers queue on one row
lock), then each its own variant (no contention), and prints throughput and latency.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livecommerce.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402

from catalog.importing import catalog_import  # noqa: E402
from catalog.models import Shop, StockAdjustment, Variant  # noqa: E402
from catalog.services import (  # noqa: E402
    InsufficientStock,
    VariantInput,
    product_create,
    stock_adjust,
)


def run(variant_ids: list[int], threads: int, ops: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    refused = 0
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def worker(i: int) -> None:
        nonlocal refused
        variant_id = variant_ids[i % len(variant_ids)]
        mine: list[float] = []
        barrier.wait()
        for n in range(ops):
            t = time.perf_counter()
            try:
                stock_adjust(
                    variant_id=variant_id,
                    delta=1 if n % 2 else -1,
                    reason="bench",
                    actor=None,
                    kind="manual",
                )
            except InsufficientStock:
                with lock:
                    refused += 1
            mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)
        connections.close_all()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - start, latencies, refused


def report(label: str, elapsed: float, latencies: list[float], refused: int) -> None:
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"{label:<28} {len(latencies) / elapsed:8.0f} adj/s   "
        f"p50 {statistics.median(latencies) * 1000:6.2f} ms   p99 {p99 * 1000:6.2f} ms   "
        f"refused {refused}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--ops", type=int, default=200)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    owner, _ = get_user_model().objects.get_or_create(username="bench-catalog")
    shop = Shop.objects.create(owner=owner, name="bench")
    try:
        variants = []
        for i in range(args.threads):
            product = product_create(
                shop=shop,
                actor=owner,
                title=f"Bench {i}",
                price=__import__("decimal").Decimal("1.00"),
                variants=[VariantInput(sku=f"B-{i}", stock_on_hand=1000)],
            )
            variants.append(product.variants.get().pk)
        total = args.threads * args.ops
        print(f"{args.threads} threads x {args.ops} adjustments ({total} in all)")
        report("one variant (contended)", *run(variants[:1], args.threads, args.ops))
        report("one variant per thread", *run(variants, args.threads, args.ops))
        variant = Variant.objects.get(pk=variants[0])
        ledger = sum(
            StockAdjustment.objects.filter(variant=variant).values_list("delta", flat=True)
        )
        assert ledger == variant.stock_on_hand, (ledger, variant.stock_on_hand)

        header = "sku,product_handle,title,options,price,stock_on_hand\n"
        rows = "".join(
            f"C-{p}-{s},cp-{p},Product {p},size={s},9.99,{{stock}}\n"
            for p in range(250)
            for s in ("S", "M", "L", "XL")
        )
        for label, stock in (("import 1,000 new rows", 5), ("import 1,000 stock changes", 7)):
            data = (header + rows.replace("{stock}", str(stock))).encode()
            t = time.perf_counter()
            catalog_import(shop=shop, actor=owner, data=data, dry_run=False)
            print(f"{label:<28} {(time.perf_counter() - t) * 1000:8.0f} ms")
    finally:
        StockAdjustment.objects.filter(variant__shop=shop).delete()
        shop.delete()


if __name__ == "__main__":
    main()
