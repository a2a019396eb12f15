"""Auction writes: start, bid (the one writer), close, cancel, pre-bids, unpaid winners.

One writer per auction. Every bid is decided inside one short transaction that locks the
auction row (``SELECT ... FOR UPDATE``), applies `auctions.rules.place` on the server's
clock, inserts the accepted `Bid` rows and updates the auction: bids on one auction are
thus serialized by PostgreSQL, and an accepted bid is durable before the bidder hears of
it (a Redis restart loses nothing: Redis only carries the events). Why not a Redis script:
measured in docs/auctions.md.

Lock order: Auction → (orders' order) Order → Hold → Shipment → Variant → WaitlistEntry,
so closing and paying never deadlock with checkout (orders/services/'s order follows).

Closing happens once: under the auction's lock, a guarded
``UPDATE auctions_auction SET status = .. WHERE id = .. AND status = 'running'``;
the Celery task scheduled for `ends_at` and the per-second beat sweep may both try.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from auctions import rules
from auctions.models import Auction, Bid, PreBid, ProxyBid, Strike
from auctions.selectors import auction_payload, auctions_due, strikes_recent
from catalog.models import Product, Variant
from core.errors import ApiError, Forbidden, InternalError, Invalid, NotFound
from orders import clock, inventory
from orders import services as checkout  # its public names only
from orders.models import Address, Hold, PaymentMethod
from orders.selectors import saved_defaults
from orders.terms import OfferRoom, offer_room, sale_terms
from streams.events import emit_show_event, emit_user_event
from streams.models import Show
from streams.selectors import Role, iso, money, show_with_role
from streams.services import check_not_restricted, pin_product
from trust.quality import listing_require_ready
from trust.selectors import case_in_force
from trust.services import case_open
from webhooks.services import event_record

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("99999999.99")  # what the columns hold (10 digits, 2 decimals)
# The unit's hold outlives any plausible auction; the close hands it over or releases it
# long before. It is a safety net: if every closer died for a day, the unit comes back.
UNIT_HOLD_MARGIN = timedelta(days=1)


# --------------------------------------------------------------------------- checks


def check_amount(*, field: str, value: Any, currency: str | None = None) -> Decimal:
    """A positive amount with at most 2 decimals that the columns can hold (400 invalid)."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (ArithmeticError, ValueError, TypeError):
        amount = Decimal("NaN")
    problem = None
    if isinstance(value, bool) or not amount.is_finite():
        problem = "A valid number is required."
    elif amount <= 0:
        problem = "Must be greater than 0."
    elif amount > MAX_AMOUNT:
        problem = f"Must be at most {MAX_AMOUNT}."
    elif amount != amount.quantize(CENT):
        problem = "At most 2 decimal places."
    if problem is not None:
        raise Invalid(f"{field}: {problem}", details={field: [problem]})
    return amount.quantize(CENT)


def _check_currency(*, currency: str | None, auction_currency: str) -> None:
    if currency is not None and currency.upper() != auction_currency:
        msg = f"This auction is in {auction_currency}."
        raise Invalid(f"currency: {msg}", details={"currency": [msg]})


def bidding_block_reason(*, user: Any) -> str | None:
    """Why `user` may not bid right now, or None: a `bidding_blocked` case in force (the
    trust app's record, with the reason the person reads and can appeal)."""
    case = case_in_force(user=user, kind="bidding_blocked")
    return None if case is None else case.reason


def _check_bidder(*, user: Any, show: Show, role: Role) -> tuple[PaymentMethod, Address]:
    """Who may bid: not the show's hosts (403), not someone read-only in the show (403
    banned / timed_out, the moderator's reason), not someone whose bidding is blocked
    (403 bidding_blocked), and only with a saved default payment method and address (409
    payment_method_required). Returns them."""
    if role == "host":
        raise Forbidden("Hosts may not bid in their own show.")
    check_not_restricted(show=show, user=user, role=role)  # the show's read-only rule
    reason = bidding_block_reason(user=user)
    if reason is not None:
        raise ApiError("bidding_blocked", reason, status=403, details={"reason": reason})
    method, address = saved_defaults(user_id=user.pk)
    if method is None or address is None:
        raise ApiError(
            "payment_method_required",
            "Save a payment method and a shipping address before bidding.",
            status=409,
        )
    return method, address


def _too_low(*, auction: Auction, floor: Decimal) -> ApiError:
    return ApiError(
        "bid_too_low",
        f"The next bid must be at least {money(floor)} {auction.currency}.",
        status=409,
        details={"min_next_bid": money(floor)},
    )


def _closed() -> ApiError:
    return ApiError("auction_closed", "This auction has ended.", status=409)


# --------------------------------------------------------------------------- events


def _emit_started(auction: Auction) -> None:
    emit_show_event(
        show_id=auction.show_id, type="auction.started", data={"auction": auction_payload(auction)}
    )


def _emit_bid(auction: Auction) -> None:
    emit_show_event(
        show_id=auction.show_id,
        type="auction.bid",
        data={
            "auction": auction.pk,
            "amount": money(auction.current_bid),
            "leader": auction.leader.username if auction.leader else None,
            "bid_count": auction.bid_count,
            "min_next_bid": money(
                rules.min_next_bid(
                    starting_bid=auction.starting_bid, current_bid=auction.current_bid
                )
            ),
            "ends_at": iso(auction.ends_at),
        },
    )


def _emit_outbid(auction: Auction, user_id: int) -> None:
    emit_user_event(
        user_id=user_id,
        type="auction.outbid",
        data={"auction": auction.pk, "amount": money(auction.current_bid)},
    )


def _emit_closed(auction: Auction) -> None:
    """In the closing transaction: the live room's `auction.closed` (after commit) and the
    shop's `auction.closed` webhook (its outbox row, in this transaction)."""
    data = {
        "auction": auction.pk,
        "status": auction.status,
        "winner": auction.winner.username if auction.winner else None,
        "amount": money(auction.current_bid) if auction.status == "sold" else None,
    }
    emit_show_event(show_id=auction.show_id, type="auction.closed", data=data)
    event_record(
        shop_id=auction.product.shop_id,
        type="auction.closed",
        data={**data, "order": auction.order_id, "currency": auction.currency},
    )


def _schedule_close(auction: Auction) -> None:
    """Queue the close for `ends_at`, after commit. The beat sweep closes it anyway if
    this message is lost or its worker dies, so a broker error is only logged."""
    from auctions.tasks import auction_close_at  # the task module imports this one

    auction_id, eta = auction.pk, auction.ends_at

    def send() -> None:
        try:
            auction_close_at.apply_async((auction_id,), eta=eta)
        except Exception:
            logger.exception("could not queue auction close", extra={"auction_id": auction_id})

    transaction.on_commit(send)


# --------------------------------------------------------------------------- start


def auction_start(
    *,
    user: Any,
    show_id: int,
    product_id: int,
    variant_id: int | None = None,
    starting_bid: Decimal,
    duration_s: int,
    sudden_death: bool = False,
    reserve: Decimal | None = None,
) -> Auction:
    """Start an auction of one unit (hosts of a live show). The unit is held at once (409
    sold_out), the product becomes the current pin, open pre-bids become proxy bids.
    409 show_not_live, 409 auction_running (one per show), 400 invalid."""
    starting_bid = check_amount(field="starting_bid", value=starting_bid)
    if reserve is not None:
        reserve = check_amount(field="reserve", value=reserve)
    if not Auction.MIN_DURATION_S <= duration_s <= Auction.MAX_DURATION_S:
        msg = f"Between {Auction.MIN_DURATION_S} and {Auction.MAX_DURATION_S} seconds."
        raise Invalid(f"duration_s: {msg}", details={"duration_s": [msg]})
    with transaction.atomic():
        show, role = show_with_role(show_id=show_id, user=user, lock=True)
        if show is None or (show.rehearsal and role != "host"):
            raise NotFound("No such show.")
        if role != "host":
            raise Forbidden("Only the show's hosts may start an auction.")
        if show.status != Show.Status.LIVE or show.rehearsal:
            raise ApiError("show_not_live", "Auctions run in a live show.", status=409)
        product = Product.objects.filter(
            pk=product_id, shop_id=show.shop_id, is_active=True
        ).first()
        if product is None:
            msg = "No such active product in this show's shop."
            raise Invalid(f"product: {msg}", details={"product": [msg]})
        listing_require_ready(product)  # 409 listing_not_ready (trust's rule)
        variant = checkout.variant_choose(product=product, variant_id=variant_id)
        if Auction.objects.filter(show=show, status=Auction.Status.RUNNING).exists():
            raise ApiError("auction_running", "An auction is already running.", status=409)
        now = clock.now()
        pin = pin_product(user=user, show_id=show.pk, product_id=product.pk)
        hold = Hold.objects.create(
            buyer_id=user.pk,
            show=show,
            product=product,
            variant=variant,
            quantity=1,
            unit_price=starting_bid,
            currency=product.currency,
            expires_at=now + timedelta(seconds=duration_s) + UNIT_HOLD_MARGIN,
            created_at=now,
        )
        try:
            with transaction.atomic():
                auction = Auction.objects.create(
                    show=show,
                    product=product,
                    variant=variant,
                    pin=pin,
                    hold=hold,
                    started_by=user,
                    currency=product.currency,
                    starting_bid=starting_bid,
                    reserve=reserve,
                    duration_s=duration_s,
                    sudden_death=sudden_death,
                    started_at=now,
                    ends_at=now + timedelta(seconds=duration_s),
                )
        except IntegrityError:  # a concurrent start won the partial unique index
            raise ApiError(
                "auction_running", "An auction is already running.", status=409
            ) from None
        # The gate, last writer on the variant row (orders/inventory.py).
        available = inventory.reserve(variant_id=variant.pk, quantity=1)
        if available is None:
            raise ApiError("sold_out", "No unit left to auction.", status=409)
        inventory.announce_variant(show_id=show.pk, variant=variant, available=available)
        _emit_started(auction)
        _prebids_apply(auction=auction, now=now)
        _schedule_close(auction)
    return auction


def _prebids_apply(*, auction: Auction, now: datetime) -> None:
    """Open pre-bids on the product in this show become proxy bids, oldest first."""
    prebids = list(
        PreBid.objects.filter(show_id=auction.show_id, product_id=auction.product_id, used_in=None)
        .select_related("bidder")
        .order_by("id")
    )
    for prebid in prebids:
        PreBid.objects.filter(pk=prebid.pk).update(used_in=auction)
        if prebid.variant_id not in (None, auction.variant_id):
            continue
        if bidding_block_reason(user=prebid.bidder) is not None:
            continue
        floor = rules.min_next_bid(
            starting_bid=auction.starting_bid, current_bid=auction.current_bid
        )
        if prebid.max_amount < floor:
            continue
        _decide(
            auction=auction,
            bidder=prebid.bidder,
            amount=floor,
            max_amount=prebid.max_amount,
            now=now,
        )


# --------------------------------------------------------------------------- bids


@dataclass(frozen=True)
class BidResult:
    auction: Auction
    amount: Decimal  # the price this request moved the auction to (or left it at)
    max_amount: Decimal | None
    leading: bool
    created_at: datetime


def bid_place(
    *,
    user: Any,
    auction_id: int,
    amount: Any,
    max_amount: Any = None,
    currency: str | None = None,
) -> BidResult:
    """Bid on a running auction (see `auctions.rules.place` for the rules). The checks
    that need no lock come first; the decision is taken under the auction row's lock.
    409 auction_closed / bid_too_low (details.min_next_bid) / payment_method_required,
    403 bidding_blocked / banned / permission_denied (the host), 400 invalid."""
    amount = check_amount(field="amount", value=amount)
    if max_amount is not None:
        max_amount = check_amount(field="max_amount", value=max_amount)
        if max_amount < amount:
            msg = "Must be at least the amount."
            raise Invalid(f"max_amount: {msg}", details={"max_amount": [msg]})
    auction = Auction.objects.filter(pk=auction_id).first()
    if auction is None:
        raise NotFound("No such auction.")
    _check_currency(currency=currency, auction_currency=auction.currency)
    # The refusals a hammered auction answers most come first, before the bidder's checks
    # (five reads): a closed auction, and a too-low bid, refused without the lock — the
    # price only rises while the auction runs, so a bid below the floor read a moment ago
    # is below the current floor too. Decision (docs/auctions.md, "Refusals"): these two
    # answer anyone, even a bidder the checks below would refuse; both say only what the
    # live room already shows everyone (the auction's status and price).
    if auction.status != Auction.Status.RUNNING:
        raise _closed()
    floor = rules.min_next_bid(starting_bid=auction.starting_bid, current_bid=auction.current_bid)
    if amount < floor:
        raise _too_low(auction=auction, floor=floor)
    show, role = show_with_role(show_id=auction.show_id, user=user)
    if show is None:  # the auction's foreign key keeps its show
        raise InternalError(f"Auction {auction.pk} has no show.")
    _check_bidder(user=user, show=show, role=role)
    with transaction.atomic():
        auction = (
            Auction.objects.select_for_update(of=("self",))
            .select_related("leader")
            .get(pk=auction_id)
        )
        now = clock.now()
        if auction.status != Auction.Status.RUNNING:
            raise _closed()
        leading = _decide(
            auction=auction, bidder=user, amount=amount, max_amount=max_amount, now=now
        )
    return BidResult(
        auction=auction,
        amount=auction.current_bid or amount,
        max_amount=max_amount,
        leading=leading,
        created_at=now,
    )


def _decide(
    *, auction: Auction, bidder: Any, amount: Decimal, max_amount: Decimal | None, now: datetime
) -> bool:
    """Apply one bid to the locked auction: the rules, the accepted `Bid` rows, the
    bidder's maximum, the auction's new price, end and leader, and the events. Returns
    whether `bidder` leads afterwards."""
    ids = [bidder.pk] + ([auction.leader_id] if auction.leader_id else [])
    proxies = {p.bidder_id: p for p in ProxyBid.objects.filter(auction=auction, bidder_id__in=ids)}
    state = rules.State(
        starting_bid=auction.starting_bid,
        ends_at=auction.ends_at,
        sudden_death=auction.sudden_death,
        current_bid=auction.current_bid,
        leader=auction.leader_id,
        maxima={uid: (p.max_amount, p.placed_seq) for uid, p in proxies.items()},
    )
    order = auction.decisions + 1
    try:
        outcome = rules.place(
            state, bidder=bidder.pk, amount=amount, max_amount=max_amount, now=now, order=order
        )
    except rules.Closed:
        raise _closed() from None
    except rules.TooLow as low:
        raise _too_low(auction=auction, floor=low.min_next) from None
    new_max, placed = state.maxima[bidder.pk]
    if proxies.get(bidder.pk) is None or proxies[bidder.pk].max_amount != new_max:
        ProxyBid.objects.bulk_create(  # one upsert statement
            [
                ProxyBid(
                    auction=auction,
                    bidder_id=bidder.pk,
                    max_amount=new_max,
                    placed_seq=placed,
                    updated_at=now,
                )
            ],
            update_conflicts=True,
            unique_fields=["auction", "bidder"],
            update_fields=["max_amount", "placed_seq", "updated_at"],
        )
    Bid.objects.bulk_create(
        [
            Bid(auction=auction, bidder_id=s.bidder, amount=s.amount, proxy=s.proxy, created_at=now)
            for s in outcome.steps
        ]
    )
    if outcome.leader != auction.leader_id:
        auction.leader = bidder if outcome.leader == bidder.pk else auction.leader
    auction.current_bid = outcome.current_bid
    auction.ends_at = outcome.ends_at
    auction.bid_count += len(outcome.steps)
    auction.decisions = order
    auction.save(update_fields=["current_bid", "leader", "ends_at", "bid_count", "decisions"])
    if outcome.steps:
        _emit_bid(auction)
        if outcome.outbid is not None:
            _emit_outbid(auction, outcome.outbid)
        elif outcome.leader != bidder.pk:
            _emit_outbid(auction, bidder.pk)  # beaten at once by the leader's maximum
    return outcome.leader == bidder.pk


# --------------------------------------------------------------------------- close


def auction_close(*, auction_id: int) -> bool:
    """Close the auction if it is running and due; True only for the call that closed it.

    sold (a leader at or above the reserve): the held unit becomes the winner's — their
    hold at the hammer price, and with their saved payment method and address an order
    in pending_payment (bundled shipping) whose capture Celery runs. Otherwise no_sale:
    the unit goes back on sale (stock.changed)."""
    now = clock.now()
    with transaction.atomic():
        auction = (
            Auction.objects.select_for_update(of=("self",))
            .select_related("leader")
            .filter(pk=auction_id)
            .first()
        )
        if auction is None or auction.status != Auction.Status.RUNNING or now < auction.ends_at:
            return False
        sold = auction.leader_id is not None and (
            auction.reserve is None
            or (auction.current_bid is not None and auction.current_bid >= auction.reserve)
        )
        status = Auction.Status.SOLD if sold else Auction.Status.NO_SALE
        if (
            Auction.objects.filter(pk=auction.pk, status=Auction.Status.RUNNING).update(
                status=status, closed_at=now
            )
            != 1
        ):
            return False
        auction.status, auction.closed_at = status, now
        if sold:
            auction.winner = auction.leader
            auction.order = _award(auction=auction, now=now)
            auction.save(update_fields=["winner", "order"])
        else:
            _unit_release(auction=auction, now=now)
        _emit_closed(auction)
    return True


def _award(*, auction: Auction, now: datetime) -> Any:
    """Hand the auction's held unit to the winner at the hammer price; with their saved
    payment method and address, open the order (one-tap) and queue its capture."""
    winner = auction.winner
    if winner is None or auction.current_bid is None or auction.hold_id is None:
        raise InternalError(f"auction {auction.pk} is awarded without a winner, bid or hold")
    hold = Hold.objects.select_for_update().select_related("variant").get(pk=auction.hold_id)
    hold.buyer_id = winner.pk
    hold.unit_price = auction.current_bid
    hold.expires_at = now + timedelta(seconds=settings.HOLD_TTL_SECONDS)
    hold.save(update_fields=["buyer", "unit_price", "expires_at"])
    order = checkout.order_open_one_tap(hold=hold, now=now)
    checkout.hold_updated(hold)
    return order


def _unit_release(*, auction: Auction, now: datetime) -> None:
    """Give the auction's unit back (no sale, cancel): back on sale, waitlist first."""
    if auction.hold_id is None:
        return
    hold = Hold.objects.select_related("variant").filter(pk=auction.hold_id).first()
    if hold is not None:
        checkout.hold_end(hold=hold, status=Hold.Status.CANCELLED, now=now)


def auctions_close_due() -> int:
    """The sweep: close every running auction past its end (safe to run anywhere, any
    number of times). Returns how many this call closed."""
    return sum(auction_close(auction_id=pk) for pk in auctions_due())


def auction_cancel(*, user: Any, auction_id: int, reason: str) -> Auction:
    """The host cancels a running auction before its first bid; the unit goes back on sale."""
    with transaction.atomic():
        auction = (
            Auction.objects.select_for_update(of=("self",))
            .select_related("leader", "winner")
            .filter(pk=auction_id)
            .first()
        )
        if auction is None:
            raise NotFound("No such auction.")
        show, role = show_with_role(show_id=auction.show_id, user=user)
        if role != "host":
            if show is not None and show.rehearsal:
                raise NotFound("No such auction.")
            raise Forbidden("Only the show's hosts may cancel an auction.")
        if auction.status != Auction.Status.RUNNING:
            raise _closed()
        if auction.bid_count > 0 or ProxyBid.objects.filter(auction=auction).exists():
            raise ApiError("invalid_state", "An auction with bids cannot be cancelled.", status=409)
        now = clock.now()
        Auction.objects.filter(pk=auction.pk).update(
            status=Auction.Status.CANCELLED, closed_at=now, cancel_reason=reason[:500]
        )
        auction.status, auction.closed_at, auction.cancel_reason = (
            Auction.Status.CANCELLED,
            now,
            reason[:500],
        )
        _unit_release(auction=auction, now=now)
        _emit_closed(auction)
    return auction


# --------------------------------------------------------------------------- pre-bids


def prebid_place(
    *, user: Any, show_id: int, product_id: int, variant_id: int | None, max_amount: Any
) -> PreBid:
    """Leave a maximum on a product of the show's lineup before its auction (one open
    pre-bid per bidder and product: a new one replaces it). Same bidder checks as a bid."""
    max_amount = check_amount(field="max_amount", value=max_amount)
    show, role = show_with_role(show_id=show_id, user=user)
    if show is None or show.rehearsal:
        raise NotFound("No such show.")
    if show.status == Show.Status.ENDED:
        raise ApiError("show_not_live", "This show has ended.", status=409)
    product = Product.objects.filter(pk=product_id, shop_id=show.shop_id, is_active=True).first()
    if product is None:
        msg = "No such active product in this show's shop."
        raise Invalid(f"product: {msg}", details={"product": [msg]})
    if variant_id is not None and not product.variants.filter(pk=variant_id).exists():
        msg = "Not a variant of this product."
        raise Invalid(f"variant: {msg}", details={"variant": [msg]})
    _check_bidder(user=user, show=show, role=role)
    with transaction.atomic():
        PreBid.objects.filter(show=show, product=product, bidder_id=user.pk, used_in=None).delete()
        return PreBid.objects.create(
            show=show,
            product=product,
            variant_id=variant_id,
            bidder_id=user.pk,
            max_amount=max_amount,
            created_at=clock.now(),
        )


# --------------------------------------------------------------------------- unpaid


def auction_unpaid_handle(*, auction_id: int) -> bool:
    """A sold auction whose winner's payment failed: the winner gets a strike (three in
    the window block bidding) and the runner-up a second-chance offer at their highest
    bid — a hold, as a waitlist offer, expiring after `WAITLIST_OFFER_SECONDS`. Once per
    auction; True for the call that handled it."""
    now = clock.now()
    with transaction.atomic():
        auction = (
            Auction.objects.select_for_update(of=("self",))
            .select_related("order", "winner")
            .filter(pk=auction_id)
            .first()
        )
        if (
            auction is None
            or auction.unpaid_handled_at is not None
            or auction.order is None
            or auction.order.status != "payment_failed"
            or auction.winner is None
        ):
            return False
        auction.unpaid_handled_at = now
        auction.save(update_fields=["unpaid_handled_at"])
        failure = auction.order.failure_reason
        Strike.objects.create(
            user=auction.winner,
            auction=auction,
            reason=f"Won auction {auction.pk}; the payment failed ({failure}).",
            created_at=now,
        )
        _strikes_enforce(user=auction.winner, auction=auction)
        _second_chance_offer(auction=auction, now=now)
    return True


def _strikes_enforce(*, user: Any, auction: Auction) -> None:
    """At `AUCTION_STRIKES_TO_BLOCK` strikes within the window, block bidding: a trust
    case (rule B1) the person reads and can appeal, in force until the oldest of those
    strikes leaves the window."""
    strikes = list(strikes_recent(user_id=user.pk).order_by("created_at"))
    if len(strikes) < settings.AUCTION_STRIKES_TO_BLOCK or bidding_block_reason(user=user):
        return
    window = timedelta(days=settings.AUCTION_STRIKE_WINDOW_DAYS)
    case_open(
        subject=user,
        kind="bidding_blocked",
        rule="B1",
        actor="automatic",
        reason=(
            f"Bidding is blocked: {len(strikes)} auctions won and not paid in the last "
            f"{settings.AUCTION_STRIKE_WINDOW_DAYS} days."
        ),
        evidence={
            "auctions": [s.auction_id for s in strikes],
            "strikes": [s.reason for s in strikes],
        },
        show=auction.show,
        product=auction.product,
        expires_at=strikes[0].created_at + window,
    )


def _second_chance_offer(*, auction: Auction, now: datetime) -> Hold | None:
    """Offer the unit to the runner-up at their highest bid, as a waitlist offer: a hold
    expiring after `WAITLIST_OFFER_SECONDS`, within the buyer's per-buyer limit
    (`orders.terms.offer_room`, the rule every hold-creating path obeys). Runners-up
    at their limit or mid-purchase are passed over for the next best maximum."""
    runners = (
        ProxyBid.objects.filter(auction=auction)
        .exclude(bidder_id=auction.winner_id)
        .order_by("-max_amount", "placed_seq")
    )
    variant = Variant.objects.select_related("product").get(pk=auction.variant_id)
    terms = sale_terms(show_id=auction.show_id, product_id=auction.product_id, variant=variant)
    where = {"show_id": auction.show_id, "product_id": auction.product_id}
    for runner in runners[:20]:
        if offer_room(buyer_id=runner.bidder_id, **where, terms=terms, now=now) != OfferRoom.OK:
            continue
        top = Bid.objects.filter(auction=auction, bidder_id=runner.bidder_id).order_by("-amount")
        highest = top.values_list("amount", flat=True).first()
        left = inventory.reserve(variant_id=auction.variant_id, quantity=1)
        if left is None:
            return None  # the released unit was taken already (the waitlist or a buyer)
        hold = checkout.offer_hold_create(
            buyer_id=runner.bidder_id,
            show_id=auction.show_id,
            product_id=auction.product_id,
            variant_id=auction.variant_id,
            unit_price=highest if highest is not None else runner.max_amount,
            currency=auction.currency,
            now=now,
        )
        Auction.objects.filter(pk=auction.pk).update(second_chance=hold)
        inventory.announce_variant(show_id=auction.show_id, variant=variant, available=left)
        return hold
    return None
