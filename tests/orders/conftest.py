from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from orders import clock as orders_clock
from orders.models import Address, PaymentMethod
from orders.services import address_add, payment_method_add
from tests.factories import PinFactory, ProductFactory, ShowFactory
from tests.orders.helpers import ADDRESS


@pytest.fixture(autouse=True)
def _real_clock() -> Iterator[None]:
    orders_clock.reset()
    yield
    orders_clock.reset()


@pytest.fixture
def clock() -> Any:
    """The checkout clock, frozen at the real now; `clock.advance(seconds)` moves it."""
    orders_clock.freeze()
    return orders_clock


@pytest.fixture
def live_pin(db: Any) -> Callable[..., Any]:
    """`live_pin(stock=10, price=None, limit=None)` → a Pin on a live show, its product
    a simple product with `stock` units on hand."""

    def make(
        stock: int = 10,
        price: Decimal | str | None = None,
        limit: int | None = None,
        **product: Any,
    ) -> Any:
        show = ShowFactory(status="live", started_at=timezone.now())
        item = ProductFactory(shop=show.shop, stock=stock, **product)
        return PinFactory(
            show=show,
            product=item,
            price=Decimal(price) if price is not None else None,
            limit_per_buyer=limit,
        )

    return make


@pytest.fixture
def one_tap() -> Callable[..., tuple[PaymentMethod, Address]]:
    """`one_tap(user, token="sandbox_ok")` saves a default payment method and address."""

    def make(user: Any, token: str = "sandbox_ok") -> tuple[PaymentMethod, Address]:  # noqa: S107
        method = payment_method_add(user=user, token=token)
        address = address_add(user=user, data=ADDRESS)
        return method, address

    return make


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, str, dict[str, Any]]]:
    """Records what the fan-out is asked to deliver: ("show"|"user", id, type, data).

    Delivery happens after commit, so tests use `django_capture_on_commit_callbacks`."""
    from streams import fanout

    seen: list[tuple[str, int, str, dict[str, Any]]] = []
    original_show, original_user = fanout.publish_show_event, fanout.publish_user_event

    def show_event(*, show_id: int, type: str, data: dict[str, Any]) -> Any:
        seen.append(("show", show_id, type, data))
        return original_show(show_id=show_id, type=type, data=data)

    def user_event(*, user_id: int, type: str, data: dict[str, Any]) -> Any:
        seen.append(("user", user_id, type, data))
        return original_user(user_id=user_id, type=type, data=data)

    monkeypatch.setattr(fanout, "publish_show_event", show_event)
    monkeypatch.setattr(fanout, "publish_user_event", user_event)
    return seen
