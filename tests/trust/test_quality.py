"""Listing quality: each check, the score, the endpoint, pinning blocked by a `block`
check, and prohibited terms flagged as a case on create, edit and CSV import."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from catalog.models import Product
from tests.factories import ProductFactory
from tests.helpers import assert_error
from trust.models import Case
from trust.quality import WEIGHTS, listing_quality, title_key

pytestmark = pytest.mark.django_db

GOOD: dict[str, Any] = {
    "title": "Linen shirt, relaxed fit",
    "description": "Washed linen, mother-of-pearl buttons, true to size. Machine wash cold.",
    "image_url": "https://img.example.com/shirt.jpg",
    "weight_grams": 300,
    "price": Decimal("49.00"),
}


def good(shop: Any, **overrides: Any) -> Any:
    return ProductFactory(shop=shop, **{**GOOD, **overrides})


def failed(product: Product) -> set[str]:
    product.refresh_from_db()
    return {c.code for c in listing_quality(product).checks if not c.ok}


def test_a_good_listing_scores_100_and_is_ready(shop):
    q = listing_quality(good(shop))
    assert (q.score, q.ready) == (100, True)
    assert all(c.ok and c.message == "OK." and c.fix == "" for c in q.checks)
    assert sum(WEIGHTS.values()) == 100


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"title": "ab"}, "title_present"),
        ({"title": "Mug"}, "title_length"),
        ({"title": "x" * 141}, "title_length"),
        ({"title": "AMAZING LINEN SHIRT SALE"}, "title_shouting"),
        ({"description": ""}, "description"),
        ({"description": "Nice."}, "description"),
        ({"image_url": ""}, "image"),
        ({"weight_grams": 0}, "weight"),
        ({"price": Decimal("0")}, "price_sanity"),
        ({"description": GOOD["description"] + " Counterfeit label."}, "prohibited_terms"),
    ],
)
def test_each_check_fails_on_what_it_checks(shop, overrides, code):
    product = good(shop, **overrides)
    assert code in failed(product)
    check = next(c for c in listing_quality(product).checks if c.code == code)
    assert check.message != "OK." and check.fix
    assert listing_quality(product).score == 100 - sum(WEIGHTS[c] for c in failed(product))


def test_block_and_warn(shop):
    severities = {c.code: c.severity for c in listing_quality(good(shop)).checks}
    assert {k for k, v in severities.items() if v == "block"} == {
        "title_present",
        "prohibited_terms",
    }
    warn_only = good(shop, title="MUG", description="", image_url="", weight_grams=0)
    q = listing_quality(warn_only)
    assert q.ready and q.score == 100 - 10 - 15 - 15 - 10


def test_shouting_ignores_short_acronyms(shop):
    assert "title_shouting" not in failed(good(shop, title="USB-C cable, braided, 2 m"))


def test_prohibited_terms_are_a_setting_and_match_whole_words(shop, settings):
    settings.LISTING_PROHIBITED_TERMS = ["unicorn horn"]
    assert "prohibited_terms" in failed(good(shop, title="Genuine Unicorn Horn powder"))
    assert "prohibited_terms" not in failed(good(shop, title="Replica of a vase, glass"))
    assert "prohibited_terms" not in failed(good(shop, title="Unicorn hornet plush toy"))


def test_price_sanity_against_the_shops_median(shop):
    for i in range(5):
        good(shop, title=f"Linen shirt number {i}", price=Decimal("40.00") + i)
    assert "price_sanity" not in failed(good(shop, title="Linen shirt, long"))
    assert "price_sanity" in failed(good(shop, title="Linen shirt, typo", price=Decimal("4900")))
    assert "price_sanity" in failed(good(shop, title="Linen shirt, cheap", price=Decimal("1.00")))


def test_price_sanity_needs_enough_listings(shop):
    good(shop, title="Linen shirt one", price=Decimal("40"))
    assert "price_sanity" not in failed(good(shop, title="Linen shirt typo", price=Decimal("4000")))


def test_near_duplicate_in_the_same_shop_only(shop, other_host):
    from catalog.models import Shop

    good(shop, title="Linen Shirts - Relaxed Fit")
    assert "near_duplicate" in failed(good(shop, title="relaxed fit, the linen shirt"))
    other_shop = Shop.objects.get(owner=other_host)
    assert "near_duplicate" not in failed(good(other_shop, title="Linen shirt relaxed fit"))


def test_an_archived_listing_is_not_a_duplicate(shop, client_for, host):
    first = good(shop, title="Linen shirt relaxed")
    client_for(host).delete(f"/api/v1/products/{first.pk}/")
    assert "near_duplicate" not in failed(good(shop, title="Linen shirt, relaxed"))


def test_title_key():
    assert title_key("Linen Shirts — Relaxed Fit!") == title_key("relaxed fit linen shirt")
    assert title_key("Café mug") == title_key("cafe MUG")
    assert title_key("Red mug") != title_key("Blue mug")


# --- the endpoint -------------------------------------------------------------------------


def test_quality_endpoint_for_shop_members(client_for, shop, host, shop_staff):
    product = good(shop, image_url="")
    for user in (host, shop_staff):
        body = client_for(user).get(f"/api/v1/products/{product.pk}/quality/").json()
        assert body["score"] == 100 - WEIGHTS["image"] and body["ready"] is True
        [image] = [c for c in body["checks"] if c["code"] == "image"]
        assert image == {
            "code": "image",
            "severity": "warn",
            "ok": False,
            "message": "The listing has no image.",
            "fix": "Add a photo.",
        }


def test_quality_endpoint_is_404_to_everyone_else(client_for, api_client, shop, other_host, viewer):
    product = good(shop)
    url = f"/api/v1/products/{product.pk}/quality/"
    for user in (other_host, viewer):
        assert_error(client_for(user).get(url), 404, "not_found")
    assert_error(api_client.get(url), 401, "not_authenticated")
    for bad in (999999, 10**30):
        r = client_for(shop.owner).get(f"/api/v1/products/{bad}/quality/")
        assert_error(r, 404, "not_found")


# --- pinning ------------------------------------------------------------------------------


def test_pinning_a_listing_with_a_failed_block_check_is_409(client_for, host, live_show, shop):
    product = good(shop, title="Replica designer bag")
    r = client_for(host).post(f"/api/v1/shows/{live_show.pk}/pins/", {"product": product.pk})
    err = assert_error(r, 409, "listing_not_ready")
    checks = {c["code"]: c for c in err["details"]["checks"]}
    assert checks["prohibited_terms"]["ok"] is False
    assert checks["prohibited_terms"]["severity"] == "block"
    assert "replica" in checks["prohibited_terms"]["message"]
    assert not live_show.pins.exists()


def test_warn_checks_never_block_pinning(client_for, host, live_show, shop):
    product = ProductFactory(shop=shop, title="MUG", weight_grams=0)
    r = client_for(host).post(f"/api/v1/shows/{live_show.pk}/pins/", {"product": product.pk})
    assert r.status_code == 201, r.content


def test_fixing_the_listing_unblocks_pinning(client_for, host, live_show, shop):
    product = good(shop, title="Replica designer bag")
    client = client_for(host)
    client.patch(f"/api/v1/products/{product.pk}/", {"title": "Designer-style bag"})
    r = client.post(f"/api/v1/shows/{live_show.pk}/pins/", {"product": product.pk})
    assert r.status_code == 201, r.content


# --- flags become cases -------------------------------------------------------------------


def test_a_prohibited_term_on_create_flags_the_listing_for_the_owner(client_for, host, shop):
    body = {
        "shop": shop.pk,
        "title": "Ivory carving",
        "price": "20.00",
        "currency": "USD",
        "sku": "IV-1",
        "stock_on_hand": 1,
    }
    assert client_for(host).post("/api/v1/products/", body, format="json").status_code == 201
    case = Case.objects.get()
    assert (case.kind, case.rule, case.actor, case.subject) == (
        "listing_flagged",
        "L1",
        "automatic",
        host,
    )
    assert case.evidence["terms"] == ["ivory"]
    assert case.evidence["product"]["title"] == "Ivory carving"
    mine = client_for(host).get("/api/v1/me/cases/").json()["results"]
    assert [c["kind"] for c in mine] == ["listing_flagged"]


def test_editing_flags_once_and_lifts_when_fixed(client_for, host, shop):
    product = good(shop)
    client = client_for(host)
    url = f"/api/v1/products/{product.pk}/"
    client.patch(url, {"description": "A knockoff of a famous brand, linen."})
    client.patch(url, {"title": "Linen shirt, knockoff style"})  # same terms: no new case
    assert Case.objects.filter(status="active").count() == 1
    client.patch(url, {"description": "Linen, relaxed fit.", "title": "Linen shirt"})
    assert Case.objects.get().status == "lifted"


def test_csv_import_flags_prohibited_listings(client_for, host, shop):
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv = (
        "sku,product_handle,title,description,options,price,currency,stock_on_hand,"
        "weight_grams,image_url\n"
        "A-1,ok-shirt,Linen shirt,,,10.00,USD,3,200,\n"
        "B-1,bad-gun,Firearm parts kit,,,99.00,USD,1,900,\n"
    )
    r = client_for(host).post(
        f"/api/v1/shops/{shop.pk}/catalog-import/",
        {"file": SimpleUploadedFile("c.csv", csv.encode(), content_type="text/csv")},
        format="multipart",
    )
    assert r.status_code in (200, 201), r.content
    [case] = Case.objects.all()
    assert case.product.handle == "bad-gun" and case.evidence["terms"] == ["firearm"]


def test_overturning_a_flag_clears_its_terms_for_that_listing(
    client_for, host, shop, live_show, platform_staff
):
    product = good(shop, title="Replica of a 1960s poster, framed")
    case = Case.objects.get(product=product)
    client = client_for(host)
    assert (
        client.post(f"/api/v1/cases/{case.pk}/appeal/", {"text": "Art print."}).status_code == 201
    )
    r = client_for(platform_staff).post(
        f"/api/v1/staff/cases/{case.pk}/decision/",
        {"decision": "overturn", "reason": "A reproduction print, not a counterfeit."},
    )
    assert r.status_code == 200
    assert listing_quality(product).ready
    r = client.post(f"/api/v1/shows/{live_show.pk}/pins/", {"product": product.pk})
    assert r.status_code == 201, r.content
    other = good(shop, title="Replica designer watch")
    assert not listing_quality(other).ready


def test_a_flag_case_is_not_visible_to_other_hosts(client_for, shop, other_host, shop_staff):
    good(shop, title="Switchblade knife")
    case = Case.objects.get()
    assert client_for(shop.owner).get(f"/api/v1/cases/{case.pk}/").status_code == 200
    for user in (other_host, shop_staff):
        assert_error(client_for(user).get(f"/api/v1/cases/{case.pk}/"), 404, "not_found")


def test_seed_data_listings_are_ready(db):
    import io

    from django.core.management import call_command
    from django.test import override_settings

    with override_settings(DEBUG=True):  # as `make run` seeds (DEBUG off needs --force)
        call_command("seed_demo", stdout=io.StringIO())
    products = list(Product.objects.filter(is_active=True))
    assert products
    assert all(listing_quality(p).ready for p in products)
    assert not Case.objects.exists()


# --- staff removal ------------------------------------------------------------------------


def test_staff_remove_a_listing_as_a_case_and_an_overturn_restores_it(
    client_for, shop, host, platform_staff
):
    product = good(shop)
    url = f"/api/v1/staff/products/{product.pk}/remove/"
    r = client_for(platform_staff).post(
        url, {"rule": "L2", "reason": "Stock photo of another item."}
    )
    assert r.status_code == 201, r.content
    assert (r.json()["kind"], r.json()["actor"]) == ("listing_removed", "staff")
    product.refresh_from_db()
    assert not product.is_active
    case = Case.objects.get(kind="listing_removed")
    assert case.subject == host and case.evidence["product"]["title"] == GOOD["title"]
    client_for(host).post(f"/api/v1/cases/{case.pk}/appeal/", {"text": "It is my photo."})
    client_for(platform_staff).post(
        f"/api/v1/staff/cases/{case.pk}/decision/",
        {"decision": "overturn", "reason": "The photo is the seller's own."},
    )
    product.refresh_from_db()
    assert product.is_active


@pytest.mark.parametrize(
    "body", [{}, {"rule": "L2"}, {"rule": "Z9", "reason": "x"}, {"rule": "L2", "reason": " "}, [1]]
)
def test_staff_remove_bad_input_is_400_and_changes_nothing(client_for, shop, platform_staff, body):
    product = good(shop)
    r = client_for(platform_staff).post(
        f"/api/v1/staff/products/{product.pk}/remove/", body, format="json"
    )
    assert r.status_code == 400, r.content
    product.refresh_from_db()
    assert product.is_active and not Case.objects.exists()


def test_staff_remove_is_404_to_everyone_else(client_for, shop, host):
    product = good(shop)
    r = client_for(host).post(
        f"/api/v1/staff/products/{product.pk}/remove/", {"rule": "L2", "reason": "x"}
    )
    assert_error(r, 404, "not_found")
    product.refresh_from_db()
    assert product.is_active
