"""One rule for every path that creates a hold (orders/terms.py): the per-buyer limit
holds on a direct buy, a replay purchase and a waitlist offer; an offer is priced when
it is made; a buy reads the pin's price and limit inside its own transaction."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from orders import services
from orders.models import Hold, WaitlistEntry
from orders.tasks import holds_expire_due
from streams import services as streams_services
from tests.factories import PinFactory, ProductFactory, ShowFactory, UserFactory
from tests.helpers import assert_error
from tests.orders.helpers import buy, stock, variant_of

pytestmark = pytest.mark.django_db

SIZES = [{"name": "size", "values": ["S", "M"]}]


def join(client: Any, pin: Any, variant: int | None = None) -> Any:
    body: dict[str, Any] = {"product": pin.product_id}
    if variant is not None:
        body["variant"] = variant
    return client.post(f"/api/v1/shows/{pin.show_id}/waitlist/", body, format="json")


def restock(client: Any, product_id: int, variant_id: int, delta: int = 1) -> None:
    r = client.post(
        f"/api/v1/products/{product_id}/stock-adjustments/",
        {"delta": delta, "reason": "A box came back", "variant": variant_id},
        format="json",
    )
    assert r.status_code == 201, r.content


def repin(client: Any, pin: Any, **body: Any) -> None:
    r = client.post(
        f"/api/v1/shows/{pin.show_id}/pins/", {"product": pin.product_id, **body}, format="json"
    )
    assert r.status_code == 201, r.content


def end_show(client: Any, pin: Any) -> None:
    assert client.post(f"/api/v1/shows/{pin.show_id}/end/").status_code == 200


def live_pin_with_sizes(*, limit: int | None = None, price: str | None = None) -> Any:
    show = ShowFactory(status="live", started_at=timezone.now())
    product = ProductFactory(
        shop=show.shop,
        options=SIZES,
        variants=[
            {"sku": f"T{show.pk}-S", "options": {"size": "S"}, "stock_on_hand": 0},
            {"sku": f"T{show.pk}-M", "options": {"size": "M"}, "stock_on_hand": 0},
        ],
    )
    return PinFactory(
        show=show,
        product=product,
        limit_per_buyer=limit,
        price=Decimal(price) if price is not None else None,
    )


def active_units(buyer: Any) -> int:
    return sum(Hold.objects.filter(buyer=buyer, status="active").values_list("quantity", flat=True))


# --------------------------------------------------------------------------- the limit


def test_a_buyer_waiting_for_two_variants_is_offered_only_up_to_the_limit(client_for):
    pin = live_pin_with_sizes(limit=1)
    small, medium = pin.product.variants.order_by("position")
    buyer = UserFactory()
    for v in (small, medium):
        assert join(client_for(buyer), pin, variant=v.pk).status_code == 201
    host = client_for(pin.show.shop.owner)
    restock(host, pin.product_id, small.pk)
    restock(host, pin.product_id, medium.pk)

    holds_expire_due()

    assert active_units(buyer) == 1
    statuses = sorted(WaitlistEntry.objects.filter(buyer=buyer).values_list("status", flat=True))
    assert statuses == ["at_limit", "offered"]
    small.refresh_from_db()
    medium.refresh_from_db()
    assert small.held + medium.held == 1  # the passed-over unit is back on sale


def test_a_buyer_who_bought_after_a_restock_is_passed_over_for_the_next_in_line(client_for):
    pin = PinFactory(show=ShowFactory(status="live", started_at=timezone.now()), limit_per_buyer=1)
    product = pin.product
    variant = variant_of(product)
    host = client_for(pin.show.shop.owner)
    restock(host, product.pk, variant.pk, delta=-variant.stock_on_hand)
    first, second = UserFactory(), UserFactory()
    assert join(client_for(first), pin).status_code == 201
    assert join(client_for(second), pin).status_code == 201
    restock(host, product.pk, variant.pk, delta=2)
    assert buy(client_for(first), pin).status_code == 201  # before the sweep offers it

    holds_expire_due()

    assert active_units(first) == 1
    assert WaitlistEntry.objects.get(buyer=first).status == "at_limit"
    offer = WaitlistEntry.objects.get(buyer=second).hold
    assert offer is not None and offer.status == "active"
    assert stock(product) == (2, 2)


def _bought_live_then_replay(client_for: Any, live_pin: Any, stock: int) -> tuple[Any, Any]:
    """A buyer took the whole limit (1) live; then the show ended."""
    pin = live_pin(stock=stock, limit=1)
    buyer = client_for(UserFactory())
    assert buy(buyer, pin).status_code == 201
    end_show(client_for(pin.show.shop.owner), pin)
    return pin, buyer


def test_the_pin_limit_follows_the_product_into_the_replay(client_for, live_pin):
    pin, buyer = _bought_live_then_replay(client_for, live_pin, stock=5)
    assert_error(buy(buyer, pin), 409, "limit_exceeded")
    assert stock(pin.product) == (5, 1)


def test_a_replay_buyer_at_the_limit_cannot_join_the_waitlist(client_for, live_pin):
    pin, buyer = _bought_live_then_replay(client_for, live_pin, stock=1)
    assert_error(join(buyer, pin), 409, "limit_exceeded")


# --------------------------------------------------------------------------- offer price


def _flash_waiter(client_for: Any, live_pin: Any) -> tuple[Any, Any, Any]:
    """A buyer who joined the waitlist during a 0.01 flash pin of a sold-out product."""
    pin = live_pin(stock=0, price="0.01")
    buyer = UserFactory()
    assert join(client_for(buyer), pin).json()["status"] == "waiting"
    return pin, buyer, client_for(pin.show.shop.owner)


def test_an_offer_after_a_repin_is_priced_at_the_new_pin(client_for, live_pin):
    pin, buyer, host = _flash_waiter(client_for, live_pin)
    repin(host, pin, price="99.00")
    restock(host, pin.product_id, variant_of(pin.product).pk)

    holds_expire_due()

    offer = WaitlistEntry.objects.get(buyer=buyer).hold
    assert offer is not None and offer.unit_price == Decimal("99.00")


def test_an_offer_after_the_show_ended_is_priced_at_list_price(client_for, live_pin):
    pin, buyer, host = _flash_waiter(client_for, live_pin)
    repin(host, pin, price="99.00")
    end_show(host, pin)
    restock(host, pin.product_id, variant_of(pin.product).pk)

    holds_expire_due()

    offer = WaitlistEntry.objects.get(buyer=buyer).hold
    assert offer is not None
    assert offer.unit_price == variant_of(pin.product).effective_price == Decimal("19.99")
    r = client_for(buyer).get(f"/api/v1/holds/{offer.pk}/")
    assert r.json()["unit_price"] == "19.99"


# --------------------------------------------------------------------------- read in the txn


@pytest.fixture
def after_offer_resolved(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`after_offer_resolved(fn)`: run `fn` once, right after the buy has checked the
    request (show, pin, variant) and before its transaction: a competing write landing
    mid-buy (after Saleor's `race_condition` helper)."""

    def install(fn: Any) -> None:
        from orders.services import buy

        original = buy.resolve_offer

        def racing(**kwargs: Any) -> Any:
            offer = original(**kwargs)
            fn()
            return offer

        monkeypatch.setattr(buy, "resolve_offer", racing)

    return install


def test_a_buy_racing_a_repin_pays_the_new_price(client_for, live_pin, after_offer_resolved):
    pin = live_pin(stock=5, price="0.01")
    host = pin.show.shop.owner
    after_offer_resolved(
        lambda: streams_services.pin_product(
            user=host, show_id=pin.show_id, product_id=pin.product_id, price=Decimal("99.00")
        )
    )
    r = buy(client_for(UserFactory()), pin)
    assert r.status_code == 201, r.content
    assert r.json()["hold"]["unit_price"] == "99.00"


def test_a_buy_racing_a_repin_with_a_limit_gets_the_new_limit(
    client_for, live_pin, after_offer_resolved
):
    pin = live_pin(stock=5)
    buyer = client_for(UserFactory())
    assert buy(buyer, pin).status_code == 201
    host = pin.show.shop.owner
    after_offer_resolved(
        lambda: streams_services.pin_product(
            user=host, show_id=pin.show_id, product_id=pin.product_id, limit_per_buyer=1
        )
    )
    assert_error(buy(buyer, pin), 409, "limit_exceeded")
    assert stock(pin.product) == (5, 1)


def test_a_buy_racing_a_repin_to_another_product_is_not_pinned(
    client_for, live_pin, after_offer_resolved
):
    pin = live_pin(stock=5)
    other = ProductFactory(shop=pin.show.shop)
    host = pin.show.shop.owner
    after_offer_resolved(
        lambda: streams_services.pin_product(user=host, show_id=pin.show_id, product_id=other.pk)
    )
    assert_error(buy(client_for(UserFactory()), pin), 409, "not_pinned")
    assert stock(pin.product) == (5, 0)


def test_a_buy_racing_the_show_end_pays_the_replay_price(
    client_for, live_pin, after_offer_resolved
):
    pin = live_pin(stock=5, price="0.01")
    host = pin.show.shop.owner
    after_offer_resolved(lambda: streams_services.show_end(user=host, show_id=pin.show_id))
    r = buy(client_for(UserFactory()), pin)
    assert r.status_code == 201, r.content
    assert r.json()["hold"]["unit_price"] == "19.99"


@contextlib.contextmanager
def purchase_in_progress(user: Any) -> Iterator[None]:
    """Another database session in the middle of a purchase by `user`: it holds the buyer
    row lock that every limited hold-creating transaction takes first."""
    import psycopg

    other = psycopg.connect(**connection.get_connection_params())
    try:
        other.execute("SELECT 1 FROM auth_user WHERE id = %s FOR NO KEY UPDATE", [user.pk])
        yield
    finally:
        other.close()  # rolls back, releasing the lock


@pytest.mark.django_db(transaction=True)
def test_an_offer_never_waits_for_a_buyer_mid_purchase_who_keeps_their_place(client_for, live_pin):
    pin = live_pin(stock=1, limit=1)
    holder = client_for(UserFactory())
    hold = buy(holder, pin).json()["hold"]
    busy, after = UserFactory(), UserFactory()
    for u in (busy, after):
        assert join(client_for(u), pin).status_code == 201

    with purchase_in_progress(busy):
        assert holder.post(f"/api/v1/holds/{hold['id']}/cancel/").status_code == 200

    assert WaitlistEntry.objects.get(buyer=busy).status == "waiting"
    assert WaitlistEntry.objects.get(buyer=after).status == "offered"
    assert stock(pin.product) == (1, 1)


def _backends_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_a_repin_waits_for_a_buy_that_read_the_rule_until_it_commits(
    live_pin, monkeypatch: pytest.MonkeyPatch
):
    """Real concurrency: a buy has read the price in its transaction (show row locked)
    when the host re-pins at 99.00. The re-pin waits for the buy's commit, so the buy's
    0.01 was the rule in force when it committed, and the new price applies after."""
    pin = live_pin(stock=5, price="0.01")
    host, buyer = pin.show.shop.owner, UserFactory()
    rule_read, go_on = threading.Event(), threading.Event()
    from orders.services import buy

    original = buy.buyer_limit_check

    def pausing(**kwargs: Any) -> None:
        rule_read.set()
        go_on.wait(60)
        original(**kwargs)

    monkeypatch.setattr(buy, "buyer_limit_check", pausing)
    outcome: dict[str, Any] = {}

    def run(name: str, fn: Any) -> None:
        try:
            outcome[name] = fn()
        finally:
            connection.close()

    buying = threading.Thread(
        target=run,
        args=(
            "buy",
            lambda: services.hold_create(
                buyer=buyer, show_id=pin.show_id, product_id=pin.product_id
            ),
        ),
    )
    repinning = threading.Thread(
        target=run,
        args=(
            "pin",
            lambda: streams_services.pin_product(
                user=host, show_id=pin.show_id, product_id=pin.product_id, price=Decimal("99.00")
            ),
        ),
    )
    buying.start()
    assert rule_read.wait(60)
    repinning.start()
    try:
        deadline = time.monotonic() + 60
        while (
            _backends_waiting_for_a_lock() == 0
            and repinning.is_alive()
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert repinning.is_alive(), "the re-pin did not wait for the buy's transaction"
    finally:
        go_on.set()
        buying.join(60)
        repinning.join(60)
    assert outcome["buy"].hold.unit_price == Decimal("0.01")
    assert outcome["pin"].price == Decimal("99.00")
    assert outcome["pin"].pinned_at >= outcome["buy"].hold.created_at
