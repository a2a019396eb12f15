"""The automatic refund through a real Celery worker and the real broker: beat's task
sent twice while the test process runs it too, and a worker killed in the middle of the
provider's refund. Each overdue dispute is refunded through the provider exactly once."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, transaction

from disputes import services
from disputes.models import Dispute
from disputes.tasks import disputes_refund_overdue
from orders import clock
from orders import services as orders_services
from orders.models import Order, Refund, SandboxCharge
from tests.factories import UserFactory
from tests.orders.helpers import pending_order
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


def order_row_locked(order_id: int) -> bool:
    try:
        with transaction.atomic():
            list(Order.objects.select_for_update(nowait=True).filter(pk=order_id))
    except OperationalError:
        return True
    return False


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
    settings.SANDBOX_SLOW_SECONDS = 0  # this process captures at once
    pin = live_pin()
    order = pending_order(pin, buyer=UserFactory(), token="sandbox_slow")
    orders_services.order_capture_payment(order_id=order.pk)
    orders_services.shipment_ship(
        actor=pin.show.shop.owner, shipment_id=order.shipment_id, carrier="UPS", tracking_number="1"
    )
    dispute = overdue_dispute(order)
    # The worker's sandbox takes 4 s to refund a `sandbox_slow` order, with the order locked.
    with run_celery_worker(env={"SANDBOX_SLOW_SECONDS": "4"}, concurrency=1) as worker:
        disputes_refund_overdue.delay()
        deadline = time.monotonic() + WAIT_SECONDS
        while not order_row_locked(order.pk):
            assert time.monotonic() < deadline, worker.log_text()[-3000:]
            time.sleep(0.05)
        victims = worker.child_pids()
        assert victims
        for pid in victims:
            os.kill(pid, signal.SIGKILL)  # the pool process dies inside the provider call
        assert refund_charges(order) == 0  # its transaction rolled back
        # acks_late + reject_on_worker_lost: the message comes back and a new pool
        # process runs it to the end.
        assert wait_until_resolved([dispute.pk]) == {"resolved_refunded"}, worker.log_text()[-3000:]
        assert "WorkerLostError" in worker.log_text() or set(worker.child_pids()) != set(victims)
    assert refund_charges(order) == 1
    assert Refund.objects.filter(order=order).count() == 1
    dispute.refresh_from_db()
    assert dispute.resolution == "deadline_missed"
