"""Pins: one current pin per show, the timeline, `pin.changed`."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import ApiError
from streams.models import Pin, Show
from streams.selectors import pin_payload
from streams.services import pin_clear, pin_product, show_end
from tests.factories import ProductFactory, ShowFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_pin_replaces_the_current_pin(live_show, host, product, shop):
    first = pin_product(user=host, show_id=live_show.pk, product_id=product.pk)
    second = pin_product(user=host, show_id=live_show.pk, product_id=ProductFactory(shop=shop).pk)
    first.refresh_from_db()
    assert first.unpinned_at == second.pinned_at
    assert list(Pin.objects.filter(show=live_show, unpinned_at__isnull=True)) == [second]


def test_pin_payload_shape(live_show, host, product, events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        pin = pin_product(
            user=host,
            show_id=live_show.pk,
            product_id=product.pk,
            price=Decimal("9.50"),
            limit_per_buyer=2,
        )
    [event] = events.of_type("pin.changed")
    data = event["pin"]
    assert data == pin_payload(pin)
    assert (data["price"], data["list_price"], data["limit_per_buyer"]) == ("9.50", "19.99", 2)
    variant = product.variants.get()
    assert data["product"]["variants"] == [
        {
            "id": variant.pk,
            "sku": variant.sku,
            "options": {},
            "price": "19.99",
            "stock_available": 5,
        }
    ]
    assert data["product"]["stock_available"] == 5
    assert data["unpinned_at"] is None


def test_pin_price_defaults_to_list_price(live_show, host, product):
    data = pin_payload(pin_product(user=host, show_id=live_show.pk, product_id=product.pk))
    assert data is not None
    assert data["price"] == data["list_price"] == "19.99"


def test_offset_is_seconds_since_start(shop, host, product):
    show = ShowFactory(
        shop=shop, status=Show.Status.LIVE, started_at=timezone.now() - timedelta(seconds=90)
    )
    pin = pin_product(user=host, show_id=show.pk, product_id=product.pk)
    assert 90 <= pin.offset_s < 100


def test_pin_before_start_has_offset_zero(scheduled_show, host, product):
    assert pin_product(user=host, show_id=scheduled_show.pk, product_id=product.pk).offset_s == 0


def test_cannot_pin_in_an_ended_show(shop, host, product):
    show = ShowFactory(shop=shop, status=Show.Status.ENDED)
    with pytest.raises(ApiError) as info:
        pin_product(user=host, show_id=show.pk, product_id=product.pk)
    assert info.value.code == "invalid_state"


def test_product_of_another_shop_is_invalid(live_show, host):
    with pytest.raises(ApiError) as info:
        pin_product(user=host, show_id=live_show.pk, product_id=ProductFactory().pk)
    assert (info.value.code, list(info.value.details)) == ("invalid", ["product"])
    assert not Pin.objects.exists()


def test_inactive_product_is_invalid(live_show, host, shop):
    product = ProductFactory(shop=shop, is_active=False)
    with pytest.raises(ApiError) as info:
        pin_product(user=host, show_id=live_show.pk, product_id=product.pk)
    assert info.value.code == "invalid"


def test_moderators_cannot_pin(live_show, moderator, product):
    with pytest.raises(ApiError) as info:
        pin_product(user=moderator, show_id=live_show.pk, product_id=product.pk)
    assert info.value.code == "permission_denied"


def test_unpin_closes_and_broadcasts_null(
    live_show, host, product, events, django_capture_on_commit_callbacks
):
    pin = pin_product(user=host, show_id=live_show.pk, product_id=product.pk)
    with django_capture_on_commit_callbacks(execute=True):
        pin_clear(user=host, show_id=live_show.pk)
    pin.refresh_from_db()
    assert pin.unpinned_at is not None
    assert events.of_type("pin.changed") == [{"pin": None}]


def test_unpin_with_nothing_pinned_is_not_found(live_show, host):
    with pytest.raises(ApiError) as info:
        pin_clear(user=host, show_id=live_show.pk)
    assert info.value.code == "not_found"


def test_end_closes_the_current_pin(live_show, host, product):
    pin = pin_product(user=host, show_id=live_show.pk, product_id=product.pk)
    show = show_end(user=host, show_id=live_show.pk)
    pin.refresh_from_db()
    assert pin.unpinned_at == show.ended_at


@pytest.mark.django_db(transaction=True)
def test_concurrent_pins_leave_exactly_one_current_pin(live_show, host, shop):
    """Many hosts' taps at once: the show row lock serializes them, the timeline stays a chain."""
    products = [ProductFactory(shop=shop) for _ in range(8)]
    barrier = threading.Barrier(len(products))
    errors: list[BaseException] = []

    def pin(product_id: int) -> None:
        try:
            barrier.wait(timeout=10)
            pin_product(user=host, show_id=live_show.pk, product_id=product_id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pin, args=(p.pk,)) for p in products]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    pins = list(Pin.objects.filter(show=live_show).order_by("pinned_at", "id"))
    assert len(pins) == len(products)
    assert [p.unpinned_at is None for p in pins] == [False] * (len(pins) - 1) + [True]
    # Each pin was closed exactly when the next began: no overlaps, no gaps.
    for earlier, later in itertools.pairwise(pins):
        assert earlier.unpinned_at == later.pinned_at
    assert sorted(p.product_id for p in pins) == sorted(p.pk for p in products)


# --- REST ---------------------------------------------------------------------------------


def pins_url(show: Show) -> str:
    return f"/api/v1/shows/{show.pk}/pins/"


def test_rest_pin_answers_201_with_the_pin(client_for, host, live_show, product):
    r = client_for(host).post(
        pins_url(live_show),
        {"product": product.pk, "price": "12.00", "limit_per_buyer": 1},
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["product"]["id"], body["price"], body["list_price"], body["limit_per_buyer"]) == (
        product.pk,
        "12.00",
        "19.99",
        1,
    )
    assert body["product"]["title"] == "Mug"
    shown = client_for(host).get(f"/api/v1/shows/{live_show.pk}/").json()["current_pin"]
    assert shown == body


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"product": "mug"},
        {"product": 1, "price": "-1"},
        {"product": 1, "price": "1.999"},
        {"product": 1, "limit_per_buyer": 0},
    ],
)
def test_rest_bad_pin_input_is_invalid(client_for, host, live_show, body):
    assert_error(client_for(host).post(pins_url(live_show), body, format="json"), 400, "invalid")
    assert not Pin.objects.exists()


def test_rest_pin_of_another_shops_product_is_invalid(client_for, host, live_show):
    r = client_for(host).post(pins_url(live_show), {"product": ProductFactory().pk}, format="json")
    assert "product" in assert_error(r, 400, "invalid")["details"]


def test_rest_pin_in_ended_show_is_409(client_for, host, shop, product):
    show = ShowFactory(shop=shop, status=Show.Status.ENDED)
    assert_error(
        client_for(host).post(pins_url(show), {"product": product.pk}, format="json"),
        409,
        "invalid_state",
    )


PIN_EXPECTED = {
    "host": 201,
    "staff": 201,
    "moderator": 403,
    "other_seller": 403,
    "buyer": 403,
    "anonymous": 401,
}


@pytest.mark.parametrize("who", list(PIN_EXPECTED))
def test_who_may_pin_and_unpin(client_as, who, live_show, product, host):
    client = client_as(who)
    r = client.post(pins_url(live_show), {"product": product.pk}, format="json")
    assert r.status_code == PIN_EXPECTED[who], r.content
    if PIN_EXPECTED[who] != 201:
        assert not Pin.objects.exists()
        existing = pin_product(user=host, show_id=live_show.pk, product_id=product.pk)
        assert client.delete(pins_url(live_show) + "current/").status_code == PIN_EXPECTED[who]
        existing.refresh_from_db()
        assert existing.unpinned_at is None
    else:
        assert client.delete(pins_url(live_show) + "current/").status_code == 204
        assert not Pin.objects.filter(unpinned_at__isnull=True).exists()


def test_rest_unpin_with_nothing_pinned_is_404(client_for, host, live_show):
    assert_error(client_for(host).delete(pins_url(live_show) + "current/"), 404, "not_found")


def test_rest_current_pin(api_client, host, live_show, product):
    assert_error(api_client.get(pins_url(live_show) + "current/"), 404, "not_found")
    pin = pin_product(user=host, show_id=live_show.pk, product_id=product.pk)
    assert api_client.get(pins_url(live_show) + "current/").json()["id"] == pin.pk


def test_timeline_is_oldest_first_with_offsets(api_client, host, shop):
    start = timezone.now() - timedelta(minutes=10)
    show = ShowFactory(shop=shop, status=Show.Status.LIVE, started_at=start)
    products = ProductFactory.create_batch(3, shop=shop)
    for i, product in enumerate(products):
        Pin.objects.filter(show=show, unpinned_at__isnull=True).update(
            unpinned_at=start + timedelta(seconds=60 * i + 30)
        )
        Pin.objects.create(
            show=show,
            product=product,
            pinned_at=start + timedelta(seconds=60 * i + 30),
            offset_s=60 * i + 30,
        )
    r = api_client.get(pins_url(show))
    assert r.status_code == 200
    results = r.json()["results"]
    assert [p["product"]["id"] for p in results] == [p.pk for p in products]
    assert [p["offset_s"] for p in results] == [30, 90, 150]
    assert [p["unpinned_at"] is None for p in results] == [False, False, True]
    assert r.json()["next"] is None


def test_timeline_of_a_rehearsal_is_404_for_viewers(client_for, viewer, shop):
    show = ShowFactory(shop=shop, rehearsal=True)
    assert_error(client_for(viewer).get(pins_url(show)), 404, "not_found")


def test_timeline_survives_the_end_of_the_show(api_client, client_for, host, live_show, product):
    pin_product(user=host, show_id=live_show.pk, product_id=product.pk)
    client_for(host).post(f"/api/v1/shows/{live_show.pk}/end/")
    [entry] = api_client.get(pins_url(live_show)).json()["results"]
    assert entry["product"]["id"] == product.pk and entry["unpinned_at"] is not None


def test_repeated_pin_with_the_same_idempotency_key_pins_once(client_for, host, live_show, product):
    client = client_for(host)
    first = client.post(
        pins_url(live_show), {"product": product.pk}, format="json", HTTP_IDEMPOTENCY_KEY="pin-1"
    )
    again = client.post(
        pins_url(live_show), {"product": product.pk}, format="json", HTTP_IDEMPOTENCY_KEY="pin-1"
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Pin.objects.filter(show=live_show).count() == 1
