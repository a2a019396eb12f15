"""The dashboard's Support section, rendered by this app:
`{% load support_tags %}{% dashboard_support user %}`."""

from __future__ import annotations

from typing import Any

from django import template

from support import selectors
from support.models import Ticket

register = template.Library()


@register.inclusion_tag("support/_dashboard_section.html")
def dashboard_support(user: Any) -> dict[str, Any]:
    tickets = list(selectors.tickets_for_user(user=user).filter(requester_id=user.pk)[:20])
    for ticket in tickets:
        ticket.queue_position = selectors.ticket_queue_position(ticket=ticket)  # type: ignore[attr-defined]
    return {"tickets": tickets, "categories": Ticket.Category.choices}
