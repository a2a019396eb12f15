"""Reads for the server-rendered pages (home, viewer, studio, dashboard) and the
per-show sales analytics.

Analytics: sold means an order that was paid and not taken back (`paid`, `shipped`,
`delivered`); rehearsal shows are never counted (SPEC: left out of analytics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, QuerySet, Sum
from django.utils import timezone

from catalog.models import Product, Shop, Variant
from catalog.selectors import shops_for_user, user_can_manage_shop
from orders.models import Order
from streams.models import LineupItem, Pin, Show, ShowModerator


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


# --- analytics ---------------------------------------------------------------------

SOLD_STATUSES = (Order.Status.PAID, Order.Status.SHIPPED, Order.Status.DELIVERED)


@dataclass
class PinMark:
    offset_s: float
    title: str


@dataclass
class Bucket:
    start_s: int
    gmv: Decimal
    units: int


@dataclass
class TopProduct:
    product_id: int
    title: str
    units: int
    gmv: Decimal


@dataclass
class ShowAnalytics:
    show: Show
    currency: str
    gmv: Decimal = Decimal("0")
    units: int = 0
    orders: int = 0
    buyers: int = 0
    peak_viewers: int | None = None
    duration_s: int = 0
    bucket_s: int = 60
    buckets: list[Bucket] = field(default_factory=list)
    pins: list[PinMark] = field(default_factory=list)
    top_products: list[TopProduct] = field(default_factory=list)

    @property
    def conversion(self) -> float | None:
        """Buyers per peak viewer; unknown while the peak is not recorded."""
        if not self.peak_viewers:
            return None
        return self.buyers / self.peak_viewers


def sold_orders(*, show: Show) -> QuerySet[Order]:
    return Order.objects.filter(show=show, status__in=SOLD_STATUSES)


def _peak_viewers(show: Show) -> int | None:
    """The live room's recorded peak, if it records one (`Show.peak_viewers`)."""
    value = getattr(show, "peak_viewers", None)
    return int(value) if isinstance(value, int) else None


BUCKET_STEPS_S = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def _bucket_size(duration_s: int) -> int:
    """The smallest round step that splits the show into at most 40 buckets."""
    for step in BUCKET_STEPS_S:
        if math.ceil(duration_s / step) <= 40:
            return step
    return math.ceil(duration_s / 40 / 3600) * 3600


def show_analytics(*, show: Show, top: int = 5) -> ShowAnalytics | None:
    """Sales over the show's timeline with its pins, GMV, units, buyers and top products.

    None for a rehearsal (never counted) and for a show that has not started.
    """
    if show.rehearsal or show.started_at is None:
        return None
    started = show.started_at
    ended = show.ended_at or max(started, timezone.now())
    result = ShowAnalytics(show=show, currency=show.shop.currency, peak_viewers=_peak_viewers(show))
    orders = list(
        sold_orders(show=show)
        .select_related("product")
        .only("buyer_id", "product__title", "quantity", "subtotal", "created_at", "currency")
    )
    pins = Pin.objects.filter(show=show).select_related("product").order_by("pinned_at", "id")
    result.pins = [PinMark(offset_s=p.offset_s, title=p.product.title) for p in pins]
    last_offset = max(
        [(ended - started).total_seconds()]
        + [(o.created_at - started).total_seconds() for o in orders]
        + [p.offset_s for p in result.pins]
    )
    result.duration_s = max(60, math.floor(last_offset) + 1)
    result.bucket_s = _bucket_size(result.duration_s)
    n_buckets = math.ceil(result.duration_s / result.bucket_s)
    result.buckets = [
        Bucket(start_s=i * result.bucket_s, gmv=Decimal("0"), units=0) for i in range(n_buckets)
    ]
    products: dict[int, TopProduct] = {}
    buyers: set[int] = set()
    for o in orders:
        if o.currency:
            result.currency = o.currency
        result.gmv += o.subtotal
        result.units += o.quantity
        result.orders += 1
        buyers.add(o.buyer_id)
        offset = max(0.0, (o.created_at - started).total_seconds())
        bucket = result.buckets[min(int(offset // result.bucket_s), n_buckets - 1)]
        bucket.gmv += o.subtotal
        bucket.units += o.quantity
        entry = products.setdefault(
            o.product_id, TopProduct(o.product_id, o.product.title, 0, Decimal("0"))
        )
        entry.units += o.quantity
        entry.gmv += o.subtotal
    result.buyers = len(buyers)
    result.top_products = sorted(products.values(), key=lambda p: (-p.gmv, -p.units, p.title))[:top]
    return result


def shop_show_summaries(*, shop: Shop) -> list[dict[str, Any]]:
    """GMV, units and buyers per show of the shop, newest first; rehearsals left out."""
    rows = (
        Order.objects.filter(shop=shop, status__in=SOLD_STATUSES, show__rehearsal=False)
        .values("show_id")
        .annotate(gmv=Sum("subtotal"), units=Sum("quantity"), buyers=Count("buyer", distinct=True))
    )
    return list(rows)
