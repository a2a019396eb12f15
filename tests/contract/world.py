"""A small, complete marketplace built through the services, for contract tests.

One seller with a shop (a staff member, products with and without variants, a sold-out
one), a live show with a pin and chat, a scheduled and an ended show, and a buyer with a
saved payment method and address, an active hold, an order waiting for payment and a
paid order in a shipment. Fuzzing and contract tests point their path parameters at these
objects so that requests reach the code behind the lookups, not only 404s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils import timezone

from catalog.services import VariantInput
from orders import services as orders
from streams import services as streams
from tests.factories import ProductFactory, ShopFactory, ShopStaffFactory, UserFactory, token_for

ADDRESS = {
    "name": "Ada Buyer",
    "line1": "1 Main St",
    "line2": "",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


@dataclass
class World:
    seller: Any
    staff: Any
    moderator: Any
    buyer: Any
    other_buyer: Any
    shop: Any
    simple: Any  # a product without options
    sized: Any  # a product with two variants
    sold_out: Any
    live: Any
    scheduled: Any
    ended: Any
    message: Any
    hold: Any  # the buyer's active hold
    pending_order: Any  # the buyer's order in pending_payment
    paid_order: Any
    shipment: Any
    payment_method: Any
    address: Any
    tokens: dict[str, str] = field(default_factory=dict)


def build_world() -> World:
    """Create the world (inside the caller's transaction) through the real services."""
    shop = ShopFactory()
    seller = shop.owner
    staff = ShopStaffFactory(shop=shop).user
    moderator = UserFactory()
    buyer = UserFactory()
    other_buyer = UserFactory()

    simple = ProductFactory(shop=shop, sku="FUZZ-SIMPLE", stock=500)
    sized = ProductFactory(
        shop=shop,
        options=[{"name": "size", "values": ["S", "M"]}],
        variants=[
            VariantInput(sku="FUZZ-S", options={"size": "S"}, stock_on_hand=50),
            VariantInput(sku="FUZZ-M", options={"size": "M"}, stock_on_hand=50),
        ],
    )
    sold_out = ProductFactory(shop=shop, sku="FUZZ-GONE", stock=0)
    lineup = [simple.pk, sized.pk, sold_out.pk]

    now = timezone.now()
    live = streams.show_create(
        user=seller, shop_id=shop.pk, title="Live", scheduled_at=now, lineup=lineup
    )
    streams.show_start(user=seller, show_id=live.pk)
    streams.show_moderator_add(user=seller, show_id=live.pk, username=moderator.username)
    scheduled = streams.show_create(
        user=seller,
        shop_id=shop.pk,
        title="Later",
        scheduled_at=now + timedelta(days=1),
        lineup=lineup,
    )
    ended = streams.show_create(
        user=seller, shop_id=shop.pk, title="Replay", scheduled_at=now, lineup=lineup
    )
    streams.show_start(user=seller, show_id=ended.pk)
    streams.pin_product(user=seller, show_id=ended.pk, product_id=sized.pk)
    streams.show_end(user=seller, show_id=ended.pk)
    streams.pin_product(user=seller, show_id=live.pk, product_id=simple.pk)
    message = streams.chat_send(show_id=live.pk, user=buyer, text="hello")

    # A hold without an order first (no saved payment method or address yet) ...
    hold = orders.hold_create(buyer=buyer, show_id=live.pk, product_id=simple.pk).hold
    # ... then saved defaults make the next buys one-tap: orders at once.
    payment_method = orders.payment_method_add(user=buyer, token="sandbox_ok")
    address = orders.address_add(user=buyer, data=dict(ADDRESS))
    first_size = sized.variants.order_by("id")[0]
    paid = orders.hold_create(
        buyer=buyer, show_id=ended.pk, product_id=sized.pk, variant_id=first_size.pk
    ).order
    assert paid is not None
    orders.order_capture_payment(order_id=paid.pk)
    paid.refresh_from_db()
    pending = orders.hold_create(buyer=buyer, show_id=live.pk, product_id=simple.pk).order
    assert pending is not None
    world = World(
        seller=seller,
        staff=staff,
        moderator=moderator,
        buyer=buyer,
        other_buyer=other_buyer,
        shop=shop,
        simple=simple,
        sized=sized,
        sold_out=sold_out,
        live=live,
        scheduled=scheduled,
        ended=ended,
        message=message,
        hold=hold,
        pending_order=pending,
        paid_order=paid,
        shipment=paid.shipment,
        payment_method=payment_method,
        address=address,
    )
    for name in ("seller", "staff", "moderator", "buyer", "other_buyer"):
        world.tokens[name] = token_for(getattr(world, name))
    return world
