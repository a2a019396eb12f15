"""Celery tasks for checkout. Each loads by id and calls one service; all are idempotent,
so a redelivered message (acks_late), a retry or a recovery re-queue does no harm.
See docs/celery.md."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from orders import selectors, services


@shared_task(bind=True, name="orders.capture_payment", max_retries=None, acks_late=True)
def capture_payment(self: Any, order_id: int) -> str:
    """Capture the order's payment; on a provider error retry with exponential backoff.
    The number of attempts is counted in the database (PaymentAttempt rows), not by
    Celery, so the bound holds across lost tasks and recoveries. While another attempt
    is in flight, check back later."""
    outcome = services.order_capture_payment(order_id=order_id)
    if outcome == services.CaptureOutcome.RETRY:
        delay = min(
            settings.PAYMENT_RETRY_BACKOFF_SECONDS * (2**self.request.retries),
            settings.PAYMENT_RETRY_BACKOFF_MAX_SECONDS,
        )
        raise self.retry(countdown=delay)
    if outcome == services.CaptureOutcome.BUSY:
        # Another attempt is running, or died with its worker (a redelivered message):
        # look again later; a dead attempt is superseded once it is stale, so this ends.
        raise self.retry(countdown=settings.PAYMENT_RETRY_BACKOFF_MAX_SECONDS)
    return outcome.value


@shared_task(name="orders.holds_expire_due")
def holds_expire_due() -> dict[str, int]:
    """The periodic sweep: release expired holds, then offer restocked units to the
    waitlist."""
    return {
        "expired": services.holds_expire_due(),
        "offered": services.waitlist_offer_due(),
    }


@shared_task(name="orders.recover_stuck")
def orders_recover_stuck() -> int:
    """Re-queue the capture of orders stuck in pending_payment (their task was lost)."""
    order_ids = selectors.orders_stuck_in_payment()
    for order_id in order_ids:
        capture_payment.delay(order_id)
    return len(order_ids)


@shared_task(name="orders.refunds_settle_due")
def refunds_settle_due() -> int:
    """Settle refunds (and capture reversals) whose provider call was lost with its
    worker; idempotent (the provider's keys)."""
    return services.refunds_settle_due() + services.reversals_settle_due()
