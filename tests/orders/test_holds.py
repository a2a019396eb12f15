"""Holds: reading, expiry (lazy and swept), cancel — every hold ends exactly once."""

from __future__ import annotations

import pytest

from orders import services
from orders.models import Hold
from orders.tasks import holds_expire_due
from tests.factories import UserFactory
from tests.helpers import assert_error
from tests.orders.helpers import active_held, buy, stock, variant_of

pytestmark = pytest.mark.django_db


def test_hold_detail_shows_the_callers_hold(client_for, user, live_pin):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]
    r = client.get(f"/api/v1/holds/{hold['id']}/")
    assert r.status_code == 200
    assert r.json() == hold


def test_hold_list_shows_only_the_callers_holds(client_for, user, live_pin):
    pin = live_pin()
    mine = buy(client_for(user), pin).json()["hold"]["id"]
    buy(client_for(UserFactory()), pin)
    r = client_for(user).get("/api/v1/holds/")
    assert r.status_code == 200
    assert [h["id"] for h in r.json()["results"]] == [mine]
    assert r.json()["next"] is None


def test_another_buyers_hold_is_not_found(client_for, user, live_pin):
    pin = live_pin()
    hold = buy(client_for(user), pin).json()["hold"]["id"]
    other = client_for(UserFactory())
    assert_error(other.get(f"/api/v1/holds/{hold}/"), 404, "not_found")
    assert_error(other.post(f"/api/v1/holds/{hold}/cancel/"), 404, "not_found")
    assert Hold.objects.get(pk=hold).status == "active"
    assert stock(pin.product) == (10, 1)


def test_holds_need_an_account(api_client):
    assert_error(api_client.get("/api/v1/holds/"), 401, "not_authenticated")


def test_hold_past_expiry_reads_expired_before_the_sweep(client_for, user, live_pin, clock):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]
    clock.advance(299)
    assert client.get(f"/api/v1/holds/{hold['id']}/").json()["status"] == "active"
    clock.advance(1)
    assert client.get(f"/api/v1/holds/{hold['id']}/").json()["status"] == "expired"
    # Not swept yet: the row is still active and its unit still held.
    assert Hold.objects.get(pk=hold["id"]).status == "active"
    assert stock(pin.product) == (10, 1)


def test_sweep_releases_expired_holds_exactly_once(client_for, live_pin, clock):
    pin = live_pin(stock=5)
    for q in (1, 2):
        buy(client_for(UserFactory()), pin, quantity=q)
    clock.advance(150)
    buy(client_for(UserFactory()), pin)  # not due yet
    clock.advance(151)
    assert holds_expire_due() == {"expired": 2, "offered": 0}
    assert holds_expire_due() == {"expired": 0, "offered": 0}
    assert stock(pin.product) == (5, 1)
    assert sorted(Hold.objects.values_list("status", flat=True)) == ["active", "expired", "expired"]
    assert all(h.ended_at == clock.now() for h in Hold.objects.filter(status="expired"))


def test_expiring_one_hold_twice_releases_once(client_for, user, live_pin, clock):
    pin = live_pin()
    hold = buy(client_for(user), pin, quantity=3).json()["hold"]["id"]
    clock.advance(301)
    assert services.hold_expire(hold_id=hold) is True
    assert services.hold_expire(hold_id=hold) is False
    v = variant_of(pin.product)
    assert (v.stock_on_hand, v.held) == (10, 0)


def test_hold_not_due_is_not_expired_by_the_sweep(client_for, user, live_pin, clock):
    pin = live_pin()
    hold = buy(client_for(user), pin).json()["hold"]["id"]
    clock.advance(10)
    assert services.hold_expire(hold_id=hold) is False
    assert Hold.objects.get(pk=hold).status == "active"


def test_expiry_emits_stock_and_hold_events(
    client_for, user, live_pin, clock, events, django_capture_on_commit_callbacks
):
    pin = live_pin(stock=2)
    hold = buy(client_for(user), pin, quantity=2).json()["hold"]["id"]
    clock.advance(301)
    with django_capture_on_commit_callbacks(execute=True):
        services.holds_expire_due()
    v = variant_of(pin.product)
    assert events == [
        (
            "show",
            pin.show_id,
            "stock.changed",
            {"product": pin.product_id, "variant": v.pk, "available": 2},
        ),
        ("user", user.pk, "hold.updated", events[1][3]),
    ]
    assert events[1][3]["id"] == hold and events[1][3]["status"] == "expired"


def test_cancel_releases_units_at_once(client_for, user, live_pin):
    pin = live_pin(stock=3)
    client = client_for(user)
    hold = buy(client, pin, quantity=2).json()["hold"]["id"]
    r = client.post(f"/api/v1/holds/{hold}/cancel/")
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    assert r.json()["ended_at"] is not None
    assert stock(pin.product) == (3, 0)


def test_cancel_twice_is_invalid_state_and_releases_once(client_for, user, live_pin):
    pin = live_pin(stock=3)
    client = client_for(user)
    hold = buy(client, pin, quantity=2).json()["hold"]["id"]
    client.post(f"/api/v1/holds/{hold}/cancel/")
    err = assert_error(client.post(f"/api/v1/holds/{hold}/cancel/"), 409, "invalid_state")
    assert err["details"]["status"] == "cancelled"
    assert stock(pin.product) == (3, 0)


def test_cancel_an_expired_hold_is_invalid_state(client_for, user, live_pin, clock):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]["id"]
    clock.advance(301)
    err = assert_error(client.post(f"/api/v1/holds/{hold}/cancel/"), 409, "invalid_state")
    assert err["details"]["status"] == "expired"
    services.holds_expire_due()
    assert stock(pin.product) == (10, 0)


def test_sweep_after_cancel_changes_nothing(client_for, user, live_pin, clock):
    pin = live_pin(stock=3)
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]["id"]
    client.post(f"/api/v1/holds/{hold}/cancel/")
    clock.advance(301)
    assert services.holds_expire_due() == 0
    assert Hold.objects.get(pk=hold).status == "cancelled"
    assert stock(pin.product) == (3, 0)
    assert active_held(variant_of(pin.product).pk) == 0


def test_cancel_with_an_idempotency_key_replays_the_first_answer(client_for, user, live_pin):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]["id"]
    url = f"/api/v1/holds/{hold}/cancel/"
    first = client.post(url, headers={"Idempotency-Key": "c1"})
    again = client.post(url, headers={"Idempotency-Key": "c1"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
