"""How a hold without an order ends: it expires (`hold_expire`, the sweep
`holds_expire_due`), the buyer lets it go (`hold_cancel`), or another app ends it
(`hold_end`: an auction's unit). Its units come back once, offered to the waitlist first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from core.errors import InvalidState, NotFound
from orders import clock, inventory
from orders.models import Hold
from orders.selectors import holds_due_for_expiry
from orders.services import notify
from orders.services.waitlist import waitlist_offer


def hold_end(*, hold: Hold, status: str, now: datetime, due_only: bool = False) -> bool:
    """End an active hold without an order and release its units, exactly once.

    Returns False (changing nothing) when the hold had already ended, has an order, or
    (with `due_only`) is not yet due. Runs inside the caller's transaction.
    """
    guard = Hold.objects.filter(pk=hold.pk, status=Hold.Status.ACTIVE, order__isnull=True)
    if due_only:
        guard = guard.filter(expires_at__lte=now)
    if guard.update(status=status, ended_at=now) != 1:
        return False
    hold.status, hold.ended_at = status, now
    release_units(hold=hold, now=now)
    notify.hold_updated(hold)
    return True


def release_units(*, hold: Hold, now: datetime) -> None:
    """Give an ended hold's units back, offering them to the waitlist first."""
    available = inventory.release(variant_id=hold.variant_id, quantity=hold.quantity)
    _, offered = waitlist_offer(variant_id=hold.variant_id, now=now)
    if offered is not None:
        available = offered
    inventory.announce_variant(show_id=hold.show_id, variant=hold.variant, available=available)


def hold_expire(*, hold_id: int) -> bool:
    """Expire one hold if it is due (idempotent: True only for the call that released)."""
    hold = Hold.objects.select_related("variant").filter(pk=hold_id).first()
    if hold is None:
        return False
    with transaction.atomic():
        return hold_end(hold=hold, status=Hold.Status.EXPIRED, now=clock.now(), due_only=True)


def holds_expire_due(*, limit: int = 500) -> int:
    """The expiry sweep: release every hold past its expiry. Safe to run concurrently
    and repeatedly; returns how many this call released."""
    return sum(hold_expire(hold_id=hold_id) for hold_id in holds_due_for_expiry(limit=limit))


def hold_cancel(*, buyer: Any, hold_id: int) -> Hold:
    """The buyer lets a hold go: units released at once. 409 unless active without an
    order (a hold in checkout ends with its payment)."""
    now = clock.now()
    with transaction.atomic():
        hold = (
            Hold.objects.select_for_update()
            .select_related("variant")
            .filter(pk=hold_id, buyer_id=buyer.pk)
            .first()
        )
        if hold is None:
            raise NotFound("No such hold.")
        if hold.order_id is not None:
            raise InvalidState(
                "This hold is checked out; cancel the order instead.",
                details={"status": hold.status_at(now), "order": hold.order_id},
            )
        status = hold.status_at(now)
        if status != Hold.Status.ACTIVE:
            raise InvalidState(f"This hold is {status}.", details={"status": status})
        hold_end(hold=hold, status=Hold.Status.CANCELLED, now=now)
    return hold
