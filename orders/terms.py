"""What a show sells a product for right now: its price and the buyer's per-buyer limit.

One owner per rule (docs/STYLE 10). Every path that creates a hold reads its price with
`sale_terms` and checks the buyer's limit with `buyer_limit_room` (through
`buyer_limit_check` where the buyer asked and gets a 409), inside the transaction that
inserts the hold:

- a direct buy in a live show and a replay purchase (`services.hold_create`);
- a waitlist offer (`services.waitlist_offer`) and the auction second-chance offer,
  through `offer_room`.

The rules (docs/checkout.md, "What a show sells"):

- **Price.** A live show's current pin sells at the pin's `price` if set, else list
  price (the variant's, else the product's). Anything else — a product no longer pinned
  (a waitlist offer after a re-pin), an ended show (the shoppable replay) — sells at list
  price. An offer is priced when it is made, never when its buyer joined.
- **Limit.** `limit_per_buyer` of the product's latest pin in that show, so the limit a
  host set follows the product into the replay and into waitlist offers. It counts the
  buyer's active (not lapsed) and converted holds of that product in that show, every
  variant together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q, Sum

from catalog.models import Variant
from core.errors import ApiError
from orders.models import Hold
from streams.models import Pin, Show

# The show row, locked FOR KEY SHARE: pin_product, pin_clear, show_start and show_end lock
# it FOR UPDATE, so until this transaction commits no re-pin or end can commit, and one
# that committed while this waited is seen by the next statement (READ COMMITTED takes a
# fresh snapshot per statement; that is why the pin is read in a statement of its own).
# Inserting the hold takes the same lock anyway (its foreign key to the show).
_LOCK_SHOW = """
SELECT show.status, shop.currency
FROM streams_show AS show JOIN catalog_shop AS shop ON shop.id = show.shop_id
WHERE show.id = %s
FOR KEY SHARE OF show
"""
# The live show's current pin (Pin's ordering, as `.first()` would read it): every tap of
# a flash sale reads it, so it is written out rather than compiled from a queryset.
_CURRENT_PIN = f"""
SELECT product_id, price, limit_per_buyer FROM {Pin._meta.db_table}
WHERE show_id = %s AND unpinned_at IS NULL ORDER BY pinned_at, id LIMIT 1
"""  # noqa: S608 - the table name is the model's
# The buyer row, which serialises one buyer's hold-creating transactions (lock order:
# buyer row first, see orders/services/__init__.py).
_LOCK_BUYER = "SELECT 1 FROM {table} WHERE id = %s FOR NO KEY UPDATE"


@dataclass(frozen=True)
class SaleTerms:
    """The rule in force for one product of one show, read under the show's row lock."""

    show_status: str
    currency: str  # the shop's: the only currency it sells in
    pinned: bool  # the product is the live show's current pin
    unit_price: Decimal
    limit_per_buyer: int | None


def sale_terms(*, show_id: int, product_id: int, variant: Variant) -> SaleTerms:
    """The price and limit at which `show` sells `variant` right now (see the module
    docstring). Call inside the transaction that creates the hold: it locks the show row
    so the rule cannot change before that transaction commits."""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SHOW, [show_id])
        status, currency = cursor.fetchone()
        if status == Show.Status.LIVE:
            cursor.execute(_CURRENT_PIN, [show_id])  # a statement of its own: see _LOCK_SHOW
            pin = cursor.fetchone()
        else:
            pin = None
    if pin is not None and pin[0] == product_id:
        price = pin[1] if pin[1] is not None else variant.effective_price
        return SaleTerms(
            show_status=status,
            currency=currency,
            pinned=True,
            unit_price=price,
            limit_per_buyer=pin[2],
        )
    latest_limit = (
        Pin.objects.filter(show_id=show_id, product_id=product_id)
        .order_by("-pinned_at", "-id")
        .values_list("limit_per_buyer", flat=True)
        .first()
    )
    return SaleTerms(
        show_status=status,
        currency=currency,
        pinned=False,
        unit_price=variant.effective_price,
        limit_per_buyer=latest_limit,
    )


def buy_terms(*, show_id: int, product_id: int, variant: Variant) -> SaleTerms:
    """`sale_terms` for a buy: a live show sells only its current pin (409 not_pinned
    when the host re-pinned since the buyer's request was checked). A show that ended
    meanwhile sells at the replay's rule."""
    terms = sale_terms(show_id=show_id, product_id=product_id, variant=variant)
    if terms.show_status == Show.Status.LIVE and not terms.pinned:
        raise ApiError("not_pinned", "This product is not pinned right now.", status=409)
    if terms.show_status not in (Show.Status.LIVE, Show.Status.ENDED):
        raise ApiError("show_not_live", "This show is not on sale.", status=409)
    check_currency(terms=terms, variant=variant)
    return terms


def check_currency(*, terms: SaleTerms, variant: Variant) -> None:
    """409 invalid_state for a product priced in another currency than its shop's (one
    saved before shops were held to one currency): it is not sold until the seller
    fixes its price, so no order adds its price to a fee in the shop's currency."""
    currency = variant.product.currency
    if currency != terms.currency:
        raise ApiError(
            "invalid_state",
            f"This product is priced in {currency} but the shop sells in {terms.currency}.",
            status=409,
            details={"currency": currency, "shop_currency": terms.currency},
        )


def units_taken(*, buyer_id: int, show_id: int, product_id: int, now: datetime) -> int:
    """Units that count against the limit: the buyer's active (not lapsed, or with an
    order) and converted holds of this product in this show, every variant together."""
    counted = Hold.objects.filter(buyer_id=buyer_id, show_id=show_id, product_id=product_id).filter(
        Q(status=Hold.Status.CONVERTED)
        | Q(status=Hold.Status.ACTIVE, order__isnull=False)
        | Q(status=Hold.Status.ACTIVE, expires_at__gt=now)
    )
    return int(counted.aggregate(n=Sum("quantity"))["n"] or 0)


class BuyerBusy(Exception):
    """The buyer's row is locked by another transaction (`buyer_limit_room(wait=False)`)."""


def buyer_limit_room(
    *,
    buyer_id: int,
    show_id: int,
    product_id: int,
    limit: int | None,
    now: datetime,
    wait: bool = True,
) -> int | None:
    """Units this buyer may still hold of the product in the show under `limit`; None
    when there is no limit. THE per-buyer limit check: every path that creates a hold
    calls it in the transaction that inserts the hold — buy, replay purchase, waitlist
    offer, and the auction second-chance offer.

    It locks the buyer row first, so the count and the hold inserted after it commit
    together: two paths creating holds for one buyer at once (two taps, a tap and an
    offer) cannot both pass. `wait=False` is for offers made deep inside another
    transaction, which must not wait for a buyer row (lock order): raises `BuyerBusy`
    when the buyer is mid-purchase, and the caller passes them over for now."""
    if limit is None:
        return None
    sql = _LOCK_BUYER.format(table=connection.ops.quote_name(get_user_model()._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(sql if wait else sql + " SKIP LOCKED", [buyer_id])
        if cursor.fetchone() is None:
            raise BuyerBusy(buyer_id)
    taken = units_taken(buyer_id=buyer_id, show_id=show_id, product_id=product_id, now=now)
    return max(0, limit - taken)


def buyer_limit_check(
    *, buyer_id: int, show_id: int, product_id: int, terms: SaleTerms, quantity: int, now: datetime
) -> None:
    """`buyer_limit_room` for a request the buyer makes (a buy, joining a waitlist):
    409 limit_exceeded when `quantity` more units would pass the limit."""
    limit = terms.limit_per_buyer
    room = buyer_limit_room(
        buyer_id=buyer_id, show_id=show_id, product_id=product_id, limit=limit, now=now
    )
    if limit is not None and room is not None and quantity > room:
        raise ApiError(
            "limit_exceeded",
            f"At most {limit} per buyer for this product; you have {limit - room}.",
            status=409,
            details={"limit_per_buyer": limit, "remaining": room},
        )


class OfferRoom(StrEnum):
    OK = "ok"  # the buyer may take one more unit
    AT_LIMIT = "at_limit"  # they hold the limit already: pass them over
    BUSY = "busy"  # mid-purchase (their row is locked): pass over for now, keep their place


def offer_room(
    *, buyer_id: int, show_id: int, product_id: int, terms: SaleTerms, now: datetime
) -> OfferRoom:
    """`buyer_limit_room` for a one-unit offer the buyer did not ask for (a waitlist offer,
    an auction's second chance), made deep inside another transaction: never waits."""
    where = {"buyer_id": buyer_id, "show_id": show_id, "product_id": product_id}
    try:
        room = buyer_limit_room(**where, limit=terms.limit_per_buyer, now=now, wait=False)
    except BuyerBusy:
        return OfferRoom.BUSY
    return OfferRoom.AT_LIMIT if room is not None and room < 1 else OfferRoom.OK
