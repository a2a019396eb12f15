"""While Redis is down, REST requests degrade instead of failing with a 500
(docs/operations.md, "Redis outage"). The app is pointed at a private redis-server of the
test's own, which is really stopped (connections are refused), then started again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone

from core.redis import get_redis
from orders.models import Hold
from streams import fanout
from streams.models import ChatMessage
from streams.services import chat_send
from tests.factories import PinFactory, ProductFactory, ShowFactory, UserFactory
from tests.helpers import assert_error
from tests.orders.helpers import buy, stock
from tests.support.processes import PrivateRedis

PASSWORD = "pw-Secret-123"  # the factories' test password


def _forget_clients() -> None:
    get_redis.cache_clear()
    fanout._append_publish_script.cache_clear()


@pytest.fixture
def app_redis(private_redis: PrivateRedis, settings: Any) -> Iterator[PrivateRedis]:
    """The app's cache, throttles and Redis clients all use `private_redis`."""
    settings.REDIS_URL = private_redis.url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": private_redis.url,
            "KEY_PREFIX": "lc",
        }
    }
    _forget_clients()
    yield private_redis
    _forget_clients()


@pytest.fixture
def live_pin(db: Any) -> Callable[[int], Any]:
    def make(stock: int) -> Any:
        show = ShowFactory(status="live", started_at=timezone.now())
        return PinFactory(show=show, product=ProductFactory(shop=show.shop, stock=stock))

    return make


def _sign_in(client: Any, username: str, password: str) -> Any:
    return client.post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )


@pytest.mark.django_db(transaction=True)
def test_buy_while_redis_is_down_holds_in_postgres_and_never_oversells(
    app_redis, live_pin, client_for
):
    pin = live_pin(2)
    first, second, late = UserFactory(), UserFactory(), UserFactory()
    app_redis.stop()

    r1 = buy(client_for(first), pin, quantity=1)
    r2 = buy(client_for(second), pin, key="k-second", quantity=1)
    r3 = buy(client_for(late), pin, quantity=1)

    assert r1.status_code == 201, r1.content
    assert r2.status_code == 201, r2.content
    assert_error(r3, 409, "sold_out")
    assert list(Hold.objects.filter(buyer=first).values_list("pk", flat=True)) == [
        r1.json()["hold"]["id"]
    ]
    assert not Hold.objects.filter(buyer=late).exists()
    assert stock(pin.product) == (2, 2)
    # The idempotency record lives in PostgreSQL: a retry replays, it does not buy again.
    again = buy(client_for(second), pin, key="k-second", quantity=1)
    assert again.status_code == 201
    assert again.json()["hold"]["id"] == r2.json()["hold"]["id"]
    assert Hold.objects.filter(buyer=second).count() == 1


def _username_rate(settings: Any, rate: str) -> None:
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth_username": rate}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def test_sign_in_while_redis_is_down_is_not_throttled(app_redis, db, api_client, settings):
    _username_rate(settings, "1/min")
    user = UserFactory()
    app_redis.stop()

    wrong = _sign_in(api_client, user.username, "wrong-password")
    right = _sign_in(api_client, user.username, PASSWORD)

    assert_error(wrong, 401, "not_authenticated")
    assert right.status_code == 200, right.content
    assert right.json()["token"]


def test_sign_in_is_throttled_again_once_redis_is_back(app_redis, db, api_client, settings):
    _username_rate(settings, "1/min")
    user = UserFactory()
    app_redis.stop()
    assert _sign_in(api_client, user.username, PASSWORD).status_code == 200
    app_redis.start()

    assert _sign_in(api_client, user.username, PASSWORD).status_code == 200
    assert_error(_sign_in(api_client, user.username, PASSWORD), 429, "throttled")


def test_ws_ticket_while_redis_is_down_is_service_unavailable(app_redis, db, client_for):
    show = ShowFactory(status="live", started_at=timezone.now())
    app_redis.stop()

    r = client_for(UserFactory()).post(f"/api/v1/shows/{show.pk}/ws-ticket/")

    assert_error(r, 503, "service_unavailable")
    assert r["Retry-After"]


def test_chat_while_redis_is_down_skips_slow_mode_and_the_rate_limit(app_redis, db, settings):
    show = ShowFactory(status="live", started_at=timezone.now(), slow_mode_s=30)
    viewer = UserFactory()
    app_redis.stop()

    for i in range(settings.CHAT_RATE_MESSAGES + 2):
        chat_send(show_id=show.pk, user=viewer, text=f"message {i}")

    assert (
        ChatMessage.objects.filter(show=show, user=viewer).count()
        == settings.CHAT_RATE_MESSAGES + 2
    )
