"""Orders after payment: buyer reads and cancels, seller lists, refunds and ships."""

from __future__ import annotations

import pytest

from catalog.models import StockAdjustment
from orders.models import Order, Refund, SandboxCharge, Shipment
from tests.factories import ShopStaffFactory, UserFactory
from tests.helpers import assert_error
from tests.orders.helpers import paid_order, pending_order, stock

pytestmark = pytest.mark.django_db


def test_order_list_and_detail_show_the_callers_orders_with_shipment(client_for, live_pin):
    pin = live_pin()
    buyer = UserFactory()
    order = paid_order(pin, buyer=buyer)
    paid_order(pin)  # someone else's
    client = client_for(buyer)
    listed = client.get("/api/v1/orders/").json()
    assert [o["id"] for o in listed["results"]] == [order.pk]
    detail = client.get(f"/api/v1/orders/{order.pk}/").json()
    assert detail["status"] == "paid"
    assert detail["shipment"] == {
        "id": order.shipment_id,
        "status": "open",
        "carrier": "",
        "tracking_number": "",
        "shipped_at": None,
        "delivered_at": None,
    }
    assert detail == listed["results"][0]


def test_another_buyers_order_is_not_found_and_untouched(client_for, live_pin):
    pin = live_pin()
    order = paid_order(pin)
    other = client_for(UserFactory())
    assert_error(other.get(f"/api/v1/orders/{order.pk}/"), 404, "not_found")
    assert_error(other.post(f"/api/v1/orders/{order.pk}/cancel/"), 404, "not_found")
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_orders_need_an_account(api_client):
    assert_error(api_client.get("/api/v1/orders/"), 401, "not_authenticated")


def test_buyer_cancels_a_paid_order_refunded_and_restocked_once(
    client_for, live_pin, django_capture_on_commit_callbacks
):
    pin = live_pin(stock=5)
    buyer = UserFactory()
    order = paid_order(pin, buyer=buyer, quantity=2)
    assert stock(pin.product) == (3, 0)
    client = client_for(buyer)
    with django_capture_on_commit_callbacks() as after_commit:
        r = client.post(f"/api/v1/orders/{order.pk}/cancel/")
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    assert stock(pin.product) == (5, 0)
    assert StockAdjustment.objects.filter(kind="restock", delta=2).count() == 1
    refund = Refund.objects.get(order=order)
    assert refund.amount == order.total
    # Decided under the order's lock; the provider is called only after commit.
    assert refund.settled_at is None
    assert not SandboxCharge.objects.filter(kind="refund").exists()
    for callback in after_commit:
        callback()
    assert SandboxCharge.objects.filter(kind="refund").count() == 1
    refund.refresh_from_db()
    assert refund.settled_at is not None
    assert refund.provider_ref == SandboxCharge.objects.get(kind="refund").reference
    # Again: refused, and nothing moves twice.
    assert_error(client.post(f"/api/v1/orders/{order.pk}/cancel/"), 409, "invalid_state")
    assert stock(pin.product) == (5, 0)
    assert Refund.objects.count() == 1


def test_cancel_takes_the_order_out_of_its_parcel(client_for, live_pin):
    pin = live_pin()
    buyer = UserFactory()
    order = paid_order(pin, buyer=buyer)
    client_for(buyer).post(f"/api/v1/orders/{order.pk}/cancel/")
    shipment = Shipment.objects.get(pk=order.shipment_id)
    assert (shipment.weight_grams, str(shipment.fee_charged)) == (0, "0.00")


def test_cancel_while_payment_is_pending_is_invalid_state(client_for, live_pin):
    pin = live_pin()
    buyer = UserFactory()
    order = pending_order(pin, buyer=buyer)
    err = assert_error(
        client_for(buyer).post(f"/api/v1/orders/{order.pk}/cancel/"), 409, "invalid_state"
    )
    assert err["details"]["status"] == "pending_payment"
    assert stock(pin.product) == (10, 1)


def test_cancel_after_shipping_is_invalid_state(client_for, live_pin):
    pin = live_pin()
    buyer = UserFactory()
    order = paid_order(pin, buyer=buyer)
    client_for(pin.show.shop.owner).post(
        f"/api/v1/shipments/{order.shipment_id}/ship/",
        {"carrier": "UPS", "tracking_number": "1Z"},
        format="json",
    )
    assert_error(client_for(buyer).post(f"/api/v1/orders/{order.pk}/cancel/"), 409, "invalid_state")
    assert stock(pin.product) == (9, 0)


def test_cancel_offers_restocked_units_to_the_waitlist(client_for, live_pin):
    from orders.models import WaitlistEntry

    pin = live_pin(stock=1)
    buyer = UserFactory()
    order = paid_order(pin, buyer=buyer)
    waiting = UserFactory()
    client_for(waiting).post(
        f"/api/v1/shows/{pin.show_id}/waitlist/", {"product": pin.product_id}, format="json"
    )
    client_for(buyer).post(f"/api/v1/orders/{order.pk}/cancel/")
    entry = WaitlistEntry.objects.get(buyer=waiting)
    assert entry.status == "offered"
    assert stock(pin.product) == (1, 1)


def test_shop_owner_refunds_a_paid_order_and_restocks_by_default(client_for, live_pin):
    pin = live_pin(stock=3)
    order = paid_order(pin)
    r = client_for(pin.show.shop.owner).post(
        f"/api/v1/orders/{order.pk}/refund/", {"reason": "Damaged in the studio"}, format="json"
    )
    assert r.status_code == 200
    assert r.json()["status"] == "refunded"
    assert Refund.objects.get(order=order).reason == "Damaged in the studio"
    assert stock(pin.product) == (3, 0)


def test_shop_staff_refund_without_restock(client_for, live_pin):
    pin = live_pin(stock=3)
    order = paid_order(pin)
    staff = ShopStaffFactory(shop=pin.show.shop).user
    r = client_for(staff).post(
        f"/api/v1/orders/{order.pk}/refund/", {"reason": "Lost", "restock": False}, format="json"
    )
    assert r.status_code == 200
    assert stock(pin.product) == (2, 0)
    assert not StockAdjustment.objects.filter(kind="restock").exists()


def test_refund_of_a_shipped_order_does_not_restock_unless_asked(client_for, live_pin):
    pin = live_pin(stock=3)
    order = paid_order(pin)
    owner = client_for(pin.show.shop.owner)
    owner.post(
        f"/api/v1/shipments/{order.shipment_id}/ship/",
        {"carrier": "UPS", "tracking_number": "1Z"},
        format="json",
    )
    r = owner.post(f"/api/v1/orders/{order.pk}/refund/", {"reason": "Returned"}, format="json")
    assert r.json()["status"] == "refunded"
    assert stock(pin.product) == (2, 0)


def test_refund_twice_is_invalid_state(client_for, live_pin):
    pin = live_pin()
    order = paid_order(pin)
    owner = client_for(pin.show.shop.owner)
    owner.post(f"/api/v1/orders/{order.pk}/refund/", {"reason": "x"}, format="json")
    r = owner.post(f"/api/v1/orders/{order.pk}/refund/", {"reason": "x"}, format="json")
    assert_error(r, 409, "invalid_state")
    assert Refund.objects.count() == 1


def test_refund_of_an_unpaid_order_is_invalid_state(client_for, live_pin):
    pin = live_pin()
    order = pending_order(pin)
    r = client_for(pin.show.shop.owner).post(
        f"/api/v1/orders/{order.pk}/refund/", {"reason": "x"}, format="json"
    )
    assert_error(r, 409, "invalid_state")


def test_refund_needs_a_reason(client_for, live_pin):
    pin = live_pin()
    order = paid_order(pin)
    r = client_for(pin.show.shop.owner).post(
        f"/api/v1/orders/{order.pk}/refund/", {}, format="json"
    )
    assert "reason" in assert_error(r, 400, "invalid")["details"]


def test_the_buyer_cannot_refund_and_strangers_do_not_see_the_order(client_for, live_pin):
    pin = live_pin()
    buyer = UserFactory()
    order = paid_order(pin, buyer=buyer)
    body = {"reason": "free money"}
    url = f"/api/v1/orders/{order.pk}/refund/"
    assert_error(client_for(buyer).post(url, body, format="json"), 403, "permission_denied")
    assert_error(client_for(UserFactory()).post(url, body, format="json"), 404, "not_found")
    assert Order.objects.get(pk=order.pk).status == "paid"
    assert not Refund.objects.exists()


def test_platform_staff_may_refund(client_for, live_pin):
    pin = live_pin()
    order = paid_order(pin)
    staff = UserFactory(is_staff=True)
    r = client_for(staff).post(
        f"/api/v1/orders/{order.pk}/refund/", {"reason": "Support"}, format="json"
    )
    assert r.status_code == 200


def test_shop_orders_and_shipments_for_owner_and_staff(client_for, live_pin):
    pin = live_pin()
    order = paid_order(pin)
    paid_order(live_pin())  # another shop's
    staff = ShopStaffFactory(shop=pin.show.shop).user
    for who in (pin.show.shop.owner, staff):
        client = client_for(who)
        orders = client.get(f"/api/v1/shops/{pin.show.shop_id}/orders/").json()["results"]
        assert [o["id"] for o in orders] == [order.pk]
        shipments = client.get(f"/api/v1/shops/{pin.show.shop_id}/shipments/").json()["results"]
        assert [(s["id"], s["orders"]) for s in shipments] == [(order.shipment_id, [order.pk])]


def test_shop_orders_are_forbidden_to_others(client_for, live_pin):
    pin = live_pin()
    buyer = UserFactory()
    paid_order(pin, buyer=buyer)
    for path in ("orders", "shipments"):
        url = f"/api/v1/shops/{pin.show.shop_id}/{path}/"
        assert_error(client_for(buyer).get(url), 403, "permission_denied")
        assert_error(client_for(buyer).get(f"/api/v1/shops/999999/{path}/"), 404, "not_found")


def test_ship_marks_paid_orders_shipped(
    client_for, live_pin, events, django_capture_on_commit_callbacks
):
    pin = live_pin()
    buyer = UserFactory()
    first = paid_order(pin, buyer=buyer)
    second = paid_order(pin, buyer=buyer)
    assert first.shipment_id == second.shipment_id
    with django_capture_on_commit_callbacks(execute=True):
        r = client_for(pin.show.shop.owner).post(
            f"/api/v1/shipments/{first.shipment_id}/ship/",
            {"carrier": "UPS", "tracking_number": "1Z999"},
            format="json",
        )
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["tracking_number"]) == ("shipped", "1Z999")
    assert set(Order.objects.values_list("status", flat=True)) == {"shipped"}
    pushed = [e[3]["id"] for e in events if e[2] == "order.updated"]
    assert sorted(pushed) == [first.pk, second.pk]
    detail = client_for(buyer).get(f"/api/v1/orders/{first.pk}/").json()
    assert detail["shipment"]["tracking_number"] == "1Z999"


def test_after_shipping_a_new_order_opens_a_new_parcel(client_for, live_pin):
    pin = live_pin()
    buyer = UserFactory()
    first = paid_order(pin, buyer=buyer)
    client_for(pin.show.shop.owner).post(
        f"/api/v1/shipments/{first.shipment_id}/ship/",
        {"carrier": "UPS", "tracking_number": "1Z"},
        format="json",
    )
    second = paid_order(pin, buyer=buyer)
    assert second.shipment_id != first.shipment_id
    assert second.shipping_fee > 0


def test_ship_is_refused_while_a_payment_is_pending(client_for, live_pin):
    pin = live_pin()
    buyer = UserFactory()
    paid = paid_order(pin, buyer=buyer)
    pending_order(pin, buyer=buyer)
    r = client_for(pin.show.shop.owner).post(
        f"/api/v1/shipments/{paid.shipment_id}/ship/",
        {"carrier": "UPS", "tracking_number": "1Z"},
        format="json",
    )
    assert_error(r, 409, "invalid_state")
    assert Order.objects.get(pk=paid.pk).status == "paid"


def test_ship_twice_is_invalid_state(client_for, live_pin):
    pin = live_pin()
    order = paid_order(pin)
    owner = client_for(pin.show.shop.owner)
    url = f"/api/v1/shipments/{order.shipment_id}/ship/"
    body = {"carrier": "UPS", "tracking_number": "1Z"}
    assert owner.post(url, body, format="json").status_code == 200
    assert_error(owner.post(url, body, format="json"), 409, "invalid_state")


def test_ship_by_a_buyer_or_stranger_is_not_found(client_for, live_pin):
    pin = live_pin()
    buyer = UserFactory()
    order = paid_order(pin, buyer=buyer)
    url = f"/api/v1/shipments/{order.shipment_id}/ship/"
    body = {"carrier": "UPS", "tracking_number": "1Z"}
    for who in (buyer, UserFactory()):
        assert_error(client_for(who).post(url, body, format="json"), 404, "not_found")
    assert Shipment.objects.get(pk=order.shipment_id).status == "open"


def test_ship_needs_carrier_and_tracking_number(client_for, live_pin):
    pin = live_pin()
    order = paid_order(pin)
    r = client_for(pin.show.shop.owner).post(
        f"/api/v1/shipments/{order.shipment_id}/ship/", {}, format="json"
    )
    err = assert_error(r, 400, "invalid")
    assert {"carrier", "tracking_number"} <= set(err["details"])
