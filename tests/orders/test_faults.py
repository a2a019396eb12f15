"""Checkout under faults, against real PostgreSQL, Redis, Celery worker and beat processes:
a killed pool process, a worker killed with SIGKILL as a whole, a Redis restart in the
middle of a sale, and holds that pass their expiry while their payment is in flight.

What must hold every time (SPEC "Invariants"): every order ends `paid` exactly once with
exactly one successful capture, units leave on hand exactly once, `0 <= held <= on hand`,
and every hold ends exactly once. The processes get short sweep and staleness intervals
through their environment (docs/celery.md, "Faults"), so each test finishes in seconds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from catalog.models import StockAdjustment, Variant
from core.errors import InvalidState
from orders import services
from orders.models import Hold, Order, PaymentAttempt, SandboxCharge
from orders.services import CaptureOutcome
from tests.factories import UserFactory, token_for
from tests.orders.helpers import variant_of
from tests.support.processes import (
    READY_TIMEOUT,
    ManagedProcess,
    _wait_until,
    run_celery_worker,
    run_redis_server,
    run_uvicorn,
    server_env,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Short intervals for the processes under test, kept consistent with each other.
# A dead capture attempt is detected directly (its capture lock is free:
# orders/payment_lock.py); the age-based last resort PAYMENT_ATTEMPT_STALE_SECONDS is set
# far beyond every wait below, so only that direct detection can recover an order here.
SLOW_SECONDS = 2.0
FAST = {
    "SANDBOX_SLOW_SECONDS": str(SLOW_SECONDS),
    "CELERY_TASK_TIME_LIMIT": "6",
    "CELERY_TASK_SOFT_TIME_LIMIT": "5",
    "PAYMENT_ATTEMPT_STALE_SECONDS": "3600",
    "PAYMENT_STUCK_SECONDS": "2",
    "PAYMENT_RECOVER_SWEEP_SECONDS": "1",
    "HOLD_SWEEP_SECONDS": "1",
    "PAYMENT_MAX_ATTEMPTS": "3",
    "PAYMENT_RETRY_BACKOFF_SECONDS": "0.3",
    "PAYMENT_RETRY_BACKOFF_MAX_SECONDS": "1",
}
# Crash to paid: the next recovery sweep (1 s) or the redelivered task finds the dead
# attempt's lock free and captures again, which takes SLOW_SECONDS. The bound below is far
# above that, so a loaded machine does not fail the test, and far below
# PAYMENT_ATTEMPT_STALE_SECONDS, so the age-based rule cannot be what recovered it (before
# the capture lock, recovery took the stale age: ~90 s with the defaults).
RECOVERY_BOUND = 45.0
ADDRESS = {
    "name": "Ada Buyer",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def run_celery_beat(*, env: dict[str, str]) -> Iterator[ManagedProcess]:
    """`celery beat` with its own schedule file; stopped (its group only) on exit."""
    workdir = tempfile.mkdtemp(prefix="lc-beat-")
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "livecommerce",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        os.path.join(workdir, "schedule"),
    ]
    proc = ManagedProcess(args, env=server_env(env), name="celery-beat")
    try:
        _wait_until(proc, lambda: "beat: Starting" in proc.log_text(), "started", READY_TIMEOUT)
        yield proc
    finally:
        proc.close()
        shutil.rmtree(workdir, ignore_errors=True)


def wait_for(what: str, predicate: Callable[[], bool], timeout: float, *logs: Any) -> float:
    """Poll `predicate` until true; returns the seconds it took. Fails with the logs of
    the given processes after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.1)
    tails = "\n".join(f"--- {p.name} ---\n{p.log_text()[-4000:]}" for p in logs)
    pytest.fail(f"not within {timeout:.0f} s: {what}\n{tails}")


def one_tap_buyer(token: str = "sandbox_ok") -> Any:  # noqa: S107 - a public sandbox token
    buyer = UserFactory()
    services.payment_method_add(user=buyer, token=token)
    services.address_add(user=buyer, data=ADDRESS)
    return buyer


def one_tap_order(pin: Any, token: str) -> Order:
    """A one-tap buy in this process: the order commits in pending_payment and its capture
    goes to the broker after commit."""
    result = services.hold_create(
        buyer=one_tap_buyer(token), show_id=pin.show_id, product_id=pin.product_id
    )
    assert result.order is not None
    return result.order


def status_of(order_id: int) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order_id)


def attempt_started(order_id: int) -> bool:
    return PaymentAttempt.objects.filter(order_id=order_id, status="started").exists()


def assert_paid_exactly_once(order_id: int) -> None:
    """Paid, one successful capture, one provider charge of the order's total, its hold
    converted, and one sale in the stock ledger."""
    order = Order.objects.get(pk=order_id)
    assert order.status == "paid"
    attempts = list(order.attempts.values_list("status", flat=True))
    assert attempts.count("succeeded") == 1, attempts
    assert "reversed" not in attempts, attempts
    charges = SandboxCharge.objects.filter(kind="capture", idempotency_key=f"order-{order.pk}")
    assert [c.amount for c in charges] == [order.total]
    assert Hold.objects.get(order=order).status == "converted"
    sales = StockAdjustment.objects.filter(
        variant_id=order.variant_id, kind="sale", reason=f"Sale: order {order.pk}"
    )
    assert sales.count() == 1


def stock_row(variant_id: int) -> tuple[int, int]:
    v = Variant.objects.get(pk=variant_id)
    return v.stock_on_hand, v.held


# --------------------------------------------------------------------------- worker crashes


def test_pool_process_killed_mid_capture_order_is_paid_exactly_once(live_pin):
    """SIGKILL to the pool process while it waits on the provider: the message comes back
    (acks_late + reject_on_worker_lost) and finds the dead attempt's capture lock free
    (the killed process's database session ended), so it captures again at once; the
    same idempotency key means the provider charges once."""
    pin = live_pin(stock=5)
    variant = variant_of(pin.product)
    with run_celery_beat(env=FAST) as beat, run_celery_worker(env=FAST) as worker:
        slow = one_tap_order(pin, "sandbox_slow")
        queued = one_tap_order(pin, "sandbox_ok")
        wait_for("capture started", lambda: attempt_started(slow.pk), 30, worker)
        assert not SandboxCharge.objects.filter(idempotency_key=f"order-{slow.pk}").exists()
        (pool_pid,) = worker.child_pids()
        os.kill(pool_pid, signal.SIGKILL)
        killed = time.monotonic()
        wait_for(
            "a new pool process",
            lambda: bool(worker.child_pids()) and pool_pid not in worker.child_pids(),
            30,
            worker,
        )
        wait_for(
            "both orders paid",
            lambda: {status_of(slow.pk), status_of(queued.pk)} == {"paid"},
            RECOVERY_BOUND,
            worker,
            beat,
        )
        recovered_in = time.monotonic() - killed
        log = worker.log_text()
    assert_paid_exactly_once(slow.pk)
    assert_paid_exactly_once(queued.pk)
    # The kill landed mid-capture: the first attempt died and was superseded.
    first = slow.attempts.order_by("number").first()
    assert (first.status, first.error_code) == ("error", "lost"), recovered_in
    assert "WorkerLostError" in log or "signal 9" in log
    assert stock_row(variant.pk) == (3, 0)


def test_whole_worker_killed_mid_capture_new_worker_pays_exactly_once(live_pin):
    """SIGKILL to the worker's whole process group (main process and pool) mid-capture:
    its messages are stranded in Redis until the visibility timeout (an hour), so the
    recovery sweep is what brings both the in-flight and the prefetched order to paid on
    a new worker, each charged once — within seconds of the restart, because the dead
    attempt is known dead by its free capture lock (PAYMENT_ATTEMPT_STALE_SECONDS is an
    hour here)."""
    pin = live_pin(stock=8)
    variant = variant_of(pin.product)
    with run_celery_beat(env=FAST) as beat:
        with run_celery_worker(env=FAST, concurrency=2) as first_worker:
            # Six one-tap purchases capturing on a slow card (the report).
            orders = [one_tap_order(pin, "sandbox_slow") for _ in range(6)]
            wait_for(
                "two captures started",
                lambda: sum(attempt_started(o.pk) for o in orders) == 2,
                30,
                first_worker,
            )
            first_worker.kill(signal.SIGKILL)
            wait_for("worker group gone", lambda: not first_worker.group_pids(), 15)
        in_flight = [o for o in orders if attempt_started(o.pk)]
        assert len(in_flight) == 2
        assert {status_of(o.pk) for o in orders} == {"pending_payment"}
        with run_celery_worker(env=FAST, concurrency=2) as second_worker:
            restarted = time.monotonic()
            wait_for(
                "every order paid on the new worker",
                lambda: {status_of(o.pk) for o in orders} == {"paid"},
                RECOVERY_BOUND,
                second_worker,
                beat,
            )
            recovered_in = time.monotonic() - restarted
    for order in orders:
        assert_paid_exactly_once(order.pk)
    for order in in_flight:
        first = order.attempts.order_by("number").first()
        assert (first.status, first.error_code) == ("error", "lost"), recovered_in
    assert stock_row(variant.pk) == (2, 0)


# --------------------------------------------------------------------------- Redis restart


def _buy_all(base_url: str, pin: Any, tokens: list[str]) -> list[tuple[str, int, dict]]:
    """One buy per token, 8 at a time; every request must get an HTTP answer."""

    def buy(token: str) -> tuple[str, int, dict]:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            r = client.post(
                f"/api/v1/shows/{pin.show_id}/buy/",
                json={"product": pin.product_id},
                headers={"Authorization": f"Token {token}", "Idempotency-Key": f"k-{token}"},
            )
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        return token, r.status_code, body

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(buy, tokens))


def test_redis_restart_during_a_sale_never_oversells_and_holds_still_expire(live_pin):
    """The web server, worker and beat use a private Redis (cache, throttles, broker) that
    is stopped mid-sale and started again empty. PostgreSQL is the gate, so: no oversell;
    while Redis is down buys go on (throttles fail open, never a 500); every 201 has a
    durable hold; after the restart buys answer normally, captures and expiry sweeps run
    again, and the expired holds' units come back exactly once."""
    stock = 25
    pin = live_pin(stock=stock)
    variant = variant_of(pin.product)
    buyers = [one_tap_buyer() if i % 4 == 0 else UserFactory() for i in range(80)]
    token_of = {token_for(b): b for b in buyers}
    tokens = list(token_of)
    before, during, after = tokens[:20], tokens[20:40], tokens[40:]
    with run_redis_server() as redis_server:
        env = {**FAST, "REDIS_URL": redis_server.url, "HOLD_TTL_SECONDS": "4"}
        with (
            run_uvicorn(env=env) as base_url,
            run_celery_worker(env=env) as worker,
            run_celery_beat(env=env) as beat,
        ):
            answers = _buy_all(base_url, pin, before)
            redis_server.stop()
            answers_down = _buy_all(base_url, pin, during)
            redis_server.start()
            answers_after = _buy_all(base_url, pin, after)

            def settled() -> bool:
                pending = Order.objects.filter(variant=variant, status="pending_payment")
                due = Hold.objects.filter(variant=variant, status="active", order__isnull=True)
                return not pending.exists() and not due.exists()

            wait_for("orders settled, holds expired", settled, RECOVERY_BOUND, worker, beat)
        answers += answers_down + answers_after

    statuses = [status for _, status, _ in answers]
    # Redis down is not a bug: throttles fail open and PostgreSQL gates the stock, so no 500;
    # a 503 would be allowed only with the SPEC error shape (nothing changed).
    for _, s, body in answers:
        assert s in (201, 409) or (
            s == 503 and body.get("error", {}).get("code") == "service_unavailable"
        ), (s, body)
    assert any(s == 201 for _, s, _ in answers_down), [s for _, s, _ in answers_down]
    assert all(s in (201, 409) for _, s, _ in answers_after), [s for _, s, _ in answers_after]
    for token, status, body in answers:
        holds = Hold.objects.filter(buyer=token_of[token])
        if status == 201:
            assert list(holds.values_list("pk", flat=True)) == [body["hold"]["id"]]
        else:  # sold out (or a 503): nothing was held for this buyer
            assert not holds.exists(), (status, body)
    assert statuses.count(201) >= stock  # the sale went on after the restart
    # No oversell, and each hold ended exactly once.
    sold = Order.objects.filter(variant=variant, status="paid")
    assert sold.count() <= stock
    assert stock_row(variant.pk) == (stock - sold.count(), 0)
    assert not Order.objects.filter(variant=variant).exclude(status="paid").exists()
    for order in sold:
        assert_paid_exactly_once(order.pk)
    ended = Hold.objects.filter(variant=variant).values_list("status", flat=True)
    assert set(ended) <= {"converted", "expired"}
    assert list(ended).count("converted") == sold.count()
    assert services.holds_expire_due() == 0  # a later sweep releases nothing twice
    assert stock_row(variant.pk) == (stock - sold.count(), 0)


# --------------------------------------------------------------------------- expiry in flight


def test_hold_expiring_while_its_payment_is_in_flight_settles_once(live_pin, settings):
    """Holds of one second whose payment takes longer, with the expiry sweep running
    every second in beat and in a loop here: a paid order's hold is converted (never
    expired) and its unit sold once; a failed payment's hold is released once; a hold
    without an order expires. held/on hand agree with that at the end."""
    settings.HOLD_TTL_SECONDS = 1
    pin = live_pin(stock=5)
    variant = variant_of(pin.product)
    released: list[int] = []
    with run_celery_beat(env=FAST) as beat, run_celery_worker(env=FAST) as worker:
        paid = one_tap_order(pin, "sandbox_slow")
        failed = one_tap_order(pin, "sandbox_error")
        plain = services.hold_create(
            buyer=UserFactory(), show_id=pin.show_id, product_id=pin.product_id
        ).hold

        def settled() -> bool:
            released.append(services.holds_expire_due())
            return (status_of(paid.pk), status_of(failed.pk)) == ("paid", "payment_failed")

        wait_for("payments settled", settled, RECOVERY_BOUND, worker, beat)
        wait_for(
            "the plain hold expired",
            lambda: Hold.objects.get(pk=plain.pk).status == "expired",
            RECOVERY_BOUND,
            beat,
        )
    assert_paid_exactly_once(paid.pk)
    paid_hold, failed_hold = Hold.objects.get(order=paid), Hold.objects.get(order=failed)
    paid.refresh_from_db()
    failed.refresh_from_db()
    # The premise: both payments settled after their hold's expiry.
    assert paid.paid_at is not None and paid.paid_at > paid_hold.expires_at
    assert failed.ended_at is not None and failed.ended_at > failed_hold.expires_at
    assert paid_hold.status == "converted"
    assert failed_hold.status == "cancelled"
    assert not SandboxCharge.objects.filter(idempotency_key=f"order-{failed.pk}").exists()
    assert PaymentAttempt.objects.filter(order=failed, status="error").count() == 3
    assert sum(released) <= 1  # at most the plain hold, if this loop got it before beat
    assert services.holds_expire_due() == 0
    assert stock_row(variant.pk) == (4, 0)


def test_checkout_racing_the_expiry_sweep_ends_each_hold_once(live_pin):
    """Checkouts and expiry sweeps race: every hold ends as one of (expired, checkout
    refused) or (checked out, then paid and converted), never both, and the units add
    up. A third of the holds are already past expiry (checkout must refuse), a third
    expire right as the checkouts run (either outcome), a third are far from it (checkout
    must win)."""
    n = 12
    pin = live_pin(stock=n)
    variant = variant_of(pin.product)
    buyers = [UserFactory() for _ in range(n)]
    holds = [
        services.hold_create(buyer=b, show_id=pin.show_id, product_id=pin.product_id).hold
        for b in buyers
    ]
    start = timezone.now() + timedelta(seconds=1)
    expiry = {
        "past": start - timedelta(seconds=1),
        "racing": start + timedelta(milliseconds=10),
        "future": start + timedelta(seconds=60),
    }
    kind_of = {hold.pk: list(expiry)[i % 3] for i, hold in enumerate(holds)}
    for hold in holds:
        Hold.objects.filter(pk=hold.pk).update(expires_at=expiry[kind_of[hold.pk]])
    checkout_ok: dict[int, bool] = {}
    barrier = threading.Barrier(n + 3)

    def checkout(buyer: Any, hold: Hold) -> None:
        try:
            barrier.wait()
            try:
                services.hold_checkout(
                    buyer=buyer, hold_id=hold.pk, payment_method="sandbox_ok", address=ADDRESS
                )
                checkout_ok[hold.pk] = True
            except InvalidState:
                checkout_ok[hold.pk] = False
        finally:
            connection.close()

    checkouts_done = threading.Event()

    def sweep() -> None:
        try:
            barrier.wait()
            while True:  # on until a whole pass has started after every checkout answered
                finished = checkouts_done.is_set()
                services.holds_expire_due()
                if finished:
                    break
        finally:
            connection.close()

    checkouts = [
        threading.Thread(target=checkout, args=pair) for pair in zip(buyers, holds, strict=True)
    ]
    sweepers = [threading.Thread(target=sweep) for _ in range(2)]
    for t in checkouts + sweepers:
        t.start()
    time.sleep(max(0.0, (start - timezone.now()).total_seconds()))
    barrier.wait()
    for t in checkouts:
        t.join(timeout=60)
    checkouts_done.set()
    for t in sweepers:
        t.join(timeout=60)
    assert len(checkout_ok) == n
    for hold in holds:
        hold.refresh_from_db()
        if kind_of[hold.pk] != "racing":
            assert checkout_ok[hold.pk] == (kind_of[hold.pk] == "future")
        if checkout_ok[hold.pk]:
            assert hold.status == "active" and hold.order_id is not None
            outcome = services.order_capture_payment(order_id=hold.order_id)
            assert outcome == CaptureOutcome.PAID
            assert_paid_exactly_once(hold.order_id)
        else:
            assert (hold.status, hold.order_id) == ("expired", None)
    sold = sum(checkout_ok.values())
    assert services.holds_expire_due() == 0
    assert stock_row(variant.pk) == (n - sold, 0)
