"""Bundled shipping: one parcel and one fee per (buyer, shop, show); the fee is known
before the tap (buy answer, current pin)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import Refund, Shipment, ShippingRate
from orders.selectors import shipping_fee_for_weight, shipping_fee_quote
from streams.models import Pin
from streams.selectors import show_snapshot
from tests.factories import PinFactory, ProductFactory, token_for
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


# ------------------------------------------------------- the fee-carrying order leaves


def _two_paid_orders_in_one_parcel(client_for: Any, user: Any, live_pin: Any, one_tap: Any):  # type: ignore[no-untyped-def]
    """The first order carries the parcel's 4.99 fee, the second 0.00; both paid."""
    from orders import services

    one_tap(user)
    pin = live_pin(weight_grams=200)
    client = client_for(user)
    first, second = (buy(client, pin).json()["order"] for _ in range(2))
    for order in (first, second):
        services.order_capture_payment(order_id=order["id"])
    assert (first["shipping_fee"], second["shipping_fee"]) == ("4.99", "0.00")
    return pin, client, first, second


def _shop_shipment(pin: Any) -> dict[str, Any]:
    seller = APIClient()
    seller.credentials(HTTP_AUTHORIZATION=f"Token {token_for(pin.show.shop.owner)}")
    (shipment,) = seller.get(f"/api/v1/shops/{pin.show.shop_id}/shipments/").json()["results"]
    return shipment


def test_cancelling_the_fee_carrying_order_shows_the_seller_the_uncollected_fee(
    client_for, user, live_pin, one_tap
):
    pin, client, first, _ = _two_paid_orders_in_one_parcel(client_for, user, live_pin, one_tap)

    r = client.post(f"/api/v1/orders/{first['id']}/cancel/")

    assert r.status_code == 200, r.content
    refund = Refund.objects.get(order_id=first["id"])
    assert refund.amount == Decimal(first["total"])  # the buyer gets it all back
    shipment = _shop_shipment(pin)
    assert shipment["weight_grams"] == 200  # the second order still ships in it
    assert (shipment["fee_charged"], shipment["fee_uncollected"]) == ("0.00", "4.99")


def test_a_seller_refund_of_the_fee_carrying_order_shows_the_uncollected_fee(
    client_for, user, live_pin, one_tap
):
    pin, _, first, _ = _two_paid_orders_in_one_parcel(client_for, user, live_pin, one_tap)
    seller = client_for(pin.show.shop.owner)

    r = seller.post(f"/api/v1/orders/{first['id']}/refund/", {"reason": "Damaged"}, format="json")

    assert r.status_code == 200, r.content
    assert Refund.objects.get(order_id=first["id"]).amount == Decimal(first["total"])
    assert _shop_shipment(pin)["fee_uncollected"] == "4.99"


def test_a_failed_fee_carrying_payment_shows_the_uncollected_fee(user, live_pin):
    from orders import services

    pin = live_pin(weight_grams=200)
    failing = pending_order(pin, buyer=user, token="sandbox_declined")
    kept = pending_order(pin, buyer=user)
    assert (failing.shipping_fee, kept.shipping_fee) == (Decimal("4.99"), Decimal("0.00"))
    services.order_capture_payment(order_id=failing.pk)
    services.order_capture_payment(order_id=kept.pk)

    assert _shop_shipment(pin)["fee_uncollected"] == "4.99"


def test_the_next_purchase_into_the_parcel_pays_the_uncollected_fee(
    client_for, user, live_pin, one_tap
):
    pin, client, first, _ = _two_paid_orders_in_one_parcel(client_for, user, live_pin, one_tap)
    client.post(f"/api/v1/orders/{first['id']}/cancel/")

    third = buy(client, pin).json()

    assert third["shipping_fee"] == "4.99"
    shipment = _shop_shipment(pin)
    assert (shipment["fee_charged"], shipment["fee_uncollected"]) == ("4.99", "0.00")


def test_an_emptied_parcel_owes_nothing(client_for, user, live_pin, one_tap):
    pin, client, first, second = _two_paid_orders_in_one_parcel(client_for, user, live_pin, one_tap)
    for order in (second, first):
        assert client.post(f"/api/v1/orders/{order['id']}/cancel/").status_code == 200
    shipment = _shop_shipment(pin)
    assert (shipment["weight_grams"], shipment["fee_uncollected"]) == (0, "0.00")
