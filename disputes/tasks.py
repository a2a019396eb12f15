"""Celery tasks for disputes: thin, idempotent (docs/celery.md, docs/disputes.md)."""

from __future__ import annotations

from celery import shared_task

from disputes import services


@shared_task(name="disputes.refund_overdue", acks_late=True)
def disputes_refund_overdue() -> int:
    """Beat: refund every dispute whose seller missed the deadline. Safe to run twice at
    once or again after a worker died mid-run (see disputes/services.py)."""
    return services.disputes_refund_overdue()
