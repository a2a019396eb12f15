"""How many SQL statements one buy costs (docs/benchmarks.md, "Flash sale").

The buy path is the flash sale's hot path: every statement is a round trip each buyer of a
crowd waits for in turn. These budgets fail when a change adds a statement to it; lower
them when a change removes one. Counted: the request as the view runs it, token auth
included; transaction control (BEGIN/SAVEPOINT/COMMIT) and the after-commit events are
not counted (the test's transaction never commits).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.orders.helpers import buy

pytestmark = pytest.mark.django_db

# Token auth; the pin with its show, product and auction and the product's variants (and
# their stock, the unlocked pre-check), in one statement; the default payment method and
# address, in one; the open parcel with the shop's fee table; the hold INSERT; the gate UPDATE.
# In the transaction, the rule in force is read again under the show's row lock (the show
# lock, the current pin: issue 9, a buy racing a re-pin or the show's end gets the current
# price and limit; orders/terms.py). (Before the one-statement offer read: 9; before the
# flash-sale work: 12; before issue 9: 7.)
PLAIN_BUY = 8
# Plus the buyer row lock and the units already taken, for a pin with a per-buyer limit.
# (Before the one-statement offer read: 11; before: 14; before issue 9: 9.)
LIMITED_BUY = 10
# One-tap: the order, the parcel (opened here: its lock, its
# shop's currency, its INSERT), the fee table, the parcel UPDATE, the hold's order UPDATE;
# no quote; the webhook outbox's `order.created` (one statement, rows only for a shop with
# a subscribed endpoint). (Before the one-statement reads: 17; before issue 9: 14; before
# webhooks: 16.)
ONE_TAP_BUY = 15


def _statements(client: Any, pin: Any) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        r = buy(client, pin)
    assert r.status_code == 201, r.content
    return [
        q["sql"]
        for q in ctx.captured_queries
        if not q["sql"].lstrip().upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def test_buy_runs_at_most_its_statement_budget(client_for, user, live_pin):  # type: ignore[no-untyped-def]
    statements = _statements(client_for(user), live_pin(stock=5))
    assert len(statements) <= PLAIN_BUY, "\n".join(statements)


def test_buy_under_a_per_buyer_limit_runs_at_most_its_statement_budget(  # type: ignore[no-untyped-def]
    client_for, user, live_pin
):
    statements = _statements(client_for(user), live_pin(stock=5, limit=2))
    assert len(statements) <= LIMITED_BUY, "\n".join(statements)


def test_one_tap_buy_runs_at_most_its_statement_budget(  # type: ignore[no-untyped-def]
    client_for, user, live_pin, one_tap
):
    one_tap(user)
    statements = _statements(client_for(user), live_pin(stock=5))
    assert len(statements) <= ONE_TAP_BUY, "\n".join(statements)


def test_buy_reads_the_stock_from_the_offer_not_a_separate_query(  # type: ignore[no-untyped-def]
    client_for, user, live_pin
):
    statements = _statements(client_for(user), live_pin(stock=5))
    assert not [s for s in statements if s.startswith("SELECT stock_on_hand - held")]
