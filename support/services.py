"""Support writes: open a ticket (priority, due time, the immediate first answer), reply,
resolve, and the escalation sweep.

Priority (docs/support.md "Priority"): the category sets a base; one step up for each of
an order at or above `SUPPORT_HIGH_VALUE_ORDER`, and urgent words in the subject or body;
a ticket about a show that is live right now is `urgent`. `due_at` is the creation time
plus `SUPPORT_DUE_HOURS[priority]`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from catalog.selectors import user_can_manage_shop
from core.errors import Forbidden, Invalid, InvalidState, NotFound
from orders import clock
from orders.models import Order
from streams.models import Show
from support.models import Article, Ticket, TicketReply
from support.search import search_articles

PRIORITIES = ["urgent", "high", "normal", "low"]  # index = priority_rank
CATEGORY_PRIORITY = {
    Ticket.Category.ACCOUNT_ENFORCEMENT: "high",  # a seller who cannot sell or chat
    Ticket.Category.PAYMENTS: "high",  # buyers cannot pay, or were charged wrongly
    Ticket.Category.DISPUTES: "high",  # a 48-hour seller deadline is running
    Ticket.Category.ORDERS_SHIPPING: "normal",
    Ticket.Category.LIVE_SHOWS: "normal",
    Ticket.Category.LISTINGS_CATALOG: "normal",
    Ticket.Category.INTEGRATIONS_API: "normal",
    Ticket.Category.PAYOUTS: "normal",
    Ticket.Category.OTHER: "low",
}
URGENT_WORDS = re.compile(
    r"\b(urgent|urgently|asap|emergency|right now|immediately|live now|on air|"
    r"(can't|cannot|cant|unable to) go live|locked out|mid[- ]show|during (my|the) show)\b",
    re.IGNORECASE,
)
FIRST_ANSWER_ARTICLES = 3


def ticket_priority(
    *, category: str, subject: str, body: str, order: Order | None, show: Show | None
) -> tuple[str, list[str]]:
    """(priority, reasons). The one place the priority rule lives."""
    rank = PRIORITIES.index(CATEGORY_PRIORITY[Ticket.Category(category)])
    reasons = [f"category {category}: {PRIORITIES[rank]}"]
    if order is not None and order.total >= Decimal(settings.SUPPORT_HIGH_VALUE_ORDER):
        rank -= 1
        reasons.append(f"order total {order.total} {order.currency} is high: one step up")
    if URGENT_WORDS.search(f"{subject}\n{body}"):
        rank -= 1
        reasons.append("urgent wording: one step up")
    if show is not None and show.status == Show.Status.LIVE:
        rank = 0
        reasons.append("the show is live now: urgent")
    return PRIORITIES[max(rank, 0)], reasons


def first_answer(*, subject: str, body: str, due_at: datetime) -> dict[str, Any]:
    """The immediate answer: the best help articles for the question, cited."""
    articles: list[Article] = list(
        search_articles(f"{subject} {subject} {body}", limit=FIRST_ANSWER_ARTICLES)
    )
    cited = [
        {"id": a.pk, "slug": a.slug, "title": a.title, "url": a.get_absolute_url()}
        for a in articles
    ]
    due = due_at.strftime("%Y-%m-%d %H:%M UTC")
    if not articles:
        text = (
            "Thanks — we could not find a help article that matches this, so a person from "
            f"our support team will answer by {due}."
        )
    else:
        lines = [
            "Thanks — while a person from our support team looks at this (answer due by "
            f"{due}), these help articles may already solve it:"
        ]
        lines += [
            f"[{n}] {a.title}: {a.summary} ({a.get_absolute_url()})"
            for n, a in enumerate(articles, 1)
        ]
        lines.append(
            "If one of them answers your question, mark the ticket resolved; otherwise "
            "reply here with anything that helps us (order numbers, screenshots, times)."
        )
        text = "\n".join(lines)
    return {"text": text, "articles": cited}


def _resolve_order(*, user: Any, order_id: int | None) -> Order | None:
    """The requester's own order (as buyer) or an order of a shop they manage."""
    if order_id is None:
        return None
    order = Order.objects.select_related("shop").filter(pk=order_id).first()
    if order is None or not (
        order.buyer_id == user.pk or user_can_manage_shop(user=user, shop=order.shop)
    ):
        raise NotFound("No such order.")
    return order


def _resolve_show(*, user: Any, show_id: int | None) -> Show | None:
    """A show of a shop the requester manages, or one they bought something in."""
    if show_id is None:
        return None
    show = Show.objects.select_related("shop").filter(pk=show_id).first()
    if show is None or not (
        user_can_manage_shop(user=user, shop=show.shop)
        or Order.objects.filter(show=show, buyer_id=user.pk).exists()
    ):
        raise NotFound("No such show.")
    return show


def ticket_create(
    *,
    requester: Any,
    category: str,
    subject: str,
    body: str,
    order_id: int | None = None,
    show_id: int | None = None,
) -> Ticket:
    """Open a ticket and answer it at once from the help articles."""
    order = _resolve_order(user=requester, order_id=order_id)
    show = _resolve_show(user=requester, show_id=show_id)
    if order is not None and show is not None and order.show_id != show.pk:
        raise Invalid(
            "The order was not bought in that show.", details={"show": ["Not the order's show."]}
        )
    now = clock.now()
    priority, reasons = ticket_priority(
        category=category, subject=subject, body=body, order=order, show=show
    )
    due_at = now + timedelta(hours=settings.SUPPORT_DUE_HOURS[priority])
    return Ticket.objects.create(
        requester=requester,
        category=category,
        subject=subject,
        body=body,
        order=order,
        show=show,
        priority=priority,
        priority_rank=PRIORITIES.index(priority),
        priority_reasons=reasons,
        due_at=due_at,
        first_answer=first_answer(subject=subject, body=body, due_at=due_at),
        created_at=now,
    )


def _locked_ticket(*, user: Any, ticket_id: int) -> Ticket:
    ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
    if ticket is None or not (user.is_staff or ticket.requester_id == user.pk):
        raise NotFound("No such ticket.")
    return ticket


def ticket_reply(*, author: Any, ticket_id: int, text: str) -> TicketReply:
    """Staff or the requester add a reply. A staff reply answers the ticket (it leaves the
    queue); the requester's reply puts it back in the queue with a fresh due time."""
    now = clock.now()
    with transaction.atomic():
        ticket = _locked_ticket(user=author, ticket_id=ticket_id)
        if ticket.status == Ticket.Status.RESOLVED:
            raise InvalidState("This ticket is resolved; open a new one.")
        from_staff = bool(author.is_staff and author.pk != ticket.requester_id)
        reply = TicketReply.objects.create(
            ticket=ticket, author=author, from_staff=from_staff, text=text, created_at=now
        )
        if from_staff:
            ticket.status = Ticket.Status.ANSWERED
        elif ticket.status == Ticket.Status.ANSWERED:
            ticket.status = Ticket.Status.OPEN
            ticket.due_at = now + timedelta(hours=settings.SUPPORT_DUE_HOURS[ticket.priority])
            ticket.escalated, ticket.escalated_at = False, None
        ticket.save(update_fields=["status", "due_at", "escalated", "escalated_at"])
    return reply


def ticket_resolve(*, actor: Any, ticket_id: int) -> Ticket:
    """The requester (or staff) marks the ticket resolved. Resolving twice is a no-op."""
    with transaction.atomic():
        ticket = _locked_ticket(user=actor, ticket_id=ticket_id)
        if ticket.requester_id != actor.pk and not actor.is_staff:
            raise Forbidden("Only the requester resolves a ticket.")
        if ticket.status != Ticket.Status.RESOLVED:
            ticket.status, ticket.resolved_at = Ticket.Status.RESOLVED, clock.now()
            ticket.save(update_fields=["status", "resolved_at"])
    return ticket


def tickets_escalate_overdue() -> int:
    """The beat sweep: every ticket still waiting for staff past `due_at` is escalated,
    once (a conditional UPDATE, so two sweeps at once escalate each ticket once)."""
    now = clock.now()
    return Ticket.objects.filter(
        status=Ticket.Status.OPEN, escalated=False, due_at__lte=now
    ).update(escalated=True, escalated_at=now)
