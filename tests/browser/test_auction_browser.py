"""A live auction in Chromium: the host starts it from the studio, two bidders bid, a bid
in the last seconds extends the clock for everyone, the close names the winner.

Real uvicorn and a real Celery worker (the close task and the payment). Waits are
bounded; latencies are printed, never asserted."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from auctions.models import Auction
from streams.models import LineupItem
from tests.browser.conftest import new_context, sign_in
from tests.browser.test_live_show import save_one_tap_details
from tests.factories import ProductFactory, ShopFactory, ShowFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_host_and_two_bidders_run_an_auction_with_a_late_extension(browser, server_and_worker):
    base = server_and_worker
    host = UserFactory(username="host")
    shop = ShopFactory(owner=host, name="Corner Shop")
    lamp = ProductFactory(shop=shop, title="Brass lamp", price=Decimal("40.00"), stock=1)
    show = ShowFactory(shop=shop, title="Auction night", status="live", started_at=timezone.now())
    LineupItem.objects.create(show=show, product=lamp, position=0)
    for name in ("alice", "bob"):
        save_one_tap_details(base, UserFactory(username=name))
    studio = sign_in(new_context(browser, base), "host", f"/studio/shows/{show.id}/")
    alice = sign_in(new_context(browser, base), "alice", f"/shows/{show.id}/")
    bob = sign_in(new_context(browser, base), "bob", f"/shows/{show.id}/")
    for page in (studio, alice, bob):
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")

    row = studio.locator(f'#lineup li[data-product="{lamp.id}"]')
    row.get_by_label("Starting bid").fill("5.00")
    row.get_by_label("Seconds").fill("15")
    row.get_by_role("button", name="Auction").click()
    for page in (alice, bob):
        expect(page.locator("#auction-bid")).to_have_text("Bid $5.00", timeout=10_000)

    alice.locator("#auction-bid").click()
    expect(alice.locator("#auction-mine")).to_have_text("You're winning")
    expect(bob.locator("#auction-bid")).to_have_text("Bid $6.00")
    bob.locator("#auction-bid").click()
    expect(bob.locator("#auction-mine")).to_have_text("You're winning")
    expect(alice.locator("#auction-mine")).to_have_text("Outbid")
    expect(studio.locator("#auction-leader")).to_contain_text("bob leads")

    # Wait for the last seconds, then Alice bids: the end moves to 10 s after her bid.
    deadline = time.monotonic() + 30
    while alice.evaluate("window.__lcAuction.remaining()") > 4:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    end_before = Auction.objects.get(show=show).ends_at
    alice.locator("#auction-bid").click()
    expect(alice.locator("#auction-mine")).to_have_text("You're winning")
    end_after = Auction.objects.get(show=show).ends_at
    assert end_after > end_before
    for page in (alice, bob, studio):
        expect(page.locator("#auction-countdown")).to_have_text(re.compile(r"^(9|10)\.\d s left$"))

    # The close (the worker's task at ends_at) reaches everyone.
    for page in (bob, studio):
        expect(page.locator("#auction-status")).to_have_text(
            "Sold to alice for $7.00", timeout=30_000
        )
    expect(alice.locator("#auction-mine")).to_have_text("You won!")
    auction = Auction.objects.get(show=show)
    assert (auction.status, auction.winner.username) == ("sold", "alice")
    assert auction.order is not None
