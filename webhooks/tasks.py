"""Celery tasks for webhooks: thin wrappers around `webhooks.relay` (docs/webhooks.md)."""

from __future__ import annotations

from celery import shared_task

from webhooks import relay as relay_module


@shared_task(name="webhooks.relay", acks_late=True)
def relay() -> int:
    """Deliver everything due, in parallel; returns the attempts made."""
    return relay_module.relay_run()


@shared_task(name="webhooks.sweep")
def sweep() -> bool:
    """Beat: wake the relay when deliveries are due (retries, leftovers of a lost task)."""
    return relay_module.deliveries_due_exist() and relay_module.relay_wake()
