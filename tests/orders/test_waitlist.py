"""Waitlist: released units are offered to waiting buyers in join order, each offer a
hold of its own with a short expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orders import services
from orders.models import Hold, WaitlistEntry
from tests.factories import ShowFactory, UserFactory
from tests.helpers import assert_error
from tests.orders.helpers import active_held, buy, stock, variant_of

pytestmark = pytest.mark.django_db


def join(client, pin):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/shows/{pin.show_id}/waitlist/", {"product": pin.product_id}, format="json"
    )


def test_join_the_waitlist_of_a_sold_out_product(client_for, user, live_pin):
    pin = live_pin(stock=0)
    r = join(client_for(user), pin)
    assert r.status_code == 201
    body = r.json()
    assert (body["status"], body["hold"], body["variant"]) == (
        "waiting",
        None,
        variant_of(pin.product).pk,
    )


def test_joining_twice_returns_the_same_entry(client_for, user, live_pin):
    pin = live_pin(stock=0)
    client = client_for(user)
    assert join(client, pin).json()["id"] == join(client, pin).json()["id"]
    assert WaitlistEntry.objects.count() == 1


def test_released_units_are_offered_in_join_order(client_for, live_pin, clock, settings):
    pin = live_pin(stock=2)
    holder = client_for(UserFactory())
    hold = buy(holder, pin, quantity=2).json()["hold"]
    waiting = [UserFactory() for _ in range(3)]
    for u in waiting:
        join(client_for(u), pin)
    holder.post(f"/api/v1/holds/{hold['id']}/cancel/")
    entries = list(WaitlistEntry.objects.order_by("id"))
    assert [e.status for e in entries] == ["offered", "offered", "waiting"]
    offers = [e.hold for e in entries[:2]]
    assert [h.buyer for h in offers] == waiting[:2]
    assert all(h.is_offer and h.quantity == 1 and h.status == "active" for h in offers)
    offer_ttl = timedelta(seconds=settings.WAITLIST_OFFER_SECONDS)
    assert all(h.expires_at == clock.now() + offer_ttl for h in offers)
    assert stock(pin.product) == (2, 2)
    assert active_held(variant_of(pin.product).pk) == 2


def test_an_offer_nobody_takes_goes_to_the_next_in_line(client_for, live_pin, clock):
    pin = live_pin(stock=1)
    holder = client_for(UserFactory())
    hold = buy(holder, pin).json()["hold"]
    first, second = UserFactory(), UserFactory()
    join(client_for(first), pin)
    join(client_for(second), pin)
    holder.post(f"/api/v1/holds/{hold['id']}/cancel/")
    clock.advance(61)  # the first offer lapses
    assert services.holds_expire_due() == 1
    offer = WaitlistEntry.objects.get(buyer=second).hold
    assert offer is not None and offer.status == "active"
    assert Hold.objects.get(buyer=first).status == "expired"
    assert stock(pin.product) == (1, 1)


def test_an_offer_is_pushed_to_its_buyer(
    client_for, live_pin, events, django_capture_on_commit_callbacks
):
    pin = live_pin(stock=1)
    holder = client_for(UserFactory())
    hold = buy(holder, pin).json()["hold"]
    waiting = UserFactory()
    join(client_for(waiting), pin)
    with django_capture_on_commit_callbacks(execute=True):
        holder.post(f"/api/v1/holds/{hold['id']}/cancel/")
    pushed = [e for e in events if e[0] == "user" and e[1] == waiting.pk]
    assert [(e[2], e[3]["offer"], e[3]["status"]) for e in pushed] == [
        ("hold.updated", True, "active")
    ]
    stock_events = [e[3]["available"] for e in events if e[2] == "stock.changed"]
    assert stock_events[-1] == 0


def test_an_offer_can_be_checked_out_like_any_hold(client_for, live_pin):
    from tests.orders.helpers import ADDRESS

    pin = live_pin(stock=1)
    holder = client_for(UserFactory())
    hold = buy(holder, pin).json()["hold"]
    waiting = UserFactory()
    join(client_for(waiting), pin)
    holder.post(f"/api/v1/holds/{hold['id']}/cancel/")
    offer = WaitlistEntry.objects.get(buyer=waiting).hold
    r = client_for(waiting).post(
        f"/api/v1/holds/{offer.pk}/checkout/",
        {"payment_method": "sandbox_ok", "address": ADDRESS},
        format="json",
    )
    assert r.status_code == 202


def test_joining_while_units_are_free_offers_at_once(client_for, user, live_pin):
    pin = live_pin(stock=1)
    body = join(client_for(user), pin).json()
    assert body["status"] == "offered" and body["hold"] is not None
    assert stock(pin.product) == (1, 1)


def test_a_restock_is_offered_by_the_sweep(client_for, user, live_pin):
    from catalog.services import stock_adjust
    from orders.tasks import holds_expire_due

    pin = live_pin(stock=0)
    join(client_for(user), pin)
    stock_adjust(variant_id=variant_of(pin.product).pk, delta=3, reason="Found a box", actor=None)
    assert holds_expire_due() == {"expired": 0, "offered": 1}
    assert WaitlistEntry.objects.get().status == "offered"
    assert stock(pin.product) == (3, 1)
    assert holds_expire_due() == {"expired": 0, "offered": 0}


def test_waitlist_follows_the_buy_rules(client_for, user, live_pin):
    pin = live_pin()
    scheduled = ShowFactory()
    r = client_for(user).post(
        f"/api/v1/shows/{scheduled.pk}/waitlist/", {"product": pin.product_id}, format="json"
    )
    assert_error(r, 409, "show_not_live")
    assert_error(
        client_for(user).post(f"/api/v1/shows/{pin.show_id}/waitlist/", {}, format="json"),
        400,
        "invalid",
    )


def test_waitlist_needs_an_account(api_client, live_pin):
    assert_error(join(api_client, live_pin()), 401, "not_authenticated")


def test_a_buyer_at_the_limit_cannot_join_the_waitlist(client_for, user, live_pin):
    pin = live_pin(stock=1, limit=1)
    client = client_for(user)
    buy(client, pin)
    assert_error(join(client, pin), 409, "limit_exceeded")
    assert not WaitlistEntry.objects.exists()
