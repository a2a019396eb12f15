"""The public contract v1 (/work/shared/SPEC.md: Conventions and the REST table) checked
against what the app serves: every route with its methods, the answer shapes the SPEC
names, the error shapes (401, 404, 405, 400 parse_error), that unknown and read-only
fields are ignored, and the service endpoints (/healthz, /readyz, schema, docs)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import Product
from orders.models import Hold, Order
from streams.models import Show
from tests.contract.fuzzing import fingerprint, tracked_tables
from tests.contract.world import ADDRESS, World, build_world
from tests.helpers import assert_error

# The REST table of SPEC "Public contract v1": (methods, path). `{name}` is a World object.
SPEC_ROUTES: list[tuple[str, str]] = [
    ("POST", "/api/v1/auth/register/"),
    ("POST", "/api/v1/auth/token/"),
    ("POST", "/api/v1/auth/logout/"),
    ("GET", "/api/v1/me/"),
    ("POST", "/api/v1/shops/"),
    ("POST DELETE", "/api/v1/shops/{shop}/staff/"),
    ("GET POST", "/api/v1/products/"),
    ("GET PATCH DELETE", "/api/v1/products/{simple}/"),
    ("POST", "/api/v1/products/{simple}/stock-adjustments/"),
    ("POST", "/api/v1/shops/{shop}/catalog-import/"),
    ("GET", "/api/v1/shops/{shop}/catalog-export/"),
    ("GET", "/api/v1/shops/{shop}/orders/"),
    ("GET", "/api/v1/shops/{shop}/shipments/"),
    ("POST", "/api/v1/shipments/{shipment}/ship/"),
    ("GET POST", "/api/v1/shows/"),
    ("POST", "/api/v1/shows/{scheduled}/start/"),
    ("POST", "/api/v1/shows/{live}/end/"),
    ("POST DELETE", "/api/v1/shows/{live}/moderators/"),
    ("GET POST", "/api/v1/shows/{live}/pins/"),
    ("DELETE", "/api/v1/shows/{live}/pins/current/"),
    ("GET", "/api/v1/shows/{live}/messages/"),
    ("POST", "/api/v1/shows/{live}/moderation/"),
    ("GET", "/api/v1/me/moderation/"),
    ("POST", "/api/v1/shows/{live}/ws-ticket/"),
    ("POST", "/api/v1/shows/{live}/buy/"),
    ("GET", "/api/v1/holds/"),
    ("GET", "/api/v1/holds/{hold}/"),
    ("POST", "/api/v1/holds/{hold}/checkout/"),
    ("POST", "/api/v1/holds/{hold}/cancel/"),
    ("GET", "/api/v1/orders/"),
    ("GET", "/api/v1/orders/{pending_order}/"),
    ("POST", "/api/v1/orders/{paid_order}/cancel/"),
    ("POST", "/api/v1/orders/{paid_order}/refund/"),
    ("GET POST", "/api/v1/me/payment-methods/"),
    ("DELETE", "/api/v1/me/payment-methods/{payment_method}/"),
    ("GET POST", "/api/v1/me/addresses/"),
    ("DELETE", "/api/v1/me/addresses/{address}/"),
    ("POST", "/api/v1/shows/{live}/waitlist/"),
]

# Routes anyone may read (SPEC: anonymous viewers may watch and read).
PUBLIC_READS = {
    "/api/v1/products/",
    "/api/v1/products/{simple}/",
    "/api/v1/shows/",
    "/api/v1/shows/{live}/pins/",
    "/api/v1/shows/{live}/messages/",
}
# Routes that take no authentication at all.
OPEN_POSTS = {"/api/v1/auth/register/", "/api/v1/auth/token/"}
# Multipart only (a CSV file): JSON is an unsupported media type there.
MULTIPART_ONLY = {"/api/v1/shops/{shop}/catalog-import/"}

LIST_ROUTES: list[tuple[str, str]] = [  # (who reads, list path)
    ("buyer", "/api/v1/products/"),
    ("buyer", "/api/v1/shows/"),
    ("buyer", "/api/v1/shows/{live}/pins/"),
    ("buyer", "/api/v1/shows/{live}/messages/"),
    ("buyer", "/api/v1/me/moderation/"),
    ("buyer", "/api/v1/holds/"),
    ("buyer", "/api/v1/orders/"),
    ("buyer", "/api/v1/me/payment-methods/"),
    ("buyer", "/api/v1/me/addresses/"),
    ("seller", "/api/v1/shops/{shop}/orders/"),
    ("seller", "/api/v1/shops/{shop}/shipments/"),
]

# Who acts on the buyer's own objects in the per-route checks (the seller does the rest).
BUYER_ROUTES = ("/api/v1/holds/", "/api/v1/orders/{paid_order}/cancel", "/api/v1/me/")


@pytest.fixture
def world(db: None) -> World:
    return build_world()


@pytest.fixture
def as_user(world: World) -> Callable[[str | None], APIClient]:
    """`as_user("seller")` → an APIClient with that World user's token (None: anonymous)."""

    def make(role: str | None) -> APIClient:
        client = APIClient()
        if role is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[role]}")
        return client

    return make


def url(world: World, template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(getattr(world, m.group(1)).pk), template)


def missing_id_url(template: str) -> str:
    return re.sub(r"\{\w+\}", "2147480000", template)


def methods_of(spec: str) -> list[str]:
    return spec.split()


def serves(response: Any) -> bool:
    """The route itself exists (a 404 from an object lookup has the SPEC error body)."""
    return response.status_code != 404


# --- routes and methods ---------------------------------------------------------------


def test_every_spec_route_is_served_with_its_methods(world: World, as_user: Any) -> None:
    seller = as_user("seller")
    problems = []
    for spec, template in SPEC_ROUTES:
        response = seller.options(url(world, template))
        if response.status_code == 404:
            problems.append(f"{template}: not served")
            continue
        allowed = {m.strip() for m in response.get("Allow", "").split(",")}
        missing = set(methods_of(spec)) - allowed
        if response.status_code != 200 or missing:
            problems.append(f"{template}: {response.status_code}, Allow lacks {missing}")
    assert not problems, "\n".join(problems)


def test_anonymous_callers_may_read_and_must_sign_in_for_the_rest(world: World) -> None:
    anonymous = APIClient()
    problems = []
    for spec, template in SPEC_ROUTES:
        for method in methods_of(spec):
            response = getattr(anonymous, method.lower())(url(world, template))
            if method == "GET" and template in PUBLIC_READS:
                ok = response.status_code == 200
            elif template in OPEN_POSTS:
                ok = response.status_code == 400 and response.json()["error"]["code"] == "invalid"
            else:
                ok = (
                    response.status_code == 401
                    and response.json()["error"]["code"] == "not_authenticated"
                )
            if not ok:
                problems.append(f"{method} {template}: {response.status_code} {response.content!r}")
    assert not problems, "\n".join(problems)


def test_a_bad_token_is_401_not_authenticated(world: World) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_error(client.get("/api/v1/me/"), 401, "not_authenticated")
    assert_error(client.get("/api/v1/products/"), 401, "not_authenticated")


def test_routes_naming_a_missing_object_are_404_not_found(world: World, as_user: Any) -> None:
    seller = as_user("seller")
    problems = []
    for spec, template in SPEC_ROUTES:
        if "{" not in template:
            continue
        for method in methods_of(spec):
            body = VALID_BODIES.get((method, template), lambda w: {})(world)
            response = _send(seller, method, missing_id_url(template), body, template)
            if response.status_code != 404 or response.json()["error"]["code"] != "not_found":
                problems.append(f"{method} {template}: {response.status_code} {response.content!r}")
    assert not problems, "\n".join(problems)


def test_unknown_api_paths_are_404_not_found(world: World, as_user: Any) -> None:
    assert_error(as_user("seller").get("/api/v1/no-such-thing/"), 404, "not_found")
    assert_error(APIClient().post("/api/v1/shows/not-a-number/buy/"), 404, "not_found")


def test_methods_outside_the_contract_are_405_method_not_allowed(
    world: World, as_user: Any
) -> None:
    seller = as_user("seller")
    problems = []
    for _spec, template in SPEC_ROUTES:
        response = seller.put(url(world, template), {}, format="json")
        if response.status_code != 405 or (
            response.json()["error"]["code"] != "method_not_allowed"
        ):
            problems.append(f"PUT {template}: {response.status_code} {response.content!r}")
    assert not problems, "\n".join(problems)


def test_malformed_json_to_any_post_is_400_parse_error_and_changes_nothing(
    world: World, as_user: Any
) -> None:
    tables = tracked_tables()
    before = fingerprint(tables)
    problems = []
    for spec, template in SPEC_ROUTES:
        if "POST" not in methods_of(spec):
            continue
        role = "buyer" if template.startswith(BUYER_ROUTES) else "seller"
        response = as_user(role).post(
            url(world, template), data='{"oops": ', content_type="application/json"
        )
        expected = (
            (415, "unsupported_media_type") if template in MULTIPART_ONLY else (400, "parse_error")
        )
        body = response.json() if response["Content-Type"] == "application/json" else {}
        got = (response.status_code, body.get("error", {}).get("code"))
        if got != expected:
            problems.append(f"POST {template}: {got}, expected {expected}")
    assert not problems, "\n".join(problems)
    assert fingerprint(tables) == before


def test_a_malformed_multipart_upload_is_400_parse_error(world: World, as_user: Any) -> None:
    response = as_user("seller").post(
        url(world, "/api/v1/shops/{shop}/catalog-import/"),
        data=b'--xx\r\nContent-Disposition: form-data; name="file"\r\n\r\nno end',
        content_type="multipart/form-data",  # no boundary
    )
    assert_error(response, 400, "parse_error")


# --- lists ----------------------------------------------------------------------------


def test_every_list_is_a_cursor_page_of_results_and_next(world: World, as_user: Any) -> None:
    problems = []
    for role, template in LIST_ROUTES:
        response = as_user(role).get(url(world, template))
        body = response.json()
        if (
            response.status_code != 200
            or not isinstance(body.get("results"), list)
            or "next" not in body
            or not (body["next"] is None or isinstance(body["next"], str))
        ):
            problems.append(f"GET {template}: {response.status_code} {str(body)[:200]}")
    assert not problems, "\n".join(problems)


def test_a_page_next_link_leads_to_the_rest(world: World, as_user: Any) -> None:
    seller = as_user("seller")
    first = seller.get("/api/v1/products/", {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    rest = seller.get(first["next"]).json()
    ids = [p["id"] for p in first["results"] + rest["results"]]
    assert sorted(ids) == sorted(
        Product.objects.filter(is_active=True).values_list("pk", flat=True)
    )


# --- answers --------------------------------------------------------------------------


def test_chat_history_is_the_latest_50_ascending_and_next_leads_to_older(
    world: World, as_user: Any
) -> None:
    from streams.models import ChatMessage

    ChatMessage.objects.bulk_create(
        ChatMessage(show=world.live, user=world.buyer, text=f"m{i}") for i in range(60)
    )
    ids = list(
        ChatMessage.objects.filter(show=world.live).order_by("id").values_list("pk", flat=True)
    )
    anonymous = APIClient()
    first = anonymous.get(url(world, "/api/v1/shows/{live}/messages/")).json()
    assert [m["id"] for m in first["results"]] == ids[-50:]
    older = anonymous.get(first["next"]).json()
    assert [m["id"] for m in older["results"]] == ids[:-50] and older["next"] is None


def test_register_answers_id_username_token(db: None) -> None:
    r = APIClient().post(
        "/api/v1/auth/register/",
        {"username": "newbie", "password": "pw-Secret-123", "email": "n@example.com"},
        format="json",
    )
    assert r.status_code == 201
    assert set(r.json()) == {"id", "username", "token"}


def test_token_answers_token_and_logout_stops_it(world: World) -> None:
    client = APIClient()
    r = client.post(
        "/api/v1/auth/token/",
        {"username": world.buyer.username, "password": "pw-Secret-123"},
        format="json",
    )
    assert r.status_code == 200 and set(r.json()) == {"token"}
    client.credentials(HTTP_AUTHORIZATION=f"Token {r.json()['token']}")
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert_error(client.get("/api/v1/me/"), 401, "not_authenticated")


def test_me_answers_id_username_shops(world: World, as_user: Any) -> None:
    body = as_user("seller").get("/api/v1/me/").json()
    assert {"id", "username", "shops"} <= set(body)
    assert [s["id"] for s in body["shops"]] == [world.shop.pk]


def test_creating_a_shop_makes_the_caller_its_owner(world: World, as_user: Any) -> None:
    buyer = as_user("buyer")
    r = buyer.post("/api/v1/shops/", {"name": "Corner"}, format="json")
    assert r.status_code == 201
    assert r.json()["owner"]["id"] == world.buyer.pk
    shops = buyer.get("/api/v1/me/").json()["shops"]
    assert {"id": r.json()["id"], "name": "Corner", "role": "owner"} in shops


def test_staff_changes_are_for_the_owner_only(world: World, as_user: Any) -> None:
    path = url(world, "/api/v1/shops/{shop}/staff/")
    body = {"username": world.buyer.username}
    assert_error(as_user("staff").post(path, body, format="json"), 403, "permission_denied")
    assert as_user("seller").post(path, body, format="json").status_code == 201
    assert as_user("seller").delete(path, body, format="json").status_code == 204


def test_a_product_answers_stock_available_and_its_variants(world: World, as_user: Any) -> None:
    r = as_user("seller").post(
        "/api/v1/products/",
        {
            "shop": world.shop.pk,
            "title": "Mug",
            "price": "12.50",
            "currency": "USD",
            "sku": "MUG-1",
            "stock_on_hand": 7,
        },
        format="json",
    )
    assert r.status_code == 201
    body = r.json()
    assert body["price"] == "12.50" and body["currency"] == "USD"
    assert body["stock_on_hand"] == 7 and body["stock_available"] == 7
    assert [v["sku"] for v in body["variants"]] == ["MUG-1"]


def test_a_stock_adjustment_never_takes_available_below_zero(world: World, as_user: Any) -> None:
    path = url(world, "/api/v1/products/{simple}/stock-adjustments/")
    seller = as_user("seller")
    assert seller.post(path, {"delta": 3, "reason": "found"}, format="json").status_code == 201
    assert_error(
        seller.post(path, {"delta": -100000, "reason": "lost"}, format="json"),
        409,
        "insufficient_stock",
    )


def test_a_bad_csv_row_is_400_invalid_with_rows_and_a_dry_run_reports_per_row(
    world: World, as_user: Any
) -> None:
    path = url(world, "/api/v1/shops/{shop}/catalog-import/")
    seller = as_user("seller")
    good = b"sku,product_handle,title,price,currency,stock_on_hand\nNEW-1,new-1,New,1.00,USD,3\n"
    bad = good + b"NEW-2,new-2,,-5,USD,x\n"
    r = seller.post(path, {"file": SimpleUploadedFile("c.csv", bad)}, format="multipart")
    err = assert_error(r, 400, "invalid")
    assert "rows" in err["details"]
    r = seller.post(
        path, {"file": SimpleUploadedFile("c.csv", good), "dry_run": "true"}, format="multipart"
    )
    assert r.status_code == 200 and len(r.json()["rows"]) == 1
    assert not Product.objects.filter(handle="new-1").exists()


def test_the_catalog_export_has_the_spec_csv_columns(world: World, as_user: Any) -> None:
    r = as_user("seller").get(url(world, "/api/v1/shops/{shop}/catalog-export/"))
    assert r.status_code == 200
    header = r.content.decode().splitlines()[0].split(",")
    assert header == [
        "sku",
        "product_handle",
        "title",
        "description",
        "options",
        "price",
        "currency",
        "stock_on_hand",
        "weight_grams",
        "image_url",
    ]


def test_shipping_a_shipment_marks_its_orders_shipped(world: World, as_user: Any) -> None:
    r = as_user("seller").post(
        url(world, "/api/v1/shipments/{shipment}/ship/"),
        {"carrier": "UPS", "tracking_number": "1Z999"},
        format="json",
    )
    assert r.status_code == 200
    world.paid_order.refresh_from_db()
    assert world.paid_order.status == Order.Status.SHIPPED


def test_a_show_answers_id_status_current_pin_viewer_count(world: World, as_user: Any) -> None:
    r = as_user("seller").post(
        "/api/v1/shows/",
        {
            "shop": world.shop.pk,
            "title": "Friday",
            "scheduled_at": (timezone.now() + timedelta(days=2)).isoformat(),
            "lineup": [world.simple.pk],
        },
        format="json",
    )
    assert r.status_code == 201
    assert {"id", "status", "current_pin", "viewer_count"} <= set(r.json())
    assert r.json()["status"] == "scheduled" and r.json()["current_pin"] is None
    live = as_user("buyer").get("/api/v1/shows/", {"status": "live"}).json()["results"]
    assert [s["id"] for s in live] == [world.live.pk]


def test_start_and_end_answer_the_show(world: World, as_user: Any) -> None:
    seller = as_user("seller")
    started = seller.post(url(world, "/api/v1/shows/{scheduled}/start/"))
    assert started.status_code == 200 and started.json()["status"] == "live"
    ended = seller.post(url(world, "/api/v1/shows/{scheduled}/end/"))
    assert ended.status_code == 200 and ended.json()["status"] == "ended"


def test_pins_replace_the_current_one_and_the_timeline_has_offsets(
    world: World, as_user: Any
) -> None:
    seller = as_user("seller")
    path = url(world, "/api/v1/shows/{live}/pins/")
    r = seller.post(path, {"product": world.sized.pk, "price": "9.00"}, format="json")
    assert r.status_code == 201 and r.json()["price"] == "9.00"
    timeline = seller.get(path).json()["results"]
    assert all(isinstance(p["offset_s"], int | float) for p in timeline)
    assert [p["unpinned_at"] is None for p in timeline] == [False, True]
    assert seller.delete(url(world, "/api/v1/shows/{live}/pins/current/")).status_code == 204


def test_moderation_answers_201_and_the_target_reads_the_reason(world: World, as_user: Any) -> None:
    r = as_user("moderator").post(
        url(world, "/api/v1/shows/{live}/moderation/"),
        {"action": "timeout", "user": world.buyer.pk, "reason": "Caps lock", "duration_s": 60},
        format="json",
    )
    assert r.status_code == 201
    notices = as_user("buyer").get("/api/v1/me/moderation/").json()["results"]
    assert [n["reason"] for n in notices] == ["Caps lock"]


def test_buy_answers_hold_order_and_shipping_fee(world: World, as_user: Any) -> None:
    r = as_user("other_buyer").post(
        url(world, "/api/v1/shows/{live}/buy/"), {"product": world.simple.pk}, format="json"
    )
    assert r.status_code == 201
    body = r.json()
    assert {"hold", "order", "shipping_fee"} <= set(body)
    # Money: decimal strings beside a currency; times: ISO 8601 UTC.
    assert re.fullmatch(r"\d+\.\d{2}", body["shipping_fee"]) and body["currency"] == "USD"
    assert re.fullmatch(r"\d+\.\d{2}", body["hold"]["unit_price"])
    assert body["hold"]["expires_at"].endswith(("Z", "+00:00"))


@pytest.mark.parametrize(
    ("show", "product", "body", "status", "code"),
    [
        ("scheduled", "simple", {}, 409, "show_not_live"),
        ("live", "sized", {}, 409, "not_pinned"),
        ("ended", "sized", {}, 400, "variant_required"),
        ("ended", "simple", {}, 409, "not_pinned"),
        ("live", "simple", {"quantity": 10000}, 400, "invalid"),
    ],
)
def test_buy_refusals_have_their_spec_codes(
    world: World, as_user: Any, show: str, product: str, body: dict, status: int, code: str
) -> None:
    r = as_user("other_buyer").post(
        url(world, f"/api/v1/shows/{{{show}}}/buy/"),
        {"product": getattr(world, product).pk, **body},
        format="json",
    )
    assert_error(r, status, code)


def test_buying_a_sold_out_pin_is_409_sold_out(world: World, as_user: Any) -> None:
    as_user("seller").post(
        url(world, "/api/v1/shows/{live}/pins/"), {"product": world.sold_out.pk}, format="json"
    )
    r = as_user("other_buyer").post(
        url(world, "/api/v1/shows/{live}/buy/"), {"product": world.sold_out.pk}, format="json"
    )
    assert_error(r, 409, "sold_out")


def test_buying_past_the_pin_limit_is_409_limit_exceeded(world: World, as_user: Any) -> None:
    as_user("seller").post(
        url(world, "/api/v1/shows/{live}/pins/"),
        {"product": world.simple.pk, "limit_per_buyer": 1},
        format="json",
    )
    path = url(world, "/api/v1/shows/{live}/buy/")
    other = as_user("other_buyer")
    assert other.post(path, {"product": world.simple.pk}, format="json").status_code == 201
    assert_error(
        other.post(path, {"product": world.simple.pk}, format="json"), 409, "limit_exceeded"
    )


HOLD_FIELDS = {
    "id",
    "product",
    "variant",
    "quantity",
    "unit_price",
    "status",
    "expires_at",
    "order",
}


def test_a_hold_has_the_spec_fields(world: World, as_user: Any) -> None:
    buyer = as_user("buyer")
    one = buyer.get(url(world, "/api/v1/holds/{hold}/")).json()
    assert set(one) >= HOLD_FIELDS
    assert one["status"] == "active" and one["order"] is None
    for hold in buyer.get("/api/v1/holds/").json()["results"]:
        assert set(hold) >= HOLD_FIELDS


def test_checkout_answers_202_with_a_pending_order(world: World, as_user: Any) -> None:
    r = as_user("buyer").post(
        url(world, "/api/v1/holds/{hold}/checkout/"),
        {"payment_method": "sandbox_ok", "address": dict(ADDRESS)},
        format="json",
    )
    assert r.status_code == 202
    assert r.json()["order"]["status"] == "pending_payment"


def test_cancelling_a_hold_answers_it_cancelled(world: World, as_user: Any) -> None:
    r = as_user("buyer").post(url(world, "/api/v1/holds/{hold}/cancel/"))
    assert r.status_code == 200
    assert set(r.json()) >= HOLD_FIELDS and r.json()["status"] == "cancelled"


def test_orders_answer_status_and_shipment(world: World, as_user: Any) -> None:
    buyer = as_user("buyer")
    for order in buyer.get("/api/v1/orders/").json()["results"]:
        assert {"id", "status", "shipment"} <= set(order)
    one = buyer.get(url(world, "/api/v1/orders/{paid_order}/")).json()
    assert one["status"] == "paid" and one["shipment"]["id"] == world.shipment.pk


def test_a_buyer_cancels_a_paid_order_before_shipping(world: World, as_user: Any) -> None:
    cancelled = as_user("buyer").post(url(world, "/api/v1/orders/{paid_order}/cancel/"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_a_seller_refunds_a_paid_order(world: World, as_user: Any) -> None:
    refunded = as_user("seller").post(
        url(world, "/api/v1/orders/{paid_order}/refund/"), {"reason": "Damaged"}, format="json"
    )
    assert refunded.status_code == 200 and refunded.json()["status"] == "refunded"


def test_a_payment_method_answers_id_brand_last4_is_default(world: World, as_user: Any) -> None:
    r = as_user("other_buyer").post(
        "/api/v1/me/payment-methods/", {"token": "sandbox_ok"}, format="json"
    )
    assert r.status_code == 201
    assert {"id", "brand", "last4", "is_default"} <= set(r.json())
    path = f"/api/v1/me/payment-methods/{r.json()['id']}/"
    assert as_user("other_buyer").delete(path).status_code == 204


def test_an_address_answers_its_fields_and_is_default(world: World, as_user: Any) -> None:
    r = as_user("other_buyer").post("/api/v1/me/addresses/", dict(ADDRESS), format="json")
    assert r.status_code == 201
    assert {"id", *ADDRESS, "is_default"} <= set(r.json())
    assert (
        as_user("other_buyer").delete(f"/api/v1/me/addresses/{r.json()['id']}/").status_code == 204
    )


def test_joining_a_waitlist_answers_201(world: World, as_user: Any) -> None:
    as_user("seller").post(
        url(world, "/api/v1/shows/{live}/pins/"), {"product": world.sold_out.pk}, format="json"
    )
    r = as_user("other_buyer").post(
        url(world, "/api/v1/shows/{live}/waitlist/"), {"product": world.sold_out.pk}, format="json"
    )
    assert r.status_code == 201


def test_another_buyers_objects_answer_404_not_found(world: World, as_user: Any) -> None:
    other = as_user("other_buyer")
    for template in (
        "/api/v1/holds/{hold}/",
        "/api/v1/orders/{pending_order}/",
    ):
        assert_error(other.get(url(world, template)), 404, "not_found")
    for template in ("/api/v1/holds/{hold}/cancel/", "/api/v1/orders/{pending_order}/cancel/"):
        assert_error(other.post(url(world, template)), 404, "not_found")
    for template in (
        "/api/v1/me/payment-methods/{payment_method}/",
        "/api/v1/me/addresses/{address}/",
    ):
        assert_error(other.delete(url(world, template)), 404, "not_found")


# --- unknown and read-only fields -------------------------------------------------------


def test_register_ignores_unknown_and_privileged_fields(db: None) -> None:
    r = APIClient().post(
        "/api/v1/auth/register/",
        {
            "username": "sneaky",
            "password": "pw-Secret-123",
            "is_staff": True,
            "is_superuser": True,
            "id": 1,
            "color": "red",
        },
        format="json",
    )
    assert r.status_code == 201
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="sneaky")
    assert not user.is_staff and not user.is_superuser


def test_product_create_and_patch_ignore_read_only_stock_fields(world: World, as_user: Any) -> None:
    seller = as_user("seller")
    r = seller.post(
        "/api/v1/products/",
        {
            "shop": world.shop.pk,
            "title": "Cap",
            "price": "5.00",
            "sku": "CAP-1",
            "stock_on_hand": 4,
            "stock_available": 999,
            "id": 1,
            "created_at": "2000-01-01T00:00:00Z",
            "flavour": "mint",
        },
        format="json",
    )
    assert r.status_code == 201
    body = r.json()
    assert body["stock_available"] == 4 and body["created_at"] != "2000-01-01T00:00:00Z"
    r = seller.patch(
        f"/api/v1/products/{body['id']}/",
        {"stock_on_hand": 1000, "stock_available": 1000, "title": "Cap 2", "shop": 999},
        format="json",
    )
    assert r.status_code == 200
    assert r.json()["stock_on_hand"] == 4 and r.json()["title"] == "Cap 2"
    assert r.json()["shop"] == world.shop.pk


def test_show_create_ignores_status_and_live_fields(world: World, as_user: Any) -> None:
    r = as_user("seller").post(
        "/api/v1/shows/",
        {
            "shop": world.shop.pk,
            "title": "Sneaky",
            "scheduled_at": timezone.now().isoformat(),
            "status": "live",
            "viewer_count": 1000,
            "started_at": timezone.now().isoformat(),
            "current_pin": {"product": world.simple.pk},
        },
        format="json",
    )
    assert r.status_code == 201
    show = Show.objects.get(pk=r.json()["id"])
    assert show.status == Show.Status.SCHEDULED and show.started_at is None


def test_wallet_and_buy_ignore_fields_the_server_decides(world: World, as_user: Any) -> None:
    other = as_user("other_buyer")
    r = other.post(
        "/api/v1/me/payment-methods/",
        {"token": "sandbox_ok", "brand": "gold", "last4": "0000", "user": world.buyer.pk},
        format="json",
    )
    assert r.status_code == 201 and r.json()["last4"] != "0000" and r.json()["brand"] != "gold"
    r = other.post(
        "/api/v1/me/addresses/", {**ADDRESS, "user": world.buyer.pk, "id": 1}, format="json"
    )
    assert r.status_code == 201 and r.json()["id"] != 1
    assert not world.buyer.addresses.filter(pk=r.json()["id"]).exists()
    r = other.post(
        url(world, "/api/v1/shows/{live}/buy/"),
        {"product": world.simple.pk, "unit_price": "0.01", "status": "converted"},
        format="json",
    )
    assert r.status_code == 201
    hold = Hold.objects.get(pk=r.json()["hold"]["id"])
    assert hold.unit_price == world.simple.price and hold.status == Hold.Status.ACTIVE


# --- service endpoints ----------------------------------------------------------------


def test_healthz_and_readyz_answer(db: None) -> None:
    client = APIClient()
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_the_schema_is_openapi_3_and_documents_every_spec_route(db: None) -> None:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    documented = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "patch", "delete"}
    }
    wanted = set()
    for spec, template in SPEC_ROUTES:
        path = re.sub(r"\{(\w+)\}", "{ID}", template)
        for method in methods_of(spec):
            wanted.add((method, path))
    normalised = {(m, re.sub(r"\{\w+\}", "{ID}", p)) for m, p in documented}
    assert wanted - normalised == set()
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "details"]


def test_the_api_docs_page_loads_nothing_from_a_cdn(db: None) -> None:
    client = APIClient()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), html[:1000]
    assert "cdn" not in html.lower()
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert client.get(asset).status_code == 200, asset


# --- helpers --------------------------------------------------------------------------


def _send(client: APIClient, method: str, path: str, body: dict, template: str) -> Any:
    if method == "GET":
        return client.get(path)
    if template in MULTIPART_ONLY:
        return client.post(path, body, format="multipart")
    return getattr(client, method.lower())(path, body, format="json")


VALID_BODIES: dict[tuple[str, str], Callable[[World], dict[str, Any]]] = {
    ("POST", "/api/v1/shops/{shop}/staff/"): lambda w: {"username": w.buyer.username},
    ("DELETE", "/api/v1/shops/{shop}/staff/"): lambda w: {"username": w.staff.username},
    ("PATCH", "/api/v1/products/{simple}/"): lambda w: {"title": "New title"},
    ("POST", "/api/v1/products/{simple}/stock-adjustments/"): lambda w: {
        "delta": 1,
        "reason": "recount",
    },
    ("POST", "/api/v1/shops/{shop}/catalog-import/"): lambda w: {
        "file": SimpleUploadedFile("c.csv", b"sku,product_handle,title,price\nA-1,a-1,A,1.00\n")
    },
    ("POST", "/api/v1/shipments/{shipment}/ship/"): lambda w: {
        "carrier": "UPS",
        "tracking_number": "1Z",
    },
    ("POST", "/api/v1/shows/{live}/moderators/"): lambda w: {"username": w.buyer.username},
    ("DELETE", "/api/v1/shows/{live}/moderators/"): lambda w: {"username": w.moderator.username},
    ("POST", "/api/v1/shows/{live}/pins/"): lambda w: {"product": w.simple.pk},
    ("POST", "/api/v1/shows/{live}/moderation/"): lambda w: {
        "action": "remove_message",
        "message": w.message.pk,
        "reason": "spam",
    },
    ("POST", "/api/v1/shows/{live}/buy/"): lambda w: {"product": w.simple.pk},
    ("POST", "/api/v1/holds/{hold}/checkout/"): lambda w: {
        "payment_method": "sandbox_ok",
        "address": dict(ADDRESS),
    },
    ("POST", "/api/v1/orders/{paid_order}/refund/"): lambda w: {"reason": "damaged"},
    ("POST", "/api/v1/shows/{live}/waitlist/"): lambda w: {"product": w.sold_out.pk},
}
