"""A shop sells in one currency (issue 9): a product priced in another is refused with a
400 `invalid` at create, update and CSV import, so no order or parcel total ever adds
amounts of two currencies."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Product
from tests.factories import ProductFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

HEADER = (
    "sku,product_handle,title,description,options,price,currency,stock_on_hand,weight_grams,"
    "image_url\n"
)


def create(client, shop, **extra):  # type: ignore[no-untyped-def]
    body = {"shop": shop.pk, "title": "Mug", "price": "10.00", "sku": "MUG-1", "stock_on_hand": 3}
    return client.post("/api/v1/products/", {**body, **extra}, format="json")


def test_a_product_takes_its_shops_currency_by_default(client_for, shop):
    r = create(client_for(shop.owner), shop)
    assert r.status_code == 201, r.content
    assert r.json()["currency"] == shop.currency == "USD"


def test_a_product_priced_in_another_currency_is_refused_at_create(client_for, shop):
    err = assert_error(create(client_for(shop.owner), shop, currency="EUR"), 400, "invalid")
    assert "USD" in err["details"]["currency"][0]
    assert not Product.objects.exists()


def test_a_product_cannot_move_to_another_currency(client_for, shop):
    product = ProductFactory(shop=shop)
    r = client_for(shop.owner).patch(
        f"/api/v1/products/{product.pk}/", {"currency": "EUR", "price": "1.00"}, format="json"
    )
    err = assert_error(r, 400, "invalid")
    assert set(err["details"]) == {"currency"}
    product.refresh_from_db()
    assert (product.currency, str(product.price)) == ("USD", "19.99")


def test_an_import_row_in_another_currency_is_refused_with_its_row(client_for, shop):
    text = HEADER + ("MUG-1,mug,Mug,,,12.00,USD,5,400,\nCUP-1,cup,Cup,,,9.00,EUR,5,300,\n")
    r = client_for(shop.owner).post(
        f"/api/v1/shops/{shop.pk}/catalog-import/",
        {"file": SimpleUploadedFile("c.csv", text.encode(), "text/csv")},
        format="multipart",
    )
    err = assert_error(r, 400, "invalid")
    assert err["details"]["rows"] == [
        {"row": 3, "errors": {"currency": ["This shop sells in USD; price its products in USD."]}}
    ]
    assert not Product.objects.exists()
