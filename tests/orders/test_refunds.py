"""Cancel and refund against real PostgreSQL: the payment provider is called after the
decision committed, never while the order's row is locked (orders/services/aftersale.py);
a double cancel refunds once; a refund whose provider call was lost is settled by the
sweep, once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from core.errors import InvalidState
from orders import services
from orders.models import Order, Refund, SandboxCharge
from tests.factories import UserFactory
from tests.orders.helpers import order_row_locked, pending_order, stock

pytestmark = pytest.mark.django_db(transaction=True)


def slow_paid_order(pin: Any, settings: Any, buyer: Any) -> Order:
    """A paid order whose sandbox refund takes SANDBOX_SLOW_SECONDS (captured at once)."""
    settings.SANDBOX_SLOW_SECONDS = 0
    order = pending_order(pin, buyer=buyer, token="sandbox_slow")
    services.order_capture_payment(order_id=order.pk)
    settings.SANDBOX_SLOW_SECONDS = 2
    return Order.objects.get(pk=order.pk)


def refund_charges(order: Order) -> int:
    return SandboxCharge.objects.filter(kind="refund", idempotency_key=f"refund-{order.pk}").count()


def test_cancel_calls_the_provider_after_commit_and_a_double_cancel_refunds_once(
    live_pin, settings
):
    pin = live_pin(stock=3)
    buyer = UserFactory()
    order = slow_paid_order(pin, settings, buyer)
    outcome: dict[str, Any] = {}

    def cancel(name: str) -> None:
        try:
            outcome[name] = services.order_cancel(buyer=buyer, order_id=order.pk).status
        except InvalidState as exc:
            outcome[name] = exc.code
        finally:
            connection.close()

    first = threading.Thread(target=cancel, args=("first",))
    first.start()
    deadline = time.monotonic() + 30
    while not Refund.objects.filter(order=order).exists():  # decided and committed
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # The provider is answering (2 s) with no lock held: the order can be locked at once,
    # and a second cancel is answered at once, before the refund has even gone through.
    assert first.is_alive()
    assert not order_row_locked(order.pk)
    cancel("second")
    assert outcome["second"] == "invalid_state"
    assert refund_charges(order) == 0
    assert Refund.objects.get(order=order).settled_at is None
    first.join(30)
    assert outcome["first"] == "cancelled"
    refund = Refund.objects.get(order=order)
    assert refund.settled_at is not None
    assert refund_charges(order) == 1
    assert stock(pin.product) == (3, 0)  # restocked once


def test_a_refund_left_unsettled_is_settled_by_the_sweep_once(live_pin, settings, clock):
    """A worker killed between the decision and the provider's answer leaves the Refund
    row unsettled (here: decided inside a transaction whose on-commit work never ran,
    like a process dying right after COMMIT)."""
    pin = live_pin(stock=3)
    buyer = UserFactory()
    order = pending_order(pin, buyer=buyer)
    services.order_capture_payment(order_id=order.pk)
    settings.PAYMENT_STUCK_SECONDS = 5
    with transaction.atomic():
        services.order_cancel(buyer=buyer, order_id=order.pk)
        transaction.get_connection().run_on_commit.clear()  # the process "dies" here
    refund = Refund.objects.get(order=order)
    assert refund.settled_at is None
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    assert services.refunds_settle_due() == 0  # too recent: its own worker may be on it
    clock.advance(6)
    assert services.refunds_settle_due() == 1
    assert services.refunds_settle_due() == 0
    assert services.refund_settle(refund_id=refund.pk) is False  # already settled
    refund.refresh_from_db()
    assert refund.settled_at is not None
    assert refund_charges(order) == 1
    assert SandboxCharge.objects.get(kind="refund").reference == refund.provider_ref


def test_a_capture_that_lands_after_the_order_failed_is_given_back_after_commit_once(
    live_pin, clock
):
    """The capture went through for an order that failed meanwhile (its attempts ran out
    while this one was answering): `capture_settle` only marks it `reversed`; the refund
    is called afterwards (`capture_reverse`), once, and the sweep has nothing left."""
    from orders.payments import get_provider

    pin = live_pin(stock=3)
    order = pending_order(pin)
    started = services.capture_start(order_id=order.pk, locked=True)
    assert not isinstance(started, services.CaptureOutcome)
    order, attempt = started
    Order.objects.filter(pk=order.pk).update(status="payment_failed")  # failed meanwhile
    result = get_provider().capture(
        order=order, amount=order.total, idempotency_key=attempt.idempotency_key
    )
    outcome = services.capture_settle(order_id=order.pk, attempt=attempt, result=result)
    assert outcome == services.CaptureOutcome.NOTHING
    attempt.refresh_from_db()
    assert (attempt.status, attempt.finished_at) == ("reversed", None)
    assert not SandboxCharge.objects.filter(idempotency_key=f"reverse-{order.pk}").exists()
    assert services.capture_reverse(attempt_id=attempt.pk) is True
    assert services.capture_reverse(attempt_id=attempt.pk) is False
    clock.advance(3600)
    assert services.reversals_settle_due() == 0
    attempt.refresh_from_db()
    assert attempt.finished_at is not None
    assert SandboxCharge.objects.filter(idempotency_key=f"reverse-{order.pk}").count() == 1
