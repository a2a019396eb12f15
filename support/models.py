"""Seller support: help articles (searched with PostgreSQL full-text search) and tickets
with a priority, a due time, escalation and an immediate first answer (docs/support.md)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from orders.models import Order
from streams.models import Show


class Article(models.Model):
    """One help-centre article, loaded from `support/articles/<slug>.md` at migrate."""

    slug = models.SlugField(max_length=120, unique=True)
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=500)
    keywords = models.CharField(max_length=500, blank=True, default="")
    topic = models.CharField(max_length=40, blank=True, default="")
    body = models.TextField()
    # title + keywords (A), summary (B), body (C); refreshed by the loader.
    search_vector = SearchVectorField(null=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        indexes = [GinIndex(fields=["search_vector"], name="article_search_gin")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return f"/help/{self.slug}/"


class Ticket(models.Model):
    class Category(models.TextChoices):
        ORDERS_SHIPPING = "orders_shipping"
        PAYMENTS = "payments"
        PAYOUTS = "payouts"
        DISPUTES = "disputes"
        ACCOUNT_ENFORCEMENT = "account_enforcement"
        LISTINGS_CATALOG = "listings_catalog"
        LIVE_SHOWS = "live_shows"
        INTEGRATIONS_API = "integrations_api"
        OTHER = "other"

    class Priority(models.TextChoices):
        URGENT = "urgent"
        HIGH = "high"
        NORMAL = "normal"
        LOW = "low"

    class Status(models.TextChoices):
        # Waiting for staff (in the queue).
        OPEN = "open"
        # Staff replied; waiting for the requester.
        ANSWERED = "answered"
        RESOLVED = "resolved"

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="support_tickets"
    )
    category = models.CharField(max_length=30, choices=Category.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField(max_length=5000)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    show = models.ForeignKey(
        Show, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    priority = models.CharField(max_length=10, choices=Priority.choices)
    # 0 = urgent … 3 = low: the queue's sort key (with due_at).
    priority_rank = models.PositiveSmallIntegerField()
    # Why the priority is what it is (category, order value, urgent words, live show).
    priority_reasons = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    due_at = models.DateTimeField()
    escalated = models.BooleanField(default=False)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # {"text": ..., "articles": [{"id", "slug", "title", "url"}]}: the automatic answer.
    first_answer = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["priority_rank", "due_at", "id"],
                condition=Q(status="open"),
                name="ticket_queue",
            ),
            models.Index(
                fields=["due_at"],
                condition=Q(status="open", escalated=False),
                name="ticket_escalation_due",
            ),
        ]

    def __str__(self) -> str:
        return f"ticket {self.pk}: {self.subject} ({self.status})"


class TicketReply(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    from_staff = models.BooleanField(default=False)
    text = models.TextField(max_length=5000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"reply {self.pk} on ticket {self.ticket_id}"
