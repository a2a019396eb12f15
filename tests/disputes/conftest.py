from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from orders import services as orders_services
from orders.models import Order
from tests.factories import UserFactory
from tests.orders.conftest import _real_clock, clock, live_pin  # noqa: F401 (fixtures)
from tests.orders.helpers import paid_order


@pytest.fixture
def sold(live_pin: Callable[..., Any]) -> Callable[..., Order]:  # noqa: F811
    """`sold(status="paid"|"shipped"|"delivered", buyer=None)` → an order of a fresh live
    pin, paid through the sandbox and moved on to `status`."""

    def make(status: str = "paid", buyer: Any = None, **pin: Any) -> Order:
        p = live_pin(**pin)
        order = paid_order(p, buyer=buyer or UserFactory())
        owner = p.show.shop.owner
        if status in ("shipped", "delivered"):
            orders_services.shipment_ship(
                actor=owner, shipment_id=order.shipment_id, carrier="UPS", tracking_number="1Z999"
            )
        if status == "delivered":
            orders_services.shipment_deliver(actor=owner, shipment_id=order.shipment_id)
        order.refresh_from_db()
        assert order.status == status
        return order

    return make
