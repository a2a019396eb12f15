from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from orders.services import address_add, payment_method_add
from streams.models import Show
from tests.factories import ProductFactory, ShopFactory, ShowFactory, UserFactory

# The checkout clock (reset around every test; `clock` freezes it) and the fan-out
# recorder, shared with the checkout tests.
from tests.orders.conftest import _real_clock, clock, events  # noqa: F401
from tests.orders.helpers import ADDRESS


@pytest.fixture
def host(db: Any) -> Any:
    return UserFactory(username="auctioneer")


@pytest.fixture
def live_show(host: Any) -> Any:
    return ShowFactory(
        shop=ShopFactory(owner=host), status=Show.Status.LIVE, started_at=timezone.now()
    )


@pytest.fixture
def item(live_show: Any) -> Any:
    return ProductFactory(shop=live_show.shop, stock=3, price="30.00")


@pytest.fixture
def bidder() -> Callable[..., Any]:
    """`bidder(name, token="sandbox_ok")`: a user with a saved card and address."""

    def make(name: str, token: str = "sandbox_ok") -> Any:  # noqa: S107
        user = UserFactory(username=name)
        payment_method_add(user=user, token=token)
        address_add(user=user, data=ADDRESS)
        return user

    return make


def start_body(item: Any, **over: Any) -> dict[str, Any]:
    return {"product": item.pk, "starting_bid": "10.00", "duration_s": 30, **over}


@pytest.fixture
def host_client_setup(transactional_db: Any) -> tuple[Any, Any, Any]:
    """(live show, a product with 3 units, its host) committed for server processes."""
    host = UserFactory(username="auctioneer")
    show = ShowFactory(
        shop=ShopFactory(owner=host), status=Show.Status.LIVE, started_at=timezone.now()
    )
    return show, ProductFactory(shop=show.shop, stock=3, price="30.00"), host
