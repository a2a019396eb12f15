"""Catalog's hooks: what catalog writes call in apps above it (`core.hooks` says how).

- `products_written(products=, actor=)`: `product_create`, `product_update` and the CSV
  import, inside their transaction; trust registers `listing_review` (flags, cases).

Stock changes have their own door, `catalog.stock` (registered by orders).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from catalog.models import Product
from core.hooks import Hook


class ProductsWritten(Protocol):
    def __call__(self, *, products: list[Product], actor: Any = None) -> None: ...


_products_written: Hook[ProductsWritten] = Hook(
    "catalog.products_written", provider="trust (TrustConfig.ready)"
)


def register_products_written(fn: ProductsWritten) -> None:
    _products_written.register(fn)


def products_written(*, products: Sequence[Product], actor: Any = None) -> None:
    """Products were created or their listing changed: run the listing review (trust flags
    a listing that uses prohibited terms with a case, and lifts the case once they are
    gone). Called inside the write's transaction, so the case is atomic with the write."""
    _products_written.get()(products=list(products), actor=actor)
