"""Checkout reads: a buyer's holds and orders, a shop's orders and shipments, the shipping
fee quote, and the orders the recovery sweep must re-queue."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from catalog.models import Shop, Variant
from catalog.selectors import user_can_manage_shop
from core.errors import Forbidden, NotFound
from core.rows import ModelColumns, table
from orders import clock
from orders.models import (
    Address,
    Hold,
    Order,
    PaymentAttempt,
    PaymentMethod,
    Refund,
    Shipment,
    ShippingRate,
)
from orders.payment_lock import held_capture_locks
from streams.models import Pin, Show

# Used when a shop has no `ShippingRate` rows: (max grams or None for "heavier", fee).
DEFAULT_SHIPPING_RATES: list[tuple[int | None, Decimal]] = [
    (500, Decimal("4.99")),
    (2000, Decimal("7.99")),
    (None, Decimal("12.99")),
]


def shipping_rates_for_shop(*, shop_id: int) -> list[tuple[int | None, Decimal]]:
    """The shop's fee table, lightest bracket first (the default table if it has none)."""
    rows = [(r.max_weight_grams, r.fee) for r in ShippingRate.objects.filter(shop_id=shop_id)]
    return rows or DEFAULT_SHIPPING_RATES


def shipping_fee_for_weight(*, shop_id: int, weight_grams: int) -> Decimal:
    """The fee for one parcel of `weight_grams` (0 for an empty parcel)."""
    if weight_grams <= 0:
        return Decimal("0.00")
    return _fee_from_rates(
        rates=shipping_rates_for_shop(shop_id=shop_id), weight_grams=weight_grams
    )


def _fee_from_rates(*, rates: list[tuple[int | None, Decimal]], weight_grams: int) -> Decimal:
    if weight_grams <= 0:
        return Decimal("0.00")
    for max_grams, fee in rates:
        if max_grams is None or weight_grams <= max_grams:
            return fee
    return rates[-1][1]  # heavier than every bracket and no open-ended row: the top fee


# The buyer's open parcel and the shop's fee table in one round trip (the buy path quotes
# a fee on every buy). One row per rate (lightest first, as `ShippingRate.Meta.ordering`),
# each carrying the parcel's columns (NULL when there is no open parcel); one row of NULL
# rates when the shop has none. The partial unique index allows one open parcel.
_PARCEL_AND_RATES = """
SELECT s.weight_grams, s.fee_charged, r.max_weight_grams, r.fee
FROM (SELECT 1) AS one
LEFT JOIN orders_shipment AS s
    ON s.buyer_id = %s AND s.shop_id = %s AND s.show_id = %s AND s.status = %s
LEFT JOIN orders_shippingrate AS r ON r.shop_id = %s
ORDER BY r.max_weight_grams ASC NULLS LAST
"""


def _parcel_and_rates(
    *, buyer_id: int, shop_id: int, show_id: int
) -> tuple[int, Decimal, list[tuple[int | None, Decimal]]]:
    """(open parcel's weight, its fee charged, the shop's fee table) in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            _PARCEL_AND_RATES, [buyer_id, shop_id, show_id, Shipment.Status.OPEN, shop_id]
        )
        rows = cursor.fetchall()
    weight, charged = rows[0][0] or 0, rows[0][1] if rows[0][1] is not None else Decimal("0")
    rates = [(int(g) if g is not None else None, fee) for _, _, g, fee in rows if fee is not None]
    return int(weight), charged, rates or DEFAULT_SHIPPING_RATES


def shipping_fee_quote(*, buyer: Any, show: Show, variant: Variant, quantity: int) -> Decimal:
    """What buying `quantity` of `variant` in `show` adds to this buyer's shipping: the fee
    for the parcel's weight afterwards minus what the parcel has already been charged
    (bundled shipping: usually 0 for a second purchase in the same show)."""
    added = variant.effective_weight_grams * quantity
    if getattr(buyer, "is_authenticated", False):
        weight, charged, rates = _parcel_and_rates(
            buyer_id=buyer.pk, shop_id=show.shop_id, show_id=show.pk
        )
        fee = _fee_from_rates(rates=rates, weight_grams=weight + added)
        return max(Decimal("0.00"), fee - charged)
    return max(Decimal("0.00"), shipping_fee_for_weight(shop_id=show.shop_id, weight_grams=added))


def pin_shipping_fee(*, buyer: Any, pin: Pin) -> Decimal:
    """`shipping_fee` on the current pin for a signed-in viewer: what one unit would add
    (the first variant's weight; variants of one product weigh alike in practice)."""
    variants = list(pin.product.variants.all())
    if not variants:
        return Decimal("0.00")
    variant = variants[0]
    variant.product = pin.product  # already loaded; spare the query
    return shipping_fee_quote(buyer=buyer, show=pin.show, variant=variant, quantity=1)


def holds_for_buyer(*, buyer: Any) -> QuerySet[Hold]:
    return Hold.objects.filter(buyer_id=buyer.pk).select_related("order")


def hold_for_buyer(*, buyer: Any, hold_id: int) -> Hold:
    hold = holds_for_buyer(buyer=buyer).filter(pk=hold_id).first()
    if hold is None:
        raise NotFound("No such hold.")
    return hold


def orders_for_buyer(*, buyer: Any) -> QuerySet[Order]:
    return Order.objects.filter(buyer_id=buyer.pk).select_related("shipment", "hold")


def order_for_buyer(*, buyer: Any, order_id: int) -> Order:
    order = orders_for_buyer(buyer=buyer).filter(pk=order_id).first()
    if order is None:
        raise NotFound("No such order.")
    return order


def payment_methods_for_user(*, user: Any) -> QuerySet[PaymentMethod]:
    return PaymentMethod.objects.filter(user_id=user.pk)


def addresses_for_user(*, user: Any) -> QuerySet[Address]:
    return Address.objects.filter(user_id=user.pk)


def shop_for_manager(*, user: Any, shop_id: int) -> Shop:
    """The shop, if the user is its owner or staff (or platform staff); 404 / 403 otherwise."""
    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None:
        raise NotFound("No such shop.")
    if not (user.is_staff or user_can_manage_shop(user=user, shop=shop)):
        raise Forbidden("Only the shop's owner and staff see its orders.")
    return shop


def orders_for_shop(*, shop: Shop) -> QuerySet[Order]:
    return Order.objects.filter(shop=shop).select_related("shipment", "hold")


def shipments_for_shop(*, shop: Shop) -> QuerySet[Shipment]:
    return Shipment.objects.filter(shop=shop).prefetch_related("orders")


def orders_stuck_in_payment(*, limit: int = 200) -> list[int]:
    """Orders in `pending_payment` whose capture is not running and must be queued again:

    - a `started` attempt whose capture lock is free died with its worker
      (`orders.payment_lock`): found at once, no waiting for an age;
    - nothing happening for `PAYMENT_STUCK_SECONDS` (no attempt, or none finished
      recently, which would mean a retry with backoff is due): their task was lost.

    An order whose capture lock is held has an attempt running: never listed."""
    now = clock.now()
    quiet_since = now - timedelta(seconds=settings.PAYMENT_STUCK_SECONDS)
    started = PaymentAttempt.objects.filter(
        order=OuterRef("pk"), status=PaymentAttempt.Status.STARTED
    )
    recent = PaymentAttempt.objects.filter(order=OuterRef("pk"), finished_at__gt=quiet_since)
    candidates = list(
        Order.objects.filter(status=Order.Status.PENDING_PAYMENT)
        .filter(Exists(started) | (Q(created_at__lt=quiet_since) & ~Exists(recent)))
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    # Read the locks after the attempts: an attempt seen `started` above committed while
    # holding its lock, so a lock found free now means it died (or just finished, which
    # the capture task then sees and does nothing).
    running = held_capture_locks(order_ids=candidates)
    return [order_id for order_id in candidates if order_id not in running]


def refunds_unsettled(*, limit: int = 200) -> list[int]:
    """Refunds decided at least `PAYMENT_STUCK_SECONDS` ago whose provider call was never
    recorded (its worker died after the decision committed): `refund_settle` them."""
    quiet_since = clock.now() - timedelta(seconds=settings.PAYMENT_STUCK_SECONDS)
    return list(
        Refund.objects.filter(settled_at__isnull=True, created_at__lt=quiet_since)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


def reversals_unfinished(*, limit: int = 200) -> list[int]:
    """Captures marked `reversed` at least `PAYMENT_STUCK_SECONDS` ago whose reversal was
    never recorded (`finished_at` empty): `capture_reverse` them."""
    quiet_since = clock.now() - timedelta(seconds=settings.PAYMENT_STUCK_SECONDS)
    return list(
        PaymentAttempt.objects.filter(
            status=PaymentAttempt.Status.REVERSED,
            finished_at__isnull=True,
            started_at__lt=quiet_since,
        )
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


def holds_due_for_expiry(*, variant_id: int | None = None, limit: int = 500) -> list[int]:
    """Active holds past `expires_at` with no order (a pending payment blocks expiry)."""
    qs = Hold.objects.filter(
        status=Hold.Status.ACTIVE, order__isnull=True, expires_at__lte=clock.now()
    )
    if variant_id is not None:
        qs = qs.filter(variant_id=variant_id)
    return list(qs.order_by("expires_at", "id").values_list("id", flat=True)[:limit])


_SAVED_METHOD = ModelColumns(PaymentMethod, "pm")
_SAVED_ADDRESS = ModelColumns(Address, "ad")


def saved_defaults(*, user_id: int) -> tuple[PaymentMethod | None, Address | None]:
    """The user's default payment method and default address (each None when not saved),
    in one statement: what one-tap needs, read on every buy and every bid. (At most one
    default of each per user: the partial unique constraints in orders/models.py.)"""
    sql = (
        f"SELECT {_SAVED_METHOD.sql}, {_SAVED_ADDRESS.sql} FROM (SELECT 1) AS one"  # noqa: S608
        f" LEFT JOIN {table(PaymentMethod)} AS pm ON pm.user_id = %s AND pm.is_default"
        f" LEFT JOIN {table(Address)} AS ad ON ad.user_id = %s AND ad.is_default"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, user_id])
        row = cursor.fetchone()
    return _SAVED_METHOD.build(row, 0), _SAVED_ADDRESS.build(row, len(_SAVED_METHOD))
