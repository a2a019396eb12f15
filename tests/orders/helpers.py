"""Helpers for checkout tests."""

from __future__ import annotations

from typing import Any

from catalog.models import Variant
from orders.models import Hold


def variant_of(product: Any) -> Variant:
    """The product's (only) variant, fresh from the database."""
    return Variant.objects.get(product=product)


def stock(product: Any) -> tuple[int, int]:
    """(stock_on_hand, held) of a simple product, fresh from the database."""
    v = variant_of(product)
    return v.stock_on_hand, v.held


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
