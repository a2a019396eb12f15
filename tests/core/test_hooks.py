"""Hooks (`core.hooks`, docs/architecture.md "Hooks"): each one is registered by its app in
`AppConfig.ready()` (so in every process Django starts, this one included), and a missing
one fails loudly instead of skipping its rule.

Each rule is also tested through its real path:
- `catalog.hooks.products_written`: tests/trust/test_quality.py (a prohibited term on
  create, edit and CSV import flags the listing), and the rollback test below;
- `streams.hooks.pin_check`: tests/trust/test_quality.py
  (`test_pinning_a_listing_with_a_failed_block_check_is_409`), and the test below;
- `streams.hooks.moderation_applied`: tests/trust/test_cases.py (a ban opens a case);
- `streams.hooks.pin_shipping_fee`: tests/orders/test_shipping.py;
- `streams.hooks.running_auction`: tests/auctions/test_auctions.py (the snapshot carries
  the running auction);
- `catalog.stock`: tests/catalog and tests/orders (stock adjustments, the CSV import).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from auctions.selectors import auction_running_payload
from catalog import hooks as catalog_hooks
from catalog import stock
from catalog.services import product_create
from core.errors import InternalError
from core.hooks import Hook
from orders import inventory
from orders.selectors import pin_shipping_fee
from streams import hooks as streams_hooks
from streams.models import Pin
from streams.services import pin_product
from tests.factories import ProductFactory, ShopFactory, ShowFactory
from trust.models import Case
from trust.quality import listing_require_ready
from trust.services import case_for_moderation, listing_review


def test_every_hook_is_registered_by_its_owner_at_start() -> None:
    assert catalog_hooks._products_written.get() is listing_review
    assert stock._owner.get() is inventory
    assert streams_hooks._pin_check.get() is listing_require_ready
    assert streams_hooks._moderation_applied.get() is case_for_moderation
    assert streams_hooks._pin_shipping_fee.get() is pin_shipping_fee
    assert streams_hooks._running_auction.get() is auction_running_payload


def test_a_hook_nobody_registered_is_an_internal_error() -> None:
    hook: Hook[Any] = Hook("test.nothing", provider="nobody")
    with pytest.raises(InternalError, match=r"test\.nothing has no provider"):
        hook.get()


def test_a_hook_takes_one_provider() -> None:
    hook: Hook[Any] = Hook("test.one", provider="tests")
    hook.register(len)
    hook.register(len)  # the same one again (ready() run twice) changes nothing
    with pytest.raises(InternalError, match="already has a provider"):
        hook.register(repr)
    assert hook.get() is len


@pytest.mark.django_db
def test_pinning_never_skips_the_listing_check(monkeypatch: pytest.MonkeyPatch) -> None:
    show = ShowFactory(status="live")
    product = ProductFactory(shop=show.shop)
    monkeypatch.setattr(streams_hooks._pin_check, "_impl", None)  # trust not started
    with pytest.raises(InternalError, match=r"streams\.pin_check"):
        pin_product(user=show.shop.owner, show_id=show.pk, product_id=product.pk)
    assert not Pin.objects.exists()


class _Rollback(Exception):
    pass


@pytest.mark.django_db
def test_a_listing_flag_commits_or_rolls_back_with_its_product_write() -> None:
    shop = ShopFactory()
    with pytest.raises(_Rollback), transaction.atomic():
        product_create(
            shop=shop,
            actor=shop.owner,
            title="Replica designer bag",
            price=Decimal("10.00"),
            sku="BAG-1",
            stock_on_hand=1,
        )
        assert Case.objects.filter(kind=Case.Kind.LISTING_FLAGGED).count() == 1
        raise _Rollback
    assert not Case.objects.exists()
