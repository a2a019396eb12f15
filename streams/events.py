"""The fan-out interface every app uses to tell viewers what changed.

Services call these *inside* their transaction; delivery happens after commit
(`transaction.on_commit`), so viewers never see an event for a change that rolled back,
and off the request's thread (`streams.relay`), so a request does not wait for it.
Sequencing (`seq`), retention for `resume` and delivery to sockets belong to the
streams fan-out layer (see docs/live-room.md), not to callers.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from django.db import transaction

from core.errors import InternalError
from streams import fanout
from streams.audience import Audience, event_audience
from streams.relay import relay_submit

logger = logging.getLogger(__name__)


def emit_show_event(
    *, show_id: int, type: str, data: dict[str, Any], latest_of: Hashable | None = None
) -> None:
    """Deliver `type` with `data` to its audience in show `show_id` (everyone watching, or
    the show's hosts: `streams.audience`), after commit. `latest_of`: the event only states
    the latest value of that thing (a variant's stock), so a newer event of the same type
    and thing may replace it before it goes out (`streams.relay`, coalescing)."""
    if event_audience(type) is Audience.USER:  # checked now, not after commit
        raise InternalError(f"{type!r} is for one user: use emit_user_event")
    coalesce = None if latest_of is None else (show_id, type, latest_of)

    transaction.on_commit(
        lambda: relay_submit(
            lambda: fanout.publish_show_event(show_id=show_id, type=type, data=data),
            coalesce=coalesce,
        )
    )


def emit_user_event(*, user_id: int, type: str, data: dict[str, Any]) -> None:
    """Send a private event to one user's open sockets (all shows), after commit."""
    if event_audience(type) is not Audience.USER:
        raise InternalError(f"{type!r} is not a one-user event: use emit_show_event")

    transaction.on_commit(
        lambda: relay_submit(
            lambda: fanout.publish_user_event(user_id=user_id, type=type, data=data)
        )
    )
