"""Buy: hold units for a buyer in a show (`hold_create`), one-tap when their defaults
are saved. The gate is `orders.inventory.reserve`, last before COMMIT."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from core.errors import ApiError
from orders import clock, dispatch, inventory, soldout
from orders.models import Hold, Order
from orders.selectors import holds_due_for_expiry, saved_defaults, shipping_fee_quote
from orders.services import notify
from orders.services.checkout import order_open_saved
from orders.services.endings import hold_expire
from orders.services.offer import resolve_offer
from orders.terms import buy_terms, buyer_limit_check


def _sold_out() -> ApiError:
    return ApiError("sold_out", "Sold out: no units left to hold.", status=409)


@dataclass(frozen=True)
class BuyResult:
    hold: Hold
    order: Order | None
    shipping_fee: Decimal


def hold_create(
    *,
    buyer: Any,
    show_id: int,
    product_id: int,
    variant_id: int | None = None,
    quantity: int = 1,
) -> BuyResult:
    """Buy: hold `quantity` units for the buyer, durable before this returns.

    With a default payment method and address saved, this is one-tap: the order is
    created at once in `pending_payment` and its capture is queued after commit.
    Raises 409 show_not_live / not_pinned / limit_exceeded / sold_out, 400
    variant_required / invalid, 404 for an unknown show.
    """
    # sold-out gate (orders/soldout.py): a known sold-out variant costs one Redis call
    if soldout.sold_out_known(
        show_id=show_id, product_id=product_id, variant_id=variant_id, quantity=quantity
    ):
        raise _sold_out()
    offer = resolve_offer(show_id=show_id, product_id=product_id, variant_id=variant_id)
    variant = offer.variant
    limit = offer.limit_per_buyer
    if limit is not None and quantity > limit:
        raise ApiError("limit_exceeded", f"At most {limit} per buyer for this product.", status=409)
    # Unlocked pre-check so a sold-out crowd is answered without touching the hot row;
    # it is only an estimate, the gate is `inventory.reserve` below. Before answering
    # sold_out, release this variant's holds that are already past their expiry.
    # The variant row was just read with the offer: its stock is this estimate.
    if variant.stock_on_hand - variant.held < quantity:
        for hold_id in holds_due_for_expiry(variant_id=variant.pk, limit=20):
            hold_expire(hold_id=hold_id)
        if soldout.sold_out_confirm(  # sold-out gate: the stock read, remembered when 0
            show_id=offer.show.pk,
            product_id=offer.product.pk,
            requested_variant_id=variant_id,
            variant_id=variant.pk,
            limit=limit,
            quantity=quantity,
        ):
            raise _sold_out()
    payment_method, address = saved_defaults(user_id=buyer.pk)
    one_tap = payment_method is not None and address is not None
    if not one_tap:  # a read: keep it out of the transaction
        shipping_fee = shipping_fee_quote(
            buyer=buyer, show=offer.show, variant=variant, quantity=quantity
        )
    now = clock.now()

    with transaction.atomic():
        # The price and limit in force now, read under the show's lock (a re-pin or the
        # show's end racing this buy is either seen here or waits for this commit).
        terms = buy_terms(show_id=offer.show.pk, product_id=offer.product.pk, variant=variant)
        buyer_limit_check(
            buyer_id=buyer.pk,
            show_id=offer.show.pk,
            product_id=offer.product.pk,
            terms=terms,
            quantity=quantity,
            now=now,
        )
        hold = Hold.objects.create(
            buyer_id=buyer.pk,
            show=offer.show,
            product=offer.product,
            variant=variant,
            quantity=quantity,
            unit_price=terms.unit_price,
            currency=offer.product.currency,
            expires_at=now + timedelta(seconds=settings.HOLD_TTL_SECONDS),
            created_at=now,
        )
        order = None
        if one_tap:
            assert payment_method is not None and address is not None
            order = order_open_saved(hold=hold, method=payment_method, address=address, now=now)
            shipping_fee = order.shipping_fee
        # The gate, last before COMMIT (see orders/inventory.py).
        available = inventory.reserve(variant_id=variant.pk, quantity=quantity)
        if available is None:
            raise _sold_out()  # rolls back the hold (and order) above
        inventory.announce_variant(show_id=offer.show.pk, variant=variant, available=available)
        notify.hold_updated(hold)
        if order is not None:
            notify.order_updated(order)
            dispatch.capture_payment_on_commit(order.pk)
    return BuyResult(hold=hold, order=order, shipping_fee=shipping_fee)
