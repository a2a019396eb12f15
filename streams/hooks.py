"""The live room's hooks: what streams calls in apps above it (`core.hooks` says how).

- `pin_check(product)`: `services.pin_product` asks it before pinning; trust registers
  `listing_require_ready` (409 `listing_not_ready`).
- `moderation_applied(record=)`: `services.moderation_apply`, inside its transaction;
  trust registers `case_for_moderation` (a ban or timeout is a case).
- `pin_shipping_fee(buyer=, pin=)`: `selectors.pin_payload` for a signed-in viewer;
  orders registers `orders.selectors.pin_shipping_fee`.
- `running_auction(show_id=)`: the snapshot's `auction` (`selectors.show_snapshot`);
  auctions registers `auctions.selectors.auction_running_payload`.

Every hook is required: a process where the registering app did not start raises
`InternalError` instead of pinning an unchecked listing or dropping a payload field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from catalog.models import Product
from core.hooks import Hook
from streams.models import ModerationAction, Pin


class PinCheck(Protocol):
    def __call__(self, product: Product, /) -> Any: ...


class ModerationApplied(Protocol):
    def __call__(self, *, record: ModerationAction) -> Any: ...


class PinShippingFee(Protocol):
    def __call__(self, *, buyer: Any, pin: Pin) -> Decimal: ...


class RunningAuction(Protocol):
    def __call__(self, *, show_id: int) -> dict[str, Any] | None: ...


_pin_check: Hook[PinCheck] = Hook("streams.pin_check", provider="trust (TrustConfig.ready)")
_moderation_applied: Hook[ModerationApplied] = Hook(
    "streams.moderation_applied", provider="trust (TrustConfig.ready)"
)
_pin_shipping_fee: Hook[PinShippingFee] = Hook(
    "streams.pin_shipping_fee", provider="orders (OrdersConfig.ready)"
)
_running_auction: Hook[RunningAuction] = Hook(
    "streams.running_auction", provider="auctions (AuctionsConfig.ready)"
)


def register_pin_check(fn: PinCheck) -> None:
    _pin_check.register(fn)


def register_moderation_applied(fn: ModerationApplied) -> None:
    _moderation_applied.register(fn)


def register_pin_shipping_fee(fn: PinShippingFee) -> None:
    _pin_shipping_fee.register(fn)


def register_running_auction(fn: RunningAuction) -> None:
    _running_auction.register(fn)


def pin_check(product: Product) -> None:
    """May this product be pinned? Raises the refusal (trust: 409 `listing_not_ready`
    when a `block` listing check fails)."""
    _pin_check.get()(product)


def moderation_applied(*, record: ModerationAction) -> None:
    """A moderation action was recorded; called inside its transaction, so what trust does
    with it (a ban or timeout opens a case, an unban lifts them) is atomic with it."""
    _moderation_applied.get()(record=record)


def pin_shipping_fee(*, buyer: Any, pin: Pin) -> Decimal:
    """What one unit of the pinned product would add for shipping to this buyer (orders)."""
    return _pin_shipping_fee.get()(buyer=buyer, pin=pin)


def running_auction(*, show_id: int) -> dict[str, Any] | None:
    """The show's running auction as the snapshot's `auction` field, or None (auctions)."""
    return _running_auction.get()(show_id=show_id)
