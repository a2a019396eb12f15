"""No oversell under concurrency: many threads adjusting stock while others place and
release holds, against the real PostgreSQL (SPEC "Invariants")."""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field

import pytest
from django.db import connection, connections, transaction

from catalog.models import StockAdjustment
from catalog.services import InsufficientStock, stock_adjust
from tests.factories import ProductFactory

THREADS = 16
OPS_PER_THREAD = 30
INITIAL = 20

# What a hold does to stock: raise `held` only while available covers it.
HOLD_SQL = (
    "UPDATE catalog_variant SET held = held + %s WHERE id = %s AND stock_on_hand - held >= %s"
)
RELEASE_SQL = "UPDATE catalog_variant SET held = held - %s WHERE id = %s AND held >= %s"


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    deltas: list[int] = field(default_factory=list)
    refused: int = 0
    held: int = 0
    min_available_seen: int = 10**9
    errors: list[BaseException] = field(default_factory=list)


def worker(variant_id: int, seed: int, tally: Tally, start: threading.Barrier) -> None:
    rng = random.Random(seed)
    my_holds: list[int] = []
    try:
        start.wait()
        for _ in range(OPS_PER_THREAD):
            op = rng.random()
            if op < 0.6:
                delta = rng.choice([-4, -3, -2, -1, 1, 2, 3])
                try:
                    stock_adjust(
                        variant_id=variant_id, delta=delta, reason="race", actor=None, kind="manual"
                    )
                    with tally.lock:
                        tally.deltas.append(delta)
                except InsufficientStock:
                    with tally.lock:
                        tally.refused += 1
            elif op < 0.85:
                qty = rng.randint(1, 2)
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(HOLD_SQL, [qty, variant_id, qty])
                    if cursor.rowcount:
                        my_holds.append(qty)
                        with tally.lock:
                            tally.held += qty
            elif my_holds:
                qty = my_holds.pop()
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(RELEASE_SQL, [qty, variant_id, qty])
                    assert cursor.rowcount == 1
                with tally.lock:
                    tally.held -= qty
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT stock_on_hand - held FROM catalog_variant WHERE id = %s", [variant_id]
                )
                available = cursor.fetchone()[0]
            with tally.lock:
                tally.min_available_seen = min(tally.min_available_seen, available)
    except BaseException as exc:
        tally.errors.append(exc)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_concurrent_adjustments_and_holds_never_oversell():
    variant = ProductFactory(stock=INITIAL).variants.get()
    tally = Tally()
    start = threading.Barrier(THREADS)
    threads = [
        threading.Thread(target=worker, args=(variant.pk, seed, tally, start))
        for seed in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert tally.errors == []

    variant.refresh_from_db()
    # Both sides really raced: some changes went through and some were refused.
    assert tally.deltas and tally.refused > 0
    assert tally.min_available_seen >= 0
    assert 0 <= variant.held <= variant.stock_on_hand
    assert variant.held == tally.held
    assert variant.stock_on_hand == INITIAL + sum(tally.deltas)

    # The ledger: one line per successful change, summing to on hand, each line
    # starting where the previous one ended (the row lock serializes them).
    lines = list(StockAdjustment.objects.filter(variant=variant).order_by("id"))
    assert len(lines) == 1 + len(tally.deltas)
    assert sum(line.delta for line in lines) == variant.stock_on_hand
    for before, after in itertools.pairwise(lines):
        assert after.on_hand_before == before.on_hand_after
        assert after.on_hand_after == after.on_hand_before + after.delta
