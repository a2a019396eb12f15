"""POST /api/v1/shows/{id}/buy/ — SPEC "Buying, step by step"."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Product, Variant
from orders.api import BuyIpThrottle, BuyUserThrottle
from orders.models import Hold, Order
from streams.models import Pin
from tests.factories import PinFactory, ProductFactory, ShowFactory, UserFactory
from tests.helpers import assert_error
from tests.orders.helpers import active_held, buy, stock, variant_of

pytestmark = pytest.mark.django_db


def test_buy_holds_units_and_answers_hold_without_order(client_for, user, live_pin):
    pin = live_pin(stock=5)
    r = buy(client_for(user), pin, quantity=2)
    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) >= {"hold", "order", "shipping_fee"}
    assert body["order"] is None
    hold = body["hold"]
    assert hold["status"] == "active"
    assert hold["quantity"] == 2
    assert hold["product"] == pin.product_id
    assert hold["variant"] == variant_of(pin.product).pk
    assert hold["unit_price"] == "19.99"
    assert hold["order"] is None
    # Durable before the answer, and counted in held.
    assert Hold.objects.get(pk=hold["id"]).status == "active"
    assert stock(pin.product) == (5, 2)


def test_buy_answers_shipping_fee_for_the_first_purchase(client_for, user, live_pin):
    pin = live_pin(stock=5, weight_grams=300)
    body = buy(client_for(user), pin).json()
    assert body["shipping_fee"] == "4.99"
    assert body["currency"] == "USD"


def test_buy_uses_the_pin_price_when_set(client_for, user, live_pin):
    pin = live_pin(price="9.50")
    assert buy(client_for(user), pin).json()["hold"]["unit_price"] == "9.50"


def test_buy_uses_the_variant_price_over_the_list_price(client_for, user, live_pin):
    pin = live_pin()
    Variant.objects.filter(product=pin.product).update(price=Decimal("12.00"))
    assert buy(client_for(user), pin).json()["hold"]["unit_price"] == "12.00"


def test_buy_when_not_enough_units_is_sold_out_and_changes_nothing(client_for, user, live_pin):
    pin = live_pin(stock=1)
    assert_error(buy(client_for(user), pin, quantity=2), 409, "sold_out")
    assert stock(pin.product) == (1, 0)
    assert not Hold.objects.exists()


def test_buy_the_last_unit_then_sold_out(client_for, live_pin):
    pin = live_pin(stock=1)
    assert buy(client_for(UserFactory()), pin).status_code == 201
    assert_error(buy(client_for(UserFactory()), pin), 409, "sold_out")
    assert stock(pin.product) == (1, 1)


def test_buy_in_a_scheduled_show_is_show_not_live(client_for, user):
    show = ShowFactory()
    pin = PinFactory(show=show)
    assert_error(buy(client_for(user), pin), 409, "show_not_live")
    assert not Hold.objects.exists()


def test_buy_in_a_rehearsal_is_refused_even_for_hosts(client_for, live_pin):
    pin = live_pin()
    pin.show.rehearsal = True
    pin.show.save()
    for who in (UserFactory(), pin.show.shop.owner):
        assert_error(buy(client_for(who), pin), 409, "show_not_live")
    assert not Hold.objects.exists()


def test_buy_a_product_that_is_not_the_current_pin_is_not_pinned(client_for, user, live_pin):
    pin = live_pin()
    other = ProductFactory(shop=pin.show.shop)
    r = client_for(user).post(
        f"/api/v1/shows/{pin.show_id}/buy/", {"product": other.pk}, format="json"
    )
    assert_error(r, 409, "not_pinned")


def test_buy_after_the_pin_was_removed_is_not_pinned(client_for, user, live_pin):
    pin = live_pin()
    Pin.objects.filter(pk=pin.pk).update(unpinned_at=timezone.now())
    assert_error(buy(client_for(user), pin), 409, "not_pinned")


def test_buy_over_the_limit_in_one_go_is_limit_exceeded(client_for, user, live_pin):
    pin = live_pin(limit=2)
    assert_error(buy(client_for(user), pin, quantity=3), 409, "limit_exceeded")
    assert stock(pin.product) == (10, 0)


def test_limit_counts_active_and_converted_holds(client_for, user, live_pin):
    pin = live_pin(limit=3)
    client = client_for(user)
    first = buy(client, pin, quantity=2).json()["hold"]
    Hold.objects.filter(pk=first["id"]).update(status="converted", ended_at=timezone.now())
    assert buy(client, pin).status_code == 201
    assert_error(buy(client, pin), 409, "limit_exceeded")
    # Another buyer has their own allowance.
    assert buy(client_for(UserFactory()), pin, quantity=3).status_code == 201


def test_limit_does_not_count_cancelled_or_expired_holds(client_for, user, live_pin, clock):
    pin = live_pin(limit=1)
    client = client_for(user)
    first = buy(client, pin).json()["hold"]
    assert client.post(f"/api/v1/holds/{first['id']}/cancel/").status_code == 200
    buy(client, pin)
    clock.advance(301)  # the second hold lapses (read as expired, not yet swept)
    assert buy(client, pin).status_code == 201


def test_buy_without_variant_for_a_product_with_several_is_variant_required(
    client_for, user, live_pin
):
    pin = live_pin()
    Variant.objects.create(product=pin.product, shop=pin.product.shop, sku="XL", stock_on_hand=3)
    err = assert_error(buy(client_for(user), pin), 400, "variant_required")
    assert "variant" in err["details"]


def test_buy_a_chosen_variant_holds_that_variant(client_for, user, live_pin):
    pin = live_pin()
    xl = Variant.objects.create(
        product=pin.product, shop=pin.product.shop, sku="XL", stock_on_hand=3
    )
    r = buy(client_for(user), pin, variant=xl.pk)
    assert r.status_code == 201
    xl.refresh_from_db()
    assert xl.held == 1


def test_buy_with_another_products_variant_is_invalid(client_for, user, live_pin):
    pin = live_pin()
    foreign = variant_of(ProductFactory(shop=pin.show.shop))
    assert_error(buy(client_for(user), pin, variant=foreign.pk), 400, "invalid")
    assert foreign.held == 0


@pytest.mark.parametrize("quantity", [0, -1, "many", 101])
def test_buy_with_a_bad_quantity_is_invalid(client_for, user, live_pin, quantity):
    pin = live_pin()
    err = assert_error(buy(client_for(user), pin, quantity=quantity), 400, "invalid")
    assert "quantity" in err["details"]
    assert not Hold.objects.exists()


def test_buy_without_product_is_invalid(client_for, user, live_pin):
    pin = live_pin()
    r = client_for(user).post(f"/api/v1/shows/{pin.show_id}/buy/", {}, format="json")
    assert_error(r, 400, "invalid")


def test_buy_an_unknown_product_is_invalid(client_for, user, live_pin):
    pin = live_pin()
    r = client_for(user).post(
        f"/api/v1/shows/{pin.show_id}/buy/", {"product": 999999}, format="json"
    )
    assert_error(r, 400, "invalid")


def test_buy_in_an_unknown_show_is_not_found(client_for, user):
    r = client_for(user).post("/api/v1/shows/999999/buy/", {"product": 1}, format="json")
    assert_error(r, 404, "not_found")


def test_buy_anonymously_is_401(api_client, live_pin):
    pin = live_pin()
    assert_error(buy(api_client, pin), 401, "not_authenticated")
    assert not Hold.objects.exists()


def test_buy_with_malformed_json_is_parse_error(client_for, user, live_pin):
    pin = live_pin()
    r = client_for(user).post(
        f"/api/v1/shows/{pin.show_id}/buy/", "{nope", content_type="application/json"
    )
    assert_error(r, 400, "parse_error")


def test_buy_is_throttled_per_user(client_for, user, live_pin, monkeypatch):
    monkeypatch.setattr(BuyUserThrottle, "rate", "2/min", raising=False)
    pin = live_pin()
    client = client_for(user)
    assert buy(client, pin).status_code == 201
    assert buy(client, pin).status_code == 201
    err = assert_error(buy(client, pin), 429, "throttled")
    assert err["details"]["retry_after_s"] >= 1
    assert stock(pin.product) == (10, 2)
    assert buy(client_for(UserFactory()), pin).status_code == 201  # others still buy


def test_buy_is_throttled_per_ip(client_for, live_pin, monkeypatch):
    monkeypatch.setattr(BuyIpThrottle, "rate", "3/min", raising=False)
    pin = live_pin()
    codes = [buy(client_for(UserFactory()), pin).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    assert stock(pin.product) == (10, 3)


def test_buy_with_the_same_idempotency_key_returns_the_first_hold(client_for, user, live_pin):
    pin = live_pin()
    client = client_for(user)
    first = buy(client, pin, key="tap-1")
    again = buy(client, pin, key="tap-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["hold"]["id"] == first.json()["hold"]["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Hold.objects.count() == 1
    assert stock(pin.product) == (10, 1)


def test_buy_with_a_reused_idempotency_key_and_other_body_is_422(client_for, user, live_pin):
    pin = live_pin()
    client = client_for(user)
    buy(client, pin, key="tap-2")
    assert_error(buy(client, pin, quantity=2, key="tap-2"), 422, "idempotency_key_reused")
    assert stock(pin.product) == (10, 1)


def test_one_tap_buy_creates_the_order_at_once(client_for, user, live_pin, one_tap):
    one_tap(user)
    pin = live_pin(stock=3)
    body = buy(client_for(user), pin).json()
    order = body["order"]
    assert order is not None
    assert order["status"] == "pending_payment"
    assert order["total"] == "24.98"  # 19.99 + 4.99 shipping
    assert body["hold"]["order"] == order["id"]
    assert Order.objects.get(pk=order["id"]).payment_token == "sandbox_ok"


def test_one_tap_needs_both_a_payment_method_and_an_address(client_for, user, live_pin):
    from orders.services import payment_method_add

    payment_method_add(user=user, token="sandbox_ok")
    pin = live_pin()
    assert buy(client_for(user), pin).json()["order"] is None


def test_replay_sells_any_product_that_was_pinned_at_list_price(client_for, user):
    show = ShowFactory(status="ended", started_at=timezone.now(), ended_at=timezone.now())
    first = PinFactory(show=show, price=Decimal("5.00"), unpinned_at=timezone.now())
    second = PinFactory(show=show, price=Decimal("6.00"), limit_per_buyer=1)
    client = client_for(user)
    r1 = buy(client, first)
    # The pin's per-buyer limit follows the product into the replay (issue 9).
    assert_error(buy(client, second, quantity=3), 409, "limit_exceeded")
    r2 = buy(client, second)
    assert r1.status_code == r2.status_code == 201
    assert r1.json()["hold"]["unit_price"] == r2.json()["hold"]["unit_price"] == "19.99"


def test_replay_does_not_sell_a_product_never_pinned_in_it(client_for, user):
    show = ShowFactory(status="ended", started_at=timezone.now(), ended_at=timezone.now())
    PinFactory(show=show, unpinned_at=timezone.now())
    other = ProductFactory(shop=show.shop)
    r = client_for(user).post(f"/api/v1/shows/{show.pk}/buy/", {"product": other.pk}, format="json")
    assert_error(r, 409, "not_pinned")


def test_buy_emits_stock_changed_to_the_show_and_hold_updated_to_the_buyer(
    client_for, user, live_pin, events, django_capture_on_commit_callbacks
):
    pin = live_pin(stock=4)
    with django_capture_on_commit_callbacks(execute=True):
        hold = buy(client_for(user), pin, quantity=3).json()["hold"]
    v = variant_of(pin.product)
    assert (
        "show",
        pin.show_id,
        "stock.changed",
        {"product": pin.product_id, "variant": v.pk, "available": 1},
    ) in events
    private = [e for e in events if e[0] == "user"]
    assert [(e[1], e[2], e[3]["id"]) for e in private] == [(user.pk, "hold.updated", hold["id"])]


def test_a_refused_buy_emits_nothing(
    client_for, user, live_pin, events, django_capture_on_commit_callbacks
):
    pin = live_pin(stock=0)
    with django_capture_on_commit_callbacks(execute=True):
        assert_error(buy(client_for(user), pin), 409, "sold_out")
    assert events == []


def test_sold_out_buy_first_releases_lapsed_holds(client_for, live_pin, clock):
    pin = live_pin(stock=1)
    buy(client_for(UserFactory()), pin)
    clock.advance(301)
    r = buy(client_for(UserFactory()), pin)
    assert r.status_code == 201
    v = variant_of(pin.product)
    assert (v.stock_on_hand, v.held) == (1, 1)
    assert active_held(v.pk) == 1
    assert Hold.objects.filter(status="expired").count() == 1


def test_an_archived_product_is_no_longer_for_sale(client_for, user, live_pin):
    from catalog.services import product_delete

    pin = live_pin()
    product_delete(product=pin.product)
    assert_error(buy(client_for(user), pin), 409, "not_pinned")
    assert stock(pin.product) == (10, 0)


def test_a_product_priced_in_another_currency_than_its_shop_is_not_sold(client_for, user, one_tap):
    """A product saved in EUR before shops were held to one currency, in a shop that
    ships in USD: its price is never added to a USD fee (issue 9)."""
    one_tap(user)
    show = ShowFactory(status="live", started_at=timezone.now())
    pin = PinFactory(show=show, product=ProductFactory(shop=show.shop))
    Product.objects.filter(pk=pin.product_id).update(currency="EUR")

    err = assert_error(buy(client_for(user), pin), 409, "invalid_state")

    assert err["details"] == {"currency": "EUR", "shop_currency": "USD"}
    assert stock(pin.product) == (10, 0)
    assert not Order.objects.exists()
