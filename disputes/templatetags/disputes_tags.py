"""The dashboard's Disputes section, rendered by this app so the dashboard view does not
need to know about disputes: `{% load disputes_tags %}{% dashboard_disputes shop %}`."""

from __future__ import annotations

from typing import Any

from django import template

from catalog.models import Shop
from disputes import selectors
from orders import clock

register = template.Library()


@register.inclusion_tag("disputes/_dashboard_section.html")
def dashboard_disputes(shop: Shop) -> dict[str, Any]:
    disputes = list(selectors.disputes_for_shop(shop=shop)[:50])
    return {"disputes": disputes, "now": clock.now(), "shop": shop}
