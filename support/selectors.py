"""Support reads: articles by slug or id, tickets a user may see, the queue position."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from core.errors import NotFound
from support.models import Article, Ticket


def article_get(*, slug_or_id: str) -> Article:
    lookup = Q(slug=slug_or_id)
    if slug_or_id.isdigit() and len(slug_or_id) < 12:
        lookup |= Q(pk=int(slug_or_id))
    article = Article.objects.filter(lookup).first()
    if article is None:
        raise NotFound("No such help article.")
    return article


def articles_all() -> QuerySet[Article]:
    return Article.objects.order_by("topic", "title")


def tickets_for_user(*, user: Any) -> QuerySet[Ticket]:
    """Own tickets; platform staff see all of them."""
    tickets = Ticket.objects.select_related("requester")
    return tickets if user.is_staff else tickets.filter(requester_id=user.pk)


def ticket_for_user(*, user: Any, ticket_id: int) -> Ticket:
    ticket = tickets_for_user(user=user).filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound("No such ticket.")
    return ticket


def ticket_queue_position(*, ticket: Ticket) -> int | None:
    """1 + the open tickets ahead of this one: a higher priority, or the same priority
    and an earlier due time (then an earlier id). None once it is not waiting for staff."""
    if ticket.status != Ticket.Status.OPEN:
        return None
    ahead = Ticket.objects.filter(status=Ticket.Status.OPEN).filter(
        Q(priority_rank__lt=ticket.priority_rank)
        | Q(priority_rank=ticket.priority_rank, due_at__lt=ticket.due_at)
        | Q(priority_rank=ticket.priority_rank, due_at=ticket.due_at, pk__lt=ticket.pk)
    )
    return ahead.count() + 1
