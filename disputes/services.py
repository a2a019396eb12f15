"""Dispute writes: open, the seller's answer, the staff decision and the deadline sweep.

Concurrency (the lock order of `orders/services/`, extended): Order → Dispute. Every
change to a dispute happens while its order's row is locked, after re-reading the
dispute's status, so a seller refunding, staff deciding and two beat sweeps racing at the
deadline agree: the first to lock the order resolves the dispute, the others find it
resolved and change nothing. The refund itself is `orders.services.order_refund` (one
`Refund` row per order, provider idempotency key `refund-<order id>`): decided in the
dispute's transaction, the provider is called after it commits, with no lock held, and a
worker killed before the answer is recorded leaves the refund to the settle sweep
(orders/services/aftersale.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from catalog.selectors import user_can_manage_shop
from core.errors import ApiError, Forbidden, InvalidState, NotFound
from disputes.evidence import order_evidence
from disputes.models import OPEN_STATUSES, Dispute
from orders import clock
from orders.models import Order, Refund
from orders.services import order_refund
from webhooks.services import event_record

DISPUTABLE = (Order.Status.PAID, Order.Status.SHIPPED, Order.Status.DELIVERED)


def dispute_window_closes_at(*, order: Order) -> datetime | None:
    """When the buyer can no longer open a dispute: `DISPUTE_WINDOW_DAYS` after delivery
    (None while the parcel is not delivered: the window is open)."""
    shipment = order.shipment
    if shipment is None or shipment.delivered_at is None:
        return None
    return shipment.delivered_at + timedelta(days=settings.DISPUTE_WINDOW_DAYS)


def _check_can_open(*, order: Order, now: datetime) -> None:
    if order.status not in DISPUTABLE:
        if order.status == Order.Status.PENDING_PAYMENT:
            message = "This order is not paid yet; a dispute can be opened once it is paid."
        else:
            message = f"This order is {order.status}; only a paid order can be disputed."
        raise InvalidState(message, details={"status": order.status})
    closes_at = dispute_window_closes_at(order=order)
    if closes_at is not None and now > closes_at:
        raise ApiError(
            "dispute_window_closed",
            f"Disputes can be opened until {settings.DISPUTE_WINDOW_DAYS} days after "
            "delivery; this order's window has closed.",
            details={"closed_at": closes_at.isoformat()},
        )
    open_dispute = order.disputes.filter(status__in=OPEN_STATUSES).first()
    if open_dispute is not None:
        raise ApiError(
            "dispute_exists",
            "This order already has an open dispute.",
            details={"dispute": open_dispute.pk},
        )


def dispute_open(*, buyer: Any, order_id: int, reason: str, text: str) -> Dispute:
    """The buyer opens a dispute on their order. 404 for anyone else's order; 409
    `invalid_state` unless paid/shipped/delivered, `dispute_window_closed` past the window,
    `dispute_exists` while another is open."""
    now = clock.now()
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("show", "product", "variant", "shipment")
            .filter(pk=order_id, buyer_id=buyer.pk)
            .first()
        )
        if order is None:
            raise NotFound("No such order.")
        _check_can_open(order=order, now=now)
        dispute = Dispute.objects.create(
            order=order,
            buyer_id=order.buyer_id,
            shop_id=order.shop_id,
            reason=reason,
            text=text,
            evidence=order_evidence(order=order),
            seller_deadline=now + timedelta(hours=settings.DISPUTE_SELLER_RESPONSE_HOURS),
            created_at=now,
        )
        event_record(
            shop_id=dispute.shop_id, type="dispute.opened", data=dispute_webhook_data(dispute)
        )
        return dispute


def _lock(*, dispute_id: int) -> tuple[Order, Dispute] | None:
    """Lock the dispute's order, then the dispute (the module's lock order)."""
    order_id = Dispute.objects.filter(pk=dispute_id).values_list("order_id", flat=True).first()
    if order_id is None:
        return None
    order = Order.objects.select_for_update().select_related("shop").get(pk=order_id)
    dispute = Dispute.objects.select_for_update().get(pk=dispute_id)
    return order, dispute


def _resolve(
    *, dispute: Dispute, status: str, resolution: str, reason: str, actor: Any, now: datetime
) -> None:
    dispute.status, dispute.resolution = status, resolution
    dispute.resolution_reason = reason
    dispute.resolved_by = actor if getattr(actor, "is_authenticated", False) else None
    dispute.resolved_at = now
    dispute.save(
        update_fields=["status", "resolution", "resolution_reason", "resolved_by", "resolved_at"]
    )
    event_record(
        shop_id=dispute.shop_id, type="dispute.resolved", data=dispute_webhook_data(dispute)
    )


def dispute_webhook_data(dispute: Dispute) -> dict[str, Any]:
    """The `data` of the dispute webhooks (docs/webhooks.md)."""
    return {
        "id": dispute.pk,
        "order": dispute.order_id,
        "status": dispute.status,
        "reason": dispute.reason,
        "seller_deadline": dispute.seller_deadline,
        "resolution": dispute.resolution or None,
        "resolved_at": dispute.resolved_at,
        "created_at": dispute.created_at,
    }


def _refund_and_resolve(
    *, order: Order, dispute: Dispute, actor: Any, resolution: str, reason: str, now: datetime
) -> None:
    """Refund through the provider (once: `order_refund` keeps one Refund per order) and
    resolve. An order already refunded or cancelled is resolved without a second refund."""
    if Refund.objects.filter(order_id=order.pk).exists():
        resolution = Dispute.Resolution.ALREADY_REFUNDED
    else:
        order_refund(actor=actor, order_id=order.pk, reason=f"Dispute {dispute.pk}: {reason}")
    _resolve(
        dispute=dispute,
        status=Dispute.Status.RESOLVED_REFUNDED,
        resolution=resolution,
        reason=reason,
        actor=actor,
        now=now,
    )


def dispute_respond(*, actor: Any, dispute_id: int, action: str, reason: str) -> Dispute:
    """The shop answers: `refund` (through the provider; resolved) or `reject` (goes to
    staff). Only the shop's owner and staff; the buyer gets 403, anyone else 404. A
    rejection after `seller_deadline` is refused (the buyer has won by then); a late
    refund is accepted."""
    now = clock.now()
    with transaction.atomic():
        locked = _lock(dispute_id=dispute_id)
        if locked is None:
            raise NotFound("No such dispute.")
        order, dispute = locked
        if not user_can_manage_shop(user=actor, shop=order.shop):
            if dispute.buyer_id == actor.pk:
                raise Forbidden("Only the shop answers a dispute.")
            raise NotFound("No such dispute.")
        if dispute.status != Dispute.Status.AWAITING_SELLER:
            raise InvalidState(
                f"This dispute is {dispute.status}; the shop can no longer answer it.",
                details={"status": dispute.status},
            )
        if action == "reject" and now >= dispute.seller_deadline:
            raise InvalidState(
                "The deadline to answer this dispute has passed; it is being refunded.",
                details={"seller_deadline": dispute.seller_deadline.isoformat()},
            )
        dispute.seller_action, dispute.seller_reason = action, reason
        dispute.seller_responded_at, dispute.seller_responder = now, actor
        if action == "reject":
            dispute.status = Dispute.Status.AWAITING_STAFF
        dispute.save(
            update_fields=[
                "status",
                "seller_action",
                "seller_reason",
                "seller_responded_at",
                "seller_responder",
            ]
        )
        if action == "refund":
            _refund_and_resolve(
                order=order,
                dispute=dispute,
                actor=actor,
                resolution=Dispute.Resolution.SELLER_REFUNDED,
                reason=reason,
                now=now,
            )
    return dispute


def dispute_decide(*, actor: Any, dispute_id: int, decision: str, reason: str) -> Dispute:
    """Platform staff decide an open dispute: `refund` or `reject`, with a reason."""
    if not actor.is_staff:
        raise Forbidden("Only platform staff decide disputes.")
    now = clock.now()
    with transaction.atomic():
        locked = _lock(dispute_id=dispute_id)
        if locked is None:
            raise NotFound("No such dispute.")
        order, dispute = locked
        if not dispute.is_open:
            raise InvalidState(
                f"This dispute is already {dispute.status}.", details={"status": dispute.status}
            )
        if decision == "refund":
            _refund_and_resolve(
                order=order,
                dispute=dispute,
                actor=actor,
                resolution=Dispute.Resolution.STAFF_REFUNDED,
                reason=reason,
                now=now,
            )
        else:
            _resolve(
                dispute=dispute,
                status=Dispute.Status.RESOLVED_REJECTED,
                resolution=Dispute.Resolution.STAFF_REJECTED,
                reason=reason,
                actor=actor,
                now=now,
            )
    return dispute


def dispute_refund_if_overdue(*, dispute_id: int) -> bool:
    """The seller missed the deadline: refund through the provider and resolve. Returns
    whether this call resolved it (False when someone else already did, or not due)."""
    now = clock.now()
    with transaction.atomic():
        locked = _lock(dispute_id=dispute_id)
        if locked is None:
            return False
        order, dispute = locked
        if dispute.status != Dispute.Status.AWAITING_SELLER or dispute.seller_deadline > now:
            return False
        _refund_and_resolve(
            order=order,
            dispute=dispute,
            actor=None,
            resolution=Dispute.Resolution.DEADLINE_MISSED,
            reason=(
                f"The shop did not answer within {settings.DISPUTE_SELLER_RESPONSE_HOURS} "
                "hours; refunded automatically."
            ),
            now=now,
        )
    return True


def disputes_refund_overdue(*, limit: int = 200) -> int:
    """The beat sweep: refund every dispute whose seller deadline has passed. Each one is
    its own short transaction; a concurrent sweep resolving the same one is harmless."""
    due = list(
        Dispute.objects.filter(
            status=Dispute.Status.AWAITING_SELLER, seller_deadline__lte=clock.now()
        )
        .order_by("seller_deadline", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(dispute_refund_if_overdue(dispute_id=pk) for pk in due)
