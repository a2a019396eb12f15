"""Shows, their lineup, product pins, per-show moderators, chat and moderation.

Reasons are never optional: every moderation action and every message removal carries a
non-blank reason, enforced by CHECK constraints so no code path can skip it (SPEC
"Trust").
"""

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
    # Chat settings, set by hosts: minimum seconds between two messages of one viewer
    # (hosts and moderators are exempt), and words that block a message.
    slow_mode_s = models.PositiveIntegerField(default=0)
    blocked_words = models.JSONField(default=list, blank=True)
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


class ChatMessage(models.Model):
    """A chat line, stored exactly as written (never HTML-escaped here: that is the
    renderer's job, and the text is never trusted as HTML)."""

    MAX_LENGTH = 500

    show = models.ForeignKey(Show, on_delete=models.CASCADE, related_name="messages")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages"
    )
    text = models.CharField(max_length=MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="removed_chat_messages",
    )
    removal_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["show", "id"], name="chatmessage_show_id")]
        constraints = [
            models.CheckConstraint(
                condition=Q(removed_at__isnull=True) | Q(removal_reason__regex=r"\S"),
                name="chatmessage_removal_has_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.show_id}: {self.text[:40]}"


class ModerationAction(models.Model):
    """One moderation decision, with the reason the affected person reads.

    The current restriction of a user in a show is derived from these rows: the latest
    `ban`, `timeout` or `unban` for (show, user) decides (see `streams.selectors`). Rows
    are append-only; there is no second copy of the state to drift.
    """

    class Action(models.TextChoices):
        REMOVE_MESSAGE = "remove_message"
        TIMEOUT = "timeout"
        BAN = "ban"
        UNBAN = "unban"

    MAX_TIMEOUT_S = 86400

    show = models.ForeignKey(Show, on_delete=models.CASCADE, related_name="moderation_actions")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="moderation_actions_taken",
    )
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="moderation_actions"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    reason = models.CharField(max_length=500)
    message = models.ForeignKey(
        ChatMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["show", "target_user", "-id"], name="modaction_show_target"),
            models.Index(fields=["target_user", "-id"], name="modaction_target"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(reason__regex=r"\S"), name="modaction_reason_required"
            ),
            models.CheckConstraint(
                condition=~Q(action="timeout") | Q(until__isnull=False),
                name="modaction_timeout_has_until",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_user_id} in {self.show_id}: {self.reason[:40]}"
