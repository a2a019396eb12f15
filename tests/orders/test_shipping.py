"""Bundled shipping: one parcel and one fee per (buyer, shop, show); the fee is known
before the tap (buy answer, current pin)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Shipment, ShippingRate
from orders.selectors import shipping_fee_for_weight, shipping_fee_quote
from streams.models import Pin
from streams.selectors import show_snapshot
from tests.factories import PinFactory, ProductFactory
from tests.orders.helpers import buy, paid_order, pending_order, variant_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("grams", "fee"),
    [(0, "0.00"), (1, "4.99"), (500, "4.99"), (501, "7.99"), (2000, "7.99"), (2001, "12.99")],
)
def test_default_fee_table(shop, grams, fee):
    assert shipping_fee_for_weight(shop_id=shop.pk, weight_grams=grams) == Decimal(fee)


def test_a_shops_own_fee_table_replaces_the_default(shop):
    ShippingRate.objects.create(shop=shop, max_weight_grams=1000, fee=Decimal("3.00"))
    ShippingRate.objects.create(shop=shop, max_weight_grams=None, fee=Decimal("9.00"))
    assert shipping_fee_for_weight(shop_id=shop.pk, weight_grams=999) == Decimal("3.00")
    assert shipping_fee_for_weight(shop_id=shop.pk, weight_grams=5000) == Decimal("9.00")


def test_a_fee_table_without_open_end_charges_its_top_fee_above_it(shop):
    ShippingRate.objects.create(shop=shop, max_weight_grams=1000, fee=Decimal("3.00"))
    assert shipping_fee_for_weight(shop_id=shop.pk, weight_grams=1001) == Decimal("3.00")


def test_second_purchase_in_the_same_show_adds_no_fee(client_for, user, live_pin, one_tap):
    one_tap(user)
    pin = live_pin(weight_grams=200)
    client = client_for(user)
    first = buy(client, pin).json()
    second = buy(client, pin).json()
    assert (first["shipping_fee"], second["shipping_fee"]) == ("4.99", "0.00")
    assert first["order"]["shipment"]["id"] == second["order"]["shipment"]["id"]
    shipment = Shipment.objects.get()
    assert (shipment.weight_grams, shipment.fee_charged) == (400, Decimal("4.99"))


def test_crossing_a_weight_bracket_adds_only_the_difference(user, live_pin):
    pin = live_pin(weight_grams=400)
    first = pending_order(pin, buyer=user)
    second = pending_order(pin, buyer=user)  # 800 g in the parcel: 7.99 in all
    assert (first.shipping_fee, second.shipping_fee) == (Decimal("4.99"), Decimal("3.00"))
    assert first.shipment_id == second.shipment_id


def test_parcels_are_per_shop_and_per_show(user, live_pin):
    a = pending_order(live_pin(), buyer=user)
    b = pending_order(live_pin(), buyer=user)  # another show (and shop)
    assert a.shipment_id != b.shipment_id
    assert a.shipping_fee == b.shipping_fee == Decimal("4.99")


def test_quote_matches_what_the_order_charges(user, live_pin):
    pin = live_pin(weight_grams=400)
    variant = variant_of(pin.product)
    pending_order(pin, buyer=user)
    quote = shipping_fee_quote(buyer=user, show=pin.show, variant=variant, quantity=1)
    assert pending_order(pin, buyer=user).shipping_fee == quote == Decimal("3.00")


def test_buy_without_one_tap_quotes_what_the_parcel_would_add(client_for, user, live_pin):
    pin = live_pin()
    paid_order(pin, buyer=user)
    assert buy(client_for(user), pin).json()["shipping_fee"] == "0.00"


def test_variant_weight_overrides_the_product_weight(user, live_pin):
    pin = live_pin(weight_grams=100)
    variant = variant_of(pin.product)
    variant.weight_grams = 3000
    variant.save()
    assert pending_order(pin, buyer=user).shipping_fee == Decimal("12.99")


def test_current_pin_carries_the_shipping_fee_for_a_signed_in_viewer(user, live_pin):
    from django.contrib.auth.models import AnonymousUser

    pin = live_pin()
    assert show_snapshot(show_id=pin.show_id, user=user)["current_pin"]["shipping_fee"] == "4.99"
    pending_order(pin, buyer=user)
    assert show_snapshot(show_id=pin.show_id, user=user)["current_pin"]["shipping_fee"] == "0.00"
    anonymous = show_snapshot(show_id=pin.show_id, user=AnonymousUser())["current_pin"]
    assert "shipping_fee" not in anonymous


def test_an_old_pin_carries_no_shipping_fee(user, live_pin):
    from streams.selectors import pin_payload

    pin = live_pin()
    Pin.objects.filter(pk=pin.pk).update(unpinned_at=timezone.now())
    pin.refresh_from_db()
    payload = pin_payload(pin, viewer=user)
    assert payload is not None
    assert "shipping_fee" not in payload


def test_a_product_pinned_twice_still_bundles(user):
    from tests.factories import ShowFactory

    show = ShowFactory(status="live", started_at=timezone.now())
    product = ProductFactory(shop=show.shop)
    PinFactory(show=show, product=product, unpinned_at=timezone.now())
    pin = PinFactory(show=show, product=product)
    first = pending_order(pin, buyer=user)
    assert pending_order(pin, buyer=user).shipment_id == first.shipment_id
