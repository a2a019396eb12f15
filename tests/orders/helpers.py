"""Helpers for checkout tests."""

from __future__ import annotations

from typing import Any

from django.db import OperationalError, transaction

from catalog.models import Variant
from orders import services
from orders.models import Hold, Order
from tests.factories import UserFactory

ADDRESS = {
    "name": "Ada Buyer",
    "line1": "1 Main St",
    "line2": "",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


def tap_buy(http: Any, pin: Any, token: str) -> tuple[int, str, int | None]:
    """One buyer's tap over HTTP on the pinned product: (status, "held" or the error code,
    the hold id when one was made)."""
    r = http.post(
        f"/api/v1/shows/{pin.show_id}/buy/",
        json={"product": pin.product_id},
        headers={"Authorization": f"Token {token}"},
    )
    body = r.json()
    if r.status_code == 201:
        return 201, "held", body["hold"]["id"]
    return r.status_code, body["error"]["code"], None


def variant_of(product: Any) -> Variant:
    """The product's (only) variant, fresh from the database."""
    return Variant.objects.get(product=product)


def stock(product: Any) -> tuple[int, int]:
    """(stock_on_hand, held) of a simple product, fresh from the database."""
    v = variant_of(product)
    return v.stock_on_hand, v.held


def order_row_locked(order_id: int) -> bool:
    """Whether another transaction holds the order's row lock right now (NOWAIT probe)."""
    try:
        with transaction.atomic():
            list(Order.objects.select_for_update(nowait=True).filter(pk=order_id))
    except OperationalError:
        return True
    return False


def active_held(variant_id: int) -> int:
    """Units in active holds of the variant: what `Variant.held` must equal."""
    return sum(
        Hold.objects.filter(variant_id=variant_id, status="active").values_list(
            "quantity", flat=True
        )
    )


def buy(client: Any, pin: Any, key: str | None = None, **body: Any) -> Any:
    """POST buy for the pin's product; `key` is sent as the Idempotency-Key header."""
    payload = {"product": pin.product_id, **body}
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(f"/api/v1/shows/{pin.show_id}/buy/", payload, format="json", headers=headers)


def pending_order(
    pin: Any,
    buyer: Any = None,
    token: str = "sandbox_ok",  # noqa: S107 - a public sandbox token
    quantity: int = 1,
    variant_id: int | None = None,
) -> Order:
    """Buy the pin's product and check out: an order in pending_payment."""
    buyer = buyer or UserFactory()
    result = services.hold_create(
        buyer=buyer,
        show_id=pin.show_id,
        product_id=pin.product_id,
        variant_id=variant_id,
        quantity=quantity,
    )
    return services.hold_checkout(
        buyer=buyer, hold_id=result.hold.pk, payment_method=token, address=ADDRESS
    )


def paid_order(pin: Any, buyer: Any = None, quantity: int = 1) -> Order:
    order = pending_order(pin, buyer=buyer, quantity=quantity)
    services.order_capture_payment(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == "paid"
    return order
