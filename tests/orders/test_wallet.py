"""Saved payment methods and addresses (/api/v1/me/payment-methods/, /me/addresses/)."""

from __future__ import annotations

import pytest

from orders.models import Address, PaymentMethod
from tests.factories import UserFactory
from tests.helpers import assert_error
from tests.orders.helpers import ADDRESS

pytestmark = pytest.mark.django_db

PM = "/api/v1/me/payment-methods/"
AD = "/api/v1/me/addresses/"


def test_save_a_sandbox_token_first_becomes_default(client_for, user):
    client = client_for(user)
    r = client.post(PM, {"token": "sandbox_ok"}, format="json")
    assert r.status_code == 201
    body = r.json()
    assert (body["brand"], body["last4"], body["is_default"]) == ("sandbox", "4242", True)
    second = client.post(PM, {"token": "sandbox_declined"}, format="json").json()
    assert second["is_default"] is False
    listed = client.get(PM).json()["results"]
    assert sorted((m["id"], m["is_default"]) for m in listed) == [
        (body["id"], True),
        (second["id"], False),
    ]
    assert "token" not in body


def test_saving_with_is_default_moves_the_default(client_for, user):
    client = client_for(user)
    first = client.post(PM, {"token": "sandbox_ok"}, format="json").json()
    second = client.post(PM, {"token": "sandbox_slow", "is_default": True}, format="json").json()
    assert second["is_default"] is True
    assert PaymentMethod.objects.get(pk=first["id"]).is_default is False


def test_unknown_token_is_invalid(client_for, user):
    err = assert_error(
        client_for(user).post(PM, {"token": "4111111111111111"}, format="json"), 400, "invalid"
    )
    assert "token" in err["details"]
    assert not PaymentMethod.objects.exists()


def test_delete_the_default_promotes_the_newest_other(client_for, user):
    client = client_for(user)
    first = client.post(PM, {"token": "sandbox_ok"}, format="json").json()
    second = client.post(PM, {"token": "sandbox_slow"}, format="json").json()
    assert client.delete(f"{PM}{first['id']}/").status_code == 204
    assert PaymentMethod.objects.get(pk=second["id"]).is_default is True


def test_another_users_payment_method_is_not_found(client_for, user):
    theirs = client_for(UserFactory()).post(PM, {"token": "sandbox_ok"}, format="json").json()
    client = client_for(user)
    assert_error(client.delete(f"{PM}{theirs['id']}/"), 404, "not_found")
    assert client.get(PM).json()["results"] == []
    assert PaymentMethod.objects.filter(pk=theirs["id"]).exists()


def test_save_an_address_first_becomes_default(client_for, user):
    client = client_for(user)
    r = client.post(AD, {**ADDRESS, "country": "us"}, format="json")
    assert r.status_code == 201
    body = r.json()
    assert body["is_default"] is True
    assert body["country"] == "US"
    assert {k: body[k] for k in ("name", "line1", "city", "postal_code")} == {
        k: ADDRESS[k] for k in ("name", "line1", "city", "postal_code")
    }
    second = client.post(AD, {**ADDRESS, "is_default": True}, format="json").json()
    assert second["is_default"] is True
    assert Address.objects.get(pk=body["id"]).is_default is False


def test_address_with_missing_fields_is_invalid(client_for, user):
    err = assert_error(client_for(user).post(AD, {"name": "x"}, format="json"), 400, "invalid")
    assert {"line1", "city", "postal_code", "country"} <= set(err["details"])
    assert not Address.objects.exists()


def test_address_read_only_and_unknown_fields_are_ignored(client_for, user):
    body = (
        client_for(user)
        .post(AD, {**ADDRESS, "id": 999, "user": 1, "evil": "x"}, format="json")
        .json()
    )
    assert body["id"] != 999
    assert Address.objects.get(pk=body["id"]).user == user


def test_another_users_address_is_not_found(client_for, user):
    theirs = client_for(UserFactory()).post(AD, ADDRESS, format="json").json()
    client = client_for(user)
    assert_error(client.delete(f"{AD}{theirs['id']}/"), 404, "not_found")
    assert client.get(AD).json()["results"] == []
    assert Address.objects.filter(pk=theirs["id"]).exists()


def test_delete_an_address(client_for, user):
    client = client_for(user)
    a = client.post(AD, ADDRESS, format="json").json()
    assert client.delete(f"{AD}{a['id']}/").status_code == 204
    assert not Address.objects.exists()


def test_wallet_needs_an_account(api_client):
    assert_error(api_client.get(PM), 401, "not_authenticated")
    assert_error(api_client.post(AD, ADDRESS, format="json"), 401, "not_authenticated")
