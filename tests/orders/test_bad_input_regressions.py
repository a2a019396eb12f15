"""Contract gaps the schema fuzzing (tests/contract) found in the orders API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.orders.helpers import buy

pytestmark = pytest.mark.django_db


def test_a_hold_without_an_order_matches_its_documented_schema(
    api_client: Any, client_for: Any, live_pin: Any, user: Any
) -> None:
    # The schema said `order` is an integer; a hold without saved defaults answers null.
    hold = buy(client_for(user), live_pin()).json()["hold"]
    assert hold["order"] is None
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    order = schema["components"]["schemas"]["HoldOutput"]["properties"]["order"]
    assert order["type"] == "integer" and order["nullable"] is True
