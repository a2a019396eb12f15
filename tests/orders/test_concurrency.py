"""No oversell under real concurrency: threads on the service, and a flash sale of 200
concurrent HTTP buys against a real uvicorn server."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection

from core.errors import ApiError
from orders import services
from orders.models import Hold
from tests.factories import UserFactory, token_for
from tests.orders.helpers import active_held, stock, tap_buy, variant_of
from tests.support.processes import HTTP_SERVERS, run_http_server


@pytest.mark.django_db(transaction=True)
def test_threads_racing_for_the_last_units_hold_exactly_the_stock(live_pin):
    pin = live_pin(stock=5)
    buyers = [UserFactory() for _ in range(12)]
    results: list[str] = []
    barrier = threading.Barrier(len(buyers))

    def tap(buyer: object) -> None:
        try:
            barrier.wait()
            services.hold_create(buyer=buyer, show_id=pin.show_id, product_id=pin.product_id)
            results.append("held")
        except ApiError as exc:
            results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=tap, args=(b,)) for b in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Counter(results) == {"held": 5, "sold_out": 7}
    assert stock(pin.product) == (5, 5)
    assert active_held(variant_of(pin.product).pk) == 5


@pytest.mark.django_db(transaction=True)
def test_one_buyer_tapping_in_parallel_cannot_pass_the_limit(live_pin):
    pin = live_pin(stock=50, limit=2)
    buyer = UserFactory()
    results: list[str] = []
    barrier = threading.Barrier(8)

    def tap() -> None:
        try:
            barrier.wait()
            services.hold_create(buyer=buyer, show_id=pin.show_id, product_id=pin.product_id)
            results.append("held")
        except ApiError as exc:
            results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=tap) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Counter(results) == {"held": 2, "limit_exceeded": 6}
    assert stock(pin.product) == (50, 2)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("server", HTTP_SERVERS)
def test_flash_sale_over_http_holds_exactly_the_stock_then_gives_it_all_back(
    live_pin, clock, server
):
    """200 concurrent buys from 50 users for 25 units through a real server (the ASGI
    one `make run` uses, and production's gunicorn with its connection pool)."""
    units, users, taps_each, limit = 25, 50, 4, 2
    pin = live_pin(stock=units, limit=limit)
    tokens = [token_for(UserFactory()) for _ in range(users)]
    env = {"THROTTLE_BUY_USER": "100000/min", "THROTTLE_BUY_IP": "100000/min"}
    with run_http_server(server, env=env, workers=2) as url:
        limits = httpx.Limits(max_connections=64)
        with httpx.Client(base_url=url, timeout=60, limits=limits) as http:

            def tap(token: str) -> tuple[int, str, int | None]:
                return tap_buy(http, pin, token)

            with ThreadPoolExecutor(max_workers=50) as pool:
                answers = list(pool.map(tap, [t for t in tokens for _ in range(taps_each)]))

            assert not [a for a in answers if a[0] >= 500]
            outcomes = Counter((status, code) for status, code, _ in answers)
            assert outcomes[(201, "held")] == units
            assert set(outcomes) <= {(201, "held"), (409, "sold_out"), (409, "limit_exceeded")}
            variant = variant_of(pin.product)
            assert (variant.stock_on_hand, variant.held, variant.stock_available) == (
                units,
                units,
                0,
            )
            assert active_held(variant.pk) == units
            per_buyer = Counter(Hold.objects.values_list("buyer_id", flat=True))
            assert max(per_buyer.values()) <= limit

            # Give everything back: cancel half over HTTP, let the rest expire.
            held_ids = sorted(hold_id for _, _, hold_id in answers if hold_id is not None)
            by_id = dict(Hold.objects.filter(pk__in=held_ids).values_list("pk", "buyer_id"))
            token_of = dict(zip(_user_ids(tokens), tokens, strict=True))
            for hold_id in held_ids[::2]:
                r = http.post(
                    f"/api/v1/holds/{hold_id}/cancel/",
                    headers={"Authorization": f"Token {token_of[by_id[hold_id]]}"},
                )
                assert r.status_code == 200, r.text
    clock.advance(3600)
    assert services.holds_expire_due() == units - len(held_ids[::2])
    assert services.holds_expire_due() == 0
    variant = variant_of(pin.product)
    assert (variant.stock_on_hand, variant.held) == (units, 0)
    assert set(Hold.objects.values_list("status", flat=True)) == {"cancelled", "expired"}


def _user_ids(tokens: list[str]) -> list[int]:
    from rest_framework.authtoken.models import Token

    user_of = dict(Token.objects.filter(key__in=tokens).values_list("key", "user_id"))
    return [user_of[t] for t in tokens]
