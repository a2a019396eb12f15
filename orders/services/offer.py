"""What a buy or a waitlist join asks for, checked: the show, product and variant
(`resolve_offer`), and the variant a request names (`variant_choose`, also the auction's)."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.models import Product, Variant
from core.errors import ApiError, Invalid, NotFound
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

    The hot path (a live show selling its current pin) reads the pin with its show and
    product in one query, then the product's variants (with their stock) in one more;
    anything else takes the step-by-step checks below, which decide the error."""
    pin = (
        Pin.objects.select_related("show", "product", "auction")
        .filter(show_id=show_id, unpinned_at__isnull=True)
        .first()
    )
    auction = getattr(pin, "auction", None)  # a pin an auction made (auctions app)
    if auction is not None and auction.status == "running" and auction.product_id == product_id:
        raise ApiError("auction_running", "This product is being auctioned: bid.", status=409)
    if (
        pin is not None
        and pin.product_id == product_id
        and pin.show.status == Show.Status.LIVE
        and not pin.show.rehearsal
        and pin.product.is_active
    ):
        variant = variant_choose(product=pin.product, variant_id=variant_id)
        return Offer(
            show=pin.show,
            product=pin.product,
            variant=variant,
            limit_per_buyer=pin.limit_per_buyer,
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


def variant_choose(*, product: Product, variant_id: int | None) -> Variant:
    """The product's variant `variant_id`, or its only one: 400 invalid (not one of its
    variants) / variant_required (several, none named), 409 sold_out (none at all)."""
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
