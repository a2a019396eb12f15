from decimal import Decimal

import pytest

from catalog.models import Product, StockAdjustment, Variant
from tests.factories import ProductFactory, ShopFactory, ShopStaffFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

SIZES = [{"name": "size", "values": ["S", "M"]}, {"name": "colour", "values": ["red", "blue"]}]


def simple_body(shop_obj, **extra):
    body = {
        "shop": shop_obj.pk,
        "title": "Linen shirt",
        "price": "19.99",
        "currency": "USD",
        "sku": "SHIRT-1",
        "stock_on_hand": 7,
        "weight_grams": 300,
    }
    body.update(extra)
    return body


def variant_body(shop):
    return {
        "shop": shop.pk,
        "title": "Tee",
        "price": "10.00",
        "currency": "USD",
        "options": SIZES,
        "variants": [
            {"sku": "TEE-S-RED", "options": {"size": "S", "colour": "red"}, "stock_on_hand": 2},
            {
                "sku": "TEE-M-BLUE",
                "options": {"size": "M", "colour": "blue"},
                "stock_on_hand": 3,
                "price": "12.50",
            },
        ],
    }


def test_owner_creates_simple_product_with_product_level_sku_and_stock(client_for, shop):
    r = client_for(shop.owner).post("/api/v1/products/", simple_body(shop), format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["sku"] == "SHIRT-1"
    assert body["stock_on_hand"] == 7
    assert body["stock_available"] == 7
    assert body["price"] == "19.99"
    assert body["currency"] == "USD"
    assert body["options"] == []
    assert len(body["variants"]) == 1
    variant = body["variants"][0]
    assert variant["sku"] == "SHIRT-1"
    assert variant["options"] == {}
    assert variant["price"] == "19.99"
    assert variant["stock_available"] == 7
    assert body["handle"] == "linen-shirt"


def test_initial_stock_is_a_ledger_line(client_for, shop):
    r = client_for(shop.owner).post("/api/v1/products/", simple_body(shop), format="json")
    entry = StockAdjustment.objects.get(variant__product_id=r.json()["id"])
    assert (entry.kind, entry.delta, entry.on_hand_before, entry.on_hand_after) == (
        "initial",
        7,
        0,
        7,
    )
    assert entry.actor == shop.owner


def test_staff_can_create_product(client_for, shop):
    member = ShopStaffFactory(shop=shop).user
    r = client_for(member).post("/api/v1/products/", simple_body(shop), format="json")
    assert r.status_code == 201


def test_product_with_variants_sums_stock_and_has_no_sku(client_for, shop):
    r = client_for(shop.owner).post("/api/v1/products/", variant_body(shop), format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["sku"] is None
    assert body["stock_on_hand"] == 5
    assert body["stock_available"] == 5
    assert [v["sku"] for v in body["variants"]] == ["TEE-S-RED", "TEE-M-BLUE"]
    assert [v["price"] for v in body["variants"]] == ["10.00", "12.50"]
    assert body["variants"][1]["options"] == {"size": "M", "colour": "blue"}
    assert body["options"] == SIZES


def test_variant_options_must_be_defined_by_product_options(client_for, shop):
    body = variant_body(shop)
    body["variants"][0]["options"] = {"size": "XL", "colour": "red"}
    err = assert_error(
        client_for(shop.owner).post("/api/v1/products/", body, format="json"), 400, "invalid"
    )
    assert "variants" in err["details"]
    assert not Product.objects.exists()


def test_variant_must_name_every_option(client_for, shop):
    body = variant_body(shop)
    body["variants"][0]["options"] = {"size": "S"}
    assert_error(
        client_for(shop.owner).post("/api/v1/products/", body, format="json"), 400, "invalid"
    )


def test_variant_combination_appears_at_most_once(client_for, shop):
    body = variant_body(shop)
    body["variants"][1]["options"] = {"size": "S", "colour": "red"}
    err = assert_error(
        client_for(shop.owner).post("/api/v1/products/", body, format="json"), 400, "invalid"
    )
    assert "same options" in " ".join(err["details"]["variants"])
    assert not Variant.objects.exists()


def test_duplicate_sku_in_shop_is_400(client_for, shop):
    ProductFactory(shop=shop, sku="SHIRT-1")
    r = client_for(shop.owner).post("/api/v1/products/", simple_body(shop), format="json")
    err = assert_error(r, 400, "invalid")
    assert "sku" in err["details"]
    assert Product.objects.count() == 1


def test_same_sku_in_another_shop_is_fine(client_for, shop):
    ProductFactory(sku="SHIRT-1")
    r = client_for(shop.owner).post("/api/v1/products/", simple_body(shop), format="json")
    assert r.status_code == 201


def test_options_without_variants_is_400(client_for, shop):
    body = simple_body(shop, options=SIZES)
    assert_error(
        client_for(shop.owner).post("/api/v1/products/", body, format="json"), 400, "invalid"
    )


def test_simple_product_needs_sku_and_stock(client_for, shop):
    body = simple_body(shop)
    del body["sku"], body["stock_on_hand"]
    err = assert_error(
        client_for(shop.owner).post("/api/v1/products/", body, format="json"), 400, "invalid"
    )
    assert set(err["details"]) == {"sku", "stock_on_hand"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "-1.00"),
        ("price", "abc"),
        ("price", "1.999"),
        ("price", "NaN"),
        ("currency", "usd"),
        ("currency", "EURO"),
        ("stock_on_hand", 1.5),
        ("stock_on_hand", 2.0),
        ("stock_on_hand", "many"),
        ("stock_on_hand", True),
        ("stock_on_hand", -1),
        ("stock_on_hand", 10**12),
        ("weight_grams", -5),
        ("title", ""),
        ("title", ["list"]),
        ("sku", "has space"),
        ("shop", "abc"),
        ("image_url", "javascript:alert(1)"),
    ],
)
def test_bad_field_is_400_and_creates_nothing(client_for, shop, field, value):
    r = client_for(shop.owner).post(
        "/api/v1/products/", simple_body(shop, **{field: value}), format="json"
    )
    err = assert_error(r, 400, "invalid")
    assert field in err["details"]
    assert not Product.objects.exists()


def test_malformed_json_is_parse_error(client_for, shop):
    r = client_for(shop.owner).post(
        "/api/v1/products/", data='{"shop": 1,', content_type="application/json"
    )
    assert_error(r, 400, "parse_error")


def test_unknown_shop_is_400(client_for, user):
    body = simple_body(ShopFactory.build(pk=987654))
    err = assert_error(
        client_for(user).post("/api/v1/products/", body, format="json"), 400, "invalid"
    )
    assert "shop" in err["details"]


def test_writing_stock_available_on_create_is_ignored(client_for, shop):
    body = simple_body(shop, stock_available=999, held=5, id=77)
    r = client_for(shop.owner).post("/api/v1/products/", body, format="json")
    assert r.status_code == 201
    assert r.json()["stock_available"] == 7
    assert Variant.objects.get().held == 0


def test_list_is_public_filters_by_shop_and_hides_deleted(api_client, shop):
    mine = ProductFactory(shop=shop)
    ProductFactory()  # another shop
    ProductFactory(shop=shop, is_active=False)
    r = api_client.get(f"/api/v1/products/?shop={shop.pk}")
    assert r.status_code == 200
    assert [p["id"] for p in r.json()["results"]] == [mine.pk]
    assert len(api_client.get("/api/v1/products/").json()["results"]) == 2


def test_list_bad_shop_filter_is_400(api_client, db):
    assert_error(api_client.get("/api/v1/products/?shop=abc"), 400, "invalid")


def test_list_does_not_query_per_product(api_client, shop, django_assert_max_num_queries):
    for _ in range(15):
        ProductFactory(shop=shop)
    with django_assert_max_num_queries(3):
        r = api_client.get(f"/api/v1/products/?shop={shop.pk}")
    assert len(r.json()["results"]) == 15


def test_detail_is_public(api_client, db):
    product = ProductFactory(stock=4)
    r = api_client.get(f"/api/v1/products/{product.pk}/")
    assert r.status_code == 200
    assert r.json()["stock_available"] == 4


def test_detail_unknown_is_404(api_client, db):
    assert_error(api_client.get("/api/v1/products/999999/"), 404, "not_found")


def test_patch_changes_editable_fields(client_for, shop):
    product = ProductFactory(shop=shop)
    r = client_for(shop.owner).patch(
        f"/api/v1/products/{product.pk}/",
        {"title": "New title", "price": "5.50", "description": "Soft."},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert (r.json()["title"], r.json()["price"], r.json()["description"]) == (
        "New title",
        "5.50",
        "Soft.",
    )
    product.refresh_from_db()
    assert product.price == Decimal("5.50")


def test_patch_ignores_stock_fields_and_unknown_fields(client_for, shop):
    product = ProductFactory(shop=shop, stock=3)
    variant = product.variants.get()
    r = client_for(shop.owner).patch(
        f"/api/v1/products/{product.pk}/",
        {
            "stock_on_hand": 500,
            "stock_available": 500,
            "held": 2,
            "shop": 999,
            "is_active": False,
            "id": 1,
            "options": SIZES,
            "title": "T",
        },
        format="json",
    )
    assert r.status_code == 200
    assert r.json()["stock_on_hand"] == 3
    variant.refresh_from_db()
    product.refresh_from_db()
    assert (variant.stock_on_hand, variant.held) == (3, 0)
    assert (product.shop_id, product.is_active, product.options) == (shop.pk, True, [])
    assert StockAdjustment.objects.filter(variant=variant).count() == 1  # the initial line


def test_patch_sets_variant_price_and_sku(client_for, shop):
    r = client_for(shop.owner).post("/api/v1/products/", variant_body(shop), format="json")
    product = r.json()
    first, second = product["variants"]
    r = client_for(shop.owner).patch(
        f"/api/v1/products/{product['id']}/",
        {"variants": [{"id": first["id"], "price": "9.00", "sku": "TEE-S-R"}]},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["variants"][0]["price"] == "9.00"
    assert r.json()["variants"][0]["sku"] == "TEE-S-R"
    assert r.json()["variants"][1] == second


def test_patch_variant_of_another_product_is_400(client_for, shop):
    product = ProductFactory(shop=shop)
    other = ProductFactory(shop=shop).variants.get()
    r = client_for(shop.owner).patch(
        f"/api/v1/products/{product.pk}/",
        {"variants": [{"id": other.pk, "price": "1.00"}]},
        format="json",
    )
    assert_error(r, 400, "invalid")
    other.refresh_from_db()
    assert other.price is None


def test_patch_sku_clash_is_400(client_for, shop):
    ProductFactory(shop=shop, sku="TAKEN")
    product = ProductFactory(shop=shop, sku="MINE")
    r = client_for(shop.owner).patch(
        f"/api/v1/products/{product.pk}/", {"sku": "TAKEN"}, format="json"
    )
    assert_error(r, 400, "invalid")
    assert product.variants.get().sku == "MINE"


def test_patch_negative_price_is_400(client_for, shop):
    product = ProductFactory(shop=shop)
    r = client_for(shop.owner).patch(
        f"/api/v1/products/{product.pk}/", {"price": "-3"}, format="json"
    )
    assert_error(r, 400, "invalid")
    product.refresh_from_db()
    assert product.price == Decimal("19.99")


def test_delete_archives_product_and_keeps_its_rows(client_for, shop):
    product = ProductFactory(shop=shop)
    client = client_for(shop.owner)
    assert client.delete(f"/api/v1/products/{product.pk}/").status_code == 204
    product.refresh_from_db()
    assert product.is_active is False
    assert product.variants.count() == 1
    assert_error(client.get(f"/api/v1/products/{product.pk}/"), 404, "not_found")
    assert_error(client.delete(f"/api/v1/products/{product.pk}/"), 404, "not_found")


def test_deleted_products_sku_stays_reserved(client_for, shop):
    ProductFactory(shop=shop, sku="SHIRT-1", is_active=False)
    r = client_for(shop.owner).post("/api/v1/products/", simple_body(shop), format="json")
    assert_error(r, 400, "invalid")


@pytest.mark.parametrize(
    ("field", "value"), [("stock_on_hand", 1.5), ("sku", "two words"), ("price", "-2")]
)
def test_bad_variant_field_is_400_with_its_position(client_for, shop, field, value):
    body = variant_body(shop)
    body["variants"][1][field] = value
    err = assert_error(
        client_for(shop.owner).post("/api/v1/products/", body, format="json"), 400, "invalid"
    )
    assert field in err["details"]["variants"]["1"]
    assert not Product.objects.exists()


def test_too_many_variants_is_400(client_for, shop):
    body = variant_body(shop)
    body["variants"] = [
        {"sku": f"V-{i}", "options": {"size": "S", "colour": "red"}, "stock_on_hand": 1}
        for i in range(101)
    ]
    assert_error(
        client_for(shop.owner).post("/api/v1/products/", body, format="json"), 400, "invalid"
    )


def test_out_of_range_ids_are_4xx_not_500(client_for, api_client, shop):
    huge = 10**30
    assert_error(api_client.get(f"/api/v1/products/{huge}/"), 404, "not_found")
    assert_error(api_client.get(f"/api/v1/shops/{huge}/"), 404, "not_found")
    assert api_client.get(f"/api/v1/products/?shop={huge}").json()["results"] == []
    client = client_for(shop.owner)
    r = client.post("/api/v1/products/", simple_body(shop, shop=huge), format="json")
    assert_error(r, 400, "invalid")
    product = ProductFactory(shop=shop)
    url = f"/api/v1/products/{product.pk}/stock-adjustments/"
    assert_error(client.post(url, {"delta": 1, "reason": "x", "variant": huge}), 400, "invalid")
    assert client.get(f"{url}?variant={huge}").status_code in (200, 400)


@pytest.mark.parametrize("body", [[1, 2], "text", 5, True])
def test_non_object_bodies_are_400(client_for, shop, body):
    client = client_for(shop.owner)
    product = ProductFactory(shop=shop)
    for r in (
        client.post("/api/v1/products/", body, format="json"),
        client.patch(f"/api/v1/products/{product.pk}/", body, format="json"),
        client.post(f"/api/v1/products/{product.pk}/stock-adjustments/", body, format="json"),
        client.post(f"/api/v1/shops/{shop.pk}/staff/", body, format="json"),
        client.post("/api/v1/shops/", body, format="json"),
    ):
        assert r.status_code == 400, r.content
