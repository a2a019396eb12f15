"""Fixtures for the streams domain: a shop with a host, shows in each state, an event spy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.utils import timezone

from catalog.models import Variant
from streams import fanout
from streams.models import Show, ShowModerator
from tests.factories import ProductFactory, ShopFactory, ShopStaffFactory, ShowFactory, UserFactory


@dataclass
class EventSpy:
    """Records what services hand to the fan-out layer (after commit)."""

    show_events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    user_events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)

    def of_type(self, type: str) -> list[dict[str, Any]]:
        return [data for _, t, data in self.show_events if t == type]

    def for_user(self, user_id: int, type: str) -> list[dict[str, Any]]:
        return [data for uid, t, data in self.user_events if uid == user_id and t == type]


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Iterator[EventSpy]:
    """Spy on our own fan-out interface (not a mock of a service: delivery is recorded)."""
    spy = EventSpy()

    def show_event(*, show_id: int, type: str, data: dict[str, Any]) -> None:
        spy.show_events.append((show_id, type, data))

    def user_event(*, user_id: int, type: str, data: dict[str, Any]) -> None:
        spy.user_events.append((user_id, type, data))

    monkeypatch.setattr(fanout, "publish_show_event", show_event)
    monkeypatch.setattr(fanout, "publish_user_event", user_event)
    yield spy


@pytest.fixture
def host(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="host")


@pytest.fixture
def shop(host):  # type: ignore[no-untyped-def]
    return ShopFactory(owner=host)


@pytest.fixture
def staff(shop):  # type: ignore[no-untyped-def]
    return ShopStaffFactory(shop=shop, user=UserFactory(username="staffer")).user


@pytest.fixture
def viewer(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="viewer")


@pytest.fixture
def other_seller(db):  # type: ignore[no-untyped-def]
    return ShopFactory(owner=UserFactory(username="otherseller")).owner


@pytest.fixture
def product(shop):  # type: ignore[no-untyped-def]
    product = ProductFactory(shop=shop, title="Mug")
    # Set the stock explicitly rather than relying on the factory's parameter.
    Variant.objects.filter(product=product).update(stock_on_hand=5)
    return product


@pytest.fixture
def scheduled_show(shop):  # type: ignore[no-untyped-def]
    return ShowFactory(shop=shop)


@pytest.fixture
def live_show(shop):  # type: ignore[no-untyped-def]
    return ShowFactory(shop=shop, status=Show.Status.LIVE, started_at=timezone.now())


@pytest.fixture
def moderator(live_show):  # type: ignore[no-untyped-def]
    user = UserFactory(username="mod")
    ShowModerator.objects.create(show=live_show, user=user)
    return user


@pytest.fixture
def client_as(client_for, host, staff, moderator, other_seller, viewer):  # type: ignore[no-untyped-def]
    """`client_as("host" | "staff" | "moderator" | "other_seller" | "buyer" | "anonymous")`.

    Moderator means a moderator of the `live_show` fixture.
    """
    users = {
        "host": host,
        "staff": staff,
        "moderator": moderator,
        "other_seller": other_seller,
        "buyer": viewer,
        "anonymous": None,
    }
    return lambda who: client_for(users[who])
