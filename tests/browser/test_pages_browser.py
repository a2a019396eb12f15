"""Pages in a real browser: sign in, keyboard use, phone layout, screenshots."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from streams.models import LineupItem
from tests.browser.conftest import PHONE, new_context, screenshot, sign_in
from tests.factories import ProductFactory, ShopFactory, ShowFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def no_sideways_scroll(page) -> bool:  # type: ignore[no-untyped-def]
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_seller_signs_in_and_sees_dashboard_home_and_login_on_desktop_and_phone(browser, server):
    seller = UserFactory(username="seller")
    shop = ShopFactory(owner=seller, name="Corner Shop")
    shirt = ProductFactory(shop=shop, title="Linen shirt")
    show = ShowFactory(shop=shop, title="Friday drop", status="live", started_at=timezone.now())
    LineupItem.objects.create(show=show, product=shirt)
    ShowFactory(shop=shop, title="Next week", status="scheduled")

    anon = new_context(browser, server)
    home = anon.new_page()
    home.goto("/")
    expect(home.get_by_role("link", name="Friday drop")).to_be_visible()
    expect(home.get_by_text("Next week")).to_be_visible()
    screenshot(home, "home")
    # Keyboard: the first Tab lands on the skip link, which is then visible.
    home.keyboard.press("Tab")
    expect(home.get_by_role("link", name="Skip to content")).to_be_focused()
    home.set_viewport_size(PHONE)
    assert no_sideways_scroll(home)
    home.goto("/accounts/login/")
    screenshot(home, "login")

    ctx = new_context(browser, server)
    page = sign_in(ctx, "seller", "/dashboard/")
    expect(page.get_by_role("heading", name="Corner Shop")).to_be_visible()
    expect(page.get_by_role("rowheader", name="Linen shirt")).to_be_visible()
    expect(page.get_by_role("link", name="Studio").first).to_be_visible()
    screenshot(page, "dashboard-catalog")
    page.set_viewport_size(PHONE)
    page.goto("/dashboard/")
    # Wide tables scroll inside their own box, not the page.
    assert no_sideways_scroll(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
