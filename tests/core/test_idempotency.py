"""`Idempotency-Key` on POST (core/idempotency.py), through a real endpoint: POST /shops/."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.utils import timezone

import catalog.services
from catalog.models import Shop
from core.models import IdempotencyRecord
from tests.factories import ShopFactory, UserFactory
from tests.helpers import assert_error

URL = "/api/v1/shops/"


def post(client, body, key="key-1"):
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_replay_returns_the_first_answer_and_creates_nothing_twice(client_for, user):
    client = client_for(user)
    first = post(client, {"name": "Once"})
    again = post(client, {"name": "Once"})
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Shop.objects.filter(owner=user).count() == 1


@pytest.mark.django_db
def test_a_first_4xx_is_replayed_too(client_for, user):
    client = client_for(user)
    first = post(client, {"name": "X", "currency": "bad"})
    assert_error(first, 400, "invalid")
    again = post(client, {"name": "X", "currency": "bad"})
    assert (again.status_code, again.content) == (400, first.content)


@pytest.mark.django_db
def test_same_key_with_a_different_body_is_422(client_for, user):
    client = client_for(user)
    post(client, {"name": "First"})
    assert_error(post(client, {"name": "Second"}), 422, "idempotency_key_reused")
    assert list(Shop.objects.values_list("name", flat=True)) == ["First"]


@pytest.mark.django_db
def test_a_claim_still_in_progress_is_409(client_for, user):
    client = client_for(user)
    post(client, {"name": "Slow"})
    IdempotencyRecord.objects.update(status=IdempotencyRecord.Status.IN_PROGRESS)
    assert_error(post(client, {"name": "Slow"}), 409, "request_in_progress")
    assert Shop.objects.count() == 1


@pytest.mark.django_db
def test_another_user_with_the_same_key_is_independent(client_for, user):
    other = UserFactory()
    a = post(client_for(user), {"name": "Mine"})
    b = post(client_for(other), {"name": "Mine"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert Shop.objects.count() == 2


@pytest.mark.django_db
def test_the_same_key_on_another_path_is_independent(client_for, user):
    shop = ShopFactory(owner=user)
    client = client_for(user)
    post(client, {"name": "A"})
    r = client.post(
        f"/api/v1/shops/{shop.pk}/staff/",
        {"username": UserFactory().username},
        format="json",
        HTTP_IDEMPOTENCY_KEY="key-1",
    )
    assert r.status_code == 201


@pytest.mark.django_db
def test_keys_expire_after_24_hours(client_for, user):
    client = client_for(user)
    first = post(client, {"name": "Daily"})
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=24, minutes=1))
    again = post(client, {"name": "Daily"})
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert again.json()["id"] != first.json()["id"]
    assert Shop.objects.count() == 2


@pytest.mark.django_db
def test_a_key_is_kept_just_under_24_hours(client_for, user):
    client = client_for(user)
    first = post(client, {"name": "Daily"})
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=23, minutes=59))
    assert post(client, {"name": "Daily"}).content == first.content
    assert Shop.objects.count() == 1


@pytest.mark.django_db
def test_too_long_key_is_400(client_for, user):
    assert_error(post(client_for(user), {"name": "X"}, key="k" * 256), 400, "invalid")
    assert not Shop.objects.exists()


@pytest.mark.django_db
def test_multipart_upload_is_hashed_with_its_file(client_for, shop):
    """An import retried with the same key replays; a different file with it is 422."""
    client = client_for(shop.owner)
    url = f"/api/v1/shops/{shop.pk}/catalog-import/"
    header = "sku,product_handle,title,price,stock_on_hand\n"

    def upload(text):
        f = SimpleUploadedFile("c.csv", text.encode(), "text/csv")
        return client.post(url, {"file": f}, format="multipart", HTTP_IDEMPOTENCY_KEY="imp")

    first = upload(header + "A,a,A,1.00,1\n")
    assert first.status_code == 200
    assert upload(header + "A,a,A,1.00,1\n").content == first.content
    assert_error(upload(header + "A,a,A,1.00,9\n"), 422, "idempotency_key_reused")
    assert shop.variants.get().stock_on_hand == 1


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_repeat_gets_409_while_the_first_runs(client_for, monkeypatch):
    user = UserFactory()
    release = threading.Event()
    entered = threading.Event()
    real_shop_create = catalog.services.shop_create

    def slow_shop_create(**kwargs):
        entered.set()
        assert release.wait(timeout=30)
        return real_shop_create(**kwargs)

    monkeypatch.setattr(catalog.services, "shop_create", slow_shop_create)
    results = {}

    def first_request():
        try:
            results["first"] = post(client_for(user), {"name": "Race"})
        finally:
            connections.close_all()

    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert entered.wait(timeout=30)  # the first request holds its claim now
        repeat = post(client_for(user), {"name": "Race"})
        assert_error(repeat, 409, "request_in_progress")
    finally:
        release.set()
        thread.join(timeout=30)
    assert results["first"].status_code == 201
    replay = post(client_for(user), {"name": "Race"})
    assert replay.content == results["first"].content
    assert Shop.objects.count() == 1


@pytest.mark.django_db
def test_requests_without_a_key_are_not_recorded(client_for, user):
    client = client_for(user)
    client.post(URL, {"name": "A"}, format="json")
    client.post(URL, {"name": "A"}, format="json")
    assert Shop.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()
