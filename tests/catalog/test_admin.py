"""The catalog admin pages render, and stock stays read-only there."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from catalog.models import StockAdjustment
from core.models import IdempotencyRecord
from tests.factories import ProductFactory, ShopStaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-Secret-123")
    client.force_login(admin)
    return client


def test_admin_pages_render(admin_client):
    product = ProductFactory(shop=ShopStaffFactory().shop)
    variant = product.variants.get()
    line = StockAdjustment.objects.get(variant=variant)
    IdempotencyRecord.objects.create(user=product.shop.owner, key="k", method="POST", path="/x/")
    for url in [
        "/admin/catalog/shop/",
        f"/admin/catalog/shop/{product.shop_id}/change/",
        "/admin/catalog/product/",
        f"/admin/catalog/product/{product.pk}/change/",
        "/admin/catalog/variant/",
        f"/admin/catalog/variant/{variant.pk}/change/",
        "/admin/catalog/stockadjustment/",
        f"/admin/catalog/stockadjustment/{line.pk}/change/",
        "/admin/core/idempotencyrecord/",
    ]:
        assert admin_client.get(url).status_code == 200, url


def test_admin_cannot_write_stock_or_the_ledger(admin_client):
    variant = ProductFactory(stock=4).variants.get()
    page = admin_client.get(f"/admin/catalog/variant/{variant.pk}/change/").content.decode()
    assert 'name="stock_on_hand"' not in page
    assert 'name="held"' not in page
    assert admin_client.get("/admin/catalog/stockadjustment/add/").status_code == 403
