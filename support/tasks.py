"""Celery tasks for support: thin and idempotent (docs/celery.md, docs/support.md)."""

from __future__ import annotations

from celery import shared_task

from support import services


@shared_task(name="support.escalate_overdue")
def tickets_escalate_overdue() -> int:
    """Beat: escalate every open ticket past its due time."""
    return services.tickets_escalate_overdue()
