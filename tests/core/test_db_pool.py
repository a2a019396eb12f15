"""The connection pool (DB_POOL_MAX_SIZE): a request that finds every pooled connection
taken is answered 503 `service_unavailable` after DB_POOL_TIMEOUT_SECONDS, not left to
hang, and the pool serves again as soon as a connection comes back."""

from __future__ import annotations

import threading

import httpx
import psycopg
import pytest
from django.utils import timezone

from catalog.models import Variant
from tests.factories import PinFactory, ProductFactory, ShowFactory, UserFactory, token_for
from tests.support.processes import _database_url, run_gunicorn_process


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_pool_exhaustion_answers_503_service_unavailable_then_recovers() -> None:
    show = ShowFactory(status="live", started_at=timezone.now())
    product = ProductFactory(shop=show.shop, stock=10)
    PinFactory(show=show, product=product)
    variant = Variant.objects.get(product=product)
    token = token_for(UserFactory())
    auth = {"Authorization": f"Token {token}"}
    env = {
        "DB_POOL_MAX_SIZE": "1",
        "DB_POOL_MIN_SIZE": "1",
        "DB_POOL_TIMEOUT_SECONDS": "1",
        "LIVE_EVENTS_RELAY": "0",  # the buy's events must not take the one connection
    }

    with (
        run_gunicorn_process(env=env, workers=1, threads=4) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
        # Another client holds the variant's row lock: a buy reaching the stock gate waits
        # there, keeping the pool's only connection.
        psycopg.connect(_database_url()) as locker,
    ):
        assert http.get("/api/v1/holds/", headers=auth).status_code == 200  # the pool works
        locker.execute("SELECT 1 FROM catalog_variant WHERE id = %s FOR UPDATE", [variant.pk])
        buy: dict[str, httpx.Response] = {}

        def tap() -> None:
            buy["answer"] = http.post(
                f"/api/v1/shows/{show.pk}/buy/", json={"product": product.pk}, headers=auth
            )

        buyer = threading.Thread(target=tap)
        buyer.start()
        # Wait until the buy is parked on the lock (its hold's foreign key or the gate): it
        # holds the pool's connection.
        with psycopg.connect(_database_url(), autocommit=True) as watcher:
            for _ in range(600):
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                ).fetchone()
                if waiting and waiting[0]:
                    break
                threading.Event().wait(0.1)
            else:
                pytest.fail("the buy never reached the stock gate")

        busy = http.get("/api/v1/holds/", headers=auth)
        assert busy.status_code == 503, busy.text
        assert busy.json()["error"]["code"] == "service_unavailable"
        assert busy.headers["Retry-After"] == "1"

        locker.rollback()  # release the row: the parked buy completes
        buyer.join(timeout=60)
        assert buy["answer"].status_code == 201, buy["answer"].text
        after = http.get("/api/v1/holds/", headers=auth)
        assert after.status_code == 200
        assert [h["id"] for h in after.json()["results"]] == [buy["answer"].json()["hold"]["id"]]
