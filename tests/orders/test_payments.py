"""Payment capture (the `capture_payment` task's service) with the sandbox provider:
a payment is captured at most once per order; a paid order takes its units out of on
hand exactly once; a failed payment releases the hold at once."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from catalog.models import StockAdjustment
from orders import clock as orders_clock
from orders import selectors, services
from orders.models import Hold, Order, PaymentAttempt, SandboxCharge
from orders.payment_lock import CAPTURE_LOCK_SPACE
from orders.services import CaptureOutcome
from orders.tasks import capture_payment, orders_recover_stuck
from tests.factories import UserFactory
from tests.orders.helpers import active_held, pending_order, stock, variant_of

pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def capture_running(order_id: int) -> Iterator[None]:
    """A capture of the order in progress in another database session: its capture lock
    is held there (what a live worker does for the whole attempt)."""
    import psycopg

    other = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [CAPTURE_LOCK_SPACE, order_id])
        yield
    finally:
        other.close()  # the session ends: PostgreSQL releases its lock, as when a worker dies


def _started_attempt(order: Order, started_at: Any) -> PaymentAttempt:
    return PaymentAttempt.objects.create(
        order=order,
        number=1,
        provider="sandbox",
        amount=order.total,
        currency="USD",
        idempotency_key=f"order-{order.pk}",
        started_at=started_at,
    )


def test_capture_marks_paid_converts_the_hold_and_sells_the_units_once(live_pin):
    pin = live_pin(stock=5)
    order = pending_order(pin, quantity=2)
    assert services.order_capture_payment(order_id=order.pk) == CaptureOutcome.PAID
    order.refresh_from_db()
    assert order.status == "paid" and order.paid_at is not None
    assert Hold.objects.get(order=order).status == "converted"
    assert stock(pin.product) == (3, 0)
    sale = StockAdjustment.objects.get(kind="sale")
    assert (sale.delta, sale.on_hand_before, sale.on_hand_after) == (-2, 5, 3)
    # Running it again (a redelivered task) changes nothing.
    assert services.order_capture_payment(order_id=order.pk) == CaptureOutcome.NOTHING
    assert stock(pin.product) == (3, 0)
    assert StockAdjustment.objects.filter(kind="sale").count() == 1
    assert SandboxCharge.objects.filter(kind="capture").count() == 1
    attempt = PaymentAttempt.objects.get(order=order)
    assert (attempt.status, attempt.idempotency_key) == ("succeeded", f"order-{order.pk}")
    assert attempt.amount == Decimal("44.97")


def test_capture_pushes_order_hold_and_sale_events_but_no_unchanged_stock(
    live_pin, events, django_capture_on_commit_callbacks
):
    """A sale moves units from held to sold: available is unchanged, so no stock.changed."""
    pin = live_pin(stock=5)
    buyer = UserFactory()
    order = pending_order(pin, buyer=buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_capture_payment(order_id=order.pk)
    kinds = [(e[0], e[2]) for e in events]
    assert kinds == [
        ("user", "hold.updated"),
        ("user", "order.updated"),
        ("show", "sale.recorded"),
    ]
    assert events[1][1] == buyer.pk and events[1][3]["status"] == "paid"
    assert events[2][3] == {
        "order": order.pk,
        "product": pin.product_id,
        "variant": variant_of(pin.product).pk,
        "quantity": 1,
        "amount": "19.99",
        "currency": "USD",
    }
    assert stock(pin.product) == (4, 0)  # sold: on hand and held both down by one


@pytest.mark.parametrize(
    ("token", "reason"),
    [("sandbox_declined", "card_declined"), ("sandbox_insufficient_funds", "insufficient_funds")],
)
def test_declined_payment_fails_the_order_and_releases_the_hold_at_once(live_pin, token, reason):
    pin = live_pin(stock=2)
    buyer = UserFactory()
    order = pending_order(pin, buyer=buyer, token=token, quantity=2)
    assert stock(pin.product) == (2, 2)
    assert services.order_capture_payment(order_id=order.pk) == CaptureOutcome.FAILED
    order.refresh_from_db()
    assert (order.status, order.failure_reason) == ("payment_failed", reason)
    assert Hold.objects.get(order=order).status == "cancelled"
    assert stock(pin.product) == (2, 0)
    assert not SandboxCharge.objects.exists()
    # The buyer may buy again.
    again = services.hold_create(buyer=buyer, show_id=pin.show_id, product_id=pin.product_id)
    assert again.hold.status == "active"


def test_failed_payment_takes_the_order_out_of_its_parcel(live_pin):
    pin = live_pin(stock=2)
    order = pending_order(pin, token="sandbox_declined")
    services.order_capture_payment(order_id=order.pk)
    order.refresh_from_db()
    assert (order.shipment.weight_grams, order.shipment.fee_charged) == (0, Decimal("0.00"))


def test_provider_error_is_retried_then_fails_after_the_bounded_attempts(live_pin, settings):
    settings.PAYMENT_MAX_ATTEMPTS = 3
    pin = live_pin(stock=1)
    order = pending_order(pin, token="sandbox_error")
    outcomes = [services.order_capture_payment(order_id=order.pk) for _ in range(3)]
    assert outcomes == [CaptureOutcome.RETRY, CaptureOutcome.RETRY, CaptureOutcome.FAILED]
    order.refresh_from_db()
    assert order.status == "payment_failed"
    assert order.failure_reason.startswith("provider_error")
    assert list(order.attempts.values_list("status", flat=True)) == ["error"] * 3
    assert stock(pin.product) == (1, 0)
    assert services.order_capture_payment(order_id=order.pk) == CaptureOutcome.NOTHING


def test_capture_task_retries_a_provider_error_with_backoff(live_pin, settings):
    from celery.exceptions import Retry

    settings.PAYMENT_RETRY_BACKOFF_SECONDS = 0.5
    pin = live_pin()
    order = pending_order(pin, token="sandbox_error")
    with pytest.raises(Retry) as raised:
        capture_payment.apply(args=[order.pk], throw=True)
    assert raised.value.when == 0.5
    assert Order.objects.get(pk=order.pk).status == "pending_payment"


def test_capture_task_checks_back_later_while_another_attempt_runs(live_pin, settings):
    from celery.exceptions import Retry

    pin = live_pin()
    order = pending_order(pin)
    _started_attempt(order, orders_clock.now())
    with capture_running(order.pk), pytest.raises(Retry) as raised:
        capture_payment.apply(args=[order.pk], throw=True)
    assert raised.value.when == settings.PAYMENT_RETRY_BACKOFF_MAX_SECONDS
    assert not SandboxCharge.objects.exists()


def test_capture_task_returns_the_outcome(live_pin):
    pin = live_pin()
    order = pending_order(pin)
    assert capture_payment.apply(args=[order.pk]).get() == "paid"


def test_slow_provider_succeeds_after_the_configured_delay(live_pin, settings):
    settings.SANDBOX_SLOW_SECONDS = 0.3
    pin = live_pin()
    order = pending_order(pin, token="sandbox_slow")
    started = time.monotonic()
    assert services.order_capture_payment(order_id=order.pk) == CaptureOutcome.PAID
    assert time.monotonic() - started >= 0.3


def test_a_second_capture_while_one_is_running_stays_out(live_pin, clock, settings):
    pin = live_pin()
    order = pending_order(pin)
    _started_attempt(order, clock.now())
    with capture_running(order.pk):
        assert services.order_capture_payment(order_id=order.pk) == CaptureOutcome.BUSY
        clock.advance(settings.PAYMENT_ATTEMPT_STALE_SECONDS - 1)  # slow, but alive
        assert services.order_capture_payment(order_id=order.pk) == CaptureOutcome.BUSY
        assert selectors.orders_stuck_in_payment() == []
    assert not SandboxCharge.objects.exists()


def test_an_attempt_left_by_a_dead_worker_is_superseded_at_once(live_pin, clock):
    """The attempt is fresh, but nobody holds its capture lock: its worker is gone."""
    pin = live_pin()
    order = pending_order(pin)
    with capture_running(order.pk):
        _started_attempt(order, clock.now())
    assert selectors.orders_stuck_in_payment() == [order.pk]  # no quiet period to wait
    assert services.order_capture_payment(order_id=order.pk) == CaptureOutcome.PAID
    assert list(order.attempts.values_list("number", "status", "error_code")) == [
        (1, "error", "lost"),
        (2, "succeeded", ""),
    ]
    assert SandboxCharge.objects.filter(kind="capture").count() == 1


def test_a_wedged_attempt_is_superseded_after_the_last_resort_age(live_pin, clock, settings):
    """Its lock is still held (a session that never ends), yet it is older than
    PAYMENT_ATTEMPT_STALE_SECONDS: the last resort supersedes it; the idempotency key
    keeps the charge single."""
    pin = live_pin()
    order = pending_order(pin)
    _started_attempt(order, clock.now())
    with capture_running(order.pk):
        clock.advance(settings.PAYMENT_ATTEMPT_STALE_SECONDS + 1)
        assert services.order_capture_payment(order_id=order.pk) == CaptureOutcome.PAID
    assert SandboxCharge.objects.filter(kind="capture").count() == 1


def test_the_database_refuses_a_second_successful_capture(live_pin):
    pin = live_pin()
    order = pending_order(pin)
    services.order_capture_payment(order_id=order.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentAttempt.objects.create(
            order=order,
            number=2,
            status="succeeded",
            provider="sandbox",
            amount=order.total,
            currency="USD",
            idempotency_key="x",
            started_at=orders_clock.now(),
        )


def test_sandbox_capture_is_idempotent_per_key(live_pin):
    from orders.payments import get_provider

    pin = live_pin()
    order = pending_order(pin)
    provider = get_provider()
    first = provider.capture(order=order, amount=order.total, idempotency_key="k1")
    again = provider.capture(order=order, amount=order.total, idempotency_key="k1")
    assert first == again
    assert SandboxCharge.objects.count() == 1


def test_payment_pending_blocks_expiry_then_capture_converts(live_pin, clock):
    pin = live_pin(stock=1)
    order = pending_order(pin)
    clock.advance(10_000)
    assert services.holds_expire_due() == 0
    assert services.order_capture_payment(order_id=order.pk) == CaptureOutcome.PAID
    assert stock(pin.product) == (0, 0)
    assert Hold.objects.get(order=order).status == "converted"


def test_stuck_orders_are_found_after_the_quiet_period(live_pin, clock, settings):
    pin = live_pin()
    order = pending_order(pin)
    assert selectors.orders_stuck_in_payment() == []
    clock.advance(settings.PAYMENT_STUCK_SECONDS + 1)
    assert selectors.orders_stuck_in_payment() == [order.pk]
    services.order_capture_payment(order_id=order.pk)
    assert selectors.orders_stuck_in_payment() == []


def test_an_order_waiting_for_a_retry_is_not_stuck(live_pin, clock, settings):
    pin = live_pin()
    order = pending_order(pin, token="sandbox_error")
    clock.advance(settings.PAYMENT_STUCK_SECONDS + 1)
    services.order_capture_payment(order_id=order.pk)  # error: retry due soon
    assert selectors.orders_stuck_in_payment() == []
    clock.advance(settings.PAYMENT_STUCK_SECONDS + 1)
    assert selectors.orders_stuck_in_payment() == [order.pk]


def test_recover_sweep_requeues_stuck_captures(live_pin, clock, settings, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(capture_payment, "delay", lambda order_id: queued.append(order_id))
    pin = live_pin()
    order = pending_order(pin)
    clock.advance(settings.PAYMENT_STUCK_SECONDS + 1)
    assert orders_recover_stuck() == 1
    assert queued == [order.pk]


@pytest.mark.django_db(transaction=True)
def test_concurrent_captures_of_one_order_charge_once(live_pin):
    pin = live_pin(stock=3)
    order = pending_order(pin)
    outcomes: list[CaptureOutcome] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            barrier.wait()
            outcomes.append(services.order_capture_payment(order_id=order.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes.count(CaptureOutcome.PAID) == 1
    assert set(outcomes) <= {CaptureOutcome.PAID, CaptureOutcome.BUSY, CaptureOutcome.NOTHING}
    assert SandboxCharge.objects.filter(kind="capture").count() == 1
    assert PaymentAttempt.objects.filter(order=order, status="succeeded").count() == 1
    assert stock(pin.product) == (2, 0)
    assert active_held(variant_of(pin.product).pk) == 0


@pytest.mark.django_db(transaction=True)
def test_a_capture_whose_database_session_dies_is_recovered_at_once_and_charged_once(
    live_pin, settings
):
    """The capturing session is terminated mid-attempt (what PostgreSQL sees when a worker
    is killed): its capture lock goes with it, so the order is found stuck at once and the
    next capture supersedes the dead attempt; the provider's ledger shows one charge."""
    settings.SANDBOX_SLOW_SECONDS = 1
    pin = live_pin()
    order = pending_order(pin, token="sandbox_slow")
    failed: list[BaseException] = []

    def capture() -> None:
        try:
            services.order_capture_payment(order_id=order.pk)
        except BaseException as exc:  # the session dies under it
            failed.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=capture)
    worker.start()
    try:
        pid = None
        deadline = time.monotonic() + 30
        while pid is None and time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND classid = %s::oid AND objid = %s::oid",
                    [CAPTURE_LOCK_SPACE, order.pk],
                )
                row = cursor.fetchone()
            pid = row[0] if row and PaymentAttempt.objects.filter(order=order).exists() else None
            time.sleep(0.02)
        assert pid is not None, "the capture never held its lock"
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        worker.join(30)
    # The task sees the session's error (and retries or is recovered by the sweep).
    assert [type(e).__name__ for e in failed] == ["OperationalError"], failed
    assert selectors.orders_stuck_in_payment() == [order.pk]

    assert services.order_capture_payment(order_id=order.pk) == CaptureOutcome.PAID
    assert list(order.attempts.values_list("number", "status", "error_code")) == [
        (1, "error", "lost"),
        (2, "succeeded", ""),
    ]
    assert SandboxCharge.objects.filter(kind="capture").count() == 1
