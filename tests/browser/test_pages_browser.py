"""Pages in a real browser: sign in, keyboard use, phone layout, screenshots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from streams.models import LineupItem
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    allow_console_error,
    new_context,
    screenshot,
    sign_in,
)
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


def test_seller_manages_catalog_and_shows_from_the_dashboard(browser, server, tmp_path):
    seller = UserFactory(username="seller")
    ShopFactory(owner=seller, name="Corner Shop")
    UserFactory(username="mo")
    page = sign_in(new_context(browser, server), "seller", "/dashboard/")

    # Create a product.
    page.get_by_text("New product").click()
    form = page.locator("form[data-api-url='/api/v1/products/']")
    form.get_by_label("Title").fill("Rain jacket")
    form.get_by_label("SKU").fill("RJ-1")
    form.get_by_label("Price").fill("49.00")
    form.get_by_label("Stock on hand").fill("4")
    form.get_by_role("button", name="Create product").click()
    row = page.locator("tbody tr", has_text="RJ-1")
    expect(row).to_contain_text("49.00 USD")
    expect(row.locator("td").nth(3)).to_have_text("4")

    # Adjusting stock needs a reason; taking more than is available is refused.
    allow_console_error(r"status of 409 \(Conflict\) .*/stock-adjustments/")
    page.get_by_text("Adjust stock").click()
    adjust = page.locator("form[data-api-url$='/stock-adjustments/']")
    adjust.get_by_label(re.compile("^Change")).fill("-9")
    adjust.get_by_label("Reason").fill("stock count")
    adjust.get_by_role("button", name="Adjust").click()
    expect(adjust.locator(".form-error")).not_to_be_empty()
    adjust.get_by_label(re.compile("^Change")).fill("3")
    adjust.get_by_label("Reason").fill("delivery from the mill")
    adjust.get_by_role("button", name="Adjust").click()
    expect(page.locator("tbody tr", has_text="RJ-1").locator("td").nth(3)).to_have_text("7")

    # A CSV dry run reports per row and changes nothing.
    csv = tmp_path / "catalog.csv"
    csv.write_text(
        "sku,product_handle,title,description,options,price,currency,stock_on_hand,"
        "weight_grams,image_url\nSCARF-1,scarf,Scarf,,,15.00,USD,6,100,\n"
    )
    page.get_by_text("Import CSV").click()
    page.get_by_label("CSV file").set_input_files(str(csv))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#csv-result")).to_contain_text("SCARF-1")
    expect(page.locator("tbody tr", has_text="SCARF-1")).to_have_count(0)

    # Schedule a show with the jacket in its lineup, then name a moderator.
    page.get_by_text("Schedule a show").click()
    schedule = page.locator("form[data-api-url='/api/v1/shows/']")
    schedule.get_by_label("Title").fill("Rainy day drop")
    schedule.get_by_label("Starts at (your time)").fill("2030-05-01T18:00")
    schedule.get_by_label("Rain jacket").check()
    schedule.get_by_role("button", name="Schedule").click()
    show_row = page.get_by_role("row", name=re.compile("^Rainy day drop Scheduled"))
    expect(show_row).to_contain_text("Scheduled")
    page.get_by_text("Lineup and moderators").click()
    expect(page.locator("details[open]")).to_contain_text("Lineup: Rain jacket")
    # The lineup can change until the show ends.
    lineup = page.locator("form", has=page.get_by_text("Edit the lineup of Rainy day drop"))
    expect(lineup.get_by_label("Rain jacket")).to_be_checked()
    with page.expect_navigation():
        lineup.get_by_label("Rain jacket").uncheck()
        lineup.get_by_role("button", name="Save lineup").click()
    page.get_by_text("Lineup and moderators").click()
    expect(page.locator("details[open]")).to_contain_text("Lineup: empty")
    page.get_by_label("Moderator username").fill("mo")
    with page.expect_navigation():
        page.get_by_role("button", name="Add moderator").click()
    page.get_by_text("Lineup and moderators").click()
    expect(page.get_by_role("button", name="Remove moderator mo")).to_be_visible()


HLS_FIXTURE = Path(__file__).parent / "fixtures" / "hls"


# Chromium plays HLS natively these days; hiding that support stands in for a browser
# without it (desktop Firefox), where the page must load the vendored hls.js.
WITHOUT_NATIVE_HLS = """
const original = HTMLMediaElement.prototype.canPlayType;
HTMLMediaElement.prototype.canPlayType = function (type) {
  return /mpegurl/i.test(type) ? "" : original.call(this, type);
};
"""


@pytest.mark.parametrize("native", [True, False], ids=["native-hls", "hls.js"])
def test_an_hls_show_plays_natively_or_through_the_vendored_hls_js(browser, server, native):
    shop = ShopFactory()
    show = ShowFactory(
        shop=shop, status="live", started_at=timezone.now(), playback_url="/hls/demo.m3u8"
    )
    context = new_context(browser, server)
    # The "video service": a 2-second HLS stream (playlist + two segments) in fixtures/.
    context.route(
        "**/hls/*",
        lambda route: route.fulfill(path=str(HLS_FIXTURE / route.request.url.rsplit("/", 1)[1])),
    )
    if not native:
        context.add_init_script(WITHOUT_NATIVE_HLS)
    scripts: list[str] = []
    page = context.new_page()
    page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    page.goto(f"/shows/{show.id}/")
    page.wait_for_function("document.querySelector('#video').readyState >= 2")
    player = page.locator("#video").get_attribute("data-player")
    vendored = any(u.endswith("/static/vendor/hls.js/hls.light.min.mjs") for u in scripts)
    if native:
        assert (player, vendored) == ("native-hls", False)
    else:
        assert (player, vendored) == ("hls.js", True)
    assert page.evaluate("document.querySelector('#video').duration") > 1.5


def test_a_show_without_video_says_so_clear_of_the_badges(browser, server):
    show = ShowFactory(status="live", started_at=timezone.now(), playback_url="")
    for size in ("desktop", "phone"):
        page = new_context(browser, server, DESKTOP if size == "desktop" else PHONE).new_page()
        page.goto(f"/shows/{show.id}/")
        message = page.get_by_text("No video for this show yet.")
        expect(message).to_be_visible()
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        # The glyphs' box, not the element's (which may span the player).
        text = message.evaluate(
            "el => { const r = document.createRange(); r.selectNodeContents(el);"
            " const b = r.getBoundingClientRect();"
            " return {x: b.x, y: b.y, width: b.width, height: b.height}; }"
        )
        for badge in ("#status-badge", "#viewers"):
            box = page.locator(badge).bounding_box()
            assert box is not None
            overlap = (
                box["x"] < text["x"] + text["width"]
                and text["x"] < box["x"] + box["width"]
                and box["y"] < text["y"] + text["height"]
                and text["y"] < box["y"] + box["height"]
            )
            assert not overlap, (size, badge, box, text)
        screenshot(page, "viewer-no-video", sizes=(size,))
        page.context.close()
