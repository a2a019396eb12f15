"""Cursor pagination (core/pagination.py): `next` walks every item exactly once."""

from __future__ import annotations

import pytest

from tests.factories import ProductFactory, ShopFactory

pytestmark = pytest.mark.django_db


def walk(client, url):
    seen, pages = [], 0
    while url:
        r = client.get(url)
        assert r.status_code == 200
        body = r.json()
        assert set(body) >= {"results", "next"}
        seen += [item["id"] for item in body["results"]]
        url = body["next"]
        pages += 1
        assert pages < 50
    return seen, pages


def test_next_walks_all_items_exactly_once_newest_first(api_client):
    shop = ShopFactory()
    ids = [ProductFactory(shop=shop).pk for _ in range(7)]
    seen, pages = walk(api_client, f"/api/v1/products/?shop={shop.pk}&page_size=3")
    assert seen == sorted(ids, reverse=True)
    assert pages == 3


def test_items_added_during_the_walk_do_not_shift_pages(api_client):
    shop = ShopFactory()
    ids = [ProductFactory(shop=shop).pk for _ in range(6)]
    first = api_client.get(f"/api/v1/products/?shop={shop.pk}&page_size=4").json()
    ProductFactory(shop=shop)  # newer than everything: belongs before the cursor
    rest, _ = walk(api_client, first["next"])
    seen = [p["id"] for p in first["results"]] + rest
    assert seen == sorted(ids, reverse=True)


def test_last_page_has_null_next(api_client):
    shop = ShopFactory()
    ProductFactory(shop=shop)
    body = api_client.get(f"/api/v1/products/?shop={shop.pk}").json()
    assert body["next"] is None
    assert len(body["results"]) == 1


def test_page_size_is_capped(api_client):
    shop = ShopFactory()
    for _ in range(3):
        ProductFactory(shop=shop)
    body = api_client.get(f"/api/v1/products/?shop={shop.pk}&page_size=100000").json()
    assert len(body["results"]) == 3


def test_a_forged_cursor_is_404(api_client):
    r = api_client.get("/api/v1/products/?cursor=%%%%not*base64")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
