"""Catalog's door to stock: how catalog code (the stock-adjustment endpoint, the CSV
import) changes a variant's on-hand stock.

Stock has one owner, `orders.inventory`: it moves `stock_on_hand` and `held` with the
conditional UPDATEs that keep SPEC "No oversell", writes the ledger line, and announces
the change (`stock.changed`, which needs shows and pins). Catalog sits below streams and
orders (core <- catalog <- streams/orders <- pages) and must not import them, so the
owner registers itself here when Django starts (`orders.apps.OrdersConfig.ready`) and
the functions below delegate to it (a `core.hooks.Hook`). Without the orders app
installed, stock cannot change (an `InternalError`, never a silent no-op).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from django.contrib.auth.models import User

from catalog.models import StockAdjustment
from core.errors import ApiError
from core.hooks import Hook


class InsufficientStock(ApiError):
    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__("insufficient_stock", message, status=409, details=details)


class StockOwner(Protocol):
    def adjust(
        self,
        *,
        variant_id: int,
        delta: int,
        reason: str,
        actor: Any,
        kind: str = ...,
        show_id: int | None = ...,
    ) -> StockAdjustment: ...

    def adjust_many(
        self, *, changes: Sequence[tuple[int, int]], reason: str, actor: Any, kind: str
    ) -> list[StockAdjustment]: ...


_owner: Hook[StockOwner] = Hook("catalog.stock", provider="orders (OrdersConfig.ready)")


def register(owner: StockOwner) -> None:
    _owner.register(owner)


def _stock() -> StockOwner:
    return _owner.get()


def stock_adjust(
    *,
    variant_id: int,
    delta: int,
    reason: str,
    actor: User | None,
    kind: str = StockAdjustment.Kind.MANUAL,
) -> StockAdjustment:
    """Add `delta` to a variant's on hand, with its ledger line (`orders.inventory.adjust`:
    409 insufficient_stock, 400 invalid, 404 not_found; announced to live shows)."""
    return _stock().adjust(
        variant_id=variant_id, delta=delta, reason=reason, actor=actor, kind=kind
    )


def stock_adjust_many(
    *, changes: Sequence[tuple[int, int]], reason: str, actor: User | None, kind: str
) -> list[StockAdjustment]:
    """Several `(variant_id, delta)` changes, all or nothing (`orders.inventory.adjust_many`)."""
    return _stock().adjust_many(changes=changes, reason=reason, actor=actor, kind=kind)
