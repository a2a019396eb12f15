"""Celery tasks for auctions: each loads by id and calls one service; all idempotent."""

from __future__ import annotations

from celery import shared_task

from auctions import selectors, services


@shared_task(name="auctions.close_at", acks_late=True)
def auction_close_at(auction_id: int) -> bool:
    """Scheduled for `ends_at`. A bid extended the auction meanwhile: look again at the
    new end (the sweep closes it anyway if this chain breaks)."""
    if services.auction_close(auction_id=auction_id):
        return True
    auction = selectors.auction_get(auction_id=auction_id)
    if auction is not None and auction.status == "running":
        auction_close_at.apply_async((auction_id,), eta=auction.ends_at)
    return False


@shared_task(name="auctions.close_due")
def auctions_close_due() -> dict[str, int]:
    """Every second (beat): close running auctions past their end, then handle winners
    whose payment failed (strike, second chance)."""
    closed = services.auctions_close_due()
    unpaid = sum(
        services.auction_unpaid_handle(auction_id=pk) for pk in selectors.auctions_unpaid()
    )
    return {"closed": closed, "unpaid": unpaid}
