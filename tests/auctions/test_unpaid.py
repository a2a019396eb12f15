"""Unpaid winners: a declined card gives the winner a strike and the runner-up a second
chance; three strikes in the window block bidding with a reason."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from auctions import services
from auctions.models import Auction, Strike
from auctions.tasks import auctions_close_due
from orders.models import Hold
from orders.services import order_capture_payment
from tests.auctions.conftest import start_body
from tests.helpers import assert_error
from trust.models import Case

pytestmark = pytest.mark.django_db


def run_auction(client_for, host, show, item, clock, bids):  # type: ignore[no-untyped-def]
    a = (
        client_for(host)
        .post(f"/api/v1/shows/{show.pk}/auctions/", start_body(item, duration_s=5), format="json")
        .json()["id"]
    )
    for user, amount in bids:
        r = client_for(user).post(f"/api/v1/auctions/{a}/bids/", {"amount": amount}, format="json")
        assert r.status_code == 201, r.content
    clock.advance(11)
    assert services.auction_close(auction_id=a)
    return Auction.objects.get(pk=a)


def test_a_declined_winner_gets_a_strike_and_the_runner_up_a_second_chance(
    clock, client_for, host, live_show, item, bidder
):
    ann, bob = bidder("ann"), bidder("bob", token="sandbox_declined")
    auction = run_auction(
        client_for, host, live_show, item, clock, [(ann, "10.00"), (bob, "15.00")]
    )
    assert auction.winner_id == bob.pk
    assert order_capture_payment(order_id=auction.order_id).value == "failed"
    assert auctions_close_due()["unpaid"] == 1
    assert auctions_close_due()["unpaid"] == 0  # once
    assert Strike.objects.filter(user=bob, auction=auction).count() == 1
    offer = Hold.objects.get(buyer=ann, is_offer=True)
    assert Auction.objects.get(pk=auction.pk).second_chance_id == offer.pk
    assert (offer.status, offer.unit_price, offer.quantity) == ("active", Decimal("10.00"), 1)
    assert offer.expires_at <= clock.now() + timedelta(seconds=60)


def test_a_paid_winner_gets_no_strike(clock, client_for, host, live_show, item, bidder):
    ann = bidder("ann")
    auction = run_auction(client_for, host, live_show, item, clock, [(ann, "10.00")])
    assert order_capture_payment(order_id=auction.order_id).value == "paid"
    assert auctions_close_due()["unpaid"] == 0
    assert not Strike.objects.exists()


def test_three_strikes_in_the_window_block_bidding_with_a_reason(
    clock, client_for, host, live_show, item, bidder
):
    bob = bidder("bob", token="sandbox_declined")
    for _ in range(3):
        auction = run_auction(client_for, host, live_show, item, clock, [(bob, "10.00")])
        order_capture_payment(order_id=auction.order_id)
        auctions_close_due()
    assert Strike.objects.filter(user=bob).count() == 3
    a = (
        client_for(host)
        .post(f"/api/v1/shows/{live_show.pk}/auctions/", start_body(item), format="json")
        .json()["id"]
    )
    r = client_for(bob).post(f"/api/v1/auctions/{a}/bids/", {"amount": "10.00"}, format="json")
    err = assert_error(r, 403, "bidding_blocked")
    assert "3 auctions won and not paid" in err["message"] and err["details"]["reason"]
    case = Case.objects.get(subject=bob, kind="bidding_blocked")
    assert (case.rule, case.actor, case.reason) == ("B1", "automatic", err["message"])
    assert len(case.evidence["auctions"]) == 3
