"""Stock's one owner: every change to a variant's `stock_on_hand` and `held`, and the
`stock.changed` event that announces it.

- Checkout moves `held`: `reserve` (a hold), `release` (a hold ended), `sell` (a paid
  order: held units leave on hand). Sellers and systems move `stock_on_hand`: `adjust`
  and `adjust_many` (a manual change, a restock, the CSV import), each with its ledger
  line (`StockAdjustment`). Nothing else writes these two columns (`product_create`
  inserts new variants with their initial stock and ledger line).
- `announce` builds `stock.changed` {product, variant, available} (SPEC: a broadcast,
  audience `everyone`, streams/audience.py). A change made in a show (a buy, an offer,
  a hold ending, an auction's unit) is announced in that show; a change made outside any
  show (an adjustment) in every live show pinning the product. A sale moves units from
  held to sold without changing what is available: it is not announced.

Why here and not in catalog: announcing needs shows and pins (streams), and catalog sits
below streams and orders (core <- catalog <- streams/orders <- pages). Catalog reaches
`adjust` / `adjust_many` through `catalog.stock`, where `OrdersConfig.ready` registers
this module, so catalog imports nothing above it.

INVARIANT (SPEC "No oversell"): for every variant, at every instant,
``0 <= held <= stock_on_hand``, so ``available = stock_on_hand - held >= 0``.

How it holds under any concurrency: each change is ONE conditional UPDATE on the
variant row. PostgreSQL takes the row lock, and under READ COMMITTED re-evaluates the
WHERE clause against the latest committed row after waiting for a concurrent writer,
so two buyers racing for the last unit cannot both see it: the second re-checks
``stock_on_hand - held >= q`` after the first commits and matches no row; an adjustment
only goes through while on hand after it still covers the held units. The CHECK
constraints on `catalog_variant` (``held >= 0``, ``held <= stock_on_hand``) are the
backstop: a buggy caller fails with IntegrityError instead of committing an oversell.

The checkout callers run these inside their own transaction together with the hold row
they create or end, so the reservation and the hold commit (or roll back) together: the
hold is durable before the buyer is told it exists, and released units come back exactly
once because the caller's guarded ``UPDATE ... WHERE status = 'active'`` ended the hold
first. Call `reserve` as the LAST statement before COMMIT: the hot row's lock is then
held for one round trip, which is what bounds a flash sale's throughput on one variant.

Why PostgreSQL and not a Redis (Lua) counter in front: see docs/checkout.md. In short,
the conditional UPDATE is correct by construction, survives Redis losing its data, and
its measured throughput is far above what one pinned product sells in a live show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction

from catalog import rules
from catalog.models import StockAdjustment, Variant
from catalog.stock import InsufficientStock
from core import generations
from core.errors import InternalError, Invalid, NotFound
from streams.events import emit_show_event
from streams.models import Pin, Show

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


class StockInvariantBroken(InternalError):
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
    generations.stock_back(variant_id=variant_id)  # sold-out gate: units came back
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


# --------------------------------------------------------------------------- on hand

# The same invariant for a change of on hand: the WHERE clause only lets the UPDATE
# through when on hand after the change still covers the held units (and stays under
# `rules.MAX_STOCK`), so concurrent adjustments and holds serialize on the row lock.
_ADJUST = """
UPDATE catalog_variant SET stock_on_hand = stock_on_hand + %(delta)s
WHERE id = %(id)s
  AND stock_on_hand + %(delta)s >= held
  AND stock_on_hand + %(delta)s <= %(max)s
RETURNING stock_on_hand, held, product_id
"""

_LOCK_MANY = "SELECT id FROM catalog_variant WHERE id = ANY(%s) ORDER BY id FOR UPDATE"

_ADJUST_MANY = """
UPDATE catalog_variant AS v SET stock_on_hand = v.stock_on_hand + d.delta
FROM (VALUES {values}) AS d(id, delta)
WHERE v.id = d.id
  AND v.stock_on_hand + d.delta >= v.held
  AND v.stock_on_hand + d.delta <= %s
RETURNING v.id, v.stock_on_hand, v.held, v.product_id
"""


def _check_adjustment(*, reason: str, kind: str) -> str:
    reason = reason.strip()
    if not reason:
        raise Invalid("A stock change needs a reason.", details={"reason": ["Required."]})
    if kind not in StockAdjustment.Kind.values:
        raise Invalid("Unknown adjustment kind.", details={"kind": [f"Unknown kind {kind!r}."]})
    return reason[:500]


def adjust(
    *,
    variant_id: int,
    delta: int,
    reason: str,
    actor: Any,
    kind: str = StockAdjustment.Kind.MANUAL,
    show_id: int | None = None,
) -> StockAdjustment:
    """Add `delta` (may be negative) to a variant's on-hand stock and write the ledger line.

    Raises 409 `insufficient_stock` when the change would take available stock
    (on hand - held) below zero, `Invalid` for a zero delta, a blank reason or an on-hand
    above `rules.MAX_STOCK`, and `NotFound` for an unknown variant. `actor` is None for
    system changes. Announced after commit (`announce`): in `show_id` if given, else in
    every live show pinning the product."""
    reason = _check_adjustment(reason=reason, kind=kind)
    if delta == 0:
        raise Invalid("A stock change cannot be zero.", details={"delta": ["Must not be 0."]})
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_ADJUST, {"id": variant_id, "delta": delta, "max": rules.MAX_STOCK})
            row = cursor.fetchone()
        if row is None:
            _raise_adjust_refused(variant_id=variant_id, delta=delta)
        on_hand_after, held, product_id = row
        if delta > 0:
            generations.stock_back(variant_id=variant_id)  # sold-out gate: units came back
        entry = StockAdjustment.objects.create(
            variant_id=variant_id,
            kind=kind,
            delta=delta,
            reason=reason,
            actor=actor,
            on_hand_before=on_hand_after - delta,
            on_hand_after=on_hand_after,
        )
        announce([(product_id, variant_id, on_hand_after - held)], show_id=show_id)
    return entry


def _raise_adjust_refused(*, variant_id: int, delta: int) -> None:
    current = Variant.objects.filter(pk=variant_id).values("stock_on_hand", "held").first()
    if current is None:
        raise NotFound("No such variant.")
    if current["stock_on_hand"] + delta > rules.MAX_STOCK:
        raise Invalid(
            f"Stock on hand cannot exceed {rules.MAX_STOCK}.", details={"delta": ["Too large."]}
        )
    available = current["stock_on_hand"] - current["held"]
    raise InsufficientStock(
        f"Only {available} units are available; this change would take stock below zero.",
        details={"variant": variant_id, "available": available},
    )


def adjust_many(
    *, changes: Sequence[tuple[int, int]], reason: str, actor: Any, kind: str
) -> list[StockAdjustment]:
    """Apply several `(variant_id, delta)` changes all-or-nothing (used by the CSV import).

    Same rule as `adjust`, as one conditional UPDATE for the whole batch. Rows are locked
    in primary-key order first, so two batches never deadlock each other. Raises
    `InsufficientStock` (nothing applied) naming the variants that would go below zero.
    """
    reason = _check_adjustment(reason=reason, kind=kind)
    changes = [(int(v), int(d)) for v, d in changes if d]
    if not changes:
        return []
    ids = [v for v, _ in changes]
    if len(set(ids)) != len(ids):
        raise InternalError("adjust_many: a variant appears twice")
    sql = _ADJUST_MANY.format(values=", ".join(["(%s::bigint, %s::integer)"] * len(changes)))
    params: list[int] = [x for pair in changes for x in pair]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_MANY, [ids])
            cursor.execute(sql, [*params, rules.MAX_STOCK])
            rows = {r[0]: r[1:] for r in cursor.fetchall()}
        refused = [v for v in ids if v not in rows]
        if refused:
            raise InsufficientStock(
                "These changes would take available stock below zero.",
                details={"variants": refused},
            )
        deltas = dict(changes)
        for variant_id in (v for v, d in changes if d > 0):
            generations.stock_back(variant_id=variant_id)  # sold-out gate: units came back
        entries = StockAdjustment.objects.bulk_create(
            StockAdjustment(
                variant_id=variant_id,
                kind=kind,
                delta=deltas[variant_id],
                reason=reason,
                actor=actor,
                on_hand_before=on_hand - deltas[variant_id],
                on_hand_after=on_hand,
            )
            for variant_id, (on_hand, _held, _product) in rows.items()
        )
        announce(
            [(product_id, vid, on_hand - held) for vid, (on_hand, held, product_id) in rows.items()]
        )
    return entries


# --------------------------------------------------------------------------- the event


def announce(changes: Sequence[tuple[int, int, int]], *, show_id: int | None = None) -> None:
    """THE `stock.changed` builder: {product, variant, available} for each
    `(product_id, variant_id, available)`, after commit. To `show_id` when the change was
    made in a show (no query: this runs on the buy path, after `reserve`); otherwise to
    every live show where the product is pinned now."""
    if show_id is not None:
        audiences: dict[int, list[int]] = {p: [show_id] for p, _, _ in changes}
    else:
        audiences = {}
        pins = Pin.objects.filter(
            product_id__in={p for p, _, _ in changes},
            unpinned_at__isnull=True,
            show__status=Show.Status.LIVE,
        ).values_list("show_id", "product_id")
        for pin_show_id, product_id in pins:
            audiences.setdefault(product_id, []).append(pin_show_id)
    for product_id, variant_id, available in changes:
        for target in audiences.get(product_id, []):
            emit_show_event(
                show_id=target,
                type="stock.changed",
                data={"product": product_id, "variant": variant_id, "available": available},
                latest_of=variant_id,  # a newer count of the variant replaces this one
            )


def announce_variant(*, show_id: int, variant: Variant, available: int) -> None:
    """`announce` one variant's count in the show where it changed."""
    announce([(variant.product_id, variant.pk, available)], show_id=show_id)
