"""Support and disputes in a real browser: a seller opens a ticket on the dashboard and
sees the first answer with its help articles at once; the help centre searches; a buyer
opens a dispute on /orders/ and the seller refunds it from the dashboard."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from disputes.models import Dispute
from orders.models import Order
from support.models import Ticket
from tests.browser.conftest import new_context, screenshot, sign_in
from tests.factories import PinFactory, ProductFactory, ShopFactory, ShowFactory, UserFactory
from tests.orders.helpers import paid_order

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_seller_opens_a_ticket_and_sees_the_first_answer(browser, server):
    ShopFactory(owner=UserFactory(username="seller"), name="Corner Shop")
    page = sign_in(new_context(browser, server), "seller", "/dashboard/")
    page.get_by_text("Open a ticket").click()
    page.get_by_label("Category").select_option("payouts")
    page.get_by_label("Subject").fill("When do I get paid?")
    page.get_by_label("What happened?").fill("I sold a lot yesterday; when is my payout?")
    page.get_by_role("button", name="Open ticket").click()

    answer = page.locator("#first-answer")
    expect(answer).to_be_visible()
    expect(answer).to_contain_text("Ticket #")
    link = answer.get_by_role("link", name="Payouts: how and when sellers get paid")
    expect(link).to_be_visible()
    screenshot(page, "dashboard-support-first-answer", sizes=("desktop",))
    assert Ticket.objects.get().first_answer["articles"][0]["slug"] == "payouts"

    link.click()
    expect(
        page.get_by_role("heading", name="Payouts: how and when sellers get paid")
    ).to_be_visible()
    expect(page.get_by_text("payouts are not part of this product yet")).to_be_visible()

    page.goto("/help/")
    page.get_by_label("Search the help centre").fill("import products from a spreadsheet")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#help-results a").first).to_have_attribute("href", "/help/csv-import/")


def test_buyer_opens_a_dispute_and_the_seller_refunds_it(browser, server):
    seller = UserFactory(username="seller")
    shop = ShopFactory(owner=seller, name="Corner Shop")
    show = ShowFactory(shop=shop, title="Friday drop", status="live", started_at=timezone.now())
    pin = PinFactory(show=show, product=ProductFactory(shop=shop, title="Blue mug", stock=3))
    order = paid_order(pin, buyer=UserFactory(username="buyer"))

    buyer = sign_in(new_context(browser, server), "buyer", "/orders/")
    row = buyer.locator(f'tr[data-order="{order.pk}"]')
    row.get_by_text("Report a problem").click()
    row.get_by_label("What went wrong?").select_option("damaged")
    row.get_by_label("Details").fill("The handle came off.")
    row.get_by_role("button", name="Open dispute").click()
    expect(buyer.locator(f'tr[data-order="{order.pk}"] .dispute-status')).to_have_text(
        "Awaiting Seller"
    )
    expect(buyer.get_by_text("you are refunded automatically")).to_be_visible()

    page = sign_in(new_context(browser, server), "seller", "/dashboard/")
    dispute = Dispute.objects.get()
    section = page.locator(f'tr[data-dispute="{dispute.pk}"]')
    expect(section).to_contain_text("The handle came off.")
    section.get_by_label("Action").select_option("refund")
    section.get_by_label("Reason").fill("Sorry, refunded.")
    section.get_by_role("button", name="Send answer").click()
    expect(page.locator(f'tr[data-dispute="{dispute.pk}"] .dispute-status')).to_have_text(
        "Resolved Refunded"
    )
    screenshot(page, "dashboard-disputes", sizes=("desktop",))
    assert Order.objects.get(pk=order.pk).status == "refunded"
