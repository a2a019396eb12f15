"""The live show end to end in Chromium: a host and two viewers on one live show.

Real uvicorn (HTTP + WebSocket) and a real Celery worker (payments). Every wait is up
to 10 s; the observed latencies are printed and written to artifacts/, never asserted.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from orders.models import Order
from streams.models import LineupItem, Pin
from tests.browser.conftest import new_context, screenshot, sign_in
from tests.factories import ProductFactory, ShopFactory, ShowFactory, UserFactory, token_for

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DEMO_VIDEO = "/static/demo/show.mp4"


def save_one_tap_details(base_url: str, user: object) -> None:
    """Give `user` a default payment method and address through the public API."""
    headers = {"Authorization": f"Token {token_for(user)}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as http:
        pm = http.post("/api/v1/me/payment-methods/", json={"token": "sandbox_ok"})
        assert pm.status_code == 201, pm.text
        address = {
            "name": "Alice Doe",
            "line1": "1 Main St",
            "city": "Springfield",
            "postal_code": "12345",
            "country": "US",
        }
        addr = http.post("/api/v1/me/addresses/", json=address)
        assert addr.status_code == 201, addr.text


def chat(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def messages(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#messages")


def moderate(studio: Page, text: str, action: str, reason: str) -> None:
    row = studio.locator("#messages li", has_text=text)
    row.get_by_role("button", name=re.compile(f"^{action}")).click()
    dialog = studio.locator("#mod-dialog")
    expect(dialog).to_be_visible()
    # The reason is required: confirming without one leaves the dialog open, unsent.
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog).to_be_visible()
    assert dialog.locator("#mod-reason").evaluate("el => el.matches(':invalid')")
    dialog.get_by_label("Reason").fill(reason)
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog).to_be_hidden()


def test_host_and_two_viewers_run_a_live_show(browser, server_and_worker, latencies):
    base = server_and_worker
    host_user = UserFactory(username="host")
    shop = ShopFactory(owner=host_user, name="Corner Shop")
    shirt = ProductFactory(shop=shop, title="Linen shirt", price=Decimal("25.00"))
    shirt.variants.update(stock_on_hand=5)
    socks = ProductFactory(shop=shop, title="Wool socks", price=Decimal("9.00"))
    show = ShowFactory(
        shop=shop,
        title="Friday drop",
        status="live",
        started_at=timezone.now(),
        playback_url=DEMO_VIDEO,
    )
    LineupItem.objects.create(show=show, product=shirt, position=0)
    LineupItem.objects.create(show=show, product=socks, position=1)
    alice_user = UserFactory(username="alice")
    UserFactory(username="bob")
    save_one_tap_details(base, alice_user)
    show_url = f"/shows/{show.id}/"

    studio = sign_in(new_context(browser, base), "host", f"/studio/shows/{show.id}/")
    alice = sign_in(new_context(browser, base), "alice", show_url)
    bob = sign_in(new_context(browser, base), "bob", show_url)
    anon = new_context(browser, base).new_page()
    anon.goto(show_url)
    for page in (studio, alice, bob, anon):
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")

    # The host pins the shirt at a show price: both viewers see it with its stock.
    card_before = alice.locator("#pin-card").bounding_box()
    t0 = time.monotonic()
    shirt_row = studio.locator(f'#lineup li[data-product="{shirt.id}"]')
    shirt_row.get_by_label("Show price").fill("20.00")
    shirt_row.get_by_role("button", name="Pin").click()
    for who, page in (("alice", alice), ("bob", bob)):
        expect(page.locator("#pin-title")).to_have_text("Linen shirt")
        latencies.since(f"pin_visible_{who}", t0)
        expect(page.locator("#pin-stock")).to_have_text("5 left")
        expect(page.locator("#pin-price")).to_have_text("$20.00")
    expect(shirt_row).to_have_attribute("data-pinned", "true")
    # The card's space was reserved: pinning does not move the page.
    assert alice.locator("#pin-card").bounding_box() == card_before
    # An anonymous viewer watches and reads; buying and chatting ask for sign-in.
    expect(anon.locator("#pin-title")).to_have_text("Linen shirt")
    expect(anon.get_by_role("link", name="Sign in to buy")).to_be_visible()
    expect(anon.get_by_role("link", name="Sign in to chat")).to_be_visible()

    # Bob has nothing saved: Buy → hold with a countdown → short checkout form → paid.
    t0 = time.monotonic()
    bob.get_by_role("button", name="Buy now").click()
    expect(bob.locator("#hold-countdown")).to_have_text(re.compile(r"^\d+:\d\d left$"))
    latencies.since("buy_to_hold_countdown", t0)
    expect(alice.locator("#pin-stock")).to_have_text("4 left")
    latencies.since("hold_to_other_viewer_stock", t0)
    bob.get_by_label("Payment").select_option("sandbox_ok")
    bob.get_by_label("Ship to").select_option("new")
    bob.get_by_label("Full name").fill("Bob Roe")
    bob.get_by_label("Address", exact=True).fill("2 Side St")
    bob.get_by_label("City").fill("Shelbyville")
    bob.get_by_label("Postal code").fill("54321")
    screenshot(bob, "checkout", sizes=("phone",))
    t0 = time.monotonic()
    bob.get_by_role("button", name="Pay now").click()
    expect(bob.locator("#order-line")).to_contain_text("Paid")
    latencies.since("checkout_to_paid", t0)

    # Alice has saved details: one tap, and the order is paid by the Celery worker.
    t0 = time.monotonic()
    alice.get_by_role("button", name="Buy now").click()
    expect(alice.locator("#order-line")).to_contain_text("Paid")
    latencies.since("one_tap_to_paid", t0)
    for page in (alice, bob):
        expect(page.locator("#pin-stock")).to_have_text("3 left")
    expect(studio.locator("#t-orders")).to_have_text("2")
    expect(studio.locator("#t-units")).to_have_text("2")
    expect(studio.locator("#t-gmv")).to_have_text("$40.00")
    latencies.since("one_tap_to_studio_ticker", t0)
    expect(studio.locator("#t-pin")).to_contain_text("3 left")
    screenshot(alice, "viewer")

    # Chat reaches everyone; a removed message vanishes for both viewers.
    chat(alice, "hello everyone")
    expect(messages(bob)).to_contain_text("hello everyone")
    chat(bob, "cheap pills here")
    expect(messages(studio)).to_contain_text("cheap pills here")
    expect(messages(alice)).to_contain_text("cheap pills here")
    t0 = time.monotonic()
    moderate(studio, "cheap pills here", "Remove", "Spam links are not allowed")
    for who, page in (("alice", alice), ("bob", bob)):
        expect(messages(page)).not_to_contain_text("cheap pills here")
        latencies.since(f"removed_for_{who}", t0)
    expect(messages(alice)).to_contain_text("hello everyone")
    expect(messages(anon)).to_contain_text("hello everyone")

    # The host bans bob: bob reads the reason and can no longer chat.
    chat(bob, "more pills")
    expect(messages(studio)).to_contain_text("more pills")
    t0 = time.monotonic()
    moderate(studio, "more pills", "Ban", "Repeated spam after a warning")
    expect(bob.locator("#mod-notice")).to_contain_text("Repeated spam after a warning")
    latencies.since("ban_notice", t0)
    expect(bob.locator("#mod-notice")).to_contain_text("banned")
    expect(bob.get_by_label("Message")).to_be_disabled()
    screenshot(bob, "viewer-banned", sizes=("phone",))
    screenshot(studio, "studio")

    # Alice loses her connection while the host pins the socks; she says she is
    # reconnecting, comes back, and the missed pin is replayed (resume after_seq).
    alice.evaluate("window.__lcLive.drop(2500)")
    expect(alice.locator("#conn")).to_have_text("Reconnecting…")
    socks_row = studio.locator(f'#lineup li[data-product="{socks.id}"]')
    socks_row.get_by_role("button", name="Pin").click()
    expect(bob.locator("#pin-title")).to_have_text("Wool socks")
    t0 = time.monotonic()
    expect(alice.locator("#pin-title")).to_have_text("Wool socks")
    latencies.since("resume_after_reconnect", t0)
    expect(alice.locator("#conn")).to_have_attribute("data-state", "live")
    stats = alice.evaluate("window.__lcLive.stats")
    assert stats["connects"] >= 2
    assert stats["resumes"] + stats["resyncs"] >= 1, stats

    # The host ends the show: the same page becomes the shoppable replay.
    studio.once("dialog", lambda d: d.accept())
    studio.get_by_role("button", name="End show").click()
    for page in (alice, bob):
        expect(page.locator("#status-badge")).to_have_text("Replay")
        expect(page.locator("#timeline button")).to_have_count(2)
    expect(alice.locator("#timeline")).to_contain_text("Linen shirt")
    expect(alice.locator("#timeline")).to_contain_text("Wool socks")
    alice.locator("#timeline button", has_text="Linen shirt").click()
    expect(alice.locator("#pin-title")).to_have_text("Linen shirt")
    expect(alice.get_by_role("button", name="Buy now")).to_be_enabled()

    # The seller's analytics count the two paid orders, with both pins on the chart.
    studio.goto(f"/dashboard/shows/{show.id}/")
    expect(studio.locator("#kpi-gmv")).to_have_text("40.00 USD")
    expect(studio.locator("#kpi-buyers")).to_have_text("2")
    expect(studio.locator("svg[role=img] line[stroke-dasharray]")).to_have_count(2)
    screenshot(studio, "analytics")

    # The seller ships bob's parcel with tracking from the dashboard.
    studio.goto("/dashboard/")
    expect(studio.locator("#orders-body tr")).to_have_count(2)
    expect(studio.locator("#orders-body")).to_contain_text("paid")
    parcel = studio.locator("#shipments-body tr").first
    parcel.get_by_label("Carrier").fill("USPS")
    parcel.get_by_label("Tracking number").fill("9400 1000 0000 0000 0000 00")
    parcel.get_by_role("button", name="Mark shipped").click()
    expect(studio.locator("#shipments-body")).to_contain_text("USPS 9400 1000 0000 0000 0000 00")
    expect(studio.locator("#orders-body")).to_contain_text("shipped")
    screenshot(studio, "dashboard")


def test_replay_moments_seek_the_video_and_stay_buyable(browser, server_and_worker, latencies):
    base = server_and_worker
    shop = ShopFactory(name="Corner Shop")
    shirt = ProductFactory(shop=shop, title="Linen shirt", price=Decimal("25.00"))
    socks = ProductFactory(shop=shop, title="Wool socks", price=Decimal("9.00"))
    socks.variants.update(stock_on_hand=1)
    started = timezone.now() - timedelta(minutes=30)
    show = ShowFactory(
        shop=shop,
        title="Last week's drop",
        status="ended",
        started_at=started,
        ended_at=started + timedelta(minutes=20),
        playback_url=DEMO_VIDEO,
    )
    for product, offset in ((shirt, 2.0), (socks, 7.5)):
        Pin.objects.create(
            show=show,
            product=product,
            pinned_at=started + timedelta(seconds=offset),
            unpinned_at=started + timedelta(seconds=offset + 4),
            offset_s=offset,
        )
    UserFactory(username="carol")
    UserFactory(username="dave")
    page = sign_in(new_context(browser, base), "carol", f"/shows/{show.id}/")
    expect(page.locator("#timeline button")).to_have_count(2)
    expect(page.locator("#timeline button").nth(1)).to_contain_text("0:07")
    page.wait_for_function("document.querySelector('#video').readyState >= 1")
    t0 = time.monotonic()
    page.locator("#timeline button", has_text="Wool socks").click()
    page.wait_for_function("document.querySelector('#video').currentTime >= 7.4")
    latencies.since("moment_click_to_seek", t0)
    current = page.evaluate("document.querySelector('#video').currentTime")
    assert 7.4 <= current < 12.5
    expect(page.locator("#pin-title")).to_have_text("Wool socks")
    expect(page.locator("#timeline button", has_text="Wool socks")).to_have_attribute(
        "aria-current", "true"
    )
    expect(page.locator("#chat-closed")).to_be_visible()

    # The replay still sells: carol holds the last pair of socks (at list price)...
    dave = sign_in(new_context(browser, base), "dave", f"/shows/{show.id}/")
    dave.locator("#timeline button", has_text="Wool socks").click()
    expect(dave.locator("#pin-stock")).to_have_text("1 left")
    page.get_by_role("button", name="Buy now").click()
    expect(page.locator("#hold-countdown")).to_have_text(re.compile(r"left$"))
    expect(page.locator("#pin-price")).to_have_text("$9.00")
    screenshot(page, "replay")
    # ...dave sees them sold out and joins the waitlist...
    expect(dave.locator("#pin-stock")).to_have_text("Sold out")
    dave.get_by_role("button", name="Join the waitlist").click()
    expect(dave.locator("#waitlist-note")).to_contain_text("on the waitlist")
    # ...carol changes her mind, and the pair is offered to dave at once, as a short hold.
    t0 = time.monotonic()
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#hold-text")).to_have_text("Reservation cancelled.")
    expect(dave.locator("#order-line")).to_contain_text("came back for you")
    latencies.since("cancel_to_waitlist_offer", t0)
    expect(dave.locator("#hold-countdown")).to_have_text(re.compile(r"left$"))
    dave.get_by_label("Payment").select_option("sandbox_ok")
    dave.get_by_label("Ship to").select_option("new")
    dave.get_by_label("Full name").fill("Dave Poe")
    dave.get_by_label("Address", exact=True).fill("3 High St")
    dave.get_by_label("City").fill("Ogdenville")
    dave.get_by_label("Postal code").fill("11111")
    dave.get_by_role("button", name="Pay now").click()
    expect(dave.locator("#order-line")).to_contain_text("Paid")


def test_one_tap_paid_before_the_buy_answer_arrives_still_reads_paid(browser, server_and_worker):
    """The worker's `order.updated` (paid) can reach the page before the buy's own 201 on a
    busy machine: the page must not step back to "Paying…" when the older answer lands."""
    base = server_and_worker
    host_user = UserFactory(username="host")
    shop = ShopFactory(owner=host_user, name="Corner Shop")
    shirt = ProductFactory(shop=shop, title="Linen shirt", price=Decimal("25.00"))
    show = ShowFactory(shop=shop, status="live", started_at=timezone.now())
    LineupItem.objects.create(show=show, product=shirt, position=0)
    alice_user = UserFactory(username="alice")
    save_one_tap_details(base, alice_user)
    with httpx.Client(base_url=base, timeout=10) as http:
        pinned = http.post(
            f"/api/v1/shows/{show.id}/pins/",
            json={"product": shirt.id},
            headers={"Authorization": f"Token {token_for(host_user)}"},
        )
        assert pinned.status_code == 201, pinned.text

    alice = sign_in(new_context(browser, base), "alice", f"/shows/{show.id}/")
    expect(alice.locator("#conn")).to_have_attribute("data-state", "live")
    expect(alice.locator("#pin-title")).to_have_text("Linen shirt")

    held_back: list[int] = []

    def answer_after_paid(route) -> None:  # type: ignore[no-untyped-def]
        # Let the buy through, then hold its answer until the worker has paid the order
        # and the page has heard `order.updated` over its socket.
        response = route.fetch()
        order_id = response.json()["order"]["id"]
        held_back.append(order_id)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if Order.objects.get(pk=order_id).status == "paid":
                break
            time.sleep(0.05)
        time.sleep(0.5)  # the event's way from the worker through Redis to the socket
        route.fulfill(response=response)

    alice.route(f"**/api/v1/shows/{show.id}/buy/", answer_after_paid)
    alice.get_by_role("button", name="Buy now").click()
    expect(alice.locator("#order-line")).to_contain_text("Paid")
    assert held_back and Order.objects.get(pk=held_back[0]).status == "paid"
    # The late answer (pending_payment) has been applied by now and did not win.
    alice.wait_for_function("window.__lcMetrics && window.__lcMetrics.buyMs > 0")
    expect(alice.locator("#order-line")).to_contain_text("Paid")
    expect(alice.locator("#order-line")).to_have_attribute("data-status", "paid")
    # Nor does its hold come back to life: the hold ended (converted) and Buy is free again.
    expect(alice.locator("#hold-countdown")).to_have_text("")
    expect(alice.get_by_role("button", name="Buy now")).to_be_enabled()
