"""Hypothesis state machine over the checkout services: whatever buyers, payments, the
clock and the seller do, in any order,

- ``0 <= held <= on_hand`` and ``held == sum(quantity of active holds)``;
- on hand == initial + restocks + restocked returns - units sold (ledger agrees);
- every hold ends exactly once: once ended its status and end time never change;
- at most one successful capture per order, and a sale only for a paid order.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from catalog.models import StockAdjustment, Variant
from catalog.services import stock_adjust
from core.errors import ApiError
from orders import clock, services
from orders.models import Hold, Order, PaymentAttempt, SandboxCharge
from tests.factories import UserFactory
from tests.orders.helpers import ADDRESS

TOKENS = ["sandbox_ok", "sandbox_ok", "sandbox_declined", "sandbox_error"]
INITIAL = 6


class Checkout(RuleBasedStateMachine):
    holds = Bundle("holds")
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        from django.utils import timezone

        from tests.factories import PinFactory, ProductFactory, ShowFactory

        clock.freeze()
        show = ShowFactory(status="live", started_at=timezone.now())
        self.pin = PinFactory(
            show=show, product=ProductFactory(shop=show.shop, stock=INITIAL), limit_per_buyer=4
        )
        self.variant_id = Variant.objects.get(product=self.pin.product).pk
        self.owner = show.shop.owner
        self.buyers = [UserFactory() for _ in range(3)]
        self.restocked = 0
        self.ended: dict[int, tuple[str, Any]] = {}

    def teardown(self) -> None:
        clock.reset()

    # ----------------------------------------------------------------- buyers

    def _buy(self, buyer: int, quantity: int) -> Hold | None:
        try:
            return services.hold_create(
                buyer=self.buyers[buyer],
                show_id=self.pin.show_id,
                product_id=self.pin.product_id,
                quantity=quantity,
            ).hold
        except ApiError as exc:
            assert exc.code in {"sold_out", "limit_exceeded"}, exc.code
            return None

    def _checkout(self, hold_id: int, token: str) -> Order | None:
        hold = Hold.objects.get(pk=hold_id)
        try:
            return services.hold_checkout(
                buyer=hold.buyer, hold_id=hold_id, payment_method=token, address=ADDRESS
            )
        except ApiError as exc:
            assert exc.code == "invalid_state", exc.code
            return None

    @rule(target=holds, buyer=st.integers(0, 2), quantity=st.integers(1, 3))
    def buy(self, buyer: int, quantity: int) -> Any:
        hold = self._buy(buyer, quantity)
        return multiple() if hold is None else hold.pk

    @rule(target=orders, hold_id=holds, token=st.sampled_from(TOKENS))
    def checkout(self, hold_id: int, token: str) -> Any:
        order = self._checkout(hold_id, token)
        return multiple() if order is None else order.pk

    @rule(
        target=orders,
        buyer=st.integers(0, 2),
        quantity=st.integers(1, 2),
        token=st.sampled_from(TOKENS),
    )
    def buy_and_checkout(self, buyer: int, quantity: int, token: str) -> Any:
        hold = self._buy(buyer, quantity)
        order = self._checkout(hold.pk, token) if hold is not None else None
        return multiple() if order is None else order.pk

    @rule(hold_id=holds)
    def cancel_hold(self, hold_id: int) -> None:
        hold = Hold.objects.get(pk=hold_id)
        try:
            services.hold_cancel(buyer=hold.buyer, hold_id=hold_id)
        except ApiError as exc:
            assert exc.code == "invalid_state", exc.code

    @rule(order_id=orders)
    def capture(self, order_id: int) -> None:
        services.order_capture_payment(order_id=order_id)

    @rule()
    def worker_drains_the_queue(self) -> None:
        pending = Order.objects.filter(variant_id=self.variant_id, status="pending_payment")
        for order_id in pending.values_list("pk", flat=True):
            services.order_capture_payment(order_id=order_id)

    @rule(order_id=consumes(orders))
    def buyer_cancels(self, order_id: int) -> None:
        order = Order.objects.get(pk=order_id)
        try:
            services.order_cancel(buyer=order.buyer, order_id=order_id)
        except ApiError as exc:
            assert exc.code == "invalid_state", exc.code

    # ----------------------------------------------------------------- seller, time

    @rule(order_id=consumes(orders), restock=st.booleans())
    def seller_refunds(self, order_id: int, restock: bool) -> None:
        try:
            services.order_refund(
                actor=self.owner, order_id=order_id, reason="test", restock=restock
            )
        except ApiError as exc:
            assert exc.code == "invalid_state", exc.code

    @rule(delta=st.integers(1, 3))
    def restock(self, delta: int) -> None:
        stock_adjust(
            variant_id=self.variant_id,
            delta=delta,
            reason="restock",
            actor=self.owner,
            kind="restock",
        )
        self.restocked += delta

    @precondition(lambda self: Variant.objects.get(pk=self.variant_id).stock_available == 0)
    @rule(buyer=st.integers(0, 2))
    def join_waitlist(self, buyer: int) -> None:
        try:
            services.waitlist_join(
                buyer=self.buyers[buyer], show_id=self.pin.show_id, product_id=self.pin.product_id
            )
        except ApiError as exc:
            assert exc.code == "limit_exceeded", exc.code

    @rule(seconds=st.sampled_from([30, 61, 301]))
    def time_passes(self, seconds: int) -> None:
        clock.advance(seconds)

    @rule()
    def sweep(self) -> None:
        services.holds_expire_due()
        services.waitlist_offer_due()

    # ----------------------------------------------------------------- invariants

    @invariant()
    def no_oversell_and_held_matches_active_holds(self) -> None:
        v = Variant.objects.get(pk=self.variant_id)
        assert 0 <= v.held <= v.stock_on_hand
        assert v.held == sum(
            Hold.objects.filter(variant_id=v.pk, status="active").values_list("quantity", flat=True)
        )

    @invariant()
    def on_hand_is_initial_plus_restocks_minus_sales(self) -> None:
        v = Variant.objects.get(pk=self.variant_id)
        ledger = StockAdjustment.objects.filter(variant_id=v.pk)
        sold = sum(-d for d in ledger.filter(kind="sale").values_list("delta", flat=True))
        returned = sum(ledger.filter(kind="restock").values_list("delta", flat=True))
        assert v.stock_on_hand == INITIAL + returned - sold
        converted = Hold.objects.filter(variant_id=v.pk, status="converted")
        assert sold == sum(converted.values_list("quantity", flat=True))
        assert returned == self.restocked + sum(
            Order.objects.filter(variant_id=v.pk, restocked_at__isnull=False).values_list(
                "quantity", flat=True
            )
        )

    @invariant()
    def every_hold_ends_exactly_once(self) -> None:
        for pk, status, ended_at in Hold.objects.filter(variant_id=self.variant_id).values_list(
            "pk", "status", "ended_at"
        ):
            if pk in self.ended:
                assert self.ended[pk] == (status, ended_at), pk
            elif status != "active":
                assert ended_at is not None
                self.ended[pk] = (status, ended_at)

    @invariant()
    def captured_at_most_once_and_only_paid_orders_sold(self) -> None:
        orders = Order.objects.filter(variant_id=self.variant_id)
        for order in orders:
            captures = PaymentAttempt.objects.filter(order=order, status="succeeded").count()
            assert captures <= 1
            assert SandboxCharge.objects.filter(idempotency_key=f"order-{order.pk}").count() <= 1
            hold = Hold.objects.get(order=order)
            if order.status in ("paid", "shipped", "refunded", "cancelled"):
                assert hold.status == "converted" and captures == 1
            if order.status == "pending_payment":
                assert hold.status == "active"
            if order.status == "payment_failed":
                assert hold.status == "cancelled" and captures == 0


@pytest.mark.django_db
def test_checkout_state_machine_keeps_the_invariants() -> None:
    run_state_machine_as_test(
        Checkout,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
