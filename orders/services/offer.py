"""What a buy or a waitlist join asks for, checked: the show, product and variant
(`resolve_offer`), and the variant a request names (`variant_choose`, also the auction's)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db import connection

from catalog.models import Product, Variant
from core.errors import ApiError, InternalError, Invalid, NotFound
from core.rows import ModelColumns, table
from streams.models import Pin, Show


@dataclass(frozen=True)
class Offer:
    """A checked request: the show, product and variant asked for. `limit_per_buyer` is
    the live pin's limit as read by the early checks, for a fast refusal only; the price
    and the limit that count are read in the buy's transaction (`orders.terms`)."""

    show: Show
    product: Product
    variant: Variant
    limit_per_buyer: int | None


def resolve_offer(*, show_id: int, product_id: int, variant_id: int | None) -> Offer:
    """The checks shared by buy and waitlist: 404 show, 409 show_not_live / not_pinned,
    400 variant_required / invalid. A live show sells its current pin; an ended show (the
    shoppable replay) sells anything pinned in it; a scheduled show and a rehearsal sell
    nothing. At what price and within which limit is `orders.terms`' to say.

    The hot path (a live show selling its current pin) reads the pin with its show, its
    product, its auction and the product's variants (with their stock) in one statement
    (`_current_pin_offer`); anything else takes the step-by-step checks below, which
    decide the error."""
    hot = _current_pin_offer(show_id=show_id, product_id=product_id)
    if hot is not None:
        if hot.auction_status == "running" and hot.auction_product_id == product_id:
            raise ApiError("auction_running", "This product is being auctioned: bid.", status=409)
        if (
            hot.product.pk == product_id
            and hot.show.status == Show.Status.LIVE
            and not hot.show.rehearsal
            and hot.product.is_active
        ):
            variant = variant_choose(
                product=hot.product, variant_id=variant_id, variants=hot.variants
            )
            return Offer(
                show=hot.show, product=hot.product, variant=variant, limit_per_buyer=hot.limit
            )
    show = Show.objects.filter(pk=show_id).first()
    if show is None:
        raise NotFound("No such show.")
    if show.rehearsal:
        # A rehearsal would move real stock and real money; hosts test with sandbox
        # tokens in a real (or a throwaway) show instead. See docs/checkout.md.
        raise ApiError("show_not_live", "A rehearsal does not sell.", status=409)
    if show.status == Show.Status.SCHEDULED:
        raise ApiError("show_not_live", "This show has not started yet.", status=409)
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise Invalid("No such product.", details={"product": ["No such product."]})
    if not product.is_active:  # archived by the seller: history stays, sales stop
        raise ApiError("not_pinned", "This product is no longer for sale.", status=409)
    limit: int | None = None
    if show.status == Show.Status.LIVE:
        pin = Pin.objects.filter(show=show, unpinned_at__isnull=True).first()
        if pin is None or pin.product_id != product.pk:
            raise ApiError("not_pinned", "This product is not pinned right now.", status=409)
        limit = pin.limit_per_buyer
    elif not Pin.objects.filter(show=show, product=product).exists():
        raise ApiError("not_pinned", "This product was not shown in this show.", status=409)
    variant = variant_choose(product=product, variant_id=variant_id)
    return Offer(show=show, product=product, variant=variant, limit_per_buyer=limit)


def variant_choose(
    *, product: Product, variant_id: int | None, variants: list[Variant] | None = None
) -> Variant:
    """The product's variant `variant_id`, or its only one: 400 invalid (not one of its
    variants) / variant_required (several, none named), 409 sold_out (none at all).
    `variants`: the product's variants when the caller has read them already."""
    if variants is None:
        variants = list(product.variants.all())
    if variant_id is not None:
        for v in variants:
            if v.pk == variant_id:
                return v
        raise Invalid(
            "That variant is not one of this product's.",
            details={"variant": ["Not a variant of this product."]},
        )
    if len(variants) == 1:
        return variants[0]
    if not variants:
        raise ApiError("sold_out", "This product has no stock.", status=409)
    raise ApiError(
        "variant_required",
        "This product comes in several variants; choose one.",
        status=400,
        details={"variant": ["Required for this product."]},
    )


_SHOW = ModelColumns(Show, "s")
_PRODUCT = ModelColumns(Product, "p")
_VARIANT = ModelColumns(Variant, "v")


@functools.cache
def _current_pin_offer_sql() -> str:
    # Built on first use, once every app is loaded: the auction is the auctions app's
    # model (above this layer), reached through the pin's reverse relation, not imported.
    auction = Pin.auction.related.related_model
    if isinstance(auction, str):
        raise InternalError("Pin.auction must name a model, not 'self'.")
    return f"""
SELECT pin.id, pin.limit_per_buyer, a.status, a.product_id,
       {_SHOW.sql}, {_PRODUCT.sql}, {_VARIANT.sql}
FROM {table(Pin)} AS pin
JOIN {table(Show)} AS s ON s.id = pin.show_id
JOIN {table(Product)} AS p ON p.id = pin.product_id
LEFT JOIN {table(auction)} AS a ON a.pin_id = pin.id
LEFT JOIN {table(Variant)} AS v ON v.product_id = p.id AND p.id = %s
WHERE pin.show_id = %s AND pin.unpinned_at IS NULL
ORDER BY pin.pinned_at, pin.id, v.position, v.id
"""  # noqa: S608 - identifiers from the models' metadata; values are parameters


@dataclass(frozen=True)
class _PinnedOffer:
    show: Show
    product: Product
    variants: list[Variant]  # empty unless the pinned product is the one asked for
    limit: int | None
    auction_status: str | None
    auction_product_id: int | None


def _current_pin_offer(*, show_id: int, product_id: int) -> _PinnedOffer | None:
    """The show's current pin with its show, product, limit and auction, and the
    product's variants when it is `product_id`, in one statement:
    what `Pin.objects.select_related("show", "product", "auction")` and
    `product.variants.all()` read, without compiling two querysets per tap."""
    with connection.cursor() as cursor:
        cursor.execute(_current_pin_offer_sql(), [product_id, show_id])
        rows = cursor.fetchall()
    if not rows:
        return None
    first = rows[0]
    pin_id, limit, auction_status, auction_product_id = first[:4]
    show = _SHOW.build(first, 4)
    product = _PRODUCT.build(first, 4 + len(_SHOW))
    if show is None or product is None:  # both inner joins
        raise InternalError("The current pin's show or product row came back empty.")
    variants = []
    start = 4 + len(_SHOW) + len(_PRODUCT)
    for row in rows:
        if row[0] != pin_id:  # a second open pin (never expected): the first one counts
            break
        variant = _VARIANT.build(row, start)
        if variant is not None:
            variant.product = product  # spare the query `variant.product` would make
            variants.append(variant)
    return _PinnedOffer(show, product, variants, limit, auction_status, auction_product_id)
