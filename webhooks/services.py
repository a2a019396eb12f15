"""Webhook writes: the outbox (`event_record`), endpoints, secret rotation, redelivery.

The outbox rule (SPEC "v1.1 — Webhooks"): a service that changes something a seller
subscribes to calls `event_record` inside its own transaction. The event and its
deliveries are rows of that transaction, so they exist exactly when the change does —
none lost, none for a change that rolled back — and the relay is woken after commit.
The relay itself (claiming, sending, retrying) is `webhooks.relay`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from catalog.models import Shop
from core.errors import InternalError, Invalid, InvalidState
from webhooks import signing
from webhooks.events import ALL_EVENTS, EVENT_TYPES
from webhooks.models import Delivery, Endpoint, new_event_id
from webhooks.relay import relay_wake
from webhooks.urlcheck import UnsafeUrl, url_resolve

logger = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_SHOP = 20
ROTATION_GRACE = timedelta(hours=24)

# One statement whether or not anyone listens: the shop's matching active endpoints, the
# event row only if there is one, and one delivery per endpoint. No endpoint, no rows.
_RECORD_SQL = """
WITH ep AS (
    SELECT id FROM webhooks_endpoint
    WHERE shop_id = %(shop)s AND active AND (%(type)s = ANY(events) OR '*' = ANY(events))
), ev AS (
    INSERT INTO webhooks_event (id, shop_id, type, data, created_at)
    SELECT %(id)s, %(shop)s, %(type)s, %(data)s::jsonb, %(now)s
    WHERE EXISTS (SELECT 1 FROM ep)
    RETURNING id
)
INSERT INTO webhooks_delivery (
    event_id, endpoint_id, status, attempts, next_attempt_at, last_error, created_at
)
SELECT ev.id, ep.id, 'pending', 0, %(now)s, '', %(now)s FROM ev CROSS JOIN ep
RETURNING id
"""


def event_record(*, shop_id: int, type: str, data: dict[str, Any]) -> int:
    """Record event `type` for the shop's subscribed endpoints, in the caller's transaction.

    Call it inside the transaction of the change it reports. Returns how many deliveries
    were queued (0 when no active endpoint of the shop wants `type`: nothing is written).
    The relay is woken once the transaction commits.
    """
    if type not in EVENT_TYPES:
        raise InternalError(f"unregistered webhook event type {type!r} (see webhooks/events.py)")
    params: dict[str, Any] = {
        "shop": shop_id,
        "type": type,
        "id": new_event_id(),
        "data": DjangoJSONEncoder().encode(data),
        "now": timezone.now(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_SQL, params)
        queued = len(cursor.fetchall())
    if queued:
        transaction.on_commit(_wake_relay)
    return queued


def _wake_relay() -> None:
    """After commit. A broker or Redis outage must not fail a committed change: the
    sweep (`webhooks.sweep`) finds the due deliveries and starts a relay."""
    try:
        relay_wake()
    except Exception:
        logger.exception("could not wake the webhook relay")


# --------------------------------------------------------------------------- endpoints


def _check_url(url: str) -> str:
    try:
        url_resolve(url)
    except UnsafeUrl as exc:
        raise Invalid(str(exc), details={"url": [str(exc)]}) from None
    return url


def events_clean(events: Any) -> list[str]:
    """The endpoint's event filter: known names (no repeats) or ``["*"]``; else 400."""
    if not isinstance(events, list) or not events:
        raise Invalid(
            'List the event types to send, or ["*"] for all.',
            details={"events": ['A non-empty list of event types, or ["*"].']},
        )
    if not all(isinstance(e, str) for e in events):
        raise Invalid("Event types are strings.", details={"events": ["Strings only."]})
    if ALL_EVENTS in events:
        if len(events) != 1:
            raise Invalid(
                '"*" means every event; list it alone.',
                details={"events": ['"*" means every event; list it alone.']},
            )
        return [ALL_EVENTS]
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        message = f"Unknown event types: {', '.join(repr(e[:64]) for e in unknown[:5])}."
        raise Invalid(message, details={"events": [message]})
    return list(dict.fromkeys(events))


@transaction.atomic
def endpoint_create(*, shop: Shop, url: str, events: Any) -> Endpoint:
    """A new endpoint for the shop, active, with a fresh secret (shown to the owner once).
    400 for an unsafe URL or unknown events; 409 past `MAX_ENDPOINTS_PER_SHOP`."""
    events = events_clean(events)
    _check_url(url)
    Shop.objects.select_for_update(no_key=True).filter(pk=shop.pk).first()
    if Endpoint.objects.filter(shop=shop).count() >= MAX_ENDPOINTS_PER_SHOP:
        raise InvalidState(f"A shop has at most {MAX_ENDPOINTS_PER_SHOP} webhook endpoints.")
    return Endpoint.objects.create(
        shop=shop, url=url, events=events, secret=signing.secret_generate()
    )


@transaction.atomic
def endpoint_update(
    *,
    endpoint: Endpoint,
    url: str | None = None,
    events: Any = None,
    active: bool | None = None,
) -> Endpoint:
    """Change the URL, the event filter, or switch the endpoint on or off. Switching a
    disabled endpoint back on clears its disabled reason; its pending deliveries resume."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    fields: list[str] = []
    if url is not None:
        endpoint.url = _check_url(url)
        fields.append("url")
    if events is not None:
        endpoint.events = events_clean(events)
        fields.append("events")
    if active is not None and active != endpoint.active:
        endpoint.active = active
        if active:
            endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = "", None, None
        else:
            endpoint.disabled_reason, endpoint.disabled_at = (
                "Disabled by the owner.",
                timezone.now(),
            )
        fields += ["active", "disabled_reason", "disabled_at", "failing_since"]
    if fields:
        endpoint.save(update_fields=fields)
    if active:
        transaction.on_commit(_wake_relay)
    return endpoint


def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Delete the endpoint with its delivery log (pending deliveries are dropped)."""
    endpoint.delete()


@transaction.atomic
def endpoint_secret_rotate(*, endpoint: Endpoint) -> Endpoint:
    """A new secret signs from now on; the current one keeps signing alongside it for
    24 hours (both signatures in `webhook-signature`), so receivers can switch over."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + ROTATION_GRACE
    endpoint.secret = signing.secret_generate()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return endpoint


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Send the delivery's event again, now, as a new delivery with a fresh retry
    schedule and the same `webhook-id`. 409 while the endpoint is disabled."""
    endpoint = Endpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    if not endpoint.active:
        raise InvalidState("This endpoint is disabled; enable it first.")
    new = Delivery.objects.create(
        event_id=delivery.event_id, endpoint=endpoint, redelivery_of=delivery
    )
    transaction.on_commit(_wake_relay)
    return new
