"""Catalog reads, including the role checks every app uses (SPEC "Roles")."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from catalog.models import Shop


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
