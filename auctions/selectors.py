"""Reads for auctions, and the one place their payloads are shaped (REST answers, the
`auction.*` events and the live-room snapshot use these)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from auctions import rules
from auctions.models import Auction, Strike
from orders import clock
from streams.selectors import iso, money

# A show's auctions listed at once (the replay); a show runs far fewer.
SHOW_AUCTIONS_LISTED = 500


def _username(user: Any) -> str | None:
    return None if user is None else str(user.username)


def auction_min_next(auction: Auction) -> Any:
    return rules.min_next_bid(starting_bid=auction.starting_bid, current_bid=auction.current_bid)


def auction_payload(auction: Auction) -> dict[str, Any]:
    """An auction as clients see it (SPEC: GET /api/v1/auctions/{id}/)."""
    return {
        "id": auction.pk,
        "show": auction.show_id,
        "product": auction.product_id,
        "variant": auction.variant_id,
        "status": auction.status,
        "currency": auction.currency,
        "starting_bid": money(auction.starting_bid),
        "reserve_met": (
            auction.reserve is None
            or (auction.current_bid is not None and auction.current_bid >= auction.reserve)
        ),
        "current_bid": money(auction.current_bid),
        "leader": _username(auction.leader),
        "bid_count": auction.bid_count,
        "min_next_bid": money(auction_min_next(auction)),
        "started_at": iso(auction.started_at),
        "ends_at": iso(auction.ends_at),
        "closed_at": iso(auction.closed_at),
        "sudden_death": auction.sudden_death,
        "winner": _username(auction.winner),
        "order": auction.order_id,
    }


def _with_people(qs: QuerySet[Auction]) -> QuerySet[Auction]:
    return qs.select_related("leader", "winner")


def auction_get(*, auction_id: int) -> Auction | None:
    """The auction, or None; a rehearsal's auctions are never public (none can start)."""
    return _with_people(Auction.objects.filter(pk=auction_id)).first()


def auction_running(*, show_id: int) -> Auction | None:
    return _with_people(Auction.objects.filter(show_id=show_id, status="running")).first()


def auction_running_payload(*, show_id: int) -> dict[str, Any] | None:
    """The show's running auction for the snapshot, or None."""
    auction = auction_running(show_id=show_id)
    return None if auction is None else auction_payload(auction)


def auctions_of_show(*, show_id: int) -> QuerySet[Auction]:
    """Every auction of the show, oldest first (the replay's results)."""
    return _with_people(Auction.objects.filter(show_id=show_id)).order_by("id")


def auctions_due(*, limit: int = 200) -> list[int]:
    """Running auctions at or past their end: the close sweep's work."""
    return list(
        Auction.objects.filter(status="running", ends_at__lte=clock.now())
        .order_by("ends_at")
        .values_list("pk", flat=True)[:limit]
    )


def auctions_unpaid(*, limit: int = 200) -> list[int]:
    """Sold auctions whose winner's payment failed and that were not handled yet."""
    return list(
        Auction.objects.filter(
            status="sold", order__status="payment_failed", unpaid_handled_at__isnull=True
        ).values_list("pk", flat=True)[:limit]
    )


def strikes_recent(*, user_id: int) -> QuerySet[Strike]:
    since = clock.now() - timedelta(days=settings.AUCTION_STRIKE_WINDOW_DAYS)
    return Strike.objects.filter(user_id=user_id, created_at__gte=since)
