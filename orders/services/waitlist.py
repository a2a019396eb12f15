"""The waitlist: buyers queue for a sold-out variant (`waitlist_join`); units that come
back are offered to them in join order (`waitlist_offer`), each as a one-unit hold of its
own (`offer_hold_create`, also the auction's second chance)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from catalog.models import Variant
from orders import clock, inventory
from orders.models import Hold, WaitlistEntry
from orders.services import notify
from orders.services.offer import resolve_offer
from orders.terms import OfferRoom, buyer_limit_check, check_currency, offer_room, sale_terms

# Waitlist offers made per released batch, to keep one transaction bounded.
MAX_OFFERS_PER_RELEASE = 100


def waitlist_join(
    *, buyer: Any, show_id: int, product_id: int, variant_id: int | None = None
) -> WaitlistEntry:
    """Queue the buyer for one unit of the variant; if units are free right now the offer
    comes at once. Joining again while waiting returns the same entry. Same checks as
    buy; a buyer already at the product's per-buyer limit gets 409 limit_exceeded."""
    offer = resolve_offer(show_id=show_id, product_id=product_id, variant_id=variant_id)
    now = clock.now()
    key = {"show": offer.show, "variant": offer.variant, "buyer_id": buyer.pk}
    with transaction.atomic():
        terms = sale_terms(show_id=show_id, product_id=offer.product.pk, variant=offer.variant)
        check_currency(terms=terms, variant=offer.variant)
        buyer_limit_check(
            buyer_id=buyer.pk,
            show_id=offer.show.pk,
            product_id=offer.product.pk,
            terms=terms,
            quantity=1,
            now=now,
        )
        entry = WaitlistEntry.objects.filter(**key, status=WaitlistEntry.Status.WAITING).first()
        if entry is not None:
            return entry
        try:
            with transaction.atomic():
                entry = WaitlistEntry.objects.create(
                    **key,
                    product=offer.product,
                    unit_price=terms.unit_price,
                    currency=offer.product.currency,
                    created_at=now,
                )
        except IntegrityError:
            return WaitlistEntry.objects.get(**key, status=WaitlistEntry.Status.WAITING)
        _, available = waitlist_offer(variant_id=offer.variant.pk, now=now)
        if available is not None:
            inventory.announce_variant(
                show_id=offer.show.pk, variant=offer.variant, available=available
            )
    entry.refresh_from_db()
    return entry


def offer_hold_create(
    *,
    buyer_id: int,
    show_id: int,
    product_id: int,
    variant_id: int,
    unit_price: Decimal,
    currency: str,
    now: datetime,
) -> Hold:
    """An offer: a one-unit hold of its own for a buyer who did not tap (a waitlist offer,
    an auction's second chance), expiring after `WAITLIST_OFFER_SECONDS` so the unit goes
    back quickly when the buyer has left, pushed to the buyer. Inside the caller's
    transaction, after it reserved the unit and checked `orders.terms.offer_room`."""
    hold = Hold.objects.create(
        buyer_id=buyer_id,
        show_id=show_id,
        product_id=product_id,
        variant_id=variant_id,
        quantity=1,
        unit_price=unit_price,
        currency=currency,
        is_offer=True,
        expires_at=now + timedelta(seconds=settings.WAITLIST_OFFER_SECONDS),
        created_at=now,
    )
    notify.hold_updated(hold)
    return hold


def waitlist_offer(*, variant_id: int, now: datetime) -> tuple[int, int | None]:
    """Offer free units of the variant to waiting buyers, one unit each, in join order.
    Each offer is a hold of its own expiring after `WAITLIST_OFFER_SECONDS`, pushed to
    its buyer. Returns (offers made, units available afterwards or None if none made).

    An offer follows the rules of a buy made at this moment (`orders.terms`): it is
    priced now (`sale_terms`: the current pin's price if the product is still pinned in
    the live show, else list price), and it respects the buyer's per-buyer limit
    (`offer_room`). A buyer already at the limit is passed over and their entry
    ends (`at_limit`): the unit goes to the next in line. A buyer whose row is locked by
    their own purchase in progress keeps their place for the next release. Entries
    locked by a concurrent offerer are skipped, never waited for."""
    made, available = 0, None
    variant: Variant | None = None
    reserved = False  # a unit reserved for an entry that turned out not to take it
    passed: list[int] = []
    for _ in range(MAX_OFFERS_PER_RELEASE):
        entry = (
            WaitlistEntry.objects.select_for_update(skip_locked=True)
            .filter(variant_id=variant_id, status=WaitlistEntry.Status.WAITING)
            .exclude(pk__in=passed)
            .order_by("id")
            .first()
        )
        if entry is None:
            break
        if not reserved:
            left = inventory.reserve(variant_id=variant_id, quantity=1)
            if left is None:
                break
            reserved, available = True, left
        if variant is None:
            variant = Variant.objects.select_related("product").get(pk=variant_id)
        terms = sale_terms(show_id=entry.show_id, product_id=entry.product_id, variant=variant)
        room = offer_room(
            buyer_id=entry.buyer_id,
            show_id=entry.show_id,
            product_id=entry.product_id,
            terms=terms,
            now=now,
        )
        if room == OfferRoom.BUSY:
            passed.append(entry.pk)
            continue
        if room == OfferRoom.AT_LIMIT:
            entry.status = WaitlistEntry.Status.AT_LIMIT
            entry.save(update_fields=["status"])
            continue
        reserved, made = False, made + 1
        hold = offer_hold_create(
            buyer_id=entry.buyer_id,
            show_id=entry.show_id,
            product_id=entry.product_id,
            variant_id=variant_id,
            unit_price=terms.unit_price,
            currency=entry.currency,
            now=now,
        )
        entry.status, entry.offered_at, entry.hold = WaitlistEntry.Status.OFFERED, now, hold
        entry.save(update_fields=["status", "offered_at", "hold"])
    if reserved:  # nobody in line could take the last unit reserved: give it back
        released = inventory.release(variant_id=variant_id, quantity=1)
        available = released if made else None
    return made, available


def waitlist_offer_due(*, limit: int = 200) -> int:
    """The sweep's second half: offer units that came back outside checkout (a restock
    through a stock adjustment) to waiting buyers. Returns how many offers were made."""
    made = 0
    waiting = (
        WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING)
        .filter(variant__stock_on_hand__gt=F("variant__held"))
        .order_by("variant_id")
        .values_list("variant_id", "show_id")
        .distinct()
    )
    for variant_id, show_id in list(waiting[:limit]):
        with transaction.atomic():
            n, available = waitlist_offer(variant_id=variant_id, now=clock.now())
            if available is not None:
                made += n
                variant = Variant.objects.get(pk=variant_id)
                inventory.announce_variant(show_id=show_id, variant=variant, available=available)
    return made
