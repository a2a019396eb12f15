"""Webhook reads, and who may manage a shop's webhooks: its owner only.

A shop's staff get 403 `permission_denied` (they know the shop; only the owner manages
its integrations, as with staff management); anyone else gets 404 `not_found`, as if
the shop's webhooks did not exist (SPEC "Roles": other people's objects).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from catalog.models import Shop
from catalog.selectors import shop_get, user_can_manage_shop, user_is_shop_owner
from core.errors import Forbidden, NotFound
from webhooks.models import Attempt, Delivery, Endpoint


def webhook_shop_get(*, shop_id: int, user: Any) -> Shop:
    shop = shop_get(shop_id=shop_id)
    if user_is_shop_owner(user=user, shop=shop):
        return shop
    if user_can_manage_shop(user=user, shop=shop):
        raise Forbidden("Only the shop's owner manages its webhooks.")
    raise NotFound("No such shop.")


def endpoint_list(*, shop: Shop) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(shop=shop)


def endpoint_get(*, shop: Shop, endpoint_id: int) -> Endpoint:
    endpoint = Endpoint.objects.filter(shop=shop, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def delivery_list(*, endpoint: Endpoint) -> QuerySet[Delivery]:
    """The endpoint's delivery log, newest first, each with its event and attempts."""
    return (
        Delivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related(Prefetch("attempt_log", queryset=Attempt.objects.order_by("number")))
    )


def delivery_get(*, endpoint: Endpoint, delivery_id: int) -> Delivery:
    delivery = delivery_list(endpoint=endpoint).filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound("No such delivery.")
    return delivery


def dashboard_endpoints(*, shop: Shop, deliveries: int = 10) -> list[Endpoint]:
    """The shop's endpoints for the seller dashboard, each with `.recent`: its latest
    deliveries (event joined), newest first."""
    endpoints = list(endpoint_list(shop=shop).order_by("id"))
    for endpoint in endpoints:
        endpoint.recent = list(  # type: ignore[attr-defined]
            Delivery.objects.filter(endpoint=endpoint)
            .select_related("event")
            .order_by("-id")[:deliveries]
        )
    return endpoints
