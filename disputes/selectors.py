"""Dispute reads: who may see a dispute, and the lists of the buyer, the shop and staff."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from catalog.models import Shop
from catalog.selectors import user_can_manage_shop
from core.errors import NotFound
from disputes.models import OPEN_STATUSES, Dispute
from orders.models import Order


def _base() -> QuerySet[Dispute]:
    return Dispute.objects.select_related("order", "shop", "buyer")


def user_can_see_dispute(*, user: Any, dispute: Dispute) -> bool:
    """The buyer, the shop's owner and staff, and platform staff."""
    if not user.is_authenticated:
        return False
    return (
        user.is_staff
        or dispute.buyer_id == user.pk
        or user_can_manage_shop(user=user, shop=dispute.shop)
    )


def dispute_for_user(*, user: Any, dispute_id: int) -> Dispute:
    dispute = _base().filter(pk=dispute_id).first()
    if dispute is None or not user_can_see_dispute(user=user, dispute=dispute):
        raise NotFound("No such dispute.")
    return dispute


def disputes_for_buyer(*, buyer: Any) -> QuerySet[Dispute]:
    return _base().filter(buyer_id=buyer.pk)


def disputes_for_shop(*, shop: Shop, open_only: bool = False) -> QuerySet[Dispute]:
    disputes = _base().filter(shop=shop)
    return disputes.filter(status__in=OPEN_STATUSES) if open_only else disputes


def disputes_for_staff(*, status: str | None = None) -> QuerySet[Dispute]:
    disputes = _base()
    return disputes.filter(status=status) if status else disputes


def latest_dispute_by_order(*, orders: list[Order]) -> dict[int, Dispute]:
    """Each order's most recent dispute (for the buyer's order list)."""
    latest: dict[int, Dispute] = {}
    for dispute in Dispute.objects.filter(order__in=orders).order_by("created_at", "id"):
        latest[dispute.order_id] = dispute
    return latest
