"""The webhook event registry: every event type a seller can subscribe to (SPEC "v1.1 —
Webhooks"). One list for the API's `events` filter, the outbox and the docs.

To add an event: add its name here (and to docs/webhooks.md), then call
`webhooks.services.event_record(shop_id=..., type="<name>", data=...)` inside the
transaction of the change it reports.
"""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "order.created",
    "order.paid",
    "order.payment_failed",
    "order.cancelled",
    "order.refunded",
    "shipment.shipped",
    "shipment.delivered",
    "show.started",
    "show.ended",
    "auction.closed",
    "dispute.opened",
    "dispute.resolved",
)

#: The filter value that subscribes an endpoint to every event, present and future.
ALL_EVENTS = "*"
