"""Checkout: an active hold becomes an order in `pending_payment` (`hold_checkout`, or
at once for a one-tap buyer) and its capture is queued after commit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from core.errors import Invalid, InvalidState, NotFound
from orders import clock, dispatch
from orders.models import Address, Hold, Order, PaymentMethod
from orders.payments import get_provider
from orders.payments.base import UnknownToken
from orders.selectors import saved_defaults, shipping_fee_for_weight
from orders.serializers import order_data
from orders.services import notify
from orders.services.shipping import shipment_for_update
from webhooks.services import event_record

CENT = Decimal("0.01")


def _resolve_payment(*, buyer: Any, payment_method: str) -> tuple[str, PaymentMethod | None]:
    """A saved method's id (the buyer's own) or a provider token."""
    if payment_method.isdigit():
        saved = PaymentMethod.objects.filter(user_id=buyer.pk, pk=int(payment_method)).first()
        if saved is None:
            raise Invalid(
                "Unknown payment method.", details={"payment_method": ["No such saved method."]}
            )
        return saved.token, saved
    try:
        get_provider().describe(payment_method)
    except UnknownToken:
        raise Invalid(
            "Unknown payment token.", details={"payment_method": ["Unknown payment token."]}
        ) from None
    return payment_method, None


def _resolve_address(*, buyer: Any, address: int | dict[str, str]) -> dict[str, str]:
    if isinstance(address, dict):
        return address
    saved = Address.objects.filter(user_id=buyer.pk, pk=address).first()
    if saved is None:
        raise Invalid("Unknown address.", details={"address": ["No such saved address."]})
    return saved.snapshot()


def hold_checkout(
    *, buyer: Any, hold_id: int, payment_method: str, address: int | dict[str, str]
) -> Order:
    """Turn an active hold into an order in `pending_payment` and queue its capture.

    `payment_method` is a saved method id or a provider token; `address` a saved id or
    an address object (validated by the caller). 409 invalid_state unless the hold is
    active, unexpired and has no order yet.
    """
    token, saved_method = _resolve_payment(buyer=buyer, payment_method=payment_method)
    address_data = _resolve_address(buyer=buyer, address=address)
    now = clock.now()
    with transaction.atomic():
        hold = (
            Hold.objects.select_for_update()
            .select_related("variant", "variant__product")
            .filter(pk=hold_id, buyer_id=buyer.pk)
            .first()
        )
        if hold is None:
            raise NotFound("No such hold.")
        status = hold.status_at(now)
        if hold.order_id is not None:
            raise InvalidState(
                "This hold is already checked out.",
                details={"status": status, "order": hold.order_id},
            )
        if status != Hold.Status.ACTIVE:
            raise InvalidState(f"This hold is {status}.", details={"status": status})
        order = order_open(
            hold=hold,
            payment_token=token,
            payment_method=saved_method,
            address=address_data,
            now=now,
        )
        notify.order_updated(order)
        notify.hold_updated(hold)
        dispatch.capture_payment_on_commit(order.pk)
    return order


def order_open_one_tap(*, hold: Hold, now: datetime) -> Order | None:
    """One-tap for a hold the buyer did not check out themselves (an auction won): with
    their default payment method and address saved, open the order, tell the buyer and
    queue its capture after commit; else None (the hold waits for checkout). Inside the
    caller's transaction, with the hold locked."""
    method, address = saved_defaults(user_id=hold.buyer_id)
    if method is None or address is None:
        return None
    order = order_open_saved(hold=hold, method=method, address=address, now=now)
    notify.order_updated(order)
    dispatch.capture_payment_on_commit(order.pk)
    return order


def order_open_saved(
    *, hold: Hold, method: PaymentMethod, address: Address, now: datetime
) -> Order:
    """`order_open` with the buyer's saved payment method and address (one-tap)."""
    return order_open(
        hold=hold,
        payment_token=method.token,
        payment_method=method,
        address=address.snapshot(),
        now=now,
    )


def order_open(
    *,
    hold: Hold,
    payment_token: str,
    payment_method: PaymentMethod | None,
    address: dict[str, str],
    now: datetime,
) -> Order:
    """Create the order for an active hold, joining the buyer's open shipment for this
    shop and show (one parcel, one fee). Caller holds the hold (new or locked)."""
    variant = hold.variant
    shop_id = variant.shop_id
    shipment = shipment_for_update(buyer_id=hold.buyer_id, shop_id=shop_id, show_id=hold.show_id)
    if hold.currency != shipment.currency:  # never add amounts of two currencies
        raise InvalidState(
            f"This hold is priced in {hold.currency}; the shop ships in {shipment.currency}.",
            details={"currency": hold.currency, "shop_currency": shipment.currency},
        )
    weight = variant.effective_weight_grams * hold.quantity
    parcel_fee = shipping_fee_for_weight(
        shop_id=shop_id, weight_grams=shipment.weight_grams + weight
    )
    fee = max(Decimal("0.00"), parcel_fee - shipment.fee_charged)
    shipment.weight_grams += weight
    shipment.fee_charged += fee
    # A purchase that joins a parcel pays whatever the parcel's fee still lacked
    # (`fee_uncollected`, left by a fee-carrying order that left): nothing is owed now.
    shipment.fee_uncollected = Decimal("0.00")
    shipment.save(update_fields=["weight_grams", "fee_charged", "fee_uncollected"])
    subtotal = (hold.unit_price * hold.quantity).quantize(CENT)
    order = Order.objects.create(
        buyer_id=hold.buyer_id,
        shop_id=shop_id,
        show_id=hold.show_id,
        product_id=hold.product_id,
        variant=variant,
        quantity=hold.quantity,
        unit_price=hold.unit_price,
        subtotal=subtotal,
        shipping_fee=fee,
        total=subtotal + fee,
        currency=hold.currency,
        payment_token=payment_token,
        payment_method=payment_method,
        shipping_address=address,
        shipment=shipment,
        created_at=now,
    )
    hold.order = order
    hold.save(update_fields=["order"])
    event_record(shop_id=shop_id, type="order.created", data=order_data(order))
    return order
