"""Per-show sales analytics (pages.selectors.show_analytics) and its dashboard page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from orders.models import Order
from orders.services import hold_checkout, hold_create, order_capture_payment
from pages.selectors import shop_show_summaries, show_analytics
from streams.services import pin_product, show_start
from tests.factories import ProductFactory, ShowFactory, UserFactory

pytestmark = pytest.mark.django_db

ADDRESS = {"name": "A B", "line1": "1 Main St", "city": "X", "postal_code": "1", "country": "US"}


def buy(*, buyer, show, product, payment="sandbox_ok", quantity=1, minute=0):  # type: ignore[no-untyped-def]
    """One purchase through the order services; returns the order after capture."""
    result = hold_create(buyer=buyer, show_id=show.pk, product_id=product.pk, quantity=quantity)
    order = hold_checkout(
        buyer=buyer, hold_id=result.hold.pk, payment_method=payment, address=ADDRESS
    )
    order_capture_payment(order_id=order.pk)
    Order.objects.filter(pk=order.pk).update(
        created_at=show.started_at + timedelta(minutes=minute, seconds=10)
    )
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def selling_show(shop):  # type: ignore[no-untyped-def]
    show = show_start(user=shop.owner, show_id=ShowFactory(shop=shop, title="Friday drop").pk)
    shirt = ProductFactory(shop=shop, title="Linen shirt", price=Decimal("25.00"))
    socks = ProductFactory(shop=shop, title="Wool socks", price=Decimal("9.00"))
    alice, bob = UserFactory(), UserFactory()
    pin_product(user=shop.owner, show_id=show.pk, product_id=shirt.pk, price=Decimal("20.00"))
    buy(buyer=alice, show=show, product=shirt, minute=1)
    buy(buyer=bob, show=show, product=shirt, quantity=2, minute=1)
    pin_product(user=shop.owner, show_id=show.pk, product_id=socks.pk)
    buy(buyer=alice, show=show, product=socks, minute=3)
    declined = buy(buyer=bob, show=show, product=socks, payment="sandbox_declined", minute=3)
    assert declined.status == "payment_failed"
    show.refresh_from_db()
    return show


def test_analytics_counts_paid_orders_units_buyers_and_ranks_products(selling_show):
    data = show_analytics(show=selling_show)
    assert data is not None
    assert data.gmv == Decimal("69.00")  # 20 + 2 x 20 + 9; the declined order is not a sale
    assert (data.units, data.orders, data.buyers) == (4, 3, 2)
    assert [(p.title, p.units, p.gmv) for p in data.top_products] == [
        ("Linen shirt", 3, Decimal("60.00")),
        ("Wool socks", 1, Decimal("9.00")),
    ]
    assert [p.title for p in data.pins] == ["Linen shirt", "Wool socks"]


def test_analytics_places_sales_on_the_shows_timeline(selling_show):
    data = show_analytics(show=selling_show)
    assert data is not None
    assert data.duration_s >= 3 * 60 + 10
    assert len(data.buckets) <= 40
    assert data.bucket_s in (5, 10, 15, 30, 60)
    sold = [(b.start_s, b.gmv, b.units) for b in data.buckets if b.units]
    # Sales were made 1 min 10 s and 3 min 10 s into the show.
    assert sold == [
        (70 // data.bucket_s * data.bucket_s, Decimal("60.00"), 3),
        (190 // data.bucket_s * data.bucket_s, Decimal("9.00"), 1),
    ]


def test_conversion_is_unknown_without_a_recorded_peak_of_viewers(selling_show):
    data = show_analytics(show=selling_show)
    assert data is not None
    assert data.conversion is None
    data.peak_viewers = 8
    assert data.conversion == 0.25


def test_rehearsals_and_unstarted_shows_have_no_analytics(shop, selling_show):
    selling_show.rehearsal = True
    assert show_analytics(show=selling_show) is None
    assert show_analytics(show=ShowFactory(shop=shop)) is None


def test_shop_summary_leaves_rehearsals_out(shop, selling_show):
    assert [
        (r["show_id"], r["gmv"], r["units"], r["buyers"]) for r in shop_show_summaries(shop=shop)
    ] == [(selling_show.pk, Decimal("69.00"), 4, 2)]
    type(selling_show).objects.filter(pk=selling_show.pk).update(rehearsal=True)
    assert shop_show_summaries(shop=shop) == []


def test_analytics_page_shows_kpis_and_an_accessible_svg_chart(web_for, shop, selling_show):
    response = web_for(shop.owner).get(f"/dashboard/shows/{selling_show.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<svg viewBox="0 0 720 260" role="img"' in html
    assert '<title id="sales-title">Sales over the show</title>' in html
    assert "69.00 USD" in html and "Linen shirt" in html
    assert html.count('stroke-dasharray="4 3"') == 2  # one marker per pin


def test_analytics_page_is_for_the_shops_hosts_only(web, web_for, outsider, selling_show):
    url = f"/dashboard/shows/{selling_show.pk}/"
    assert web.get(url).status_code == 302
    assert web_for(outsider).get(url).status_code == 403


def test_analytics_page_of_a_rehearsal_says_it_is_not_counted(web_for, shop):
    show = ShowFactory(shop=shop, rehearsal=True)
    html = web_for(shop.owner).get(f"/dashboard/shows/{show.pk}/").content.decode()
    assert "rehearsals are left out of analytics" in html
    assert "<svg" not in html


def test_dashboard_lists_each_shows_sales(web_for, shop, selling_show):
    html = web_for(shop.owner).get("/dashboard/").content.decode()
    assert "69.00 USD · 4 units · 2 buyers" in html
    assert f'href="/dashboard/shows/{selling_show.pk}/"' in html
