"""Who may see each live-room event: the one table every delivery path follows.

An event's audience decides where it is published, and so everything downstream:

* ``EVERYONE`` — the show's channel. It takes the show's next `seq`, is retained for
  `resume`, and reaches every socket of the show (anonymous ones too), live, in a `batch`,
  by the direct-write path, and in a replay. Snapshots are state anyone may read.
* ``HOSTS`` — the show's hosts channel, which only sockets of the show's hosts subscribe
  to (decided when the socket joins, by `socket_hears_hosts`). Like a private event it
  has **no** `seq` and is not retained, so viewers' `seq` stays gap-free: a host-only
  event never takes a show number a viewer would then miss. A host that reconnects
  reads the figures again over REST (the shop's orders).
* ``USER`` — one user's channel (all of that user's sockets); no `seq`, not retained.

Frames a socket sends only to itself (`show.snapshot`, `resync`, `pong`, `error`,
`batch`) are not events and are not in the table. An event type that is not in the table
cannot be emitted (`event_audience` raises): a new event needs a decision here first.
The table is written out for people in docs/live-room.md ("Who sees which event").
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import InternalError


class Audience(StrEnum):
    EVERYONE = "everyone"
    HOSTS = "hosts"
    USER = "user"


EVENT_AUDIENCE: dict[str, Audience] = {
    # What anyone watching may know: the room's public state.
    "show.status": Audience.EVERYONE,
    "pin.changed": Audience.EVERYONE,
    "stock.changed": Audience.EVERYONE,
    "chat.message": Audience.EVERYONE,
    "chat.removed": Audience.EVERYONE,
    "chat.settings": Audience.EVERYONE,
    "viewers.changed": Audience.EVERYONE,
    "reaction.burst": Audience.EVERYONE,
    "auction.started": Audience.EVERYONE,
    "auction.bid": Audience.EVERYONE,
    "auction.closed": Audience.EVERYONE,
    # The shop's business: order ids and amounts are for its hosts only.
    "sale.recorded": Audience.HOSTS,
    # One person's own affairs.
    "hold.updated": Audience.USER,
    "order.updated": Audience.USER,
    "moderation.notice": Audience.USER,
    "auction.outbid": Audience.USER,
    "case.updated": Audience.USER,
}


def event_audience(type: str) -> Audience:
    """The audience of event `type`; InternalError for a type nobody decided on."""
    try:
        return EVENT_AUDIENCE[type]
    except KeyError:
        raise InternalError(
            f"live-room event {type!r} has no audience: add it to streams.audience"
        ) from None


def socket_hears_hosts(role: str) -> bool:
    """Whether a socket whose user has `role` in the show receives ``HOSTS`` events."""
    return role == "host"
