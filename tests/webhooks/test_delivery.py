"""Delivery to a real HTTP receiver on 127.0.0.1, by the relay running in this process
(tests/webhooks/test_worker.py runs it in real Celery workers)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import transaction

from core.errors import InternalError
from streams import services as streams
from tests.factories import ShopFactory, ShowFactory
from tests.webhooks.helpers import EMITTED_TYPES, every_event, verify
from webhooks import relay
from webhooks.events import EVENT_TYPES
from webhooks.models import Attempt, Delivery, Endpoint, Event
from webhooks.services import delivery_redeliver, endpoint_secret_rotate, event_record

pytestmark = pytest.mark.django_db(transaction=True)


def _run_until(predicate, rounds: int = 100) -> None:
    """Run the relay (as its tasks and the beat sweep would) until `predicate()`."""
    for _ in range(rounds):
        relay.relay_run()
        if predicate():
            return
        time.sleep(0.1)


def test_every_event_type_arrives_signed_and_verifiable(receiver, endpoint_for):
    shop = ShopFactory()
    endpoint = endpoint_for(shop, receiver.url)
    made = every_event(shop)
    relay.relay_run()

    payloads = [verify(r, endpoint.secret) for r in receiver.received]
    assert {p["type"] for p in payloads} == EMITTED_TYPES
    assert set(EVENT_TYPES) == EMITTED_TYPES
    assert len(payloads) == Event.objects.count() == len({p["id"] for p in payloads})
    assert Delivery.objects.filter(status="delivered").count() == len(payloads)
    by_type = {}
    for p in payloads:
        by_type.setdefault(p["type"], []).append(p["data"])
    assert by_type["order.refunded"] == [
        d for d in by_type["order.refunded"] if d["id"] == made["refunded"].pk
    ]
    assert by_type["order.payment_failed"][0]["id"] == made["declined"].pk
    assert by_type["shipment.shipped"][0]["orders"] == [made["shipped"].pk]
    assert by_type["shipment.shipped"][0]["tracking_number"] == "1Z"
    assert by_type["show.started"][0] == {
        **by_type["show.started"][0],
        "id": made["show"].pk,
        "status": "live",
    }
    assert len(by_type["order.created"]) == len(by_type["order.paid"]) + 1  # one declined
    assert [d["id"] for d in by_type["dispute.opened"]] == [made["dispute"].pk]
    assert by_type["dispute.resolved"][0]["status"] == "resolved_rejected"
    assert by_type["auction.closed"][0]["auction"] == made["auction"].pk
    assert by_type["auction.closed"][0]["status"] == "no_sale"
    assert all(r.headers["Content-Type"] == "application/json" for r in receiver.received)


def test_the_events_filter_picks_what_an_endpoint_hears(make_receiver, endpoint_for):
    shop = ShopFactory()
    paid_only, shows_only = make_receiver(), make_receiver()
    endpoint_for(shop, paid_only.url, ["order.paid"])
    endpoint_for(shop, shows_only.url, ["show.started", "show.ended"])
    every_event(shop)
    relay.relay_run()
    assert {r.json["type"] for r in paid_only.received} == {"order.paid"}
    assert sorted(r.json["type"] for r in shows_only.received) == ["show.ended", "show.started"]


def test_no_endpoint_no_rows_and_other_shops_hear_nothing(receiver, endpoint_for):
    listening, quiet = ShopFactory(), ShopFactory()
    endpoint_for(listening, receiver.url)
    every_event(quiet)
    assert not Event.objects.exists() and not Delivery.objects.exists()
    relay.relay_run()
    assert receiver.received == []


def test_a_rolled_back_change_sends_nothing(receiver, endpoint_for):
    shop = ShopFactory()
    endpoint_for(shop, receiver.url)
    show = ShowFactory(shop=shop)
    with pytest.raises(RuntimeError), transaction.atomic():
        streams.show_start(user=shop.owner, show_id=show.pk)
        assert Event.objects.count() == 1  # recorded inside the transaction ...
        raise RuntimeError("the change fails after the event was recorded")
    assert not Event.objects.exists() and not Delivery.objects.exists()  # ... and gone
    relay.relay_run()
    assert receiver.received == []
    streams.show_start(user=shop.owner, show_id=show.pk)  # the real one is heard
    relay.relay_run()
    assert [r.json["type"] for r in receiver.received] == ["show.started"]


def test_an_inactive_endpoint_is_not_sent_to(receiver, endpoint_for):
    shop = ShopFactory()
    endpoint = endpoint_for(shop, receiver.url)
    Endpoint.objects.filter(pk=endpoint.pk).update(active=False)
    assert event_record(shop_id=shop.pk, type="order.paid", data={}) == 0
    relay.relay_run()
    assert receiver.received == []


def test_an_unregistered_event_type_is_a_programming_error():
    with pytest.raises(InternalError, match="unregistered"):
        event_record(shop_id=1, type="order.teleported", data={})


def test_a_redirect_is_a_failure_and_is_not_followed(make_receiver, endpoint_for, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [3600.0]
    shop = ShopFactory()
    redirecting, target = make_receiver(), make_receiver()
    redirecting.mode, redirecting.redirect_to = "redirect", target.url
    endpoint_for(shop, redirecting.url)
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    relay.relay_run()
    assert len(redirecting.received) == 1 and target.received == []
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 302)
    assert "not followed" in delivery.last_error


def test_a_hanging_endpoint_times_out_without_delaying_another_shop(
    make_receiver, endpoint_for, settings
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.0
    settings.WEBHOOK_RETRY_SCHEDULE = [3600.0]
    hanging, healthy = make_receiver(), make_receiver()
    hanging.mode, hanging.hang_seconds = "hang", 10.0
    slow_shop, other_shop = ShopFactory(), ShopFactory()
    endpoint_for(slow_shop, hanging.url)
    endpoint_for(other_shop, healthy.url)
    event_record(shop_id=slow_shop.pk, type="order.paid", data={"id": 1})
    event_record(shop_id=other_shop.pk, type="order.paid", data={"id": 2})
    relay.relay_run()
    hung = Delivery.objects.get(endpoint__shop=slow_shop)
    fine = Delivery.objects.get(endpoint__shop=other_shop)
    assert hung.status == "pending" and hung.last_error.startswith("timeout")
    assert fine.status == "delivered" and len(healthy.received) == 1
    hung_attempt = Attempt.objects.get(delivery=hung)
    # The other shop was served while the hanging attempt was still waiting.
    hung_ended = hung_attempt.started_at + timedelta(milliseconds=hung_attempt.duration_ms)
    assert fine.delivered_at is not None and fine.delivered_at < hung_ended


def test_a_50_mb_answer_is_read_only_up_to_the_cap(receiver, endpoint_for):
    receiver.mode = "huge"
    shop = ShopFactory()
    endpoint_for(shop, receiver.url)
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    relay.relay_run()
    delivery = Delivery.objects.get()
    assert delivery.status == "delivered" and delivery.last_status_code == 200
    assert Attempt.objects.get().response_excerpt == "x" * 1000


def test_failures_are_retried_on_the_schedule_then_marked_failed(receiver, endpoint_for, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [0.1, 0.1]
    receiver.mode = "error"
    shop = ShopFactory()
    endpoint_for(shop, receiver.url)
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    _run_until(lambda: Delivery.objects.get().status == "failed")
    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 3
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [
        (1, 500),
        (2, 500),
        (3, 500),
    ]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len(receiver.received) == 3


def test_retry_delays_follow_the_schedule_with_jitter(settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [10.0, 100.0]
    for _ in range(50):
        first, second = relay.retry_delay(attempt=1), relay.retry_delay(attempt=2)
        assert first is not None and 8.0 <= first <= 12.0
        assert second is not None and 80.0 <= second <= 120.0
    assert relay.retry_delay(attempt=3) is None


def test_the_default_schedule_is_at_least_8_attempts_over_4_hours():
    from django.conf import settings as live

    assert len(live.WEBHOOK_RETRY_SCHEDULE) + 1 >= 8
    assert sum(live.WEBHOOK_RETRY_SCHEDULE) * (1 - relay.JITTER) >= 4 * 3600


def test_an_endpoint_failing_for_days_is_disabled_and_its_owner_sees_why(
    receiver, endpoint_for, settings, client_for
):
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 0  # "days" have passed at the first failure
    receiver.mode = "error"
    shop = ShopFactory()
    endpoint = endpoint_for(shop, receiver.url)
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    relay.relay_run()
    r = client_for(shop.owner).get(f"/api/v1/shops/{shop.pk}/webhooks/{endpoint.pk}/")
    assert r.json()["active"] is False
    assert "every delivery failed" in r.json()["disabled_reason"]
    assert "HTTP 500" in r.json()["disabled_reason"]
    assert event_record(shop_id=shop.pk, type="order.paid", data={"id": 2}) == 0


def test_a_success_ends_the_failing_streak(receiver, endpoint_for, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [0.1]
    receiver.mode = "error"
    shop = ShopFactory()
    endpoint = endpoint_for(shop, receiver.url)
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    relay.relay_run()
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    receiver.mode = "ok"
    _run_until(lambda: Delivery.objects.get().status == "delivered")
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.active


def test_after_a_rotation_both_secrets_sign_each_delivery(receiver, endpoint_for):
    shop = ShopFactory()
    endpoint = endpoint_for(shop, receiver.url)
    old = endpoint.secret
    new = endpoint_secret_rotate(endpoint=endpoint).secret
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    relay.relay_run()
    (received,) = receiver.received
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    verify(received, old)
    verify(received, new)


def test_an_expired_previous_secret_stops_signing(receiver, endpoint_for):
    shop = ShopFactory()
    endpoint = endpoint_secret_rotate(endpoint=endpoint_for(shop, receiver.url))
    Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=endpoint.created_at)
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    relay.relay_run()
    (received,) = receiver.received
    assert len(received.headers["webhook-signature"].split(" ")) == 1
    verify(received, endpoint.secret)


def test_the_address_is_checked_again_at_delivery(receiver, endpoint_for, settings):
    shop = ShopFactory()
    endpoint_for(shop, receiver.url)  # allowed when it was saved ...
    settings.WEBHOOK_ALLOW_PRIVATE = False  # ... but not when it is sent
    settings.WEBHOOK_RETRY_SCHEDULE = [3600.0]
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    relay.relay_run()
    assert receiver.received == []
    delivery = Delivery.objects.get()
    assert delivery.last_error.startswith("refused:") and delivery.last_status_code is None


def test_redeliver_sends_the_same_event_id_again(receiver, endpoint_for):
    shop = ShopFactory()
    endpoint_for(shop, receiver.url)
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    relay.relay_run()
    delivery_redeliver(delivery=Delivery.objects.get())
    relay.relay_run()
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_healthy_endpoint_holds_at_most_its_share_of_the_relay(
    make_receiver, endpoint_for, settings
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.0
    settings.WEBHOOK_RETRY_SCHEDULE = [3600.0]
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 2
    hanging, healthy = make_receiver(), make_receiver()
    hanging.mode = "hang"
    slow_shop, other_shop = ShopFactory(), ShopFactory()
    endpoint_for(slow_shop, hanging.url)
    endpoint_for(other_shop, healthy.url)
    for i in range(10):
        event_record(shop_id=slow_shop.pk, type="order.paid", data={"id": i})
    jobs = relay.deliveries_claim(limit=16)
    assert len(jobs) == 2  # the endpoint's share; the rest wait for a free slot
    event_record(shop_id=other_shop.pk, type="order.paid", data={"id": 99})
    assert [j.message.url for j in relay.deliveries_claim(limit=16)] == [healthy.url]


def test_a_failing_endpoint_holds_one_slot_until_it_succeeds(make_receiver, endpoint_for):
    receiver = make_receiver()
    shop = ShopFactory()
    endpoint = endpoint_for(shop, receiver.url)
    for i in range(5):
        event_record(shop_id=shop.pk, type="order.paid", data={"id": i})
    Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=endpoint.created_at)
    assert len(relay.deliveries_claim(limit=16)) == 1
    assert relay.deliveries_claim(limit=16) == []  # its one slot is taken
