"""The webhooks REST API: owner only, secrets shown once, bad input is a 4xx that
changes nothing."""

from __future__ import annotations

import pytest

from tests.factories import ShopFactory, ShopStaffFactory, UserFactory
from webhooks.models import Delivery, Endpoint
from webhooks.services import event_record

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hooks"


def _base(shop) -> str:
    return f"/api/v1/shops/{shop.pk}/webhooks/"


def _create(client, shop, **body):
    return client.post(_base(shop), {"url": URL, "events": ["*"], **body}, format="json")


def test_the_owner_creates_an_endpoint_and_sees_its_secret_only_then(client_for, shop):
    owner = client_for(shop.owner)
    r = _create(owner, shop, events=["order.paid", "show.started"])
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["order.paid", "show.started"]
    assert body["active"] is True and body["disabled_reason"] == ""
    listed = owner.get(_base(shop)).json()
    assert [e["id"] for e in listed["results"]] == [body["id"]] and listed["next"] is None
    detail = owner.get(f"{_base(shop)}{body['id']}/").json()
    assert "secret" not in detail and "secret" not in listed["results"][0]
    assert Endpoint.objects.get().secret == body["secret"]


def test_rotation_shows_a_new_secret_and_keeps_the_old_one_for_24_hours(client_for, shop):
    owner = client_for(shop.owner)
    created = _create(owner, shop).json()
    r = owner.post(f"{_base(shop)}{created['id']}/rotate-secret/")
    assert r.status_code == 200, r.content
    assert r.json()["secret"].startswith("whsec_") and r.json()["secret"] != created["secret"]
    endpoint = Endpoint.objects.get()
    assert endpoint.previous_secret == created["secret"]
    assert endpoint.previous_secret_expires_at is not None
    left = (endpoint.previous_secret_expires_at - endpoint.created_at).total_seconds()
    assert 23.9 * 3600 < left < 24.1 * 3600


def test_patch_changes_url_events_and_active(client_for, shop):
    owner = client_for(shop.owner)
    created = _create(owner, shop).json()
    detail = f"{_base(shop)}{created['id']}/"
    r = owner.patch(detail, {"events": ["order.refunded"], "active": False}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["events"] == ["order.refunded"] and r.json()["active"] is False
    assert r.json()["disabled_reason"] == "Disabled by the owner."
    r = owner.patch(detail, {"active": True, "url": "http://127.0.0.1:10/x"}, format="json")
    assert r.json()["active"] is True and r.json()["disabled_reason"] == ""
    assert r.json()["url"] == "http://127.0.0.1:10/x"


def test_delete_removes_the_endpoint_and_its_log(client_for, shop):
    owner = client_for(shop.owner)
    created = _create(owner, shop).json()
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    assert owner.delete(f"{_base(shop)}{created['id']}/").status_code == 204
    assert not Endpoint.objects.exists() and not Delivery.objects.exists()
    assert owner.get(f"{_base(shop)}{created['id']}/").status_code == 404


def test_the_delivery_log_lists_deliveries_and_redeliver_queues_a_new_one(client_for, shop):
    owner = client_for(shop.owner)
    created = _create(owner, shop).json()
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    log = owner.get(f"{_base(shop)}{created['id']}/deliveries/").json()
    (delivery,) = log["results"]
    assert delivery["event"]["type"] == "order.paid" and delivery["status"] == "pending"
    assert delivery["attempts"] == 0 and delivery["attempt_log"] == []
    r = owner.post(f"{_base(shop)}{created['id']}/deliveries/{delivery['id']}/redeliver/")
    assert r.status_code == 201, r.content
    assert r.json()["event"]["id"] == delivery["event"]["id"]
    assert r.json()["redelivery_of"] == delivery["id"]
    assert Delivery.objects.count() == 2


def test_redeliver_to_a_disabled_endpoint_is_refused(client_for, shop):
    owner = client_for(shop.owner)
    created = _create(owner, shop).json()
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    delivery = Delivery.objects.get()
    owner.patch(f"{_base(shop)}{created['id']}/", {"active": False}, format="json")
    r = owner.post(f"{_base(shop)}{created['id']}/deliveries/{delivery.pk}/redeliver/")
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"
    assert Delivery.objects.count() == 1


# --------------------------------------------------------------------------- who may


def _all_routes(shop, endpoint_id: int, delivery_id: int):
    base = f"{_base(shop)}{endpoint_id}/"
    return [
        ("get", _base(shop), None),
        ("post", _base(shop), {"url": URL, "events": ["*"]}),
        ("get", base, None),
        ("patch", base, {"active": False}),
        ("delete", base, None),
        ("post", f"{base}rotate-secret/", None),
        ("get", f"{base}deliveries/", None),
        ("post", f"{base}deliveries/{delivery_id}/redeliver/", None),
    ]


@pytest.mark.parametrize("who,status", [("stranger", 404), ("staff", 403), ("anonymous", 401)])
def test_nobody_but_the_owner_sees_or_manages_a_shops_webhooks(
    client_for, api_client, shop, who, status
):
    endpoint = client_for(shop.owner).post(
        _base(shop), {"url": URL, "events": ["*"]}, format="json"
    )
    endpoint_id = endpoint.json()["id"]
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    delivery = Delivery.objects.get()
    if who == "stranger":  # another shop's owner
        client = client_for(ShopFactory().owner)
    elif who == "staff":
        client = client_for(ShopStaffFactory(shop=shop).user)
    else:
        client = api_client
    before = Endpoint.objects.get()
    for method, path, body in _all_routes(shop, endpoint_id, delivery.pk):
        r = getattr(client, method)(path, body, format="json")
        assert r.status_code == status, (method, path, r.content)
        assert "secret" not in r.content.decode()
    after = Endpoint.objects.get()
    assert (after.secret, after.active, after.events) == (before.secret, True, ["*"])
    assert Endpoint.objects.count() == 1 and Delivery.objects.count() == 1


def test_another_shops_endpoint_is_not_found_through_my_shop(client_for, shop):
    mine = ShopFactory(owner=shop.owner)
    theirs = _create(client_for(shop.owner), shop).json()
    r = client_for(shop.owner).get(f"{_base(mine)}{theirs['id']}/")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_an_unknown_shop_is_not_found(client_for):
    r = client_for(UserFactory()).get("/api/v1/shops/999999/webhooks/")
    assert r.status_code == 404


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "url"),
        ({"url": URL}, "events"),
        ({"url": URL, "events": []}, "events"),
        ({"url": URL, "events": "order.paid"}, "events"),
        ({"url": URL, "events": ["order.shipped"]}, "events"),
        ({"url": URL, "events": ["*", "order.paid"]}, "events"),
        ({"url": URL, "events": [1]}, "events"),
        ({"url": URL, "events": [None]}, "events"),
        ({"url": URL, "events": ["x" * 65]}, "events"),
        ({"url": "ftp://example.com/", "events": ["*"]}, "url"),
        ({"url": "not a url", "events": ["*"]}, "url"),
        ({"url": "http://h/" + "a" * 2001, "events": ["*"]}, "url"),
        ({"url": 5, "events": ["*"]}, "url"),
        ({"url": "https://no-such-host.invalid/", "events": ["*"]}, "url"),
    ],
)
def test_bad_create_input_is_400_invalid_and_creates_nothing(client_for, shop, body, field):
    r = client_for(shop.owner).post(_base(shop), body, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"] == "invalid" and field in r.json()["error"]["details"]
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://10.0.0.8/",
        "http://192.168.0.1/",
        "http://169.254.169.254/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
    ],
)
def test_private_urls_are_refused_unless_allowed(client_for, shop, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    r = client_for(shop.owner).post(_base(shop), {"url": url, "events": ["*"]}, format="json")
    assert r.status_code == 400 and "url" in r.json()["error"]["details"], r.content
    assert not Endpoint.objects.exists()
    settings.WEBHOOK_ALLOW_PRIVATE = True
    created = client_for(shop.owner).post(_base(shop), {"url": URL, "events": ["*"]})
    settings.WEBHOOK_ALLOW_PRIVATE = False
    r = client_for(shop.owner).patch(
        f"{_base(shop)}{created.json()['id']}/", {"url": url}, format="json"
    )
    assert r.status_code == 400 and Endpoint.objects.get().url == URL


@pytest.mark.parametrize(
    "body",
    [
        {"active": "maybe"},
        {"events": []},
        {"events": ["nope"]},
        {"url": "gopher://x/"},
        {"url": ""},
    ],
)
def test_bad_patch_input_is_400_and_changes_nothing(client_for, shop, body):
    owner = client_for(shop.owner)
    created = _create(owner, shop).json()
    r = owner.patch(f"{_base(shop)}{created['id']}/", body, format="json")
    assert r.status_code == 400, r.content
    endpoint = Endpoint.objects.get()
    assert (endpoint.url, endpoint.events, endpoint.active) == (URL, ["*"], True)


@pytest.mark.parametrize("payload", ["[1, 2]", '"text"', "{not json", "null"])
def test_a_body_that_is_not_an_object_is_a_4xx(client_for, shop, payload):
    r = client_for(shop.owner).post(_base(shop), payload, content_type="application/json")
    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"] in ("invalid", "parse_error")


def test_unknown_ids_are_404(client_for, shop):
    owner = client_for(shop.owner)
    created = _create(owner, shop).json()
    base = f"{_base(shop)}{created['id']}/"
    assert owner.get(f"{_base(shop)}999999/").status_code == 404
    assert owner.post(f"{_base(shop)}999999/rotate-secret/").status_code == 404
    assert owner.get(f"{_base(shop)}999999/deliveries/").status_code == 404
    assert owner.post(f"{base}deliveries/999999/redeliver/").status_code == 404


def test_a_shop_has_at_most_twenty_endpoints(client_for, shop):
    owner = client_for(shop.owner)
    for _ in range(20):
        assert _create(owner, shop).status_code == 201
    r = _create(owner, shop)
    assert r.status_code == 409 and Endpoint.objects.count() == 20
