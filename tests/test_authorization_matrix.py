"""Who may do what (SPEC "Roles"), one row per (role, action), asserting both the answer
and that a refused request changed nothing.

Roles: the shop's owner, its staff, the owner of another shop, a buyer (any signed-in
user) and an anonymous caller. Shops and products are public, so a signed-in caller
without rights gets 403 `permission_denied`; an anonymous one gets 401.
Other areas add their own sections below the catalog one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Product, ShopStaff, StockAdjustment, Variant
from tests.factories import ProductFactory, ShopFactory, ShopStaffFactory, UserFactory

ROLES = ["owner", "staff", "other_seller", "buyer", "anonymous"]


@dataclass
class CatalogWorld:
    shop: Any
    product: Any
    users: dict[str, Any]
    newcomer: Any  # a user who could be added as staff
    member: Any  # the staff member (removed by the staff-remove action)


@pytest.fixture
def world(db) -> CatalogWorld:
    shop = ShopFactory()
    member = ShopStaffFactory(shop=shop).user
    users = {
        "owner": shop.owner,
        "staff": member,
        "other_seller": ShopFactory().owner,
        "buyer": UserFactory(),
        "anonymous": None,
    }
    return CatalogWorld(
        shop=shop,
        product=ProductFactory(shop=shop, sku="SKU-A", stock=5),
        users=users,
        newcomer=UserFactory(username="newcomer"),
        member=member,
    )


def catalog_state() -> dict[str, list[Any]]:
    """Everything a catalog write could change."""
    return {
        "products": list(Product.objects.order_by("id").values()),
        "variants": list(Variant.objects.order_by("id").values()),
        "ledger": list(StockAdjustment.objects.order_by("id").values()),
        "staff": list(ShopStaff.objects.order_by("id").values("shop_id", "user_id")),
    }


CSV = (
    "sku,product_handle,title,price,stock_on_hand\n"
    "SKU-A,{handle},New title,1.00,9\n"
    "SKU-NEW,brand-new,Brand new,2.00,3\n"
)

Action = Callable[[Any, CatalogWorld], Any]


def create_product(c: Any, w: CatalogWorld) -> Any:
    body = {"shop": w.shop.pk, "title": "T", "price": "1.00", "sku": "NEW-1", "stock_on_hand": 1}
    return c.post("/api/v1/products/", body, format="json")


def patch_product(c: Any, w: CatalogWorld) -> Any:
    return c.patch(f"/api/v1/products/{w.product.pk}/", {"title": "Hacked"}, format="json")


def delete_product(c: Any, w: CatalogWorld) -> Any:
    return c.delete(f"/api/v1/products/{w.product.pk}/")


def adjust_stock(c: Any, w: CatalogWorld) -> Any:
    return c.post(
        f"/api/v1/products/{w.product.pk}/stock-adjustments/",
        {"delta": -2, "reason": "count"},
        format="json",
    )


def read_ledger(c: Any, w: CatalogWorld) -> Any:
    return c.get(f"/api/v1/products/{w.product.pk}/stock-adjustments/")


def import_csv(c: Any, w: CatalogWorld) -> Any:
    data = CSV.format(handle=w.product.handle).encode()
    return c.post(
        f"/api/v1/shops/{w.shop.pk}/catalog-import/",
        {"file": SimpleUploadedFile("c.csv", data, "text/csv")},
        format="multipart",
    )


def export_csv(c: Any, w: CatalogWorld) -> Any:
    return c.get(f"/api/v1/shops/{w.shop.pk}/catalog-export/")


def add_staff(c: Any, w: CatalogWorld) -> Any:
    return c.post(f"/api/v1/shops/{w.shop.pk}/staff/", {"username": "newcomer"}, format="json")


def remove_staff(c: Any, w: CatalogWorld) -> Any:
    return c.delete(
        f"/api/v1/shops/{w.shop.pk}/staff/", {"username": w.member.username}, format="json"
    )


def list_staff(c: Any, w: CatalogWorld) -> Any:
    return c.get(f"/api/v1/shops/{w.shop.pk}/staff/")


# action → (roles allowed, the success status)
CATALOG_ACTIONS: dict[str, tuple[Action, set[str], int]] = {
    "create_product": (create_product, {"owner", "staff"}, 201),
    "patch_product": (patch_product, {"owner", "staff"}, 200),
    "delete_product": (delete_product, {"owner", "staff"}, 204),
    "adjust_stock": (adjust_stock, {"owner", "staff"}, 201),
    "read_ledger": (read_ledger, {"owner", "staff"}, 200),
    "import_csv": (import_csv, {"owner", "staff"}, 200),
    "export_csv": (export_csv, {"owner", "staff"}, 200),
    "add_staff": (add_staff, {"owner"}, 201),
    "remove_staff": (remove_staff, {"owner"}, 204),
    "list_staff": (list_staff, {"owner", "staff"}, 200),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(CATALOG_ACTIONS))
def test_catalog_matrix(world, client_for, role, action):
    do, allowed, success = CATALOG_ACTIONS[action]
    before = catalog_state()
    r = do(client_for(world.users[role]), world)
    if role in allowed:
        assert r.status_code == success, (role, action, r.status_code, r.content[:300])
        return
    expected = (401, "not_authenticated") if role == "anonymous" else (403, "permission_denied")
    assert (r.status_code, r.json()["error"]["code"]) == expected, (role, action, r.content[:300])
    assert catalog_state() == before


@pytest.mark.parametrize("action", ["patch_product", "delete_product", "adjust_stock"])
def test_catalog_writes_on_unknown_product_are_404(world, client_for, action):
    do, _, _ = CATALOG_ACTIONS[action]
    world.product.pk = 10**9
    r = do(client_for(world.users["owner"]), world)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
