"""Checkout writes, one module per concern (docs/checkout.md, "Code map"):

- `offer`     what a buy or a waitlist join asks for, checked (show, pin, variant)
- `buy`       hold_create: hold units, one-tap order
- `endings`   a hold without an order ends (expire, cancel, `hold_end`); units released
- `checkout`  hold_checkout / order_open: a hold becomes an order, its capture queued
- `payment`   order_capture_payment: start an attempt, call the provider, settle
- `aftersale` order_cancel / order_refund: decide under the lock, refund after commit
- `shipping`  the bundled parcel: join, leave, ship, deliver
- `waitlist`  waitlist_join, offers (also the auction's second chance)
- `wallet`    saved payment methods and addresses
- `notify`    the buyer's hold.updated / order.updated events

This package re-exports the public names, so `from orders import services;
services.hold_create(...)` works. Other apps use only these names (auctions included).

Concurrency rules for this module (after Zulip's database-concurrency notes):

- Stock moves only through `orders.inventory` (conditional UPDATEs; read its docstring),
  which also announces it (`stock.changed`).
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
- Transactions are short; the payment provider is never called while holding a lock
  (`payment` calls it between two transactions, `aftersale` after commit).
- Events are emitted inside the transaction and delivered after commit
  (`streams.events`), so nobody hears about a change that rolled back.
"""

from orders.services.aftersale import (
    REFUNDABLE,
    order_cancel,
    order_refund,
    refund_settle,
    refunds_settle_due,
)
from orders.services.buy import BuyResult, hold_create
from orders.services.checkout import hold_checkout, order_open, order_open_one_tap
from orders.services.endings import hold_cancel, hold_end, hold_expire, holds_expire_due
from orders.services.notify import hold_updated, order_updated
from orders.services.offer import Offer, resolve_offer, variant_choose
from orders.services.payment import (
    CaptureOutcome,
    capture_reverse,
    capture_settle,
    capture_start,
    order_capture_payment,
    reversals_settle_due,
)
from orders.services.shipping import shipment_deliver, shipment_ship
from orders.services.waitlist import (
    offer_hold_create,
    waitlist_join,
    waitlist_offer,
    waitlist_offer_due,
)
from orders.services.wallet import (
    address_add,
    address_delete,
    payment_method_add,
    payment_method_delete,
)

__all__ = [
    "REFUNDABLE",
    "BuyResult",
    "CaptureOutcome",
    "Offer",
    "address_add",
    "address_delete",
    "capture_reverse",
    "capture_settle",
    "capture_start",
    "hold_cancel",
    "hold_checkout",
    "hold_create",
    "hold_end",
    "hold_expire",
    "hold_updated",
    "holds_expire_due",
    "offer_hold_create",
    "order_cancel",
    "order_capture_payment",
    "order_open",
    "order_open_one_tap",
    "order_refund",
    "order_updated",
    "payment_method_add",
    "payment_method_delete",
    "refund_settle",
    "refunds_settle_due",
    "resolve_offer",
    "reversals_settle_due",
    "shipment_deliver",
    "shipment_ship",
    "variant_choose",
    "waitlist_join",
    "waitlist_offer",
    "waitlist_offer_due",
]
