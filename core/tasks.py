"""Periodic housekeeping for core plumbing (scheduled in CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from core.idempotency import idempotency_purge_expired


@shared_task(name="core.idempotency_purge_expired")
def purge_idempotency_records() -> int:
    """Delete Idempotency-Key records past their 24-hour retention."""
    return idempotency_purge_expired()
