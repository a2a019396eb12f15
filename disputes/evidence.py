"""The evidence a dispute carries: a snapshot of the sale taken when it is opened, so
later edits to the product, the show or the parcel do not change what the buyer bought."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from orders.models import Hold, Order
from streams.models import Pin


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value: Decimal | None) -> str | None:
    return f"{value:.2f}" if value is not None else None


def _pin_at(*, order: Order, moment: datetime) -> Pin | None:
    """The pin of the order's product that was current at `moment` (a live purchase), else
    the last pin of that product in the show before it (a replay purchase)."""
    pins = Pin.objects.filter(show_id=order.show_id, product_id=order.product_id)
    return pins.filter(pinned_at__lte=moment).order_by("-pinned_at", "-id").first()


def order_evidence(*, order: Order) -> dict[str, Any]:
    """The show, the pin and its offset at the moment of purchase (the buy tap, i.e. the
    hold's creation), the product as sold, the price and the shipment's tracking."""
    hold = Hold.objects.filter(order_id=order.pk).only("created_at").first()
    moment = hold.created_at if hold is not None else order.created_at
    show, product, variant = order.show, order.product, order.variant
    pin = _pin_at(order=order, moment=moment)
    live = pin is not None and (pin.unpinned_at is None or pin.unpinned_at > moment)
    in_replay = show.ended_at is not None and moment >= show.ended_at
    shipment = order.shipment
    return {
        "purchased_at": _iso(moment),
        "bought_in": "replay" if in_replay else ("live" if live else "show"),
        "show": {
            "id": show.pk,
            "title": show.title,
            "started_at": _iso(show.started_at),
            "ended_at": _iso(show.ended_at),
            "playback_url": show.playback_url,
        },
        "purchase_offset_s": (
            round((moment - show.started_at).total_seconds(), 1)
            if show.started_at is not None
            else None
        ),
        "pin": (
            {
                "id": pin.pk,
                "pinned_at": _iso(pin.pinned_at),
                "unpinned_at": _iso(pin.unpinned_at),
                "offset_s": pin.offset_s,
                "price": _money(pin.price),
                "current_at_purchase": live,
            }
            if pin is not None
            else None
        ),
        "product": {
            "id": product.pk,
            "title": product.title,
            "description": product.description,
            "image_url": product.image_url,
            "variant": variant.pk,
            "sku": variant.sku,
            "options": variant.options,
        },
        "price": {
            "unit_price": _money(order.unit_price),
            "quantity": order.quantity,
            "subtotal": _money(order.subtotal),
            "shipping_fee": _money(order.shipping_fee),
            "total": _money(order.total),
            "currency": order.currency,
        },
        "shipment": (
            {
                "id": shipment.pk,
                "status": shipment.status,
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
                "shipped_at": _iso(shipment.shipped_at),
                "delivered_at": _iso(shipment.delivered_at),
            }
            if shipment is not None
            else None
        ),
    }
