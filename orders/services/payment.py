"""Payment: capture an order's payment through the provider, once, however often it
runs and wherever it dies. Settles the order paid (hold converted, units sold) or
payment_failed (hold released)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import transaction

from catalog.models import StockAdjustment
from orders import clock, inventory, payment_lock
from orders.models import Hold, Order, PaymentAttempt
from orders.payments import get_provider
from orders.payments.base import CaptureResult, ProviderError
from orders.selectors import reversals_unfinished
from orders.serializers import order_data
from orders.services import notify
from orders.services.endings import release_units
from orders.services.shipping import shipment_remove
from streams.events import emit_show_event
from webhooks.services import event_record


class CaptureOutcome(StrEnum):
    PAID = "paid"
    FAILED = "failed"
    RETRY = "retry"  # provider error: try again later with the same idempotency key
    BUSY = "busy"  # another attempt is running
    NOTHING = "nothing"  # the order is not waiting for payment (already settled)


def order_capture_payment(*, order_id: int) -> CaptureOutcome:
    """Capture an order's payment through the provider; idempotent and safe to run
    concurrently, repeatedly, or after a crash at any point.

    0. Take the order's capture lock (`orders.payment_lock`, a PostgreSQL advisory lock
       held by this session for the whole attempt) with try-lock; it is how anyone tells
       a running attempt from one that died with its worker, at once.
    1. `capture_start`, under the order's row lock: give up unless `pending_payment`;
       stay out (`busy`) unless this run holds the capture lock; a `started` attempt
       found while holding it died with its worker (its session ended, releasing its
       lock): mark it `lost`. Record a `started` attempt (committed, so a concurrent or
       recovered run sees it).
    2. Call the provider with the order's fixed idempotency key (no row lock held):
       however many times this runs, the provider charges once.
    3. `capture_settle`, under the order's row lock again: record the result and settle
       the order once — paid (hold converted, units sold), or payment_failed (hold
       released). A capture that went through for an order that had failed meanwhile is
       marked for reversal; the reversal is called after that commit (`capture_reverse`).
    """
    with payment_lock.capture_lock(order_id=order_id) as locked:
        started = capture_start(order_id=order_id, locked=locked)
        if isinstance(started, CaptureOutcome):
            return started
        order, attempt = started
        result: CaptureResult | ProviderError
        try:
            result = get_provider().capture(
                order=order, amount=order.total, idempotency_key=attempt.idempotency_key
            )
        except ProviderError as exc:
            result = exc
        outcome = capture_settle(order_id=order_id, attempt=attempt, result=result)
        if attempt.status == PaymentAttempt.Status.REVERSED:
            capture_reverse(attempt_id=attempt.pk)
        return outcome


def capture_start(*, order_id: int, locked: bool) -> tuple[Order, PaymentAttempt] | CaptureOutcome:
    """Step 1 (one short transaction): the order and its new `started` attempt, or why
    no attempt is made now (`nothing`, `busy`)."""
    now = clock.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.status != Order.Status.PENDING_PAYMENT:
            return CaptureOutcome.NOTHING
        attempts = PaymentAttempt.objects.filter(order=order)
        started = attempts.filter(status=PaymentAttempt.Status.STARTED)
        if not locked:
            # Another session holds the capture lock: its attempt is alive (or it is
            # just finishing). Last resort only: a `started` attempt older than
            # PAYMENT_ATTEMPT_STALE_SECONDS whose lock is still held belongs to a wedged
            # session; go ahead (the idempotency key keeps the charge single).
            alive_since = now - timedelta(seconds=settings.PAYMENT_ATTEMPT_STALE_SECONDS)
            if not started.exists() or started.filter(started_at__gt=alive_since).exists():
                return CaptureOutcome.BUSY
        # A `started` attempt whose lock was free died with its worker.
        started.update(status=PaymentAttempt.Status.ERROR, error_code="lost", finished_at=now)
        attempt = PaymentAttempt.objects.create(
            order=order,
            number=attempts.count() + 1,
            provider=get_provider().name,
            amount=order.total,
            currency=order.currency,
            idempotency_key=f"order-{order.pk}",
            started_at=now,
        )
    return order, attempt


def capture_settle(
    *, order_id: int, attempt: PaymentAttempt, result: CaptureResult | ProviderError
) -> CaptureOutcome:
    """Step 3 (one short transaction): record the provider's answer on the attempt and
    settle the order, once. Never calls the provider."""
    now = clock.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("variant").get(pk=order_id)
        attempt.finished_at = now
        if isinstance(result, ProviderError):
            _attempt_end(attempt, PaymentAttempt.Status.ERROR, result.code, result.message)
            if order.status != Order.Status.PENDING_PAYMENT:
                return CaptureOutcome.NOTHING
            errors = PaymentAttempt.objects.filter(
                order=order, status=PaymentAttempt.Status.ERROR
            ).count()
            if errors >= settings.PAYMENT_MAX_ATTEMPTS:
                _order_fail(order=order, reason=f"provider_error: {result.message}", now=now)
                return CaptureOutcome.FAILED
            return CaptureOutcome.RETRY
        if not result.succeeded:
            _attempt_end(attempt, PaymentAttempt.Status.DECLINED, result.code, result.message)
            if order.status != Order.Status.PENDING_PAYMENT:
                return CaptureOutcome.NOTHING
            _order_fail(order=order, reason=result.code or "declined", now=now)
            return CaptureOutcome.FAILED
        attempt.provider_ref = result.reference
        if order.status == Order.Status.PENDING_PAYMENT:
            attempt.status = PaymentAttempt.Status.SUCCEEDED
            attempt.save()
            _order_mark_paid(order=order, now=now)
            return CaptureOutcome.PAID
        if PaymentAttempt.objects.filter(
            order=order, status=PaymentAttempt.Status.SUCCEEDED
        ).exists():
            attempt.status = PaymentAttempt.Status.DUPLICATE
            attempt.save()
            return CaptureOutcome.NOTHING
        # Money arrived for an order that already failed (a capture that went through
        # after the attempts ran out): to be given back after this commits. Until the
        # reversal is recorded, `finished_at` stays empty (the sweep's marker).
        attempt.status, attempt.finished_at = PaymentAttempt.Status.REVERSED, None
        attempt.save()
        return CaptureOutcome.NOTHING


def _attempt_end(attempt: PaymentAttempt, status: str, code: str, message: str) -> None:
    attempt.status, attempt.error_code, attempt.message = status, code, message[:300]
    attempt.save()


def capture_reverse(*, attempt_id: int) -> bool:
    """Give back a capture marked `reversed` (no lock held while the provider answers;
    its key `reverse-<order id>` keeps the refund single), then record it once. True only
    for the call that recorded it; a provider error leaves it for the sweep."""
    attempt = (
        PaymentAttempt.objects.select_related("order")
        .filter(pk=attempt_id, status=PaymentAttempt.Status.REVERSED, finished_at__isnull=True)
        .first()
    )
    if attempt is None:
        return False
    try:
        get_provider().refund(
            order=attempt.order,
            amount=attempt.amount,
            reference=attempt.provider_ref,
            idempotency_key=f"reverse-{attempt.order_id}",
        )
    except ProviderError:
        return False
    return (
        PaymentAttempt.objects.filter(pk=attempt.pk, finished_at__isnull=True).update(
            finished_at=clock.now()
        )
        == 1
    )


def reversals_settle_due() -> int:
    """The sweep: give back captures whose reversal a killed worker left undone."""
    return sum(capture_reverse(attempt_id=pk) for pk in reversals_unfinished())


def _order_mark_paid(*, order: Order, now: datetime) -> None:
    """pending_payment → paid: convert the hold and take its units out of on hand, once."""
    hold = Hold.objects.select_related("variant").get(order=order)
    converted = Hold.objects.filter(pk=hold.pk, status=Hold.Status.ACTIVE).update(
        status=Hold.Status.CONVERTED, ended_at=now
    )
    if converted != 1:
        raise inventory.StockInvariantBroken(f"order {order.pk}: its hold is not active")
    hold.status, hold.ended_at = Hold.Status.CONVERTED, now
    # A sale moves units from held to sold: available does not change, so no stock.changed.
    on_hand_before, on_hand_after, _available = inventory.sell(
        variant_id=order.variant_id, quantity=order.quantity
    )
    StockAdjustment.objects.create(
        variant_id=order.variant_id,
        kind=StockAdjustment.Kind.SALE,
        delta=-order.quantity,
        reason=f"Sale: order {order.pk}",
        actor_id=order.buyer_id,
        on_hand_before=on_hand_before,
        on_hand_after=on_hand_after,
    )
    order.status, order.paid_at = Order.Status.PAID, now
    order.save(update_fields=["status", "paid_at"])
    event_record(shop_id=order.shop_id, type="order.paid", data=order_data(order))
    notify.hold_updated(hold)
    notify.order_updated(order)
    emit_show_event(
        show_id=order.show_id,
        type="sale.recorded",
        data={
            "order": order.pk,
            "product": order.product_id,
            "variant": order.variant_id,
            "quantity": order.quantity,
            "amount": str(order.subtotal),
            "currency": order.currency,
        },
    )


def _order_fail(*, order: Order, reason: str, now: datetime) -> None:
    """pending_payment → payment_failed: the hold is released at once (the buyer may buy
    again) and the order leaves its parcel."""
    hold = Hold.objects.select_related("variant").get(order=order)
    ended = Hold.objects.filter(pk=hold.pk, status=Hold.Status.ACTIVE).update(
        status=Hold.Status.CANCELLED, ended_at=now
    )
    order.status, order.failure_reason, order.ended_at = (
        Order.Status.PAYMENT_FAILED,
        reason[:200],
        now,
    )
    order.save(update_fields=["status", "failure_reason", "ended_at"])
    event_record(shop_id=order.shop_id, type="order.payment_failed", data=order_data(order))
    shipment_remove(order=order)
    if ended == 1:
        hold.status, hold.ended_at = Hold.Status.CANCELLED, now
        release_units(hold=hold, now=now)
        notify.hold_updated(hold)
    notify.order_updated(order)
