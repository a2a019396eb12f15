"""Helpers for webhook tests: drive every event type through the real services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from auctions import services as auctions
from auctions.models import Auction
from disputes import services as disputes
from orders import services as orders
from orders.models import Order
from streams import services as streams
from tests.factories import PinFactory, ProductFactory, ShowFactory, UserFactory
from tests.orders.helpers import ADDRESS
from tests.webhooks.conftest import Received


def one_tap_buyer(token: str = "sandbox_ok") -> Any:  # noqa: S107 - a public sandbox token
    buyer = UserFactory()
    orders.payment_method_add(user=buyer, token=token)
    orders.address_add(user=buyer, data=ADDRESS)
    return buyer


def buy(pin: Any, token: str = "sandbox_ok") -> Order:  # noqa: S107
    """A one-tap buy of the pin's product, its payment captured (or declined) at once."""
    result = orders.hold_create(
        buyer=one_tap_buyer(token), show_id=pin.show_id, product_id=pin.product_id
    )
    assert result.order is not None
    orders.order_capture_payment(order_id=result.order.pk)
    return Order.objects.get(pk=result.order.pk)


def every_event(shop: Any) -> dict[str, Any]:
    """Cause each event type the product emits today, for `shop`; returns the objects."""
    show = ShowFactory(shop=shop)
    streams.show_start(user=shop.owner, show_id=show.pk)
    pin = PinFactory(show=show, product=ProductFactory(shop=shop, stock=10))
    shipped = buy(pin)
    orders.shipment_ship(
        actor=shop.owner, shipment_id=shipped.shipment_id, carrier="UPS", tracking_number="1Z"
    )
    orders.shipment_deliver(actor=shop.owner, shipment_id=shipped.shipment_id)
    dispute = disputes.dispute_open(
        buyer=shipped.buyer, order_id=shipped.pk, reason="damaged", text="Cracked lid."
    )
    disputes.dispute_respond(
        actor=shop.owner, dispute_id=dispute.pk, action="reject", reason="Sent intact."
    )
    disputes.dispute_decide(
        actor=UserFactory(is_staff=True), dispute_id=dispute.pk, decision="reject", reason="Ok."
    )
    cancelled = buy(pin)
    orders.order_cancel(buyer=cancelled.buyer, order_id=cancelled.pk)
    refunded = buy(pin)
    orders.order_refund(actor=shop.owner, order_id=refunded.pk, reason="damaged")
    declined = buy(pin, token="sandbox_declined")
    auction = auctions.auction_start(
        user=shop.owner,
        show_id=show.pk,
        product_id=ProductFactory(shop=shop, stock=1).pk,
        starting_bid=Decimal("5.00"),
        duration_s=5,
    )
    Auction.objects.filter(pk=auction.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert auctions.auction_close(auction_id=auction.pk)
    streams.show_end(user=shop.owner, show_id=show.pk)
    return {
        "show": show,
        "shipped": shipped,
        "cancelled": cancelled,
        "refunded": refunded,
        "declined": declined,
        "dispute": dispute,
        "auction": auction,
        "at": timezone.now(),
    }


EMITTED_TYPES = {
    "show.started",
    "order.created",
    "order.paid",
    "shipment.shipped",
    "shipment.delivered",
    "order.cancelled",
    "order.refunded",
    "order.payment_failed",
    "show.ended",
    "dispute.opened",
    "dispute.resolved",
    "auction.closed",
}


def verify(received: Received, secret: str) -> Any:
    """The payload, verified with the independent `standardwebhooks` implementation."""
    headers = {k.lower(): v for k, v in received.headers.items()}
    payload = Webhook(secret).verify(received.body, headers)
    assert headers["webhook-id"] == payload["id"]
    return payload
