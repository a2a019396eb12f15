"""Bundled shipping: one parcel per buyer, shop and show (`shipment_for_update`), an
order leaving it (`shipment_remove`), and the seller shipping and delivering it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from catalog.selectors import user_can_manage_shop
from core.errors import InternalError, InvalidState, NotFound
from orders import clock
from orders.models import Order, Shipment
from orders.selectors import shipping_fee_for_weight
from orders.serializers import shipment_data
from orders.services import notify
from streams.models import Show
from webhooks.services import event_record


def shipment_for_update(*, buyer_id: int, shop_id: int, show_id: int) -> Shipment:
    """The buyer's open shipment for this shop and show, locked; created if none. The
    partial unique index makes a concurrent creator wait, then fail and re-read."""
    key = {"buyer_id": buyer_id, "shop_id": shop_id, "show_id": show_id}
    for _ in range(3):
        shipment = (
            Shipment.objects.select_for_update().filter(**key, status=Shipment.Status.OPEN).first()
        )
        if shipment is not None:
            return shipment
        try:
            with transaction.atomic():
                currency = Show.objects.values_list("shop__currency", flat=True).get(pk=show_id)
                return Shipment.objects.create(**key, currency=currency)
        except IntegrityError:
            continue
    raise InternalError("could not open a shipment")  # pragma: no cover - needs 3 lost races


def shipment_remove(*, order: Order) -> None:
    """Take a not-yet-shipped order back out of its parcel (weight and its fee).

    The order's own fee goes with it (a cancelled or refunded order is refunded in full,
    a failed one never paid). When it carried the parcel's fee and other orders stay, the
    parcel's fee for what is left is then not (fully) collected: `fee_uncollected` says
    how much, and the seller sees it on the shipment before shipping; the buyer's next
    purchase into the same parcel pays it (docs/checkout.md, "Bundled shipping")."""
    if order.shipment_id is None:
        return
    shipment = Shipment.objects.select_for_update().get(pk=order.shipment_id)
    if shipment.status != Shipment.Status.OPEN:
        return
    weight = order.variant.effective_weight_grams * order.quantity
    shipment.weight_grams = max(0, shipment.weight_grams - weight)
    shipment.fee_charged = max(Decimal("0.00"), shipment.fee_charged - order.shipping_fee)
    due = shipping_fee_for_weight(shop_id=shipment.shop_id, weight_grams=shipment.weight_grams)
    shipment.fee_uncollected = max(Decimal("0.00"), due - shipment.fee_charged)
    shipment.save(update_fields=["weight_grams", "fee_charged", "fee_uncollected"])


def _shipment_lock(*, actor: Any, shipment_id: int) -> tuple[Shipment, list[Order]]:
    """The parcel and its orders, locked (orders first, as everywhere else), if the actor
    manages its shop or is platform staff; 404 otherwise."""
    shipment = Shipment.objects.select_related("shop").filter(pk=shipment_id).first()
    if shipment is None or not (
        actor.is_staff or user_can_manage_shop(user=actor, shop=shipment.shop)
    ):
        raise NotFound("No such shipment.")
    orders = list(Order.objects.select_for_update().filter(shipment=shipment).order_by("id"))
    return Shipment.objects.select_for_update().get(pk=shipment_id), orders


def shipment_ship(*, actor: Any, shipment_id: int, carrier: str, tracking_number: str) -> Shipment:
    """Ship a parcel: its paid orders become `shipped`. 409 while one of its orders is
    still waiting for payment, or when nothing in it is paid."""
    now = clock.now()
    with transaction.atomic():
        shipment, orders = _shipment_lock(actor=actor, shipment_id=shipment_id)
        if shipment.status != Shipment.Status.OPEN:
            raise InvalidState(
                f"This shipment is {shipment.status}.", details={"status": shipment.status}
            )
        late = Order.objects.filter(shipment=shipment).exclude(pk__in=[o.pk for o in orders])
        if late.exists() or any(o.status == Order.Status.PENDING_PAYMENT for o in orders):
            raise InvalidState("An order in this parcel is still waiting for payment.")
        paid = [o for o in orders if o.status == Order.Status.PAID]
        if not paid:
            raise InvalidState("Nothing in this parcel is paid.")
        shipment.status, shipment.shipped_at = Shipment.Status.SHIPPED, now
        shipment.carrier, shipment.tracking_number = carrier, tracking_number
        shipment.save(update_fields=["status", "shipped_at", "carrier", "tracking_number"])
        _parcel_moved(shipment, paid, Order.Status.SHIPPED, "shipment.shipped")
    return shipment


def shipment_deliver(*, actor: Any, shipment_id: int) -> Shipment:
    """Mark a shipped parcel delivered: `delivered_at` is set and its shipped orders
    become `delivered` (the dispute window counts from here). 409 unless shipped."""
    now = clock.now()
    with transaction.atomic():
        shipment, orders = _shipment_lock(actor=actor, shipment_id=shipment_id)
        if shipment.status != Shipment.Status.SHIPPED:
            raise InvalidState(
                f"Only a shipped parcel can be delivered; this one is {shipment.status}.",
                details={"status": shipment.status},
            )
        shipment.status, shipment.delivered_at = Shipment.Status.DELIVERED, now
        shipment.save(update_fields=["status", "delivered_at"])
        shipped = [o for o in orders if o.status == Order.Status.SHIPPED]
        _parcel_moved(shipment, shipped, Order.Status.DELIVERED, "shipment.delivered")
    return shipment


def _parcel_moved(shipment: Shipment, orders: list[Order], status: str, event: str) -> None:
    """The parcel's `orders` follow it to `status`, each buyer told; the shop's webhook."""
    for order in orders:
        order.status = status
        order.save(update_fields=["status"])
        notify.order_updated(order)
    event_record(shop_id=shipment.shop_id, type=event, data=shipment_data(shipment))
