"""Disputes and returns (SPEC "v1.1 — Trust"; docs/disputes.md).

A buyer opens a dispute on a paid, shipped or delivered order; the seller has until
`seller_deadline` to refund or reject; a rejection goes to staff; a missed deadline
refunds automatically (beat). One open dispute per order, enforced by the database.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.models import Shop
from orders.models import Order

OPEN_STATUSES = ("awaiting_seller", "awaiting_staff")


class Dispute(models.Model):
    class Reason(models.TextChoices):
        NOT_RECEIVED = "not_received"
        NOT_AS_DESCRIBED = "not_as_described"
        DAMAGED = "damaged"
        OTHER = "other"

    class Status(models.TextChoices):
        AWAITING_SELLER = "awaiting_seller"
        AWAITING_STAFF = "awaiting_staff"
        RESOLVED_REFUNDED = "resolved_refunded"
        RESOLVED_REJECTED = "resolved_rejected"

    class Resolution(models.TextChoices):
        SELLER_REFUNDED = "seller_refunded"
        # The seller let `seller_deadline` pass: refunded by the beat sweep.
        DEADLINE_MISSED = "deadline_missed"
        STAFF_REFUNDED = "staff_refunded"
        STAFF_REJECTED = "staff_rejected"
        # The order was refunded or cancelled some other way while the dispute was open.
        ALREADY_REFUNDED = "already_refunded"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="disputes")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disputes"
    )
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="disputes")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    text = models.TextField(max_length=4000)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.AWAITING_SELLER, db_index=True
    )
    # A snapshot taken when the dispute was opened: show, pin and offset at the moment of
    # purchase, the product as sold, the price and the shipment's tracking.
    evidence = models.JSONField(default=dict)
    seller_deadline = models.DateTimeField()
    seller_action = models.CharField(max_length=10, blank=True, default="")
    seller_reason = models.TextField(max_length=2000, blank=True, default="")
    seller_responded_at = models.DateTimeField(null=True, blank=True)
    seller_responder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True, default="")
    resolution_reason = models.TextField(max_length=2000, blank=True, default="")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status__in=OPEN_STATUSES),
                name="dispute_one_open_per_order",
            ),
            models.CheckConstraint(
                condition=Q(status__in=OPEN_STATUSES) | Q(resolved_at__isnull=False),
                name="dispute_resolved_at_when_resolved",
            ),
        ]
        indexes = [
            # The deadline sweep: disputes still waiting for the seller, by deadline.
            models.Index(
                fields=["seller_deadline"],
                condition=Q(status="awaiting_seller"),
                name="dispute_awaiting_seller_due",
            )
        ]

    def __str__(self) -> str:
        return f"dispute {self.pk} on order {self.order_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES
