"""The buyer's private events about their holds and orders (`hold.updated`,
`order.updated`), emitted inside the transaction and delivered after commit
(`streams.events`). `stock.changed` is `orders.inventory`'s, with the stock it announces."""

from __future__ import annotations

from orders.models import Hold, Order
from orders.serializers import hold_data, order_data
from streams.events import emit_user_event


def hold_updated(hold: Hold) -> None:
    emit_user_event(user_id=hold.buyer_id, type="hold.updated", data=hold_data(hold))


def order_updated(order: Order) -> None:
    emit_user_event(user_id=order.buyer_id, type="order.updated", data=order_data(order))
