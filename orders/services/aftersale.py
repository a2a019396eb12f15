"""After the sale: the buyer cancels a paid order before it ships (`order_cancel`), the
shop or the platform refunds it (`order_refund`); units go back on hand once.

The payment provider is never called while a lock is held. A cancel or refund runs in
three steps:

1. Decide, under the order's row lock: check the status, move the order to
   cancelled/refunded, record its `Refund` row *unsettled* (`settled_at` NULL), restock.
   One transaction: a double cancel finds the order already cancelled (409), and the
   `Refund` row is one per order (a unique key), so a refund is decided once.
2. After commit (`transaction.on_commit`; after the caller's own transaction when it
   has one, e.g. a dispute's), `refund_settle` calls the provider with no lock held, with
   the order's fixed idempotency key ``refund-<order id>``: however often it runs, the
   buyer is refunded once.
3. A second short transaction records the provider's answer, once (a guarded
   ``UPDATE ... WHERE settled_at IS NULL``).

A worker killed between 1 and 3 leaves an unsettled refund: the recovery sweep
(`orders.refunds_settle_due`, run by beat) settles every refund left unsettled for
`PAYMENT_STUCK_SECONDS`; the idempotency key makes a repeat of step 2 harmless.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction

from catalog.models import StockAdjustment
from catalog.selectors import user_can_manage_shop
from core.errors import Forbidden, InvalidState, NotFound
from orders import clock, inventory
from orders.models import Order, PaymentAttempt, Refund
from orders.payments import get_provider
from orders.payments.base import ProviderError
from orders.selectors import refunds_unsettled
from orders.serializers import order_data
from orders.services import notify
from orders.services.shipping import shipment_remove
from orders.services.waitlist import waitlist_offer
from webhooks.services import event_record

logger = logging.getLogger(__name__)


def _restock(*, order: Order, actor: Any, reason: str) -> None:
    """Put a paid order's units back on hand, once per order (`restocked_at`)."""
    if order.restocked_at is not None:
        return
    inventory.adjust(
        variant_id=order.variant_id,
        delta=order.quantity,
        reason=reason,
        actor=actor,
        kind=StockAdjustment.Kind.RESTOCK,
    )
    order.restocked_at = clock.now()
    order.save(update_fields=["restocked_at"])
    _, available = waitlist_offer(variant_id=order.variant_id, now=clock.now())
    if available is not None:
        inventory.announce_variant(
            show_id=order.show_id, variant=order.variant, available=available
        )


def _refund_decide(*, order: Order, actor: Any, reason: str) -> None:
    """Step 1, under the order's lock: record the refund, unsettled, and settle it after
    commit (step 2). Never calls the provider."""
    refund = Refund.objects.create(
        order=order,
        amount=order.total,
        currency=order.currency,
        reason=reason[:500],
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        created_at=clock.now(),
    )
    transaction.on_commit(partial(refund_settle, refund_id=refund.pk), robust=True)


def refund_settle(*, refund_id: int) -> bool:
    """Steps 2 and 3: give the money back through the provider (no lock held), then record
    its answer once. Idempotent and safe to run concurrently; True only for the call that
    recorded it. A provider error leaves the refund unsettled for the sweep."""
    refund = (
        Refund.objects.select_related("order").filter(pk=refund_id, settled_at__isnull=True).first()
    )
    if refund is None:
        return False
    order = refund.order
    captured = PaymentAttempt.objects.filter(
        order=order, status=PaymentAttempt.Status.SUCCEEDED
    ).first()
    try:
        result = get_provider().refund(
            order=order,
            amount=refund.amount,
            reference=captured.provider_ref if captured else "",
            idempotency_key=f"refund-{order.pk}",
        )
    except ProviderError as exc:
        logger.warning("refund of order %s not settled: %s", order.pk, exc.code)
        return False
    settled = Refund.objects.filter(pk=refund.pk, settled_at__isnull=True).update(
        provider_ref=result.reference, settled_at=clock.now()
    )
    return settled == 1


def refunds_settle_due() -> int:
    """The sweep: settle refunds a killed worker left unsettled. Returns how many."""
    return sum(refund_settle(refund_id=refund_id) for refund_id in refunds_unsettled())


def order_cancel(*, buyer: Any, order_id: int) -> Order:
    """The buyer cancels a paid order before it ships: refunded, units restocked.
    409 invalid_state while the payment is pending or once shipped."""
    now = clock.now()
    with transaction.atomic():
        order = (
            Order.objects.select_for_update()
            .select_related("variant")
            .filter(pk=order_id, buyer_id=buyer.pk)
            .first()
        )
        if order is None:
            raise NotFound("No such order.")
        if order.status == Order.Status.PENDING_PAYMENT:
            raise InvalidState(
                "The payment is still being taken; try again in a moment.",
                details={"status": order.status},
            )
        if order.status != Order.Status.PAID:
            raise InvalidState(f"This order is {order.status}.", details={"status": order.status})
        _refund_decide(order=order, actor=buyer, reason="Cancelled by the buyer before shipping.")
        order.status, order.ended_at = Order.Status.CANCELLED, now
        order.save(update_fields=["status", "ended_at"])
        event_record(shop_id=order.shop_id, type="order.cancelled", data=order_data(order))
        shipment_remove(order=order)
        _restock(order=order, actor=buyer, reason=f"Order {order.pk} cancelled by the buyer")
        notify.order_updated(order)
    return order


REFUNDABLE = (Order.Status.PAID, Order.Status.SHIPPED, Order.Status.DELIVERED)


def order_refund(*, actor: Any, order_id: int, reason: str, restock: bool | None = None) -> Order:
    """A shop owner, staff member or platform staff refunds a paid order. `restock`
    (default: only if not shipped yet) puts the units back on hand. `actor=None` is the
    platform itself (a dispute whose seller missed the deadline)."""
    now = clock.now()
    with transaction.atomic():
        order = (
            Order.objects.select_for_update()
            .select_related("variant", "shop")
            .filter(pk=order_id)
            .first()
        )
        if order is None:
            raise NotFound("No such order.")
        if actor is not None and not (
            actor.is_staff or user_can_manage_shop(user=actor, shop=order.shop)
        ):
            if order.buyer_id == actor.pk:
                raise Forbidden("Only the shop refunds; cancel the order instead.")
            raise NotFound("No such order.")
        if order.status not in REFUNDABLE:
            raise InvalidState(f"This order is {order.status}.", details={"status": order.status})
        shipped = order.status != Order.Status.PAID
        _refund_decide(order=order, actor=actor, reason=reason)
        order.status, order.ended_at = Order.Status.REFUNDED, now
        order.save(update_fields=["status", "ended_at"])
        event_record(shop_id=order.shop_id, type="order.refunded", data=order_data(order))
        if not shipped:
            shipment_remove(order=order)
        if restock if restock is not None else not shipped:
            _restock(order=order, actor=actor, reason=f"Order {order.pk} refunded: {reason}"[:500])
        notify.order_updated(order)
    return order
