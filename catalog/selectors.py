"""Catalog reads, including the role checks every app uses (SPEC "Roles").

Shops and active products are public, so a caller who may not manage them gets
403 `permission_denied` (not 404): hiding what anyone can read would protect nothing.
Archived (deleted) products answer 404 to everyone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from catalog.models import Product, Shop, ShopStaff, StockAdjustment, Variant
from core.errors import Forbidden, NotFound


def shops_for_user(*, user: Any) -> QuerySet[Shop]:
    """Shops the user owns or is staff of."""
    if not user.is_authenticated:
        return Shop.objects.none()
    return Shop.objects.filter(Q(owner=user) | Q(memberships__user=user)).distinct().order_by("id")


def user_is_shop_owner(*, user: Any, shop: Shop) -> bool:
    return bool(user.is_authenticated and shop.owner_id == user.pk)


def user_can_manage_shop(*, user: Any, shop: Shop) -> bool:
    """Owner and staff manage products, stock, shows and orders, and host its shows."""
    if not user.is_authenticated:
        return False
    if shop.owner_id == user.pk:
        return True
    return shop.memberships.filter(user_id=user.pk).exists()


def shop_get(*, shop_id: int) -> Shop:
    shop = Shop.objects.select_related("owner").filter(pk=shop_id).first()
    if shop is None:
        raise NotFound("No such shop.")
    return shop


def shop_get_managed(*, shop_id: int, user: Any) -> Shop:
    """The shop, if `user` is its owner or staff; else 404 (no shop) or 403."""
    shop = shop_get(shop_id=shop_id)
    if not user_can_manage_shop(user=user, shop=shop):
        raise Forbidden("Only the shop's owner and staff can do this.")
    return shop


def shop_get_owned(*, shop_id: int, user: Any) -> Shop:
    """The shop, if `user` owns it; else 404 (no shop) or 403 (staff and everyone else)."""
    shop = shop_get(shop_id=shop_id)
    if not user_is_shop_owner(user=user, shop=shop):
        raise Forbidden("Only the shop's owner can do this.")
    return shop


def shop_staff_list(*, shop: Shop) -> QuerySet[ShopStaff]:
    return shop.memberships.select_related("user").order_by("id")


def _with_variants(qs: QuerySet[Product]) -> QuerySet[Product]:
    return qs.prefetch_related(
        Prefetch("variants", queryset=Variant.objects.order_by("position", "id"))
    )


def product_list(*, shop_id: int | None = None) -> QuerySet[Product]:
    """Active products (newest first), each with its variants prefetched."""
    qs = Product.objects.filter(is_active=True)
    if shop_id is not None:
        qs = qs.filter(shop_id=shop_id)
    return _with_variants(qs)


def product_get(*, product_id: int) -> Product:
    """An active product with its variants; 404 if missing or archived."""
    product = _with_variants(Product.objects.filter(pk=product_id, is_active=True)).first()
    if product is None:
        raise NotFound("No such product.")
    return product


def product_get_managed(*, product_id: int, user: Any) -> Product:
    """An active product the user may manage (owner or staff of its shop); else 404/403."""
    product = product_get(product_id=product_id)
    if not user_can_manage_shop(user=user, shop=product.shop):
        raise Forbidden("Only the shop's owner and staff can change its products.")
    return product


def stock_ledger_list(
    *, product: Product, variant_id: int | None = None
) -> QuerySet[StockAdjustment]:
    """The product's stock ledger (every variant), newest first."""
    qs = StockAdjustment.objects.filter(variant__product=product).select_related("actor")
    if variant_id is not None:
        qs = qs.filter(variant_id=variant_id)
    return qs


def catalog_export_variants(*, shop: Shop) -> Iterator[Variant]:
    """Every variant of the shop's active products, in catalog order, product joined."""
    return (
        Variant.objects.filter(shop=shop, product__is_active=True)
        .select_related("product")
        .order_by("product_id", "position", "id")
        .iterator(chunk_size=2000)
    )
