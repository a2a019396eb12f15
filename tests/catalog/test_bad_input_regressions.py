"""Contract gaps the schema fuzzing (tests/contract) found in the catalog API."""

from __future__ import annotations

from typing import Any

import pytest

from catalog.models import ShopStaff
from tests.factories import ShopStaffFactory

pytestmark = pytest.mark.django_db


def test_removing_staff_documents_the_username_parameter(api_client: Any) -> None:
    # DELETE carries no documented body (OpenAPI tools drop DELETE bodies), and the
    # `username` query parameter the view reads was not documented either.
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    delete = schema["paths"]["/api/v1/shops/{shop_id}/staff/"]["delete"]
    assert ("query", "username") in {(p["in"], p["name"]) for p in delete["parameters"]}


def test_removing_staff_by_query_parameter(client_for: Any) -> None:
    member = ShopStaffFactory()
    owner = client_for(member.shop.owner)
    r = owner.delete(f"/api/v1/shops/{member.shop_id}/staff/?username={member.user.username}")
    assert r.status_code == 204
    assert not ShopStaff.objects.filter(pk=member.pk).exists()
