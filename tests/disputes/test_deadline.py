"""The seller's 48-hour deadline, run by the real beat task (`disputes.refund_overdue`)
with a frozen clock: nothing before the deadline, one automatic refund through the
provider after it, and never a second one however often or concurrently beat runs."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection

from disputes import services
from disputes.models import Dispute
from disputes.tasks import disputes_refund_overdue
from orders import clock as orders_clock
from orders import services as orders_services
from orders.models import Order, Refund, SandboxCharge

DEADLINE_S = settings.DISPUTE_SELLER_RESPONSE_HOURS * 3600


def refund_charges(order: Order) -> int:
    return SandboxCharge.objects.filter(kind="refund", idempotency_key=f"refund-{order.pk}").count()


def opened(order: Order) -> Dispute:
    return services.dispute_open(
        buyer=order.buyer, order_id=order.pk, reason="not_received", text="Nothing came."
    )


@pytest.mark.django_db
def test_the_beat_task_refunds_only_once_the_deadline_has_passed(
    sold, clock, django_capture_on_commit_callbacks
):
    order = sold("shipped")
    dispute = opened(order)
    clock.advance(DEADLINE_S - 1)
    assert disputes_refund_overdue() == 0
    dispute.refresh_from_db()
    assert dispute.status == "awaiting_seller"
    assert refund_charges(order) == 0

    clock.advance(2)
    with django_capture_on_commit_callbacks(execute=True):  # the provider: after commit
        assert disputes_refund_overdue() == 1
    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolution) == ("resolved_refunded", "deadline_missed")
    assert dispute.resolved_at == clock.now()
    assert dispute.resolved_by is None
    assert Order.objects.get(pk=order.pk).status == "refunded"
    assert refund_charges(order) == 1
    assert Refund.objects.get(order=order).actor is None

    assert disputes_refund_overdue() == 0  # beat runs again
    assert refund_charges(order) == 1


@pytest.mark.django_db
def test_a_seller_who_answered_in_time_is_left_alone(sold, clock):
    order = sold("delivered")
    dispute = opened(order)
    services.dispute_respond(
        actor=order.shop.owner, dispute_id=dispute.pk, action="reject", reason="Delivered."
    )
    clock.advance(DEADLINE_S + 60)
    assert disputes_refund_overdue() == 0
    dispute.refresh_from_db()
    assert dispute.status == "awaiting_staff"
    assert refund_charges(order) == 0


@pytest.mark.django_db
def test_an_order_refunded_another_way_is_not_refunded_twice(
    sold, clock, django_capture_on_commit_callbacks
):
    order = sold("shipped")
    dispute = opened(order)
    with django_capture_on_commit_callbacks(execute=True):  # the provider: after commit
        orders_services.order_refund(actor=order.shop.owner, order_id=order.pk, reason="Direct")
    clock.advance(DEADLINE_S + 1)
    assert disputes_refund_overdue() == 1
    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolution) == ("resolved_refunded", "already_refunded")
    assert refund_charges(order) == 1


@pytest.mark.django_db(transaction=True)
def test_beat_running_twice_at_once_refunds_each_dispute_once(sold):
    # The deadlines are put in the past (the real clock), as a worker process would see.
    orders_list = [sold("shipped") for _ in range(4)]
    disputes = [opened(o) for o in orders_list]
    Dispute.objects.filter(pk__in=[d.pk for d in disputes]).update(
        seller_deadline=orders_clock.now() - timedelta(seconds=1)
    )
    barrier = threading.Barrier(3)
    results: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait()
            results.append(disputes_refund_overdue())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sum(results) == 4
    for order in orders_list:
        assert refund_charges(order) == 1
        assert Refund.objects.filter(order=order).count() == 1
    assert set(Dispute.objects.values_list("status", flat=True)) == {"resolved_refunded"}
