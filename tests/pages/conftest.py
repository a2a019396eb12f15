from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from streams.models import LineupItem
from tests.factories import ProductFactory, ShopStaffFactory, ShowFactory, UserFactory


@pytest.fixture
def live_show(shop):  # type: ignore[no-untyped-def]
    show = ShowFactory(
        shop=shop,
        title="Spring drop",
        status="live",
        started_at=timezone.now(),
        playback_url="http://127.0.0.1:8000/static/demo/show.mp4",
    )
    product = ProductFactory(shop=shop, title="Linen shirt")
    product.variants.update(stock_on_hand=3)
    LineupItem.objects.create(show=show, product=product, position=0)
    return show


@pytest.fixture
def web() -> Client:
    return Client()


@pytest.fixture
def web_for():  # type: ignore[no-untyped-def]
    def make(user: object) -> Client:
        client = Client()
        client.force_login(user)  # type: ignore[arg-type]
        return client

    return make


@pytest.fixture
def staff_member(shop):  # type: ignore[no-untyped-def]
    return ShopStaffFactory(shop=shop, user=UserFactory()).user


@pytest.fixture
def outsider(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="outsider")
