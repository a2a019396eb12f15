"""core.rows: model instances built from a hand-written join equal what the ORM loads,
field by field (JSON decoded, decimals, datetimes, NULLs), and a LEFT JOIN's empty side
is None. Exercised through the two hot paths that use it: the buy's offer read and the
saved one-tap defaults."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Model
from django.utils import timezone

from catalog.models import Product, Variant
from orders.selectors import saved_defaults
from orders.services.offer import _current_pin_offer, resolve_offer
from streams.models import Show
from tests.factories import PinFactory, ProductFactory, ShowFactory, UserFactory
from tests.orders.helpers import ADDRESS

pytestmark = pytest.mark.django_db


def same_fields(built: Model, loaded: Model) -> None:
    assert type(built) is type(loaded)
    for field in loaded._meta.concrete_fields:
        assert getattr(built, field.attname) == getattr(loaded, field.attname), field.name
    assert built._state.adding is False
    assert built._state.db == loaded._state.db


def variants_product(**kwargs: Any) -> Any:
    product = ProductFactory(
        options=[{"name": "size", "values": ["S", "M"]}],
        variants=[
            {"sku": "T-S", "options": {"size": "S"}, "stock_on_hand": 3, "price": "21.50"},
            {"sku": "T-M", "options": {"size": "M"}, "stock_on_hand": 0},
        ],
        **kwargs,
    )
    return product


def test_the_offer_read_builds_the_rows_the_orm_loads() -> None:
    show = ShowFactory(status="live", started_at=timezone.now(), blocked_words=["spam", "é"])
    product = variants_product(shop=show.shop)
    PinFactory(show=show, product=product, price=Decimal("18.00"), limit_per_buyer=2)

    hot = _current_pin_offer(show_id=show.pk, product_id=product.pk)

    assert hot is not None
    same_fields(hot.show, Show.objects.get(pk=show.pk))
    assert hot.show.blocked_words == ["spam", "é"]  # JSON decoded, as the ORM does
    same_fields(hot.product, Product.objects.get(pk=product.pk))
    loaded = list(Variant.objects.filter(product=product))
    assert [v.pk for v in hot.variants] == [v.pk for v in loaded]
    for built, orm in zip(hot.variants, loaded, strict=True):
        same_fields(built, orm)
        assert built.product is hot.product  # cached: no query for variant.product
    assert hot.limit == 2
    assert hot.auction_status is None and hot.auction_product_id is None


def test_the_offer_read_skips_the_variants_of_another_pinned_product() -> None:
    show = ShowFactory(status="live", started_at=timezone.now())
    pinned = ProductFactory(shop=show.shop)
    other = ProductFactory(shop=show.shop)
    PinFactory(show=show, product=pinned)

    hot = _current_pin_offer(show_id=show.pk, product_id=other.pk)

    assert hot is not None and hot.product.pk == pinned.pk and hot.variants == []
    assert _current_pin_offer(show_id=ShowFactory().pk, product_id=pinned.pk) is None


def test_resolve_offer_picks_the_named_variant_from_the_one_statement(
    django_assert_num_queries: Any,
) -> None:
    show = ShowFactory(status="live", started_at=timezone.now())
    product = variants_product(shop=show.shop)
    PinFactory(show=show, product=product)
    medium = Variant.objects.get(product=product, sku="T-M")

    with django_assert_num_queries(1):
        offer = resolve_offer(show_id=show.pk, product_id=product.pk, variant_id=medium.pk)
        assert offer.variant.pk == medium.pk
        assert offer.variant.product.currency == product.currency  # no second query


def test_saved_defaults_are_none_until_saved_then_the_defaults() -> None:
    from orders.models import Address, PaymentMethod
    from orders.services import address_add, payment_method_add

    user = UserFactory()
    assert saved_defaults(user_id=user.pk) == (None, None)
    payment_method_add(user=user, token="sandbox_ok")
    method, address = saved_defaults(user_id=user.pk)
    assert address is None and method is not None
    same_fields(method, PaymentMethod.objects.get(user=user, is_default=True))
    address_add(user=user, data=ADDRESS)
    address_add(user=user, data={**ADDRESS, "line1": "2 Other St"})  # not the default
    method, address = saved_defaults(user_id=user.pk)
    assert method is not None and address is not None
    same_fields(address, Address.objects.get(user=user, is_default=True))
    assert saved_defaults(user_id=UserFactory().pk) == (None, None)  # another user's stay theirs
