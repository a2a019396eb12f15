"""Cases (every enforcement), their appeals, and the append-only audit log.

A case records one enforcement against one person: what happened (kind, rule, reason),
what it was based on (evidence: a JSON snapshot taken when the case opened, so a later
edit or deletion cannot change it), who decided (actor), until when (expires_at), and
where it stands (status). Whether a restriction is *in force* is decided by its owner:
a chat ban or timeout by `streams.selectors.user_restriction` (an overturn writes an
`unban` there), a bidding block or an account restriction by the case itself
(`trust.selectors.case_in_force`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


class Case(models.Model):
    class Kind(models.TextChoices):
        CHAT_TIMEOUT = "chat_timeout"
        CHAT_BAN = "chat_ban"
        LISTING_REMOVED = "listing_removed"
        LISTING_FLAGGED = "listing_flagged"
        BIDDING_BLOCKED = "bidding_blocked"
        ACCOUNT_RESTRICTED = "account_restricted"

    class Actor(models.TextChoices):
        AUTOMATIC = "automatic"
        HOST = "host"
        MODERATOR = "moderator"
        STAFF = "staff"

    class Status(models.TextChoices):
        ACTIVE = "active"  # in force (or, for a flag, standing)
        EXPIRED = "expired"  # ran out on its own (expires_at passed)
        LIFTED = "lifted"  # ended early by whoever imposed it (e.g. a host's unban)
        OVERTURNED = "overturned"  # ended by staff on appeal

    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="trust_cases"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    rule = models.CharField(max_length=10)
    reason = models.CharField(max_length=500)
    evidence = models.JSONField(default=dict, blank=True)
    actor = models.CharField(max_length=10, choices=Actor.choices)
    # Who acted (never shown to the affected person; for staff and the audit log).
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="trust_cases_opened",
    )
    # Where it happened: the show (chat cases; its shop's hosts see the case), the
    # product (listing cases), the moderation record whose restriction this is.
    show = models.ForeignKey(
        "streams.Show", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    moderation_action = models.ForeignKey(
        "streams.ModerationAction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    appealable_until = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["subject", "-id"], name="case_subject"),
            models.Index(fields=["subject", "kind", "status"], name="case_subject_kind"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(reason__regex=r"\S"), name="case_reason_required"),
            models.CheckConstraint(condition=Q(rule__regex=r"\S"), name="case_rule_required"),
        ]

    def __str__(self) -> str:
        return f"case {self.pk} {self.kind} ({self.status}) of {self.subject_id}"


class Appeal(models.Model):
    """The one appeal a case may have, and staff's decision on it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        UPHELD = "upheld"
        OVERTURNED = "overturned"

    MAX_TEXT_LENGTH = 2000

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="appeal")
    text = models.TextField()
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    created_at = models.DateTimeField()
    # When staff should have decided; past it the appeal is escalated (beat).
    due_at = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decision_reason = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(text__regex=r"\S"), name="appeal_text_required"),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decision_reason__regex=r"\S"),
                name="appeal_decision_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"appeal of case {self.case_id} ({self.status})"


class CaseEventQuerySet(models.QuerySet["CaseEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("The case audit log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("The case audit log is append-only.")


class CaseEvent(models.Model):
    """One step of a case, appended and never changed: opened, appealed, decided,
    lifted, expired, escalated. A database trigger (migration 0002) refuses UPDATE and
    DELETE as well, so no path — admin, shell, a bug — can rewrite the history."""

    class Kind(models.TextChoices):
        OPENED = "opened"
        APPEALED = "appealed"
        DECIDED = "decided"
        LIFTED = "lifted"
        EXPIRED = "expired"
        ESCALATED = "escalated"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    objects = CaseEventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"case {self.case_id}: {self.kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("The case audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("The case audit log is append-only.")
