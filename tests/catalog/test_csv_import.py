"""CSV import and export through the API (SPEC: catalog-import / catalog-export)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Product, StockAdjustment, Variant
from tests.factories import ProductFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

HEADER = (
    "sku,product_handle,title,description,options,price,currency,stock_on_hand,weight_grams,"
    "image_url\n"
)

CATALOG = HEADER + (
    'MUG-1,mug,Mug,"Big, blue",,12.00,USD,5,400,https://img.example.com/mug.png\n'
    "TEE-S-RED,tee,Tee,Cotton,size=S;colour=red,10.00,USD,2,200,\n"
    "TEE-M-RED,tee,Tee,,size=M;colour=red,10.00,USD,3,,\n"
    "TEE-M-BLUE,tee,Tee,,size=M;colour=blue,12.50,USD,0,250,\n"
)


def upload(client, shop, text, *, dry_run=False, encoding="utf-8"):
    data = text.encode(encoding) if isinstance(text, str) else text
    return client.post(
        f"/api/v1/shops/{shop.pk}/catalog-import/",
        {"file": SimpleUploadedFile("catalog.csv", data, "text/csv"), "dry_run": dry_run},
        format="multipart",
    )


def export(client, shop):
    r = client.get(f"/api/v1/shops/{shop.pk}/catalog-export/")
    assert r.status_code == 200, r.content
    return r.content.decode()


def test_import_creates_products_and_variants_grouped_by_handle(client_for, shop):
    r = upload(client_for(shop.owner), shop, CATALOG)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["counts"] == {"created": 4, "updated": 0, "unchanged": 0, "error": 0}
    assert body["products_created"] == 2
    mug = Product.objects.get(shop=shop, handle="mug")
    assert (mug.title, mug.description, mug.price, mug.weight_grams) == (
        "Mug",
        "Big, blue",
        Decimal("12.00"),
        400,
    )
    assert mug.sku == "MUG-1" and mug.stock_on_hand == 5
    tee = Product.objects.get(shop=shop, handle="tee")
    assert tee.options == [
        {"name": "size", "values": ["S", "M"]},
        {"name": "colour", "values": ["red", "blue"]},
    ]
    assert tee.sku is None and tee.stock_on_hand == 5
    blue = Variant.objects.get(sku="TEE-M-BLUE")
    assert (blue.options, blue.effective_price, blue.effective_weight_grams) == (
        {"size": "M", "colour": "blue"},
        Decimal("12.50"),
        250,
    )
    lines = StockAdjustment.objects.filter(variant__shop=shop)
    assert {(line.kind, line.reason) for line in lines} == {("import", "CSV import")}
    assert sum(line.delta for line in lines) == 10


def test_dry_run_reports_rows_and_applies_nothing(client_for, shop):
    r = upload(client_for(shop.owner), shop, CATALOG, dry_run=True)
    assert r.status_code == 200
    body = r.json()
    assert body["dry_run"] is True and body["valid"] is True
    assert [(row["row"], row["sku"], row["result"]) for row in body["rows"]] == [
        (2, "MUG-1", "created"),
        (3, "TEE-S-RED", "created"),
        (4, "TEE-M-RED", "created"),
        (5, "TEE-M-BLUE", "created"),
    ]
    assert not Product.objects.exists()


def test_reimporting_the_same_file_changes_nothing(client_for, shop):
    client = client_for(shop.owner)
    upload(client, shop, CATALOG)
    before = list(Variant.objects.values().order_by("id"))
    r = upload(client, shop, CATALOG, dry_run=True)
    assert {row["result"] for row in r.json()["rows"]} == {"unchanged"}
    r = upload(client, shop, CATALOG)
    assert r.json()["counts"]["unchanged"] == 4
    assert list(Variant.objects.values().order_by("id")) == before


def test_export_then_import_is_all_unchanged(client_for, shop):
    ProductFactory(shop=shop, title='=HYPERLINK("x")', description='Line 1\nLine "2", more')
    ProductFactory(
        shop=shop,
        options=[{"name": "size", "values": ["S", "M"]}],
        variants=[
            {"sku": "-V-S", "options": {"size": "S"}, "stock_on_hand": 4, "price": "3.00"},
            {"sku": "@V-M", "options": {"size": "M"}, "stock_on_hand": 6, "weight_grams": 90},
        ],
    )
    client = client_for(shop.owner)
    upload(client, shop, CATALOG)
    text = export(client, shop)
    r = upload(client, shop, text, dry_run=True)
    assert r.status_code == 200
    results = {row["sku"]: row["result"] for row in r.json()["rows"]}
    assert len(results) == 7
    assert {"-V-S", "@V-M"} <= set(results)
    assert set(results.values()) == {"unchanged"}, r.json()["rows"]


def test_export_has_the_spec_columns_and_escapes_formulas(client_for, shop):
    ProductFactory(shop=shop, title="=1+1", sku="A-1", stock=3)
    ProductFactory(shop=shop, title="Gone", is_active=False)
    r = client_for(shop.owner).get(f"/api/v1/shops/{shop.pk}/catalog-export/")
    assert r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert list(rows[0]) == HEADER.strip().split(",")
    assert len(rows) == 1
    assert rows[0]["title"] == "'=1+1"
    assert (rows[0]["sku"], rows[0]["stock_on_hand"], rows[0]["price"]) == ("A-1", "3", "19.99")


def test_changed_stock_becomes_a_ledger_adjustment(client_for, shop):
    client = client_for(shop.owner)
    upload(client, shop, CATALOG)
    r = upload(
        client,
        shop,
        CATALOG.replace(
            'MUG-1,mug,Mug,"Big, blue",,12.00,USD,5', 'MUG-1,mug,Mug,"Big, blue",,12.00,USD,9'
        ),
    )
    assert r.status_code == 200
    assert r.json()["counts"] == {"created": 0, "updated": 1, "unchanged": 3, "error": 0}
    line = StockAdjustment.objects.filter(variant__sku="MUG-1").latest("id")
    assert (line.kind, line.delta, line.on_hand_before, line.on_hand_after, line.actor) == (
        "import",
        4,
        5,
        9,
        shop.owner,
    )


def test_stock_below_held_is_a_row_error_and_nothing_is_applied(client_for, shop):
    client = client_for(shop.owner)
    upload(client, shop, CATALOG)
    Variant.objects.filter(sku="MUG-1").update(held=4)
    text = CATALOG.replace(",USD,5,400", ",USD,3,400").replace("Tee,Cotton", "Tee,Linen")
    r = upload(client, shop, text)
    err = assert_error(r, 400, "invalid")
    assert err["details"]["rows"] == [
        {
            "row": 2,
            "errors": {"stock_on_hand": [err["details"]["rows"][0]["errors"]["stock_on_hand"][0]]},
        }
    ]
    assert Variant.objects.get(sku="MUG-1").stock_on_hand == 5
    assert Product.objects.get(handle="tee").description == "Cotton"


def test_bad_rows_are_400_with_row_details_and_nothing_applied(client_for, shop):
    text = HEADER + (
        "OK-1,ok,Fine,,,1.00,USD,1,,\n"
        "BAD-1,bad,Bad,,,-1.00,USD,1,,\n"
        "BAD-2,bad2,,,,1.00,usd,1.5,,\n"
        "OK-1,ok,Fine,,,1.00,USD,1,,\n"
    )
    r = upload(client_for(shop.owner), shop, text)
    err = assert_error(r, 400, "invalid")
    rows = {row["row"]: row["errors"] for row in err["details"]["rows"]}
    assert set(rows) == {3, 4, 5}
    assert set(rows[3]) == {"price"}
    assert set(rows[4]) == {"title", "currency", "stock_on_hand"}
    assert set(rows[5]) == {"sku"}
    assert not Product.objects.exists()


def test_dry_run_with_bad_rows_is_200_with_errors(client_for, shop):
    text = HEADER + "OK-1,ok,Fine,,,1.00,USD,1,,\nBAD,bad,Bad,,,x,USD,1,,\n"
    r = upload(client_for(shop.owner), shop, text, dry_run=True)
    assert r.status_code == 200
    body = r.json()
    assert body["valid"] is False
    assert [row["result"] for row in body["rows"]] == ["created", "error"]
    assert "price" in body["rows"][1]["errors"]


def test_sku_of_another_product_cannot_move(client_for, shop):
    ProductFactory(shop=shop, handle="first", sku="X-1")
    text = HEADER + "X-1,second,Second,,,1.00,USD,1,,\n"
    err = assert_error(upload(client_for(shop.owner), shop, text), 400, "invalid")
    assert "sku" in err["details"]["rows"][0]["errors"]


def test_options_must_match_within_a_product(client_for, shop):
    text = HEADER + (
        "T-S,tee,Tee,,size=S,1.00,USD,1,,\n"
        "T-M,tee,Tee,,colour=red,1.00,USD,1,,\n"
        "T-S2,tee,Tee,,size=S,1.00,USD,1,,\n"
    )
    err = assert_error(upload(client_for(shop.owner), shop, text), 400, "invalid")
    rows = {row["row"]: row["errors"] for row in err["details"]["rows"]}
    assert "options" in rows[3]
    assert "options" in rows[4]  # same options as T-S
    assert not Product.objects.exists()


def test_several_rows_without_options_is_an_error(client_for, shop):
    text = HEADER + "A,one,One,,,1.00,USD,1,,\nB,one,One,,,1.00,USD,1,,\n"
    assert_error(upload(client_for(shop.owner), shop, text), 400, "invalid")


def test_conflicting_product_fields_across_rows_is_an_error(client_for, shop):
    text = HEADER + "T-S,tee,Tee,,size=S,1.00,USD,1,,\nT-M,tee,Other,,size=M,1.00,USD,1,,\n"
    err = assert_error(upload(client_for(shop.owner), shop, text), 400, "invalid")
    assert err["details"]["rows"] == [
        {"row": 3, "errors": {"title": ["Differs from row 2 of the same product."]}}
    ]


def test_import_adds_a_variant_to_an_existing_product(client_for, shop):
    client = client_for(shop.owner)
    upload(client, shop, CATALOG)
    r = upload(client, shop, HEADER + "TEE-S-BLUE,tee,Tee,,size=S;colour=blue,11.00,,7,,\n")
    assert r.status_code == 200, r.content
    tee = Product.objects.get(handle="tee")
    assert tee.variants.count() == 4
    assert Variant.objects.get(sku="TEE-S-BLUE").effective_price == Decimal("11.00")
    # columns missing or blank keep what exists
    assert tee.description == "Cotton"


def test_deleted_product_handle_is_an_error(client_for, shop):
    ProductFactory(shop=shop, handle="old", is_active=False)
    text = HEADER + "NEW-1,old,Old,,,1.00,USD,1,,\n"
    assert_error(upload(client_for(shop.owner), shop, text), 400, "invalid")


def test_non_utf8_file_is_400(client_for, shop):
    r = upload(
        client_for(shop.owner), shop, HEADER + "É-1,h,Café,,,1.00,USD,1,,\n", encoding="latin-1"
    )
    err = assert_error(r, 400, "invalid")
    assert "file" in err["details"]


def test_missing_columns_is_400(client_for, shop):
    err = assert_error(upload(client_for(shop.owner), shop, "sku,title\nA,B\n"), 400, "invalid")
    assert "price" in err["details"]["file"][0]


def test_too_many_rows_is_400(client_for, shop, monkeypatch):
    monkeypatch.setattr("catalog.csv_format.MAX_ROWS", 3)
    text = HEADER + "".join(f"S-{i},p{i},P,,,1.00,USD,1,,\n" for i in range(4))
    assert_error(upload(client_for(shop.owner), shop, text), 400, "invalid")
    assert not Product.objects.exists()


def test_too_big_file_is_400(client_for, shop):
    big = HEADER + "A,a,A,," + "x" * (2 * 1024 * 1024) + ",,1.00,USD,1,,\n"
    err = assert_error(upload(client_for(shop.owner), shop, big), 400, "invalid")
    assert "file" in err["details"]


def test_missing_file_is_400(client_for, shop):
    r = client_for(shop.owner).post(
        f"/api/v1/shops/{shop.pk}/catalog-import/", {"dry_run": "true"}, format="multipart"
    )
    err = assert_error(r, 400, "invalid")
    assert "file" in err["details"]


def test_json_body_is_415(client_for, shop):
    r = client_for(shop.owner).post(
        f"/api/v1/shops/{shop.pk}/catalog-import/", {"file": "x"}, format="json"
    )
    assert_error(r, 415, "unsupported_media_type")


def thousand_rows(stock: int) -> str:
    lines = [HEADER]
    for p in range(250):
        for size in ("S", "M", "L", "XL"):
            lines.append(
                f"SKU-{p}-{size},prod-{p},Product {p},,size={size},9.99,USD,{stock},100,\n"
            )
    return "".join(lines)


def test_import_of_1000_rows_uses_a_bounded_number_of_queries(
    client_for, shop, django_assert_max_num_queries
):
    client = client_for(shop.owner)
    with django_assert_max_num_queries(20):
        r = upload(client, shop, thousand_rows(5))
    assert r.json()["counts"]["created"] == 1000
    assert Variant.objects.filter(shop=shop).count() == 1000
    with django_assert_max_num_queries(25):
        r = upload(client, shop, thousand_rows(7))
    assert r.json()["counts"]["updated"] == 1000
    assert StockAdjustment.objects.filter(variant__shop=shop, delta=2).count() == 1000
    with django_assert_max_num_queries(10):
        text = export(client, shop)
    assert text.count("\n") == 1001


def test_a_simple_product_gains_options_when_all_its_variants_get_them(client_for, shop):
    ProductFactory(shop=shop, handle="cap", sku="CAP", stock=2)
    client = client_for(shop.owner)
    text = HEADER + ("CAP,cap,Cap,,size=M,19.99,USD,2,,\nCAP-L,cap,Cap,,size=L,21.00,USD,1,,\n")
    r = upload(client, shop, text)
    assert r.status_code == 200, r.content
    assert r.json()["counts"] == {"created": 1, "updated": 1, "unchanged": 0, "error": 0}
    product = Product.objects.get(handle="cap")
    assert product.options == [{"name": "size", "values": ["M", "L"]}]
    assert product.sku is None and product.stock_on_hand == 3
    assert Variant.objects.get(sku="CAP-L").effective_price == Decimal("21.00")
    assert (
        upload(client, shop, export(client, shop), dry_run=True).json()["counts"]["unchanged"] == 2
    )


def test_a_simple_product_cannot_get_a_second_variant_without_options(client_for, shop):
    ProductFactory(shop=shop, handle="cap", sku="CAP")
    text = HEADER + "CAP-2,cap,Cap,,,1.00,USD,1,,\n"
    err = assert_error(upload(client_for(shop.owner), shop, text), 400, "invalid")
    assert "options" in err["details"]["rows"][0]["errors"]
