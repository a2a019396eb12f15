"""Celery beat task for the trust deadlines (docs/trust.md, "Deadlines"). Idempotent:
each case and appeal is closed or escalated once, under its row lock."""

from __future__ import annotations

from celery import shared_task

from trust import services


@shared_task(name="trust.deadlines")
def trust_deadlines() -> dict[str, int]:
    """Mark cases whose expiry passed as expired; escalate appeals past their due time."""
    return {
        "expired": services.cases_expire_due(),
        "escalated": services.appeals_escalate_overdue(),
    }
