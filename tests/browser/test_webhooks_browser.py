"""The dashboard's webhooks section in a real browser: the owner reads why an endpoint was
disabled, enables it again and redelivers from the delivery log."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    PHONE,
    allow_console_error,
    new_context,
    screenshot,
    sign_in,
)
from tests.factories import ShopFactory, UserFactory
from webhooks.models import Delivery, Endpoint
from webhooks.services import endpoint_create, event_record

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REASON = "Disabled automatically on 2026-01-07 10:00 UTC: every delivery failed for 5.0 days"


def test_owner_enables_a_disabled_endpoint_and_redelivers(browser, server, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    seller = UserFactory(username="seller")
    shop = ShopFactory(owner=seller, name="Corner Shop")
    endpoint = endpoint_create(shop=shop, url="http://127.0.0.1:9/erp", events=["order.paid"])
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    Endpoint.objects.filter(pk=endpoint.pk).update(active=False, disabled_reason=REASON)

    page = sign_in(new_context(browser, server), "seller", "/dashboard/")
    section = page.locator("#webhooks")
    expect(section.get_by_text(REASON)).to_be_visible()
    # Redelivering to a disabled endpoint is refused on purpose (409), and the page says why.
    allow_console_error(r"status of 409 \(Conflict\) .*/redeliver/")
    section.get_by_role("button", name="Redeliver").click()
    expect(page.locator("#webhooks-error")).to_contain_text("disabled")
    assert Delivery.objects.count() == 1

    section.get_by_role("button", name="Enable again").click()
    expect(section.get_by_text("active", exact=True)).to_be_visible()
    expect(section.get_by_text(REASON)).to_have_count(0)
    section.get_by_role("button", name="Redeliver").first.click()
    expect(section.locator("tr[data-delivery]")).to_have_count(2)
    first, second = Delivery.objects.order_by("id")
    assert second.event_id == first.event_id and second.redelivery_of_id == first.pk
    screenshot(page, "dashboard-webhooks")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
