"""Payments through a real Celery worker and the real broker: checkout queues the capture
after commit, the worker settles each sandbox token the documented way."""

from __future__ import annotations

import time

import pytest

from orders import services
from orders.models import Order, PaymentAttempt, SandboxCharge
from tests.factories import UserFactory
from tests.orders.helpers import ADDRESS, stock
from tests.support.processes import run_celery_worker

WAIT_SECONDS = 90  # generous: a bound for a stuck test, not a performance claim


def wait_until_settled(order_ids: list[int]) -> dict[int, str]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        statuses = dict(Order.objects.filter(pk__in=order_ids).values_list("pk", "status"))
        if "pending_payment" not in statuses.values() or time.monotonic() > deadline:
            return statuses
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_settles_each_sandbox_token(live_pin):
    pin = live_pin(stock=10)
    tokens = ["sandbox_ok", "sandbox_slow", "sandbox_declined", "sandbox_error"]
    env = {
        "SANDBOX_SLOW_SECONDS": "0.5",
        "PAYMENT_MAX_ATTEMPTS": "3",
        "PAYMENT_RETRY_BACKOFF_SECONDS": "0.2",
    }
    with run_celery_worker(env=env, concurrency=2) as worker:
        orders = {}
        for token in tokens:
            buyer = UserFactory()
            hold = services.hold_create(
                buyer=buyer, show_id=pin.show_id, product_id=pin.product_id
            ).hold
            # Outside any test transaction: on_commit fires and queues capture_payment.
            orders[token] = services.hold_checkout(
                buyer=buyer, hold_id=hold.pk, payment_method=token, address=ADDRESS
            ).pk
        statuses = wait_until_settled(list(orders.values()))
        assert statuses == {
            orders["sandbox_ok"]: "paid",
            orders["sandbox_slow"]: "paid",
            orders["sandbox_declined"]: "payment_failed",
            orders["sandbox_error"]: "payment_failed",
        }, worker.log_text()[-3000:]
    errors = PaymentAttempt.objects.filter(order_id=orders["sandbox_error"])
    assert list(errors.values_list("status", flat=True)) == ["error"] * 3
    assert SandboxCharge.objects.filter(kind="capture").count() == 2
    assert stock(pin.product) == (8, 0)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_recovery_sweep_requeues_a_lost_capture_and_the_worker_settles_it(
    live_pin, clock, settings, monkeypatch
):
    from orders import dispatch, tasks

    pin = live_pin(stock=3)
    buyer = UserFactory()
    hold = services.hold_create(buyer=buyer, show_id=pin.show_id, product_id=pin.product_id).hold
    with monkeypatch.context() as lost:  # the broker "loses" the first message
        lost.setattr(dispatch, "send", lambda name, *args: None)
        order = services.hold_checkout(
            buyer=buyer, hold_id=hold.pk, payment_method="sandbox_ok", address=ADDRESS
        )
    with run_celery_worker():
        assert tasks.orders_recover_stuck() == 0  # not quiet long enough yet
        clock.advance(settings.PAYMENT_STUCK_SECONDS + 1)
        assert tasks.orders_recover_stuck() == 1
        assert wait_until_settled([order.pk]) == {order.pk: "paid"}
    assert stock(pin.product) == (2, 0)
