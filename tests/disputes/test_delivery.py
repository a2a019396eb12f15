"""POST /api/v1/shipments/{id}/deliver/: the seller marks a shipped parcel delivered."""

from __future__ import annotations

import pytest

from orders.models import Order, Shipment
from tests.factories import ShopStaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def deliver(client, shipment_id: int, **kwargs):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/shipments/{shipment_id}/deliver/", format="json", **kwargs)


def test_delivering_a_shipped_parcel_marks_it_and_its_orders_delivered(sold, client_for, clock):
    order = sold("shipped")
    res = deliver(client_for(order.shop.owner), order.shipment_id)
    assert res.status_code == 200, res.json()
    body = res.json()
    assert body["status"] == "delivered"
    assert body["delivered_at"] == clock.now().isoformat().replace("+00:00", "Z")
    order.refresh_from_db()
    assert order.status == "delivered"
    detail = client_for(order.buyer).get(f"/api/v1/orders/{order.pk}/").json()
    assert detail["status"] == "delivered"
    assert detail["shipment"]["delivered_at"] is not None


def test_shop_staff_may_deliver(sold, client_for):
    order = sold("shipped")
    member = ShopStaffFactory(shop=order.shop).user
    assert deliver(client_for(member), order.shipment_id).status_code == 200


@pytest.mark.parametrize("status", ["paid", "delivered"])
def test_only_a_shipped_parcel_can_be_delivered(sold, client_for, status):
    order = sold(status)
    before = Shipment.objects.get(pk=order.shipment_id)
    res = deliver(client_for(order.shop.owner), order.shipment_id)
    assert res.status_code == 409
    assert res.json()["error"]["code"] == "invalid_state"
    after = Shipment.objects.get(pk=order.shipment_id)
    assert (after.status, after.delivered_at) == (before.status, before.delivered_at)


def test_buyer_and_strangers_cannot_deliver(sold, client_for, api_client):
    order = sold("shipped")
    for who in (order.buyer, UserFactory()):
        res = deliver(client_for(who), order.shipment_id)
        assert res.status_code == 404
        assert res.json()["error"]["code"] == "not_found"
    assert deliver(api_client, order.shipment_id).status_code == 401
    assert Order.objects.get(pk=order.pk).status == "shipped"


def test_unknown_parcel_and_malformed_body(sold, client_for):
    order = sold("shipped")
    owner = client_for(order.shop.owner)
    assert deliver(owner, 999_999_999).status_code == 404
    res = owner.post(
        f"/api/v1/shipments/{order.shipment_id}/deliver/",
        data="{not json",
        content_type="application/json",
    )
    assert res.status_code == 400
    assert res.json()["error"]["code"] == "parse_error"
    assert Shipment.objects.get(pk=order.shipment_id).status == "shipped"
