"""POST /api/v1/holds/{id}/checkout/ — an active hold becomes an order in pending_payment."""

from __future__ import annotations

import pytest

from orders import services
from orders.models import Hold, Order
from tests.factories import UserFactory
from tests.helpers import assert_error
from tests.orders.helpers import ADDRESS, buy, pending_order, stock

pytestmark = pytest.mark.django_db


def checkout(client, hold_id, key=None, **body):  # type: ignore[no-untyped-def]
    payload = {"payment_method": "sandbox_ok", "address": ADDRESS, **body}
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(
        f"/api/v1/holds/{hold_id}/checkout/", payload, format="json", headers=headers
    )


def test_checkout_with_a_token_and_an_inline_address_is_202_pending_payment(
    client_for, user, live_pin
):
    pin = live_pin(stock=3)
    client = client_for(user)
    hold = buy(client, pin, quantity=2).json()["hold"]
    r = checkout(client, hold["id"])
    assert r.status_code == 202, r.content
    order = r.json()["order"]
    assert order["status"] == "pending_payment"
    assert order["hold"] == hold["id"]
    assert order["quantity"] == 2
    assert (order["subtotal"], order["shipping_fee"], order["total"]) == ("39.98", "4.99", "44.97")
    assert order["shipping_address"]["city"] == "Springfield"
    assert order["shipment"]["status"] == "open"
    # The hold stays active (units held) while the payment is pending.
    h = client.get(f"/api/v1/holds/{hold['id']}/").json()
    assert (h["status"], h["order"]) == ("active", order["id"])
    assert stock(pin.product) == (3, 2)


def test_checkout_with_saved_payment_method_and_address_ids(client_for, user, live_pin, one_tap):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]  # bought before saving: no one-tap order
    method, address = one_tap(user, token="sandbox_declined")
    r = checkout(client, hold["id"], payment_method=str(method.pk), address=address.pk)
    assert r.status_code == 202
    order = Order.objects.get(pk=r.json()["order"]["id"])
    assert order.payment_token == "sandbox_declined"
    assert order.payment_method == method
    assert order.shipping_address["name"] == "Ada Buyer"


def test_checkout_queues_the_capture_after_commit(
    client_for, user, live_pin, django_capture_on_commit_callbacks, monkeypatch
):
    from orders import dispatch

    queued: list[tuple[str, int]] = []
    monkeypatch.setattr(dispatch, "send", lambda name, order_id: queued.append((name, order_id)))
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]
    with django_capture_on_commit_callbacks(execute=True):
        order = checkout(client, hold["id"]).json()["order"]
    assert queued == [("orders.capture_payment", order["id"])]


def test_checkout_of_an_expired_hold_is_invalid_state(client_for, user, live_pin, clock):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]
    clock.advance(300)
    err = assert_error(checkout(client, hold["id"]), 409, "invalid_state")
    assert err["details"]["status"] == "expired"
    assert not Order.objects.exists()


def test_checkout_of_a_cancelled_hold_is_invalid_state(client_for, user, live_pin):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]
    client.post(f"/api/v1/holds/{hold['id']}/cancel/")
    err = assert_error(checkout(client, hold["id"]), 409, "invalid_state")
    assert err["details"]["status"] == "cancelled"


def test_checkout_twice_is_invalid_state_and_makes_one_order(client_for, user, live_pin):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]
    first = checkout(client, hold["id"]).json()["order"]
    err = assert_error(checkout(client, hold["id"]), 409, "invalid_state")
    assert err["details"]["order"] == first["id"]
    assert Order.objects.count() == 1


def test_checkout_with_the_same_idempotency_key_replays_the_order(client_for, user, live_pin):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]
    first = checkout(client, hold["id"], key="pay-1")
    again = checkout(client, hold["id"], key="pay-1")
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1


def test_checkout_of_another_buyers_hold_is_not_found(client_for, user, live_pin):
    pin = live_pin()
    hold = buy(client_for(user), pin).json()["hold"]
    assert_error(checkout(client_for(UserFactory()), hold["id"]), 404, "not_found")
    assert not Order.objects.exists()
    assert Hold.objects.get(pk=hold["id"]).order_id is None


def test_checkout_with_another_users_saved_method_is_invalid(client_for, user, live_pin, one_tap):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]
    theirs, their_address = one_tap(UserFactory())
    err = assert_error(checkout(client, hold["id"], payment_method=str(theirs.pk)), 400, "invalid")
    assert "payment_method" in err["details"]
    err = assert_error(checkout(client, hold["id"], address=their_address.pk), 400, "invalid")
    assert "address" in err["details"]
    assert not Order.objects.exists()


def test_checkout_with_an_unknown_token_is_invalid(client_for, user, live_pin):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]
    err = assert_error(checkout(client, hold["id"], payment_method="tok_visa"), 400, "invalid")
    assert "payment_method" in err["details"]


@pytest.mark.parametrize(
    "address",
    [{"name": "x"}, {**ADDRESS, "country": "USA"}, "somewhere", True, None, []],
)
def test_checkout_with_a_bad_address_is_invalid(client_for, user, live_pin, address):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]
    assert_error(checkout(client, hold["id"], address=address), 400, "invalid")
    assert not Order.objects.exists()


def test_checkout_without_body_is_invalid(client_for, user, live_pin):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]
    r = client.post(f"/api/v1/holds/{hold['id']}/checkout/", {}, format="json")
    err = assert_error(r, 400, "invalid")
    assert {"payment_method", "address"} <= set(err["details"])


def test_a_hold_in_checkout_does_not_expire(client_for, user, live_pin, clock):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]
    checkout(client, hold["id"])
    clock.advance(3600)
    assert services.holds_expire_due() == 0
    assert client.get(f"/api/v1/holds/{hold['id']}/").json()["status"] == "active"
    assert stock(pin.product) == (10, 1)


def test_a_hold_in_checkout_cannot_be_cancelled(client_for, user, live_pin):
    pin = live_pin()
    client = client_for(user)
    hold = buy(client, pin).json()["hold"]
    checkout(client, hold["id"])
    assert_error(client.post(f"/api/v1/holds/{hold['id']}/cancel/"), 409, "invalid_state")
    assert stock(pin.product) == (10, 1)


def test_with_always_eager_the_queued_capture_runs_inline(live_pin, monkeypatch):
    """`CELERY_TASK_ALWAYS_EAGER` (debugging) still runs a task queued by name inline."""
    from celery import current_app

    from orders import dispatch

    monkeypatch.setitem(current_app.conf, "task_always_eager", True)
    order = pending_order(live_pin())
    dispatch.send(dispatch.CAPTURE_PAYMENT, order.pk)
    assert Order.objects.get(pk=order.pk).status == "paid"
