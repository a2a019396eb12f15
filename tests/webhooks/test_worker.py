"""The relay in real Celery workers (with the beat sweep embedded, `--beat`): nothing is
lost when the receiver is down for a while or a worker is killed mid-delivery."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest
from django.db import transaction

from tests.factories import ShopFactory
from tests.support.processes import run_celery_worker
from webhooks.models import Delivery, Event
from webhooks.services import event_record

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 120.0  # a bound for a stuck test, not a performance claim

ENV = {
    "WEBHOOK_ALLOW_PRIVATE": "1",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "WEBHOOK_SWEEP_SECONDS": "0.5",
    "WEBHOOK_RETRY_SCHEDULE": ",".join(["0.5"] * 4 + ["1"] * 40),
}


def _worker(tmp_path, name: str):  # type: ignore[no-untyped-def]
    schedule = tmp_path / f"beat-{name}"
    return run_celery_worker(env=ENV, extra_args=["--beat", "--schedule", str(schedule)])


def _wait(predicate: Callable[[], bool], what: str, log: Callable[[], str]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{log()[-4000:]}"
        time.sleep(0.1)


def _record(shop, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    for i in range(n):
        with transaction.atomic():
            event_record(shop_id=shop.pk, type="order.paid", data={"n": i})
    return list(Event.objects.values_list("id", flat=True))


def test_a_receiver_down_for_a_while_gets_every_event_once_it_is_back(
    receiver, endpoint_for, tmp_path
):
    shop = ShopFactory()
    endpoint_for(shop, receiver.url)
    receiver.stop()  # connections refused
    with _worker(tmp_path, "a") as worker:
        ids = _record(shop, 10)
        _wait(
            lambda: Delivery.objects.filter(attempts__gte=2).count() == 10,
            "every delivery to fail twice",
            worker.log_text,
        )
        assert not Delivery.objects.filter(status="delivered").exists()
        receiver.start()  # back, on the same port
        _wait(
            lambda: Delivery.objects.filter(status="delivered").count() == 10,
            "every delivery to succeed",
            worker.log_text,
        )
    got = [r.headers["webhook-id"] for r in receiver.received]
    assert set(got) == set(ids)  # each event at least once, nothing else
    assert all(r.json["id"] == r.headers["webhook-id"] for r in receiver.received)


def test_a_worker_killed_mid_delivery_loses_nothing(receiver, endpoint_for, tmp_path):
    receiver.mode, receiver.hang_seconds = "hang", 60.0
    shop = ShopFactory()
    endpoint_for(shop, receiver.url)
    with _worker(tmp_path, "first") as first:
        (event_id,) = _record(shop, 1)
        _wait(lambda: len(receiver.received) == 1, "the first attempt", first.log_text)
        first.kill(signal.SIGKILL)  # the worker and its pool, mid-request
        _wait(lambda: not first.group_pids(), "the worker to die", first.log_text)
    receiver.mode = "ok"
    receiver.release.set()  # the dead attempt's connection goes nowhere
    assert Delivery.objects.get().status == "pending"
    with _worker(tmp_path, "second") as second:
        _wait(
            lambda: Delivery.objects.get().status == "delivered",
            "the delivery after the crash",
            second.log_text,
        )
    assert [r.headers["webhook-id"] for r in receiver.received] == [event_id, event_id]
