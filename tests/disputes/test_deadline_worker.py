"""The automatic refund through a real Celery worker and the real broker: beat's task
sent twice while the test process runs it too, and a worker killed in the middle of the
provider's refund. Each overdue dispute is refunded through the provider exactly once."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest

from disputes import services
from disputes.models import Dispute
from disputes.tasks import disputes_refund_overdue
from orders import clock
from orders import services as orders_services
from orders.models import Order, Refund, SandboxCharge
from orders.tasks import refunds_settle_due
from tests.factories import UserFactory
from tests.orders.helpers import order_row_locked, pending_order
from tests.support.processes import run_celery_worker

WAIT_SECONDS = 90  # a bound for a stuck test, not a performance claim


def overdue_dispute(order: Order) -> Dispute:
    dispute = services.dispute_open(
        buyer=order.buyer, order_id=order.pk, reason="not_received", text="Nothing came."
    )
    Dispute.objects.filter(pk=dispute.pk).update(seller_deadline=clock.now() - timedelta(seconds=1))
    return dispute


def wait_until_resolved(dispute_ids: list[int]) -> set[str]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        statuses = set(Dispute.objects.filter(pk__in=dispute_ids).values_list("status", flat=True))
        if statuses == {"resolved_refunded"} or time.monotonic() > deadline:
            return statuses
        time.sleep(0.2)


def refund_charges(order: Order) -> int:
    return SandboxCharge.objects.filter(kind="refund", idempotency_key=f"refund-{order.pk}").count()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_beat_task_sent_twice_to_a_worker_and_run_here_refunds_once(sold):
    orders_list = [sold("shipped") for _ in range(3)]
    disputes = [overdue_dispute(o) for o in orders_list]
    with run_celery_worker(concurrency=2) as worker:
        disputes_refund_overdue.delay()
        disputes_refund_overdue.delay()
        disputes_refund_overdue()  # and this process, at the same time
        statuses = wait_until_resolved([d.pk for d in disputes])
        assert statuses == {"resolved_refunded"}, worker.log_text()[-3000:]
        time.sleep(1)  # let the slower of the two deliveries finish too
    for order in orders_list:
        assert refund_charges(order) == 1
        assert Refund.objects.filter(order=order).count() == 1
        assert Order.objects.get(pk=order.pk).status == "refunded"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_refund_leaves_exactly_one_refund(live_pin, settings):
    """The provider is called after the refund was decided and committed, with no lock
    held; a pool process killed inside that call leaves the refund unsettled, and the
    sweep settles it, once (the provider's idempotency key)."""
    settings.SANDBOX_SLOW_SECONDS = 0  # this process captures at once
    pin = live_pin()
    order = pending_order(pin, buyer=UserFactory(), token="sandbox_slow")
    orders_services.order_capture_payment(order_id=order.pk)
    orders_services.shipment_ship(
        actor=pin.show.shop.owner, shipment_id=order.shipment_id, carrier="UPS", tracking_number="1"
    )
    dispute = overdue_dispute(order)
    # The worker's sandbox takes 4 s to refund a `sandbox_slow` order.
    env = {"SANDBOX_SLOW_SECONDS": "4", "PAYMENT_STUCK_SECONDS": "0"}
    with run_celery_worker(env=env, concurrency=1) as worker:
        disputes_refund_overdue.delay()
        deadline = time.monotonic() + WAIT_SECONDS
        while not Refund.objects.filter(order=order).exists():
            assert time.monotonic() < deadline, worker.log_text()[-3000:]
            time.sleep(0.05)
        # Decided and committed: the dispute is resolved, the order refunded, and the
        # provider is being called with no lock held on the order.
        assert wait_until_resolved([dispute.pk]) == {"resolved_refunded"}
        assert Order.objects.get(pk=order.pk).status == "refunded"
        assert not order_row_locked(order.pk)
        victims = worker.child_pids()
        assert victims
        for pid in victims:
            os.kill(pid, signal.SIGKILL)  # the pool process dies inside the provider call
        assert refund_charges(order) == 0
        assert Refund.objects.get(order=order).settled_at is None
        # The redelivered sweep finds the dispute resolved and changes nothing; the refund
        # sweep (beat's `orders.refunds_settle_due`) settles the refund.
        refunds_settle_due.delay()
        while Refund.objects.get(order=order).settled_at is None:
            assert time.monotonic() < deadline, worker.log_text()[-3000:]
            time.sleep(0.1)
        refunds_settle_due.delay()  # again: nothing more
        time.sleep(1)
    assert refund_charges(order) == 1
    assert Refund.objects.filter(order=order).count() == 1
    refund = Refund.objects.get(order=order)
    assert (
        refund.provider_ref
        == SandboxCharge.objects.get(idempotency_key=f"refund-{order.pk}").reference
    )
    dispute.refresh_from_db()
    assert dispute.resolution == "deadline_missed"
