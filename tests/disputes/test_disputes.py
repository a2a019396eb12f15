"""Disputes and returns: opening (window, state, one open per order), evidence, the
seller's answer, the staff decision, who sees what, and bad input on every endpoint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings

from disputes.models import Dispute
from orders import services as orders_services
from orders.models import Order, Refund, SandboxCharge
from tests.factories import ShopStaffFactory, UserFactory
from tests.orders.helpers import pending_order

pytestmark = pytest.mark.django_db

BODY = {"reason": "damaged", "text": "The mug arrived in pieces."}


def iso(dt) -> str:  # type: ignore[no-untyped-def]
    return dt.isoformat().replace("+00:00", "Z")


def open_dispute(client, order_id: int, **body):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/orders/{order_id}/disputes/", {**BODY, **body}, format="json")


def respond(client, dispute_id: int, action: str = "refund", reason: str = "Sorry!"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/disputes/{dispute_id}/respond/",
        {"action": action, "reason": reason},
        format="json",
    )


def decide(client, dispute_id: int, decision: str, reason: str = "Photos show damage."):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/staff/disputes/{dispute_id}/decision/",
        {"decision": decision, "reason": reason},
        format="json",
    )


def refunds_charged(order: Order) -> int:
    return SandboxCharge.objects.filter(kind="refund", idempotency_key=f"refund-{order.pk}").count()


# --------------------------------------------------------------------------- opening


@pytest.mark.parametrize("status", ["paid", "shipped", "delivered"])
def test_buyer_opens_a_dispute_with_a_48_hour_seller_deadline(sold, client_for, clock, status):
    order = sold(status)
    res = open_dispute(client_for(order.buyer), order.pk)
    assert res.status_code == 201, res.json()
    body = res.json()
    assert body["order"] == order.pk
    assert body["status"] == "awaiting_seller"
    assert body["reason"] == "damaged"
    assert body["text"] == BODY["text"]
    assert body["seller_deadline"] == iso(clock.now() + timedelta(hours=48))
    assert body["deadline_passed"] is False
    assert body["resolution"] == ""
    assert Dispute.objects.get(pk=body["id"]).order_id == order.pk


def test_evidence_is_a_snapshot_of_the_sale(sold, client_for):
    order = sold("shipped", price="12.50")
    pin = order.show.pins.get()
    body = open_dispute(client_for(order.buyer), order.pk).json()
    evidence = body["evidence"]
    assert evidence["bought_in"] == "live"
    assert evidence["show"]["id"] == order.show_id
    assert evidence["show"]["title"] == order.show.title
    assert evidence["pin"]["id"] == pin.pk
    assert evidence["pin"]["offset_s"] == pin.offset_s
    assert evidence["pin"]["price"] == "12.50"
    assert evidence["pin"]["current_at_purchase"] is True
    assert evidence["purchase_offset_s"] >= 0
    assert evidence["product"]["title"] == order.product.title
    assert evidence["product"]["sku"] == order.variant.sku
    assert evidence["price"]["unit_price"] == "12.50"
    assert evidence["price"]["total"] == f"{order.total:.2f}"
    assert evidence["shipment"]["tracking_number"] == "1Z999"
    # A later edit of the listing does not change what the buyer bought.
    order.product.title = "Renamed"
    order.product.save()
    fresh = client_for(order.buyer).get(f"/api/v1/disputes/{body['id']}/").json()
    assert fresh["evidence"]["product"]["title"] != "Renamed"


def test_only_the_buyer_may_dispute_their_order(sold, client_for, api_client):
    order = sold("paid")
    for who in (UserFactory(), order.shop.owner, UserFactory(is_staff=True)):
        res = open_dispute(client_for(who), order.pk)
        assert res.status_code == 404, who
        assert res.json()["error"]["code"] == "not_found"
    assert open_dispute(api_client, order.pk).status_code == 401
    assert not Dispute.objects.exists()


def test_an_unpaid_order_cannot_be_disputed(live_pin, client_for):
    order = pending_order(live_pin())
    res = open_dispute(client_for(order.buyer), order.pk)
    assert res.status_code == 409
    assert res.json()["error"]["code"] == "invalid_state"
    assert "not paid yet" in res.json()["error"]["message"]
    assert not Dispute.objects.exists()


def test_a_refunded_order_cannot_be_disputed(sold, client_for):
    order = sold("paid")
    orders_services.order_refund(actor=order.shop.owner, order_id=order.pk, reason="oops")
    res = open_dispute(client_for(order.buyer), order.pk)
    assert res.status_code == 409
    assert res.json()["error"]["code"] == "invalid_state"


def test_one_open_dispute_per_order(sold, client_for):
    order = sold("shipped")
    buyer = client_for(order.buyer)
    first = open_dispute(buyer, order.pk).json()
    res = open_dispute(buyer, order.pk, reason="other")
    assert res.status_code == 409
    assert res.json()["error"]["code"] == "dispute_exists"
    assert res.json()["error"]["details"]["dispute"] == first["id"]
    assert Dispute.objects.count() == 1


def test_a_new_dispute_may_follow_a_rejected_one(sold, client_for):
    order = sold("delivered")
    first = open_dispute(client_for(order.buyer), order.pk).json()
    respond(client_for(order.shop.owner), first["id"], "reject", "It was fine when sent.")
    decide(client_for(UserFactory(is_staff=True)), first["id"], "reject")
    assert open_dispute(client_for(order.buyer), order.pk).status_code == 201


def test_the_window_closes_30_days_after_delivery(sold, client_for, clock):
    in_time, too_late = sold("delivered"), sold("delivered")
    clock.advance(settings.DISPUTE_WINDOW_DAYS * 86400 - 1)
    assert open_dispute(client_for(in_time.buyer), in_time.pk).status_code == 201
    clock.advance(2)
    res = open_dispute(client_for(too_late.buyer), too_late.pk)
    assert res.status_code == 409
    assert res.json()["error"]["code"] == "dispute_window_closed"
    assert "30 days after delivery" in res.json()["error"]["message"]
    assert not Dispute.objects.filter(order=too_late).exists()


def test_a_shipped_order_has_no_window_yet(sold, client_for, clock):
    order = sold("shipped")
    clock.advance(90 * 86400)
    assert open_dispute(client_for(order.buyer), order.pk).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "bored", "text": "x"},
        {"reason": "damaged"},
        {"reason": "damaged", "text": ""},
        {"reason": "damaged", "text": "x" * 4001},
        {"text": "no reason"},
        {"reason": ["damaged"], "text": "x"},
    ],
)
def test_bad_input_when_opening(sold, client_for, body):
    order = sold("paid")
    res = client_for(order.buyer).post(f"/api/v1/orders/{order.pk}/disputes/", body, format="json")
    assert res.status_code == 400
    assert res.json()["error"]["code"] == "invalid"
    assert not Dispute.objects.exists()


def test_unknown_order_and_malformed_json(client_for, user):
    assert open_dispute(client_for(user), 999_999_999).status_code == 404
    res = client_for(user).post(
        "/api/v1/orders/1/disputes/", data="{", content_type="application/json"
    )
    assert res.status_code == 400
    assert res.json()["error"]["code"] == "parse_error"


# --------------------------------------------------------------------------- the seller


def test_seller_refund_goes_through_the_provider_once(
    sold, client_for, django_capture_on_commit_callbacks
):
    order = sold("shipped")
    dispute = open_dispute(client_for(order.buyer), order.pk).json()
    with django_capture_on_commit_callbacks(execute=True):  # the provider: after commit
        res = respond(client_for(order.shop.owner), dispute["id"], "refund", "Sending a new one.")
    assert res.status_code == 200, res.json()
    body = res.json()
    assert body["status"] == "resolved_refunded"
    assert body["resolution"] == "seller_refunded"
    assert body["seller_response"]["action"] == "refund"
    order.refresh_from_db()
    assert order.status == "refunded"
    assert refunds_charged(order) == 1
    assert Refund.objects.get(order=order).amount == order.total
    again = respond(client_for(order.shop.owner), dispute["id"], "refund", "again")
    assert again.status_code == 409
    assert refunds_charged(order) == 1


def test_seller_rejection_goes_to_staff(sold, client_for):
    order = sold("delivered")
    dispute = open_dispute(client_for(order.buyer), order.pk).json()
    member = ShopStaffFactory(shop=order.shop).user
    res = respond(client_for(member), dispute["id"], "reject", "Tracking shows delivered.")
    assert res.status_code == 200
    body = res.json()
    assert body["status"] == "awaiting_staff"
    assert body["seller_response"]["reason"] == "Tracking shows delivered."
    assert Order.objects.get(pk=order.pk).status == "delivered"
    assert refunds_charged(order) == 0
    assert respond(client_for(order.shop.owner), dispute["id"]).status_code == 409


def test_only_the_shop_answers(sold, client_for, api_client):
    order = sold("shipped")
    dispute = open_dispute(client_for(order.buyer), order.pk).json()
    res = respond(client_for(order.buyer), dispute["id"])
    assert res.status_code == 403
    assert res.json()["error"]["code"] == "permission_denied"
    assert respond(client_for(UserFactory()), dispute["id"]).status_code == 404
    assert respond(api_client, dispute["id"]).status_code == 401
    assert Dispute.objects.get(pk=dispute["id"]).status == "awaiting_seller"
    assert refunds_charged(order) == 0


def test_a_rejection_after_the_deadline_is_refused_but_a_refund_is_not(sold, client_for, clock):
    order = sold("shipped")
    dispute = open_dispute(client_for(order.buyer), order.pk).json()
    clock.advance(settings.DISPUTE_SELLER_RESPONSE_HOURS * 3600 + 1)
    owner = client_for(order.shop.owner)
    res = respond(owner, dispute["id"], "reject", "Too late")
    assert res.status_code == 409
    assert res.json()["error"]["code"] == "invalid_state"
    assert Dispute.objects.get(pk=dispute["id"]).status == "awaiting_seller"
    assert respond(owner, dispute["id"], "refund").json()["status"] == "resolved_refunded"


@pytest.mark.parametrize(
    "body",
    [
        {"action": "ignore", "reason": "x"},
        {"action": "refund"},
        {"action": "reject", "reason": ""},
        {"action": "reject", "reason": "x" * 2001},
        {},
    ],
)
def test_bad_input_when_responding(sold, client_for, body):
    order = sold("shipped")
    dispute = open_dispute(client_for(order.buyer), order.pk).json()
    res = client_for(order.shop.owner).post(
        f"/api/v1/disputes/{dispute['id']}/respond/", body, format="json"
    )
    assert res.status_code == 400
    assert res.json()["error"]["code"] == "invalid"
    assert Dispute.objects.get(pk=dispute["id"]).status == "awaiting_seller"


def test_responding_to_an_unknown_dispute(client_for, user):
    assert respond(client_for(user), 999_999_999).status_code == 404


# --------------------------------------------------------------------------- staff


def test_staff_decide_a_rejected_dispute_for_the_buyer(
    sold, client_for, django_capture_on_commit_callbacks
):
    order = sold("delivered")
    dispute = open_dispute(client_for(order.buyer), order.pk).json()
    respond(client_for(order.shop.owner), dispute["id"], "reject", "Looks fine")
    staff = UserFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):  # the provider: after commit
        res = decide(client_for(staff), dispute["id"], "refund", "Photos show a broken handle.")
    assert res.status_code == 200
    body = res.json()
    assert (body["status"], body["resolution"]) == ("resolved_refunded", "staff_refunded")
    assert body["resolution_reason"] == "Photos show a broken handle."
    assert refunds_charged(order) == 1
    assert decide(client_for(staff), dispute["id"], "reject").status_code == 409
    assert refunds_charged(order) == 1


def test_staff_reject(sold, client_for):
    order = sold("delivered")
    dispute = open_dispute(client_for(order.buyer), order.pk).json()
    respond(client_for(order.shop.owner), dispute["id"], "reject", "Looks fine")
    res = decide(client_for(UserFactory(is_staff=True)), dispute["id"], "reject")
    assert (res.json()["status"], res.json()["resolution"]) == (
        "resolved_rejected",
        "staff_rejected",
    )
    assert Order.objects.get(pk=order.pk).status == "delivered"
    assert refunds_charged(order) == 0


def test_only_staff_decide(sold, client_for):
    order = sold("delivered")
    dispute = open_dispute(client_for(order.buyer), order.pk).json()
    for who in (order.buyer, order.shop.owner, UserFactory()):
        res = decide(client_for(who), dispute["id"], "refund")
        assert res.status_code == 403
    assert Dispute.objects.get(pk=dispute["id"]).status == "awaiting_seller"


@pytest.mark.parametrize(
    "body", [{"decision": "uphold", "reason": "x"}, {"decision": "refund"}, {"reason": "x"}]
)
def test_bad_input_when_deciding(sold, client_for, body):
    order = sold("delivered")
    dispute = open_dispute(client_for(order.buyer), order.pk).json()
    res = client_for(UserFactory(is_staff=True)).post(
        f"/api/v1/staff/disputes/{dispute['id']}/decision/", body, format="json"
    )
    assert res.status_code == 400
    assert Dispute.objects.get(pk=dispute["id"]).status == "awaiting_seller"


def test_staff_decision_on_unknown_dispute(client_for):
    assert decide(client_for(UserFactory(is_staff=True)), 999_999_999, "refund").status_code == 404


# --------------------------------------------------------------------------- reading


def test_who_sees_a_dispute(sold, client_for, api_client):
    order = sold("shipped")
    dispute = open_dispute(client_for(order.buyer), order.pk).json()
    url = f"/api/v1/disputes/{dispute['id']}/"
    member = ShopStaffFactory(shop=order.shop).user
    for who in (order.buyer, order.shop.owner, member, UserFactory(is_staff=True)):
        assert client_for(who).get(url).json()["id"] == dispute["id"]
    assert client_for(UserFactory()).get(url).status_code == 404
    assert api_client.get(url).status_code == 401


def test_lists_of_the_buyer_and_the_shop(sold, client_for):
    mine, other = sold("shipped"), sold("shipped")
    a = open_dispute(client_for(mine.buyer), mine.pk).json()
    b = open_dispute(client_for(other.buyer), other.pk).json()
    own = client_for(mine.buyer).get("/api/v1/me/disputes/").json()
    assert [d["id"] for d in own["results"]] == [a["id"]]
    shop = client_for(other.shop.owner).get(f"/api/v1/shops/{other.shop_id}/disputes/").json()
    assert [d["id"] for d in shop["results"]] == [b["id"]]
    res = client_for(mine.buyer).get(f"/api/v1/shops/{other.shop_id}/disputes/")
    assert res.status_code == 403
