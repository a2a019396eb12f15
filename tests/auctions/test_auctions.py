"""Auctions over REST: start, bid, close, cancel, pre-bids, and every refusal's code."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from auctions import services
from auctions.models import Auction, Bid
from catalog.models import Variant
from orders.models import Hold, Order
from streams.models import ModerationAction, Pin
from tests.auctions.conftest import start_body
from tests.factories import UserFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def start(client, show, item, **over):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/shows/{show.pk}/auctions/", start_body(item, **over), format="json"
    )


def bid(client, auction_id, amount, **more):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/auctions/{auction_id}/bids/", {"amount": amount, **more}, format="json"
    )


def held(item) -> int:  # type: ignore[no-untyped-def]
    return Variant.objects.get(product=item).held


def test_start_holds_one_unit_pins_the_product_and_answers_the_auction(
    client_for, host, live_show, item
):
    r = start(client_for(host), live_show, item)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "running"
    assert (body["starting_bid"], body["min_next_bid"], body["current_bid"]) == (
        "10.00",
        "10.00",
        None,
    )
    assert held(item) == 1
    pin = Pin.objects.get(show=live_show, unpinned_at__isnull=True)
    assert pin.product_id == item.pk
    assert (
        client_for(host).get(f"/api/v1/shows/{live_show.pk}/pins/").json()["results"][-1]["auction"]
        == body["id"]
    )


def test_only_a_host_starts_and_only_in_a_live_show(client_for, host, live_show, item, bidder):
    assert_error(start(client_for(bidder("bob")), live_show, item), 403, "permission_denied")
    live_show.status = "scheduled"
    live_show.save()
    assert_error(start(client_for(host), live_show, item), 409, "show_not_live")
    assert not Auction.objects.exists() and held(item) == 0


def test_one_running_auction_per_show(client_for, host, live_show, item):
    assert start(client_for(host), live_show, item).status_code == 201
    assert_error(start(client_for(host), live_show, item), 409, "auction_running")
    assert held(item) == 1


def test_nothing_to_auction_is_sold_out(client_for, host, live_show, item):
    Variant.objects.filter(product=item).update(held=3)
    assert_error(start(client_for(host), live_show, item), 409, "sold_out")
    assert not Auction.objects.exists() and not Hold.objects.exists()


@pytest.mark.parametrize("duration", [4, 601, "x", None])
def test_duration_out_of_range_is_invalid(client_for, host, live_show, item, duration):
    assert_error(start(client_for(host), live_show, item, duration_s=duration), 400, "invalid")


def test_bids_follow_the_increment_table(client_for, host, live_show, item, bidder):
    a = start(client_for(host), live_show, item).json()["id"]
    ann, bob = client_for(bidder("ann")), client_for(bidder("bob"))
    r = bid(ann, a, "10.00")
    assert r.status_code == 201, r.content
    assert r.json()["auction"]["min_next_bid"] == "11.00"
    err = assert_error(bid(bob, a, "10.50"), 409, "bid_too_low")
    assert err["details"] == {"min_next_bid": "11.00"}
    assert bid(bob, a, "19.50").json()["auction"]["min_next_bid"] == "20.50"
    assert bid(ann, a, "20.50").json()["auction"]["min_next_bid"] == "22.50"
    assert bid(bob, a, "499.00").json()["auction"]["min_next_bid"] == "504.00"
    assert bid(ann, a, "504.00").json()["auction"]["min_next_bid"] == "514.00"
    assert list(Bid.objects.values_list("amount", flat=True)) == [
        Decimal(x) for x in ("10.00", "19.50", "20.50", "499.00", "504.00")
    ]


def test_proxy_bid_answers_one_increment_above_a_rival_up_to_its_maximum(
    client_for, host, live_show, item, bidder, events, django_capture_on_commit_callbacks
):
    a = start(client_for(host), live_show, item).json()["id"]
    ann_user = bidder("ann")
    ann, bob = client_for(ann_user), client_for(bidder("bob"))
    assert bid(ann, a, "10.00", max_amount="50.00").json()["bid"]["leading"] is True
    with django_capture_on_commit_callbacks(execute=True):
        r = bid(bob, a, "30.00")
    assert r.json()["bid"]["leading"] is False
    assert (r.json()["auction"]["current_bid"], r.json()["auction"]["leader"]) == ("32.00", "ann")
    assert ("user", r.wsgi_request.user.pk, "auction.outbid") in [e[:3] for e in events]
    r = bid(bob, a, "60.00")
    assert (r.json()["auction"]["current_bid"], r.json()["auction"]["leader"]) == ("60.00", "bob")
    amounts = list(Bid.objects.values_list("amount", flat=True))
    assert amounts == sorted(amounts) and len(set(amounts)) == len(amounts)


def test_equal_maximums_go_to_the_earlier(client_for, host, live_show, item, bidder):
    a = start(client_for(host), live_show, item).json()["id"]
    ann, bob = client_for(bidder("ann")), client_for(bidder("bob"))
    bid(ann, a, "10.00", max_amount="40.00")
    r = bid(bob, a, "40.00")
    assert (r.json()["auction"]["current_bid"], r.json()["auction"]["leader"]) == ("40.00", "ann")


def test_a_late_bid_extends_to_ten_seconds_after_it(
    clock, client_for, host, live_show, item, bidder
):
    a = start(client_for(host), live_show, item, duration_s=30).json()["id"]
    clock.advance(25)
    r = bid(client_for(bidder("ann")), a, "10.00")
    auction = Auction.objects.get(pk=a)
    assert auction.ends_at == clock.now() + timedelta(seconds=10)
    assert r.json()["auction"]["ends_at"].startswith(auction.ends_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_sudden_death_never_extends(clock, client_for, host, live_show, item, bidder):
    a = start(client_for(host), live_show, item, duration_s=30, sudden_death=True).json()["id"]
    end = Auction.objects.get(pk=a).ends_at
    clock.advance(29)
    bid(client_for(bidder("ann")), a, "10.00")
    assert Auction.objects.get(pk=a).ends_at == end


def test_nothing_is_accepted_at_or_after_the_end(clock, client_for, host, live_show, item, bidder):
    a = start(client_for(host), live_show, item, duration_s=5).json()["id"]
    clock.advance(5)
    assert_error(bid(client_for(bidder("ann")), a, "10.00"), 409, "auction_closed")
    assert not Bid.objects.exists()


def test_close_sells_to_the_leader_with_an_order_in_pending_payment(
    clock, client_for, host, live_show, item, bidder
):
    a = start(client_for(host), live_show, item, duration_s=5).json()["id"]
    ann = bidder("ann")
    bid(client_for(ann), a, "12.00")  # with 5 s left: the end moves to 10 s after it
    clock.advance(10)
    assert services.auction_close(auction_id=a) is True
    assert services.auction_close(auction_id=a) is False
    body = client_for(None).get(f"/api/v1/auctions/{a}/").json()
    assert (body["status"], body["winner"]) == ("sold", "ann")
    order = Order.objects.get(pk=body["order"])
    assert (order.buyer_id, order.status, order.unit_price) == (
        ann.pk,
        "pending_payment",
        Decimal("12.00"),
    )
    assert order.total == order.subtotal + order.shipping_fee
    assert held(item) == 1  # still held for the winner until paid


def test_close_before_the_end_does_nothing(client_for, host, live_show, item):
    a = start(client_for(host), live_show, item).json()["id"]
    assert services.auction_close(auction_id=a) is False
    assert Auction.objects.get(pk=a).status == "running"


def test_no_bids_or_reserve_not_met_is_no_sale_and_the_unit_goes_back(
    clock, client_for, host, live_show, item, bidder
):
    a = start(client_for(host), live_show, item, duration_s=5, reserve="50.00").json()["id"]
    bid(client_for(bidder("ann")), a, "12.00")
    clock.advance(10)
    assert services.auctions_close_due() == 1
    auction = Auction.objects.get(pk=a)
    assert (auction.status, auction.winner_id, auction.order_id) == ("no_sale", None, None)
    assert held(item) == 0


def test_buying_the_pinned_product_during_its_auction_is_refused(
    client_for, host, live_show, item, bidder
):
    start(client_for(host), live_show, item)
    r = client_for(bidder("ann")).post(
        f"/api/v1/shows/{live_show.pk}/buy/", {"product": item.pk}, format="json"
    )
    assert_error(r, 409, "auction_running")


def test_cancel_before_the_first_bid_releases_the_unit(client_for, host, live_show, item, bidder):
    a = start(client_for(host), live_show, item).json()["id"]
    r = client_for(host).post(
        f"/api/v1/auctions/{a}/cancel/", {"reason": "wrong item"}, format="json"
    )
    assert r.json()["status"] == "cancelled"
    assert held(item) == 0
    b = start(client_for(host), live_show, item).json()["id"]
    bid(client_for(bidder("ann")), b, "10.00")
    r = client_for(host).post(f"/api/v1/auctions/{b}/cancel/", {"reason": "oops"}, format="json")
    assert_error(r, 409, "invalid_state")


@pytest.mark.parametrize(
    "amount",
    [
        "-5.00",
        "0",
        "NaN",
        "Infinity",
        "1e30",
        "10.001",
        "abc",
        True,
        None,
        12.345,
        "99999999999.00",
    ],
)
def test_bad_amounts_are_invalid_and_change_nothing(
    client_for, host, live_show, item, bidder, amount
):
    a = start(client_for(host), live_show, item).json()["id"]
    assert_error(bid(client_for(bidder("ann")), a, amount), 400, "invalid")
    assert not Bid.objects.exists()


def test_a_bid_in_another_currency_is_invalid(client_for, host, live_show, item, bidder):
    a = start(client_for(host), live_show, item).json()["id"]
    assert_error(bid(client_for(bidder("ann")), a, "10.00", currency="EUR"), 400, "invalid")
    assert bid(client_for(bidder("bob")), a, "10.00", currency="usd").status_code == 201


def test_max_below_amount_is_invalid(client_for, host, live_show, item, bidder):
    a = start(client_for(host), live_show, item).json()["id"]
    assert_error(bid(client_for(bidder("ann")), a, "15.00", max_amount="12.00"), 400, "invalid")


def test_the_host_may_not_bid_in_their_show(client_for, host, live_show, item):
    a = start(client_for(host), live_show, item).json()["id"]
    assert_error(bid(client_for(host), a, "10.00"), 403, "permission_denied")


def test_a_banned_user_may_not_bid(client_for, host, live_show, item, bidder):
    a = start(client_for(host), live_show, item).json()["id"]
    ann = bidder("ann")
    ModerationAction.objects.create(
        show=live_show, actor=host, target_user=ann, action="ban", reason="spam links"
    )
    err = assert_error(bid(client_for(ann), a, "10.00"), 403, "banned")
    assert err["message"] == "spam links"


def test_bidding_needs_a_saved_card_and_address(client_for, host, live_show, item):
    a = start(client_for(host), live_show, item).json()["id"]
    assert_error(bid(client_for(UserFactory()), a, "10.00"), 409, "payment_method_required")


def test_anonymous_may_read_but_not_bid(client_for, host, live_show, item):
    a = start(client_for(host), live_show, item).json()["id"]
    assert client_for(None).get(f"/api/v1/auctions/{a}/").status_code == 200
    assert_error(bid(client_for(None), a, "10.00"), 401, "not_authenticated")
    assert_error(client_for(None).get("/api/v1/auctions/999999/"), 404, "not_found")


def test_prebids_become_proxy_bids_at_the_start(client_for, host, live_show, item, bidder):
    ann, bob = bidder("ann"), bidder("bob")
    for user, top in ((ann, "25.00"), (bob, "40.00")):
        r = client_for(user).post(
            f"/api/v1/shows/{live_show.pk}/prebids/",
            {"product": item.pk, "max_amount": top},
            format="json",
        )
        assert r.status_code == 201, r.content
    body = start(client_for(host), live_show, item).json()
    assert (body["leader"], body["current_bid"], body["bid_count"]) == (
        "bob",
        "27.00",
        3,
    )  # 10 (ann), 25 (ann), 27 (bob)


def test_a_prebid_needs_a_saved_card(client_for, live_show, item):
    r = client_for(UserFactory()).post(
        f"/api/v1/shows/{live_show.pk}/prebids/",
        {"product": item.pk, "max_amount": "5.00"},
        format="json",
    )
    assert_error(r, 409, "payment_method_required")


def test_events_started_bid_closed_reach_the_show(
    clock, client_for, host, live_show, item, bidder, events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        a = start(client_for(host), live_show, item, duration_s=5).json()["id"]
        bid(client_for(bidder("ann")), a, "10.00")
    clock.advance(10)
    with django_capture_on_commit_callbacks(execute=True):
        services.auction_close(auction_id=a)
    kinds = [(e[0], e[2]) for e in events if e[2].startswith("auction.")]
    assert kinds == [
        ("show", "auction.started"),
        ("show", "auction.bid"),
        ("show", "auction.closed"),
    ]
    bid_event = next(e[3] for e in events if e[2] == "auction.bid")
    assert set(bid_event) == {"auction", "amount", "leader", "bid_count", "min_next_bid", "ends_at"}
    closed = next(e[3] for e in events if e[2] == "auction.closed")
    assert closed == {"auction": a, "status": "sold", "winner": "ann", "amount": "10.00"}


def test_auctioning_a_listing_with_a_failed_block_check_is_409(client_for, host, live_show):
    from tests.factories import ProductFactory

    fake = ProductFactory(shop=live_show.shop, title="Replica designer bag", stock=2)
    err = assert_error(start(client_for(host), live_show, fake), 409, "listing_not_ready")
    assert err["details"]["checks"]
    assert not Auction.objects.exists() and held(fake) == 0


def test_the_shows_auctions_list_their_results_for_the_replay(
    clock, client_for, host, live_show, item, bidder
):
    a = start(client_for(host), live_show, item, duration_s=5).json()["id"]
    bid(client_for(bidder("ann")), a, "12.00")
    clock.advance(10)
    services.auction_close(auction_id=a)
    body = client_for(None).get(f"/api/v1/shows/{live_show.pk}/auctions/").json()
    assert [(r["id"], r["status"], r["winner"], r["current_bid"]) for r in body["results"]] == [
        (a, "sold", "ann", "12.00")
    ]
    assert body["results"][0]["product_title"] == item.title


def test_the_snapshot_carries_server_time_and_the_running_auction(
    client_for, host, live_show, item
):
    from streams.catchup import room_snapshot

    a = start(client_for(host), live_show, item).json()["id"]
    snap = room_snapshot(show_id=live_show.pk, user=host)
    assert snap["server_time"].endswith("Z")
    assert snap["auction"]["id"] == a and snap["auction"]["status"] == "running"
    assert snap["current_pin"]["auction"] == a


def test_a_timed_out_user_may_not_bid_until_the_timeout_ends(
    client_for, host, live_show, item, bidder
):
    from django.utils import timezone

    a = start(client_for(host), live_show, item).json()["id"]
    ann = bidder("ann")
    ModerationAction.objects.create(
        show=live_show,
        actor=host,
        target_user=ann,
        action="timeout",
        reason="calm down",
        until=timezone.now() + timedelta(minutes=5),
    )
    err = assert_error(bid(client_for(ann), a, "10.00"), 403, "timed_out")
    assert err["details"]["reason"] == "calm down"
    assert not Bid.objects.exists()


def test_a_too_low_bid_is_refused_before_the_bidder_checks_and_cheaply(
    client_for, host, live_show, item, bidder, django_assert_max_num_queries
):
    """Decision (docs/auctions.md, "Refusals"): `auction_closed` and `bid_too_low` answer
    before who-may-bid, because a hammered auction answers mostly those; they say only
    what the live room shows everyone. The bidder's checks still stop the bid that would
    count: the host, or someone without a saved card, is refused at the floor."""
    auction_id = start(client_for(host), live_show, item).json()["id"]
    no_card = UserFactory()
    for who in (host, no_card):
        assert_error(bid(client_for(who), auction_id, "1.00"), 409, "bid_too_low")
    assert_error(bid(client_for(host), auction_id, "10.00"), 403, "permission_denied")
    assert_error(bid(client_for(no_card), auction_id, "10.00"), 409, "payment_method_required")
    alice = bidder("alice")
    assert bid(client_for(alice), auction_id, "10.00").status_code == 201
    # A refusal at the floor: the token, the auction row, and nothing about the bidder.
    client = client_for(bidder("bob"))
    with django_assert_max_num_queries(2):
        assert_error(bid(client, auction_id, "10.00"), 409, "bid_too_low")
    assert Bid.objects.filter(auction_id=auction_id).count() == 1
