"""Checkout writes: buy (holds), checkout, payment capture, expiry, cancel and refund,
saved payment methods and addresses, bundled shipping and the waitlist.

Concurrency rules for this module (after Zulip's database-concurrency notes):

- Stock moves only through `orders.inventory` (conditional UPDATEs; read its docstring).
- A hold ends exactly once: every ending is a guarded
  ``UPDATE orders_hold SET status = <end> WHERE id = .. AND status = 'active' [AND ..]``;
  only the transaction whose UPDATE matched releases (or sells) the units.
- An order changes status only while its row is locked (`select_for_update`), and
  checks the status it found first, so concurrent tasks and requests agree.
- Lock order, in every transaction: show row (FOR KEY SHARE, `orders.terms`) → buyer row
  (only to serialise one buyer's holds under a per-buyer limit) → Order → Hold → Shipment
  → Variant → WaitlistEntry. Never wait on an earlier kind while holding a later one, so
  no two transactions can deadlock. Two deliberate exceptions, both safe: a waitlist offer
  made while releasing units takes the show row late, but the only conflicting holders
  (pin, unpin, start, end: FOR UPDATE) never wait on a checkout row; and it takes the
  offered buyer's row with SKIP LOCKED, never waiting (the buyer keeps their place).
- Transactions are short; the payment provider is never called while holding a lock.
- Events are emitted inside the transaction and delivered after commit
  (`streams.events`), so nobody hears about a change that rolled back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F

from catalog.models import Product, StockAdjustment, Variant
from catalog.selectors import user_can_manage_shop
from core.errors import ApiError, Forbidden, Invalid, InvalidState, NotFound
from orders import clock, inventory, payment_lock, soldout
from orders.models import (
    Address,
    Hold,
    Order,
    PaymentAttempt,
    PaymentMethod,
    Refund,
    Shipment,
    WaitlistEntry,
)
from orders.payments import get_provider
from orders.payments.base import CaptureResult, ProviderError, UnknownToken
from orders.selectors import (
    holds_due_for_expiry,
    shipping_fee_for_weight,
    shipping_fee_quote,
    variant_weight_grams,
)
from orders.serializers import hold_data, order_data, shipment_data
from orders.terms import (
    BuyerBusy,
    buy_terms,
    buyer_limit_check,
    buyer_limit_room,
    check_currency,
    sale_terms,
)
from streams.events import emit_show_event, emit_user_event
from streams.models import Pin, Show
from webhooks.services import event_record

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
# Waitlist offers made per released batch, to keep one transaction bounded.
MAX_OFFERS_PER_RELEASE = 100


# --------------------------------------------------------------------------- events


def _emit_stock(*, show_id: int, variant: Variant, available: int) -> None:
    emit_show_event(
        show_id=show_id,
        type="stock.changed",
        data={"product": variant.product_id, "variant": variant.pk, "available": available},
    )


def _emit_hold(hold: Hold) -> None:
    emit_user_event(user_id=hold.buyer_id, type="hold.updated", data=hold_data(hold))


def _emit_order(order: Order) -> None:
    emit_user_event(user_id=order.buyer_id, type="order.updated", data=order_data(order))


def _enqueue_capture(order_id: int) -> None:
    """Queue the capture after commit. A broker outage must not fail a committed buy: the
    recovery sweep (`orders_recover_stuck`) finds the order and queues it again."""
    from orders.tasks import capture_payment

    def send() -> None:
        try:
            capture_payment.delay(order_id)
        except Exception:
            logger.exception("could not queue capture_payment", extra={"order_id": order_id})

    transaction.on_commit(send)


# --------------------------------------------------------------------------- buying


@dataclass(frozen=True)
class Offer:
    """A checked request: the show, product and variant asked for. `limit_per_buyer` is
    the live pin's limit as read by the early checks, for a fast refusal only; the price
    and the limit that count are read in the buy's transaction (`orders.terms`)."""

    show: Show
    product: Product
    variant: Variant
    limit_per_buyer: int | None


def _resolve_offer(*, show_id: int, product_id: int, variant_id: int | None) -> Offer:
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
        variant = _resolve_variant(product=pin.product, variant_id=variant_id)
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
    variant = _resolve_variant(product=product, variant_id=variant_id)
    return Offer(show=show, product=product, variant=variant, limit_per_buyer=limit)


def _resolve_variant(*, product: Product, variant_id: int | None) -> Variant:
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


def _sold_out() -> ApiError:
    return ApiError("sold_out", "Sold out: no units left to hold.", status=409)


@dataclass(frozen=True)
class BuyResult:
    hold: Hold
    order: Order | None
    shipping_fee: Decimal


def hold_create(
    *,
    buyer: Any,
    show_id: int,
    product_id: int,
    variant_id: int | None = None,
    quantity: int = 1,
) -> BuyResult:
    """Buy: hold `quantity` units for the buyer, durable before this returns.

    With a default payment method and address saved, this is one-tap: the order is
    created at once in `pending_payment` and its capture is queued after commit.
    Raises 409 show_not_live / not_pinned / limit_exceeded / sold_out, 400
    variant_required / invalid, 404 for an unknown show.
    """
    # sold-out gate (orders/soldout.py): a known sold-out variant costs one Redis call
    if soldout.sold_out_known(
        show_id=show_id, product_id=product_id, variant_id=variant_id, quantity=quantity
    ):
        raise _sold_out()
    offer = _resolve_offer(show_id=show_id, product_id=product_id, variant_id=variant_id)
    variant = offer.variant
    limit = offer.limit_per_buyer
    if limit is not None and quantity > limit:
        raise ApiError("limit_exceeded", f"At most {limit} per buyer for this product.", status=409)
    # Unlocked pre-check so a sold-out crowd is answered without touching the hot row;
    # it is only an estimate, the gate is `inventory.reserve` below. Before answering
    # sold_out, release this variant's holds that are already past their expiry.
    # The variant row was just read with the offer: its stock is this estimate.
    if variant.stock_on_hand - variant.held < quantity:
        for hold_id in holds_due_for_expiry(variant_id=variant.pk, limit=20):
            hold_expire(hold_id=hold_id)
        if soldout.sold_out_confirm(  # sold-out gate: the stock read, remembered when 0
            show_id=offer.show.pk,
            product_id=offer.product.pk,
            requested_variant_id=variant_id,
            variant_id=variant.pk,
            limit=limit,
            quantity=quantity,
        ):
            raise _sold_out()
    payment_method = PaymentMethod.objects.filter(user_id=buyer.pk, is_default=True).first()
    address = None
    if payment_method is not None:  # one-tap needs both; spare the read when it cannot be
        address = Address.objects.filter(user_id=buyer.pk, is_default=True).first()
    one_tap = payment_method is not None and address is not None
    if not one_tap:  # a read: keep it out of the transaction
        shipping_fee = shipping_fee_quote(
            buyer=buyer, show=offer.show, variant=variant, quantity=quantity
        )
    now = clock.now()

    with transaction.atomic():
        # The price and limit in force now, read under the show's lock (a re-pin or the
        # show's end racing this buy is either seen here or waits for this commit).
        terms = buy_terms(show_id=offer.show.pk, product_id=offer.product.pk, variant=variant)
        buyer_limit_check(
            buyer_id=buyer.pk,
            show_id=offer.show.pk,
            product_id=offer.product.pk,
            terms=terms,
            quantity=quantity,
            now=now,
        )
        hold = Hold.objects.create(
            buyer_id=buyer.pk,
            show=offer.show,
            product=offer.product,
            variant=variant,
            quantity=quantity,
            unit_price=terms.unit_price,
            currency=offer.product.currency,
            expires_at=now + timedelta(seconds=settings.HOLD_TTL_SECONDS),
            created_at=now,
        )
        order = None
        if one_tap:
            assert payment_method is not None and address is not None
            order = _order_open(
                hold=hold,
                payment_token=payment_method.token,
                payment_method=payment_method,
                address=address.snapshot(),
                now=now,
            )
            shipping_fee = order.shipping_fee
        # The gate, last before COMMIT (see orders/inventory.py).
        available = inventory.reserve(variant_id=variant.pk, quantity=quantity)
        if available is None:
            raise _sold_out()  # rolls back the hold (and order) above
        _emit_stock(show_id=offer.show.pk, variant=variant, available=available)
        _emit_hold(hold)
        if order is not None:
            _emit_order(order)
            _enqueue_capture(order.pk)
    return BuyResult(hold=hold, order=order, shipping_fee=shipping_fee)


# --------------------------------------------------------------------------- endings


def _hold_end(*, hold: Hold, status: str, now: datetime, due_only: bool = False) -> bool:
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
    _release_units(hold=hold, now=now)
    _emit_hold(hold)
    return True


def _release_units(*, hold: Hold, now: datetime) -> None:
    """Give an ended hold's units back, offering them to the waitlist first."""
    available = inventory.release(variant_id=hold.variant_id, quantity=hold.quantity)
    _, offered = _waitlist_offer(variant_id=hold.variant_id, now=now)
    if offered is not None:
        available = offered
    _emit_stock(show_id=hold.show_id, variant=hold.variant, available=available)


def hold_expire(*, hold_id: int) -> bool:
    """Expire one hold if it is due (idempotent: True only for the call that released)."""
    hold = Hold.objects.select_related("variant").filter(pk=hold_id).first()
    if hold is None:
        return False
    with transaction.atomic():
        return _hold_end(hold=hold, status=Hold.Status.EXPIRED, now=clock.now(), due_only=True)


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
        _hold_end(hold=hold, status=Hold.Status.CANCELLED, now=now)
    return hold


# --------------------------------------------------------------------------- checkout


def _resolve_payment(*, buyer: Any, payment_method: str) -> tuple[str, PaymentMethod | None]:
    """A saved method's id (the buyer's own) or a provider token."""
    if payment_method.isdigit():
        saved = PaymentMethod.objects.filter(user_id=buyer.pk, pk=int(payment_method)).first()
        if saved is None:
            raise Invalid(
                "Unknown payment method.", details={"payment_method": ["No such saved method."]}
            )
        return saved.token, saved
    try:
        get_provider().describe(payment_method)
    except UnknownToken:
        raise Invalid(
            "Unknown payment token.", details={"payment_method": ["Unknown payment token."]}
        ) from None
    return payment_method, None


def _resolve_address(*, buyer: Any, address: int | dict[str, str]) -> dict[str, str]:
    if isinstance(address, dict):
        return address
    saved = Address.objects.filter(user_id=buyer.pk, pk=address).first()
    if saved is None:
        raise Invalid("Unknown address.", details={"address": ["No such saved address."]})
    return saved.snapshot()


def hold_checkout(
    *, buyer: Any, hold_id: int, payment_method: str, address: int | dict[str, str]
) -> Order:
    """Turn an active hold into an order in `pending_payment` and queue its capture.

    `payment_method` is a saved method id or a provider token; `address` a saved id or
    an address object (validated by the caller). 409 invalid_state unless the hold is
    active, unexpired and has no order yet.
    """
    token, saved_method = _resolve_payment(buyer=buyer, payment_method=payment_method)
    address_data = _resolve_address(buyer=buyer, address=address)
    now = clock.now()
    with transaction.atomic():
        hold = (
            Hold.objects.select_for_update()
            .select_related("variant", "variant__product")
            .filter(pk=hold_id, buyer_id=buyer.pk)
            .first()
        )
        if hold is None:
            raise NotFound("No such hold.")
        status = hold.status_at(now)
        if hold.order_id is not None:
            raise InvalidState(
                "This hold is already checked out.",
                details={"status": status, "order": hold.order_id},
            )
        if status != Hold.Status.ACTIVE:
            raise InvalidState(f"This hold is {status}.", details={"status": status})
        order = _order_open(
            hold=hold,
            payment_token=token,
            payment_method=saved_method,
            address=address_data,
            now=now,
        )
        _emit_order(order)
        _emit_hold(hold)
        _enqueue_capture(order.pk)
    return order


def _order_open(
    *,
    hold: Hold,
    payment_token: str,
    payment_method: PaymentMethod | None,
    address: dict[str, str],
    now: datetime,
) -> Order:
    """Create the order for an active hold, joining the buyer's open shipment for this
    shop and show (one parcel, one fee). Caller holds the hold (new or locked)."""
    variant = hold.variant
    shop_id = variant.shop_id
    shipment = _shipment_for_update(buyer_id=hold.buyer_id, shop_id=shop_id, show_id=hold.show_id)
    if hold.currency != shipment.currency:  # never add amounts of two currencies
        raise InvalidState(
            f"This hold is priced in {hold.currency}; the shop ships in {shipment.currency}.",
            details={"currency": hold.currency, "shop_currency": shipment.currency},
        )
    weight = variant_weight_grams(variant=variant) * hold.quantity
    parcel_fee = shipping_fee_for_weight(
        shop_id=shop_id, weight_grams=shipment.weight_grams + weight
    )
    fee = max(Decimal("0.00"), parcel_fee - shipment.fee_charged)
    shipment.weight_grams += weight
    shipment.fee_charged += fee
    # A purchase that joins a parcel pays whatever the parcel's fee still lacked
    # (`fee_uncollected`, left by a fee-carrying order that left): nothing is owed now.
    shipment.fee_uncollected = Decimal("0.00")
    shipment.save(update_fields=["weight_grams", "fee_charged", "fee_uncollected"])
    subtotal = (hold.unit_price * hold.quantity).quantize(CENT)
    order = Order.objects.create(
        buyer_id=hold.buyer_id,
        shop_id=shop_id,
        show_id=hold.show_id,
        product_id=hold.product_id,
        variant=variant,
        quantity=hold.quantity,
        unit_price=hold.unit_price,
        subtotal=subtotal,
        shipping_fee=fee,
        total=subtotal + fee,
        currency=hold.currency,
        payment_token=payment_token,
        payment_method=payment_method,
        shipping_address=address,
        shipment=shipment,
        created_at=now,
    )
    hold.order = order
    hold.save(update_fields=["order"])
    event_record(shop_id=shop_id, type="order.created", data=order_data(order))
    return order


def _shipment_for_update(*, buyer_id: int, shop_id: int, show_id: int) -> Shipment:
    """The buyer's open shipment for this shop and show, locked; created if none. The
    partial unique index makes a concurrent creator wait, then fail and re-read."""
    key = {"buyer_id": buyer_id, "shop_id": shop_id, "show_id": show_id}
    for _ in range(3):
        shipment = (
            Shipment.objects.select_for_update().filter(**key, status=Shipment.Status.OPEN).first()
        )
        if shipment is not None:
            return shipment
        try:
            with transaction.atomic():
                currency = Show.objects.values_list("shop__currency", flat=True).get(pk=show_id)
                return Shipment.objects.create(**key, currency=currency)
        except IntegrityError:
            continue
    raise RuntimeError("could not open a shipment")  # pragma: no cover - needs 3 lost races


def _shipment_remove(*, order: Order) -> None:
    """Take a not-yet-shipped order back out of its parcel (weight and its fee).

    The order's own fee goes with it (a cancelled or refunded order is refunded in full,
    a failed one never paid). When it carried the parcel's fee and other orders stay, the
    parcel's fee for what is left is then not (fully) collected: `fee_uncollected` says
    how much, and the seller sees it on the shipment before shipping; the buyer's next
    purchase into the same parcel pays it (docs/checkout.md, "Bundled shipping")."""
    if order.shipment_id is None:
        return
    shipment = Shipment.objects.select_for_update().get(pk=order.shipment_id)
    if shipment.status != Shipment.Status.OPEN:
        return
    weight = variant_weight_grams(variant=order.variant) * order.quantity
    shipment.weight_grams = max(0, shipment.weight_grams - weight)
    shipment.fee_charged = max(Decimal("0.00"), shipment.fee_charged - order.shipping_fee)
    due = shipping_fee_for_weight(shop_id=shipment.shop_id, weight_grams=shipment.weight_grams)
    shipment.fee_uncollected = max(Decimal("0.00"), due - shipment.fee_charged)
    shipment.save(update_fields=["weight_grams", "fee_charged", "fee_uncollected"])


# --------------------------------------------------------------------------- payment


class CaptureOutcome(StrEnum):
    PAID = "paid"
    FAILED = "failed"
    RETRY = "retry"  # provider error: try again later with the same idempotency key
    BUSY = "busy"  # another attempt is running
    NOTHING = "nothing"  # the order is not waiting for payment (already settled)


def order_capture_payment(*, order_id: int) -> CaptureOutcome:
    """Capture an order's payment through the provider; idempotent and safe to run
    concurrently, repeatedly, or after a crash at any point.

    0. Take the order's capture lock (`orders.payment_lock`, a PostgreSQL advisory lock
       held by this session for the whole attempt) with try-lock; it is how anyone tells
       a running attempt from one that died with its worker, at once.
    1. Under the order's row lock: give up unless `pending_payment`; stay out (`busy`)
       unless this run holds the capture lock; a `started` attempt found while holding
       it died with its worker (its session ended, releasing its lock): mark it `lost`.
       Record a `started` attempt (committed, so a concurrent or recovered run sees it).
    2. Call the provider with the order's fixed idempotency key (no row lock held):
       however many times this runs, the provider charges once.
    3. Under the order's row lock again: record the result and settle the order once —
       paid (hold converted, units sold), or payment_failed (hold released).
    """
    with payment_lock.capture_lock(order_id=order_id) as locked:
        return _order_capture(order_id=order_id, locked=locked)


def _order_capture(*, order_id: int, locked: bool) -> CaptureOutcome:
    provider = get_provider()
    now = clock.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.status != Order.Status.PENDING_PAYMENT:
            return CaptureOutcome.NOTHING
        attempts = PaymentAttempt.objects.filter(order=order)
        started = attempts.filter(status=PaymentAttempt.Status.STARTED)
        if not locked:
            # Another session holds the capture lock: its attempt is alive (or it is
            # just finishing). Last resort only: a `started` attempt older than
            # PAYMENT_ATTEMPT_STALE_SECONDS whose lock is still held belongs to a wedged
            # session; go ahead (the idempotency key keeps the charge single).
            alive_since = now - timedelta(seconds=settings.PAYMENT_ATTEMPT_STALE_SECONDS)
            if not started.exists() or started.filter(started_at__gt=alive_since).exists():
                return CaptureOutcome.BUSY
        # A `started` attempt whose lock was free died with its worker.
        started.update(status=PaymentAttempt.Status.ERROR, error_code="lost", finished_at=now)
        attempt = PaymentAttempt.objects.create(
            order=order,
            number=attempts.count() + 1,
            provider=provider.name,
            amount=order.total,
            currency=order.currency,
            idempotency_key=f"order-{order.pk}",
            started_at=now,
        )

    result: CaptureResult | None = None
    error: ProviderError | None = None
    try:
        result = provider.capture(
            order=order, amount=order.total, idempotency_key=attempt.idempotency_key
        )
    except ProviderError as exc:
        error = exc

    now = clock.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("variant").get(pk=order_id)
        attempt.finished_at = now
        if error is not None:
            attempt.status, attempt.error_code, attempt.message = (
                PaymentAttempt.Status.ERROR,
                error.code,
                error.message[:300],
            )
            attempt.save()
            if order.status != Order.Status.PENDING_PAYMENT:
                return CaptureOutcome.NOTHING
            errors = PaymentAttempt.objects.filter(
                order=order, status=PaymentAttempt.Status.ERROR
            ).count()
            if errors >= settings.PAYMENT_MAX_ATTEMPTS:
                _order_fail(order=order, reason=f"provider_error: {error.message}", now=now)
                return CaptureOutcome.FAILED
            return CaptureOutcome.RETRY
        assert result is not None
        if not result.succeeded:
            attempt.status, attempt.error_code, attempt.message = (
                PaymentAttempt.Status.DECLINED,
                result.code,
                result.message[:300],
            )
            attempt.save()
            if order.status != Order.Status.PENDING_PAYMENT:
                return CaptureOutcome.NOTHING
            _order_fail(order=order, reason=result.code or "declined", now=now)
            return CaptureOutcome.FAILED
        attempt.provider_ref = result.reference
        if order.status == Order.Status.PENDING_PAYMENT:
            attempt.status = PaymentAttempt.Status.SUCCEEDED
            attempt.save()
            _order_mark_paid(order=order, now=now)
            return CaptureOutcome.PAID
        if PaymentAttempt.objects.filter(
            order=order, status=PaymentAttempt.Status.SUCCEEDED
        ).exists():
            attempt.status = PaymentAttempt.Status.DUPLICATE
            attempt.save()
            return CaptureOutcome.NOTHING
        # Money arrived for an order that already failed (a capture that went through
        # after the attempts ran out): give it back at once.
        provider.refund(
            order=order,
            amount=order.total,
            reference=result.reference,
            idempotency_key=f"reverse-{order.pk}",
        )
        attempt.status = PaymentAttempt.Status.REVERSED
        attempt.save()
        return CaptureOutcome.NOTHING


def _order_mark_paid(*, order: Order, now: datetime) -> None:
    """pending_payment → paid: convert the hold and take its units out of on hand, once."""
    hold = Hold.objects.select_related("variant").get(order=order)
    converted = Hold.objects.filter(pk=hold.pk, status=Hold.Status.ACTIVE).update(
        status=Hold.Status.CONVERTED, ended_at=now
    )
    if converted != 1:
        raise inventory.StockInvariantBroken(f"order {order.pk}: its hold is not active")
    hold.status, hold.ended_at = Hold.Status.CONVERTED, now
    # A sale moves units from held to sold: available does not change, so no stock.changed.
    on_hand_before, on_hand_after, _available = inventory.sell(
        variant_id=order.variant_id, quantity=order.quantity
    )
    StockAdjustment.objects.create(
        variant_id=order.variant_id,
        kind=StockAdjustment.Kind.SALE,
        delta=-order.quantity,
        reason=f"Sale: order {order.pk}",
        actor_id=order.buyer_id,
        on_hand_before=on_hand_before,
        on_hand_after=on_hand_after,
    )
    order.status, order.paid_at = Order.Status.PAID, now
    order.save(update_fields=["status", "paid_at"])
    event_record(shop_id=order.shop_id, type="order.paid", data=order_data(order))
    _emit_hold(hold)
    _emit_order(order)
    emit_show_event(
        show_id=order.show_id,
        type="sale.recorded",
        data={
            "order": order.pk,
            "product": order.product_id,
            "variant": order.variant_id,
            "quantity": order.quantity,
            "amount": str(order.subtotal),
            "currency": order.currency,
        },
    )


def _order_fail(*, order: Order, reason: str, now: datetime) -> None:
    """pending_payment → payment_failed: the hold is released at once (the buyer may buy
    again) and the order leaves its parcel."""
    hold = Hold.objects.select_related("variant").get(order=order)
    ended = Hold.objects.filter(pk=hold.pk, status=Hold.Status.ACTIVE).update(
        status=Hold.Status.CANCELLED, ended_at=now
    )
    order.status, order.failure_reason, order.ended_at = (
        Order.Status.PAYMENT_FAILED,
        reason[:200],
        now,
    )
    order.save(update_fields=["status", "failure_reason", "ended_at"])
    event_record(shop_id=order.shop_id, type="order.payment_failed", data=order_data(order))
    _shipment_remove(order=order)
    if ended == 1:
        hold.status, hold.ended_at = Hold.Status.CANCELLED, now
        _release_units(hold=hold, now=now)
        _emit_hold(hold)
    _emit_order(order)


# --------------------------------------------------------------------------- after sale


def _restock(*, order: Order, actor: Any, reason: str) -> None:
    """Put a paid order's units back on hand, once per order (`restocked_at`)."""
    if order.restocked_at is not None:
        return
    from catalog.services import stock_adjust

    stock_adjust(
        variant_id=order.variant_id,
        delta=order.quantity,
        reason=reason,
        actor=actor,
        kind=StockAdjustment.Kind.RESTOCK,
    )
    order.restocked_at = clock.now()
    order.save(update_fields=["restocked_at"])
    _, available = _waitlist_offer(variant_id=order.variant_id, now=clock.now())
    if available is not None:
        _emit_stock(show_id=order.show_id, variant=order.variant, available=available)


def _refund(*, order: Order, actor: Any, reason: str) -> None:
    """Give the buyer their money back through the provider, once per order."""
    captured = PaymentAttempt.objects.filter(
        order=order, status=PaymentAttempt.Status.SUCCEEDED
    ).first()
    result = get_provider().refund(
        order=order,
        amount=order.total,
        reference=captured.provider_ref if captured else "",
        idempotency_key=f"refund-{order.pk}",
    )
    Refund.objects.create(
        order=order,
        amount=order.total,
        currency=order.currency,
        reason=reason[:500],
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        provider_ref=result.reference,
    )


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
        _refund(order=order, actor=buyer, reason="Cancelled by the buyer before shipping.")
        order.status, order.ended_at = Order.Status.CANCELLED, now
        order.save(update_fields=["status", "ended_at"])
        event_record(shop_id=order.shop_id, type="order.cancelled", data=order_data(order))
        _shipment_remove(order=order)
        _restock(order=order, actor=buyer, reason=f"Order {order.pk} cancelled by the buyer")
        _emit_order(order)
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
        _refund(order=order, actor=actor, reason=reason)
        order.status, order.ended_at = Order.Status.REFUNDED, now
        order.save(update_fields=["status", "ended_at"])
        event_record(shop_id=order.shop_id, type="order.refunded", data=order_data(order))
        if not shipped:
            _shipment_remove(order=order)
        if restock if restock is not None else not shipped:
            _restock(order=order, actor=actor, reason=f"Order {order.pk} refunded: {reason}"[:500])
        _emit_order(order)
    return order


def _shipment_lock(*, actor: Any, shipment_id: int) -> tuple[Shipment, list[Order]]:
    """The parcel and its orders, locked (orders first, as everywhere else), if the actor
    manages its shop or is platform staff; 404 otherwise."""
    shipment = Shipment.objects.select_related("shop").filter(pk=shipment_id).first()
    if shipment is None or not (
        actor.is_staff or user_can_manage_shop(user=actor, shop=shipment.shop)
    ):
        raise NotFound("No such shipment.")
    orders = list(Order.objects.select_for_update().filter(shipment=shipment).order_by("id"))
    return Shipment.objects.select_for_update().get(pk=shipment_id), orders


def shipment_ship(*, actor: Any, shipment_id: int, carrier: str, tracking_number: str) -> Shipment:
    """Ship a parcel: its paid orders become `shipped`. 409 while one of its orders is
    still waiting for payment, or when nothing in it is paid."""
    now = clock.now()
    with transaction.atomic():
        shipment, orders = _shipment_lock(actor=actor, shipment_id=shipment_id)
        if shipment.status != Shipment.Status.OPEN:
            raise InvalidState(
                f"This shipment is {shipment.status}.", details={"status": shipment.status}
            )
        late = Order.objects.filter(shipment=shipment).exclude(pk__in=[o.pk for o in orders])
        if late.exists() or any(o.status == Order.Status.PENDING_PAYMENT for o in orders):
            raise InvalidState("An order in this parcel is still waiting for payment.")
        paid = [o for o in orders if o.status == Order.Status.PAID]
        if not paid:
            raise InvalidState("Nothing in this parcel is paid.")
        shipment.status, shipment.shipped_at = Shipment.Status.SHIPPED, now
        shipment.carrier, shipment.tracking_number = carrier, tracking_number
        shipment.save(update_fields=["status", "shipped_at", "carrier", "tracking_number"])
        for order in paid:
            order.status = Order.Status.SHIPPED
            order.save(update_fields=["status"])
            _emit_order(order)
        event_record(
            shop_id=shipment.shop_id, type="shipment.shipped", data=shipment_data(shipment)
        )
    return shipment


def shipment_deliver(*, actor: Any, shipment_id: int) -> Shipment:
    """Mark a shipped parcel delivered: `delivered_at` is set and its shipped orders
    become `delivered` (the dispute window counts from here). 409 unless shipped."""
    now = clock.now()
    with transaction.atomic():
        shipment, orders = _shipment_lock(actor=actor, shipment_id=shipment_id)
        if shipment.status != Shipment.Status.SHIPPED:
            raise InvalidState(
                f"Only a shipped parcel can be delivered; this one is {shipment.status}.",
                details={"status": shipment.status},
            )
        shipment.status, shipment.delivered_at = Shipment.Status.DELIVERED, now
        shipment.save(update_fields=["status", "delivered_at"])
        for order in orders:
            if order.status == Order.Status.SHIPPED:
                order.status = Order.Status.DELIVERED
                order.save(update_fields=["status"])
                _emit_order(order)
        event_record(
            shop_id=shipment.shop_id, type="shipment.delivered", data=shipment_data(shipment)
        )
    return shipment


# --------------------------------------------------------------------------- waitlist


def waitlist_join(
    *, buyer: Any, show_id: int, product_id: int, variant_id: int | None = None
) -> WaitlistEntry:
    """Queue the buyer for one unit of the variant; if units are free right now the offer
    comes at once. Joining again while waiting returns the same entry. Same checks as
    buy; a buyer already at the product's per-buyer limit gets 409 limit_exceeded."""
    offer = _resolve_offer(show_id=show_id, product_id=product_id, variant_id=variant_id)
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
        _, available = _waitlist_offer(variant_id=offer.variant.pk, now=now)
        if available is not None:
            _emit_stock(show_id=offer.show.pk, variant=offer.variant, available=available)
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
    transaction, after it reserved the unit and checked `buyer_limit_room`."""
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
    _emit_hold(hold)
    return hold


def _waitlist_offer(*, variant_id: int, now: datetime) -> tuple[int, int | None]:
    """Offer free units of the variant to waiting buyers, one unit each, in join order.
    Each offer is a hold of its own expiring after `WAITLIST_OFFER_SECONDS`, pushed to
    its buyer. Returns (offers made, units available afterwards or None if none made).

    An offer follows the rules of a buy made at this moment (`orders.terms`): it is
    priced now (`sale_terms`: the current pin's price if the product is still pinned in
    the live show, else list price), and it respects the buyer's per-buyer limit
    (`buyer_limit_room`). A buyer already at the limit is passed over and their entry
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
        try:
            room = buyer_limit_room(
                buyer_id=entry.buyer_id,
                show_id=entry.show_id,
                product_id=entry.product_id,
                limit=terms.limit_per_buyer,
                now=now,
                wait=False,
            )
        except BuyerBusy:
            passed.append(entry.pk)
            continue
        if room is not None and room < 1:
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
            n, available = _waitlist_offer(variant_id=variant_id, now=clock.now())
            if available is not None:
                made += n
                variant = Variant.objects.get(pk=variant_id)
                _emit_stock(show_id=show_id, variant=variant, available=available)
    return made


# --------------------------------------------------------------------------- wallet


def payment_method_add(*, user: Any, token: str, is_default: bool = False) -> PaymentMethod:
    """Save a provider token; the first saved (or `is_default`) becomes the default."""
    try:
        info = get_provider().describe(token)
    except UnknownToken:
        raise Invalid(
            "Unknown payment token.", details={"token": ["Unknown payment token."]}
        ) from None
    with transaction.atomic():
        get_user_model().objects.select_for_update(no_key=True).filter(pk=user.pk).first()
        has_default = PaymentMethod.objects.filter(user_id=user.pk, is_default=True).exists()
        if is_default and has_default:
            PaymentMethod.objects.filter(user_id=user.pk, is_default=True).update(is_default=False)
        return PaymentMethod.objects.create(
            user_id=user.pk,
            provider=get_provider().name,
            token=token,
            brand=info.brand,
            last4=info.last4,
            is_default=is_default or not has_default,
        )


def payment_method_delete(*, user: Any, payment_method_id: int) -> None:
    """Forget a saved method (404 if not the user's); the newest other becomes default."""
    with transaction.atomic():
        get_user_model().objects.select_for_update(no_key=True).filter(pk=user.pk).first()
        method = PaymentMethod.objects.filter(user_id=user.pk, pk=payment_method_id).first()
        if method is None:
            raise NotFound("No such payment method.")
        method.delete()
        if method.is_default:
            nxt = PaymentMethod.objects.filter(user_id=user.pk).order_by("-id").first()
            if nxt is not None:
                nxt.is_default = True
                nxt.save(update_fields=["is_default"])


def address_add(*, user: Any, data: dict[str, str], is_default: bool = False) -> Address:
    """Save a shipping address; the first saved (or `is_default`) becomes the default."""
    with transaction.atomic():
        get_user_model().objects.select_for_update(no_key=True).filter(pk=user.pk).first()
        has_default = Address.objects.filter(user_id=user.pk, is_default=True).exists()
        if is_default and has_default:
            Address.objects.filter(user_id=user.pk, is_default=True).update(is_default=False)
        return Address.objects.create(
            user_id=user.pk, **data, is_default=is_default or not has_default
        )


def address_delete(*, user: Any, address_id: int) -> None:
    """Forget a saved address (404 if not the user's); the newest other becomes default."""
    with transaction.atomic():
        get_user_model().objects.select_for_update(no_key=True).filter(pk=user.pk).first()
        address = Address.objects.filter(user_id=user.pk, pk=address_id).first()
        if address is None:
            raise NotFound("No such address.")
        address.delete()
        if address.is_default:
            nxt = Address.objects.filter(user_id=user.pk).order_by("-id").first()
            if nxt is not None:
                nxt.is_default = True
                nxt.save(update_fields=["is_default"])
