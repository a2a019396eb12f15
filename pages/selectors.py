"""Reads for the server-rendered pages (home, viewer, studio, dashboard)."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from catalog.models import Product, Shop, Variant
from catalog.selectors import shops_for_user, user_can_manage_shop
from streams.models import LineupItem, Show, ShowModerator


def shows_for_home(*, limit: int = 24) -> dict[str, list[Show]]:
    """Public shows: live now and coming up (rehearsals are never listed)."""
    base = Show.objects.filter(rehearsal=False).select_related("shop")
    live = list(base.filter(status=Show.Status.LIVE).order_by("-started_at", "-id")[:limit])
    upcoming = list(
        base.filter(status=Show.Status.SCHEDULED).order_by("scheduled_at", "id")[:limit]
    )
    replays = list(base.filter(status=Show.Status.ENDED).order_by("-ended_at", "-id")[:6])
    return {"live": live, "upcoming": upcoming, "replays": replays}


def show_get(*, show_id: int) -> Show | None:
    return Show.objects.select_related("shop").filter(pk=show_id).first()


def user_is_show_host(*, user: Any, show: Show) -> bool:
    """Hosts are the show's shop owner and staff (SPEC "Roles")."""
    return user_can_manage_shop(user=user, shop=show.shop)


def user_is_show_moderator(*, user: Any, show: Show) -> bool:
    if not user.is_authenticated:
        return False
    return ShowModerator.objects.filter(show=show, user_id=user.pk).exists()


def show_lineup(*, show: Show) -> list[Product]:
    """The show's planned products in order, with variants (for the studio)."""
    items = (
        LineupItem.objects.filter(show=show)
        .select_related("product")
        .prefetch_related("product__variants")
        .order_by("position", "id")
    )
    return [item.product for item in items]


def show_moderator_names(*, show: Show) -> list[str]:
    return list(
        ShowModerator.objects.filter(show=show)
        .select_related("user")
        .order_by("id")
        .values_list("user__username", flat=True)
    )


def dashboard_shops(*, user: Any) -> QuerySet[Shop]:
    return shops_for_user(user=user)


def shop_products(*, shop: Shop) -> list[Product]:
    return list(
        Product.objects.filter(shop=shop)
        .prefetch_related(Prefetch("variants", queryset=Variant.objects.order_by("position", "id")))
        .order_by("title", "id")
    )


def shop_shows(*, shop: Shop) -> list[Show]:
    return list(
        Show.objects.filter(shop=shop)
        .prefetch_related(
            Prefetch("lineup", queryset=LineupItem.objects.select_related("product")),
            Prefetch("moderators", queryset=ShowModerator.objects.select_related("user")),
        )
        .order_by("-scheduled_at", "-id")
    )
