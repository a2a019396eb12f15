"""Webhook endpoints, the outbox of events, and their deliveries.

- `Endpoint`: a shop's URL with an event filter and a signing secret (two during a
  rotation: the previous one keeps signing until `previous_secret_expires_at`).
- `Event`: one row per change a subscribed shop must hear of, written in the same
  transaction as the change (the outbox); its `id` is the `webhook-id` on every attempt.
- `Delivery`: one event to one endpoint; the relay claims due rows with a lease
  (`claim_token`, `locked_until`), so a worker that dies mid-attempt only delays it.
- `Attempt`: the log of every POST made for a delivery.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.models import Shop


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


class Endpoint(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2000)
    events = ArrayField(models.CharField(max_length=64))
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Set at the first failed attempt after a success; cleared by the next success.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["shop", "active"], name="webhooks_endpoint_shop_active")]

    def __str__(self) -> str:
        return f"{self.url} (shop {self.shop_id})"


class Event(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_event_id)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=64)
    data = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for its (next) attempt
        DELIVERED = "delivered"
        FAILED = "failed"  # every attempt of the schedule failed

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claim_token = models.UUIDField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # A redelivery is a new row for the same event (same `webhook-id`).
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="redeliveries"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhooks_delivery_due",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["endpoint", "-id"], name="webhooks_delivery_endpoint"),
            # The relay's claim: each endpoint's due deliveries, and its leased ones.
            models.Index(
                fields=["endpoint", "next_attempt_at"],
                name="webhooks_delivery_endpoint_due",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["endpoint"],
                name="webhooks_delivery_leased",
                condition=Q(locked_until__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} of {self.event_id} ({self.status})"


class Attempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    response_excerpt = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        ordering = ["number", "id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
