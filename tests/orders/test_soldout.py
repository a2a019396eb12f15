"""The sold-out gate (orders/soldout.py): a known sold-out variant is answered 409
`sold_out` from Redis without PostgreSQL, and never after units came back."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.services import VariantInput, product_create, stock_adjust, stock_adjust_many
from core.errors import ApiError
from core.redis import get_redis, redis_key
from orders import services, soldout
from orders.models import Hold, WaitlistEntry
from streams import services as streams
from tests.factories import UserFactory, token_for
from tests.helpers import assert_error
from tests.orders.helpers import active_held, buy, stock, tap_buy, variant_of
from tests.support.processes import run_http_server


def _buy(pin: Any, buyer: Any = None, **kwargs: Any) -> str:
    """One buy through the service: 'held' or the error code."""
    try:
        services.hold_create(
            buyer=buyer or UserFactory(), show_id=pin.show_id, product_id=pin.product_id, **kwargs
        )
    except ApiError as exc:
        return exc.code
    return "held"


def _known(pin: Any, variant_id: int | None = None, quantity: int = 1) -> bool:
    return soldout.sold_out_known(
        show_id=pin.show_id, product_id=pin.product_id, variant_id=variant_id, quantity=quantity
    )


def _flag_key(pin: Any) -> str:
    return redis_key("soldout", "f", pin.show_id, pin.product_id, "-")


# --------------------------------------------------------------------------- the gate


@pytest.mark.django_db
def test_a_sold_out_answer_is_remembered_and_then_costs_no_sql(live_pin, client_for):
    pin = live_pin(stock=1)
    assert _buy(pin) == "held"
    assert not _known(pin)  # one buy said nothing about sold out
    assert _buy(pin) == "sold_out"  # PostgreSQL said 0 available: remembered
    assert _known(pin)
    client = client_for(UserFactory())
    assert client.get("/api/v1/me/").status_code == 200  # the token, now cached in Redis
    with CaptureQueriesContext(connection) as queries:
        r = buy(client, pin)
    assert_error(r, 409, "sold_out")
    assert r.json()["error"]["message"] == "Sold out: no units left to hold."
    assert len(queries) == 0, [q["sql"] for q in queries]
    assert stock(pin.product) == (1, 1)


@pytest.mark.django_db
def test_a_cancelled_hold_gives_the_unit_to_the_next_buyer(live_pin):
    pin = live_pin(stock=1)
    holder = UserFactory()
    hold = services.hold_create(buyer=holder, show_id=pin.show_id, product_id=pin.product_id).hold
    assert _buy(pin) == "sold_out"
    assert _known(pin)
    services.hold_cancel(buyer=holder, hold_id=hold.pk)
    assert not _known(pin)
    assert _buy(pin) == "held"
    assert stock(pin.product) == (1, 1)


@pytest.mark.django_db
def test_a_hold_past_its_expiry_is_released_by_the_next_buyer_despite_the_flag(live_pin, clock):
    """No sweep ran: the flag knows the earliest expiry and lets the buyer through to
    PostgreSQL, which releases the due hold (SPEC: a hold past expires_at reads expired)."""
    pin = live_pin(stock=1)
    hold = services.hold_create(
        buyer=UserFactory(), show_id=pin.show_id, product_id=pin.product_id
    ).hold
    assert _buy(pin) == "sold_out"
    assert _known(pin)
    clock.advance((hold.expires_at - clock.now()).total_seconds())
    assert not _known(pin)
    assert _buy(pin) == "held"
    assert Hold.objects.get(pk=hold.pk).status == "expired"
    assert active_held(variant_of(pin.product).pk) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["adjustment", "import"])
def test_stock_raised_ends_the_flag(live_pin, how):
    pin = live_pin(stock=0)
    assert _buy(pin) == "sold_out"
    assert _known(pin)
    variant = variant_of(pin.product)
    if how == "adjustment":
        stock_adjust(variant_id=variant.pk, delta=1, reason="found one", actor=None)
    else:
        stock_adjust_many(changes=[(variant.pk, 1)], reason="import", actor=None, kind="import")
    assert not _known(pin)
    assert _buy(pin) == "held"


@pytest.mark.django_db
def test_a_stock_cut_leaves_the_flag(live_pin):
    pin = live_pin(stock=2)
    assert _buy(pin, quantity=2) == "held"
    assert _buy(pin) == "sold_out"
    variant = variant_of(pin.product)
    with pytest.raises(ApiError):
        stock_adjust(variant_id=variant.pk, delta=-1, reason="broken", actor=None)
    assert _known(pin)


@pytest.mark.django_db
def test_a_quantity_over_the_pin_limit_is_still_limit_exceeded(live_pin):
    pin = live_pin(stock=0, limit=2)
    assert _buy(pin) == "sold_out"
    assert _known(pin, quantity=2)
    assert not _known(pin, quantity=3)
    assert _buy(pin, quantity=3) == "limit_exceeded"


@pytest.mark.django_db
def test_a_new_pin_or_no_pin_is_decided_by_postgresql_again(live_pin):
    pin = live_pin(stock=0)
    assert _buy(pin) == "sold_out"
    host = pin.show.shop.owner
    streams.pin_product(
        user=host, show_id=pin.show_id, product_id=pin.product_id, limit_per_buyer=1
    )
    assert not _known(pin)
    assert _buy(pin, quantity=2) == "limit_exceeded"
    assert _buy(pin) == "sold_out"
    streams.pin_clear(user=host, show_id=pin.show_id)
    assert not _known(pin)
    assert _buy(pin) == "not_pinned"


@pytest.mark.django_db
def test_flags_are_per_variant(live_pin):
    pin = live_pin(stock=1)
    product = product_create(
        shop=pin.show.shop,
        title="Tee",
        price="10.00",
        currency=pin.product.currency,
        options=[{"name": "size", "values": ["S", "M"]}],
        variants=[
            VariantInput(sku="SZ-S", options={"size": "S"}, stock_on_hand=0),
            VariantInput(sku="SZ-M", options={"size": "M"}, stock_on_hand=1),
        ],
        actor=pin.show.shop.owner,
    )
    streams.pin_product(user=pin.show.shop.owner, show_id=pin.show_id, product_id=product.pk)
    small, medium = sorted(product.variants.all(), key=lambda v: v.sku, reverse=True)
    sized = type("P", (), {"show_id": pin.show_id, "product_id": product.pk})()
    assert _buy(sized, variant_id=small.pk) == "sold_out"
    assert _known(sized, variant_id=small.pk)
    assert not _known(sized, variant_id=medium.pk)
    assert not _known(sized)
    assert _buy(sized) == "variant_required"
    assert _buy(sized, variant_id=medium.pk) == "held"


@pytest.mark.django_db
def test_a_sold_out_buyer_joins_the_waitlist_and_gets_the_released_unit(client_for, live_pin):
    pin = live_pin(stock=1)
    holder, waiter = UserFactory(), UserFactory()
    hold = services.hold_create(buyer=holder, show_id=pin.show_id, product_id=pin.product_id).hold
    assert _buy(pin, buyer=waiter) == "sold_out"
    r = client_for(waiter).post(
        f"/api/v1/shows/{pin.show_id}/waitlist/", {"product": pin.product_id}, format="json"
    )
    assert r.status_code == 201
    services.hold_cancel(buyer=holder, hold_id=hold.pk)
    assert WaitlistEntry.objects.get(buyer=waiter).status == "offered"
    assert _buy(pin) == "sold_out"  # the unit went to the line, not to a stranger
    assert _known(pin)
    assert stock(pin.product) == (1, 1)


@pytest.mark.django_db
def test_redis_unreachable_fails_open(live_pin, settings):
    pin = live_pin(stock=1)
    assert _buy(pin) == "held"
    assert _buy(pin) == "sold_out"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    get_redis.cache_clear()
    try:
        assert not _known(pin)
        assert _buy(pin) == "sold_out"  # PostgreSQL answers, no 500
    finally:
        get_redis.cache_clear()


# --------------------------------------------------------------------------- the bounds


@pytest.mark.django_db(transaction=True)
def test_a_release_committed_between_the_stock_read_and_the_mark_is_not_lost(live_pin, monkeypatch):
    """The race the generations exist for: a buyer reads 0 available, a cancel commits
    (and bumps) before that buyer's mark lands. Without the check the flag would say
    sold out with a unit free, until its TTL."""
    pin = live_pin(stock=1)
    holder = UserFactory()
    hold = services.hold_create(buyer=holder, show_id=pin.show_id, product_id=pin.product_id).hold
    real_mark = soldout._mark
    injected = []

    def cancel_then_mark(**kwargs: Any) -> None:
        def cancel() -> None:
            try:
                services.hold_cancel(buyer=holder, hold_id=hold.pk)
            finally:
                connection.close()

        t = threading.Thread(target=cancel)  # its own connection: a committed release
        t.start()
        t.join(timeout=60)
        injected.append(True)
        real_mark(**kwargs)

    monkeypatch.setattr(soldout, "_mark", cancel_then_mark)
    assert _buy(pin) == "sold_out"  # what PostgreSQL said when this buyer asked
    monkeypatch.setattr(soldout, "_mark", real_mark)
    assert injected == [True]
    assert Hold.objects.get(pk=hold.pk).status == "cancelled"
    assert not _known(pin)
    assert _buy(pin) == "held"


@pytest.mark.django_db
def test_a_lost_bump_is_bounded_by_the_ttl(live_pin, settings):
    """Units raised behind the gate's back (as if the bump were lost): sold out is said
    for at most SOLDOUT_GATE_TTL_SECONDS."""
    settings.SOLDOUT_GATE_TTL_SECONDS = 0.3
    pin = live_pin(stock=0)
    assert _buy(pin) == "sold_out"
    ttl_ms = get_redis().pttl(_flag_key(pin))
    assert 0 < ttl_ms <= 300
    with connection.cursor() as cursor:  # no stock_back: the bump is "lost"
        cursor.execute(
            "UPDATE catalog_variant SET stock_on_hand = 1 WHERE id = %s",
            [variant_of(pin.product).pk],
        )
    assert _known(pin)  # stale, within the bound
    deadline = time.monotonic() + 30
    while get_redis().exists(_flag_key(pin)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _known(pin)
    assert _buy(pin) == "held"


# --------------------------------------------------------------------------- under load


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_crowd_over_http_then_a_cancel_and_an_expiry_each_reach_the_next_buyer(live_pin, clock):
    """Many buyers for a few units through production's server (gunicorn), the gate
    answering most refusals; then a cancelled hold and an expired one (no sweep) each go
    to the next buyer, not to a stale sold_out."""
    units, buyers = 6, 60
    pin = live_pin(stock=units)
    tokens = [token_for(UserFactory()) for _ in range(buyers + 1)]
    env = {"THROTTLE_BUY_USER": "100000/min", "THROTTLE_BUY_IP": "100000/min"}
    with (
        run_http_server("gunicorn", env=env, workers=2) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):

        def tap(token: str) -> tuple[int, str, int | None]:
            return tap_buy(http, pin, token)

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(tap, tokens[:buyers]))
        outcomes = Counter((s, c) for s, c, _ in answers)
        assert outcomes == {(201, "held"): units, (409, "sold_out"): buyers - units}
        assert _known(pin)

        first = Hold.objects.get(pk=min(h for _, _, h in answers if h is not None))
        r = http.post(
            f"/api/v1/holds/{first.pk}/cancel/",
            headers={"Authorization": f"Token {token_for(first.buyer)}"},
        )
        assert r.status_code == 200, r.text
        assert tap(tokens[buyers])[:2] == (201, "held")
        assert tap(tokens[0])[:2] == (409, "sold_out")  # sold out again: remembered
        assert _known(pin)
    # The holds' expiry passes (the test's clock; nothing swept): the next buyer is let
    # through to PostgreSQL, which releases the due holds and sells.
    clock.advance(24 * 3600)
    assert not _known(pin)
    assert _buy(pin) == "held"
    variant = variant_of(pin.product)
    assert Counter(Hold.objects.values_list("status", flat=True)) == {
        "expired": units,
        "cancelled": 1,
        "active": 1,
    }
    assert (variant.stock_on_hand, variant.held) == (units, 1)
    assert active_held(variant.pk) == 1
