"""Shows, their lineup, product pins and per-show moderators."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from catalog.models import Product, Shop


class Show(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        LIVE = "live"
        ENDED = "ended"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="shows")
    title = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.SCHEDULED, db_index=True
    )
    scheduled_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    playback_url = models.URLField(blank=True, default="", max_length=500)
    # A rehearsal behaves like a live show, but only its hosts may join, and it is left
    # out of analytics.
    rehearsal = models.BooleanField(default=False)
    # Last event sequence number handed out for this show. PostgreSQL is the source of
    # truth so `seq` is never reused even if Redis loses its data (see streams/fanout.py).
    last_seq = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-scheduled_at", "-id"]

    def __str__(self) -> str:
        return self.title


class LineupItem(models.Model):
    show = models.ForeignKey(Show, on_delete=models.CASCADE, related_name="lineup")
    product = models.ForeignKey(Product, on_delete=models.CASCADE)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["show", "product"], name="lineup_unique_product")
        ]

    def __str__(self) -> str:
        return f"{self.show_id}#{self.position} {self.product_id}"


class Pin(models.Model):
    """One pin on the show's timeline. The current pin is the one with no `unpinned_at`."""

    show = models.ForeignKey(Show, on_delete=models.CASCADE, related_name="pins")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="pins")
    price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    limit_per_buyer = models.PositiveIntegerField(null=True, blank=True)
    pinned_at = models.DateTimeField()
    unpinned_at = models.DateTimeField(null=True, blank=True)
    # Seconds from the show's start (for the replay's timeline); 0 before the start.
    offset_s = models.FloatField(default=0)

    class Meta:
        ordering = ["pinned_at", "id"]
        constraints = [
            # At most one current pin per show, enforced by the database.
            models.UniqueConstraint(
                fields=["show"], condition=Q(unpinned_at__isnull=True), name="pin_one_current"
            )
        ]

    def __str__(self) -> str:
        return f"pin {self.product_id} in show {self.show_id}"


class ShowModerator(models.Model):
    show = models.ForeignKey(Show, on_delete=models.CASCADE, related_name="moderators")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["show", "user"], name="showmoderator_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} mod {self.show_id}"
