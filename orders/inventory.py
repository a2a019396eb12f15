"""The stock gate: the only code that moves `Variant.held`, and the sale that takes held
units out of on hand. Everything that reserves or releases units goes through here.

INVARIANT (SPEC "No oversell"): for every variant, at every instant,
``0 <= held <= stock_on_hand``, so ``available = stock_on_hand - held >= 0``.

How it holds under any concurrency: each function is ONE conditional UPDATE on the
variant row. PostgreSQL takes the row lock, and under READ COMMITTED re-evaluates the
WHERE clause against the latest committed row after waiting for a concurrent writer,
so two buyers racing for the last unit cannot both see it: the second re-checks
``stock_on_hand - held >= q`` after the first commits and matches no row. The CHECK
constraints on `catalog_variant` (``held >= 0``, ``held <= stock_on_hand``) are the
backstop: a buggy caller fails with IntegrityError instead of committing an oversell.

The callers run these inside their own transaction together with the hold row they
create or end, so the reservation and the hold commit (or roll back) together: the hold
is durable before the buyer is told it exists, and released units come back exactly once
because the caller's guarded ``UPDATE ... WHERE status = 'active'`` ended the hold first.
Call `reserve` as the LAST statement before COMMIT: the hot row's lock is then held for
one round trip, which is what bounds a flash sale's throughput on one variant.

Why PostgreSQL and not a Redis (Lua) counter in front: see docs/checkout.md. In short,
the conditional UPDATE is correct by construction, survives Redis losing its data, and
its measured throughput is far above what one pinned product sells in a live show.
"""

from __future__ import annotations

from django.db import connection

from orders import soldout

_RESERVE = """
UPDATE catalog_variant SET held = held + %s
WHERE id = %s AND stock_on_hand - held >= %s
RETURNING stock_on_hand - held
"""

_RELEASE = """
UPDATE catalog_variant SET held = held - %s
WHERE id = %s AND held >= %s
RETURNING stock_on_hand - held
"""

_SELL = """
UPDATE catalog_variant SET stock_on_hand = stock_on_hand - %s, held = held - %s
WHERE id = %s AND held >= %s
RETURNING stock_on_hand + %s, stock_on_hand, stock_on_hand - held
"""


class StockInvariantBroken(RuntimeError):
    """A release or sale for units that were never held: a bug, never an expected case."""


def reserve(*, variant_id: int, quantity: int) -> int | None:
    """Hold `quantity` units if that many are available; returns the units still
    available afterwards, or None (nothing changed) when there are not enough."""
    with connection.cursor() as cursor:
        cursor.execute(_RESERVE, [quantity, variant_id, quantity])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def release(*, variant_id: int, quantity: int) -> int:
    """Give back `quantity` held units; returns the units available afterwards.

    The caller has just ended the hold with a guarded UPDATE, so this runs once per hold.
    """
    with connection.cursor() as cursor:
        cursor.execute(_RELEASE, [quantity, variant_id, quantity])
        row = cursor.fetchone()
    if row is None:
        raise StockInvariantBroken(f"release of {quantity} unheld units of variant {variant_id}")
    soldout.stock_back(variant_id=variant_id)  # sold-out gate: units came back
    return int(row[0])


def sell(*, variant_id: int, quantity: int) -> tuple[int, int, int]:
    """Take `quantity` held units out of on hand (a paid order). Returns
    ``(on_hand_before, on_hand_after, available)``; available does not change."""
    with connection.cursor() as cursor:
        cursor.execute(_SELL, [quantity, quantity, variant_id, quantity, quantity])
        row = cursor.fetchone()
    if row is None:
        raise StockInvariantBroken(f"sale of {quantity} unheld units of variant {variant_id}")
    return int(row[0]), int(row[1]), int(row[2])


def available(*, variant_id: int) -> int:
    """Units on sale now (an unlocked read: an estimate for fast answers, never a gate)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stock_on_hand - held FROM catalog_variant WHERE id = %s", [variant_id]
        )
        row = cursor.fetchone()
    return 0 if row is None else int(row[0])
