"""`manage.py seed_demo`: demo users, a shop with products and stock, a live and a scheduled show.

Objects are created through the services (catalog.services, streams.services), like a
seller would through the API. Idempotent: each is first looked up by its natural key
(username, shop name, product handle, show title), so running it again creates nothing
twice; it resets the demo passwords and prints where to go. Others extend it by adding a
step to `Command.steps` (a function taking the `Demo` built so far).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from catalog import services as catalog_services
from catalog.models import Product, Shop
from streams import services as streams_services
from streams.models import Show

DEMO_PASSWORD = "demo-pass-123"  # noqa: S105 (printed on purpose: demo accounts)
SHOP_NAME = "Demo Threads"
LIVE_SHOW_TITLE = "Friday Night Drop"
SCHEDULED_SHOW_TITLE = "Sunday Restock"
PLAYBACK_URL = "/static/demo/show.mp4"

USERS: list[tuple[str, str]] = [
    ("admin", "superuser, for /admin/"),
    ("demo_seller", "owner of the shop Demo Threads"),
    ("demo_host", "staff of Demo Threads: hosts its shows"),
    ("demo_viewer", "a buyer"),
    ("demo_viewer2", "another buyer"),
]


@dataclass(frozen=True)
class ProductSpec:
    handle: str
    title: str
    price: str
    stock: int
    weight_grams: int
    description: str
    # option name → values; empty for a simple product.
    options: dict[str, list[str]] = field(default_factory=dict)
    # variant price overrides, by the variant's option values joined with "/".
    prices: dict[str, str] = field(default_factory=dict)


PRODUCTS: list[ProductSpec] = [
    ProductSpec(
        "classic-tee",
        "Classic Tee",
        "24.00",
        12,
        180,
        "Heavyweight cotton tee, boxy fit.",
        {"size": ["S", "M", "L"], "colour": ["black", "white"]},
    ),
    ProductSpec(
        "everyday-hoodie",
        "Everyday Hoodie",
        "59.00",
        8,
        650,
        "Brushed fleece hoodie with a kangaroo pocket.",
        {"size": ["S", "M", "L", "XL"]},
        {"XL": "62.00"},
    ),
    ProductSpec(
        "knit-beanie",
        "Knit Beanie",
        "18.00",
        15,
        90,
        "Ribbed merino beanie.",
        {"colour": ["red", "navy", "grey"]},
    ),
    ProductSpec("canvas-tote", "Canvas Tote", "19.99", 50, 300, "Sturdy 12 oz canvas tote."),
    ProductSpec("enamel-pin-set", "Enamel Pin Set", "9.50", 100, 40, "Three hard-enamel pins."),
    ProductSpec(
        "selvedge-denim-jacket",
        "Selvedge Denim Jacket",
        "89.00",
        5,
        900,
        "Limited run: five of each size.",
        {"size": ["S", "M", "L"]},
    ),
]


@dataclass
class Demo:
    """What the steps built; printed at the end."""

    users: dict[str, Any] = field(default_factory=dict)
    shop: Shop | None = None
    products: list[Product] = field(default_factory=list)
    live_show: Show | None = None
    scheduled_show: Show | None = None
    notes: list[str] = field(default_factory=list)


def seed_users(demo: Demo) -> None:
    user_model = get_user_model()
    for username, _ in USERS:
        user, _created = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        if username == "admin":
            user.is_staff = True
            user.is_superuser = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        Token.objects.get_or_create(user=user)
        demo.users[username] = user


def seed_catalog(demo: Demo) -> None:
    seller, host = demo.users["demo_seller"], demo.users["demo_host"]
    shop = Shop.objects.filter(name=SHOP_NAME, owner=seller).first()
    if shop is None:
        shop = catalog_services.shop_create(owner=seller, name=SHOP_NAME)
    catalog_services.shop_staff_add(shop=shop, username=host.username)
    demo.shop = shop
    for spec in PRODUCTS:
        product = Product.objects.filter(shop=shop, handle=spec.handle).first()
        if product is None:
            product = _product_create(shop=shop, seller=seller, spec=spec)
        demo.products.append(product)


def _product_create(*, shop: Shop, seller: Any, spec: ProductSpec) -> Product:
    names = list(spec.options)
    common: dict[str, Any] = {
        "shop": shop,
        "actor": seller,
        "title": spec.title,
        "handle": spec.handle,
        "price": Decimal(spec.price),
        "currency": shop.currency,
        "description": spec.description,
        "weight_grams": spec.weight_grams,
    }
    if not names:
        return catalog_services.product_create(
            **common, sku=f"DT-{spec.handle.upper()}", stock_on_hand=spec.stock
        )
    variants = []
    for values in itertools.product(*spec.options.values()):
        key = "/".join(values)
        variants.append(
            catalog_services.VariantInput(
                sku="DT-" + "-".join([spec.handle.upper(), *(v.upper() for v in values)]),
                stock_on_hand=spec.stock,
                options=dict(zip(names, values, strict=True)),
                price=Decimal(spec.prices[key]) if key in spec.prices else None,
            )
        )
    return catalog_services.product_create(
        **common,
        options=[{"name": k, "values": v} for k, v in spec.options.items()],
        variants=variants,
    )


def seed_shows(demo: Demo) -> None:
    host = demo.users["demo_host"]
    now = timezone.now()
    live, created = _show(demo, LIVE_SHOW_TITLE, scheduled_at=now, lineup=demo.products)
    if created:
        live = streams_services.show_start(user=host, show_id=live.pk)
        streams_services.pin_product(user=host, show_id=live.pk, product_id=demo.products[0].pk)
    demo.live_show = live
    demo.scheduled_show, _ = _show(
        demo, SCHEDULED_SHOW_TITLE, scheduled_at=now + timedelta(days=2), lineup=demo.products[1:4]
    )


def _show(
    demo: Demo, title: str, *, scheduled_at: datetime, lineup: list[Product]
) -> tuple[Show, bool]:
    """The demo shop's show called `title`, created (by the host) if missing."""
    assert demo.shop is not None
    show = Show.objects.filter(shop=demo.shop, title=title).first()
    if show is not None:
        return show, False
    show = streams_services.show_create(
        user=demo.users["demo_host"],
        shop_id=demo.shop.pk,
        title=title,
        scheduled_at=scheduled_at,
        playback_url=PLAYBACK_URL,
        lineup=[p.pk for p in lineup],
    )
    return show, True


class Command(BaseCommand):
    help = "Create demo users, a shop with products, a live and a scheduled show (idempotent)."

    steps: list[Callable[[Demo], None]] = [seed_users, seed_catalog, seed_shows]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="where the web process listens (for the printed links)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="run even with DEBUG off (a demo deployment): it creates a superuser and "
            "accounts whose password is printed and published",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            # The demo accounts (a superuser among them) share a published password: on a
            # real deployment that is an open door. A demo stack opts in with --force.
            raise CommandError(
                "seed_demo creates accounts with a published password (a superuser among "
                "them) and refuses to run with DEBUG off; pass --force for a demo deployment."
            )
        demo = Demo()
        with transaction.atomic():
            for step in self.steps:
                step(demo)
        self._print(demo, base=options["base_url"].rstrip("/"))

    def _print(self, demo: Demo, *, base: str) -> None:
        live, scheduled = demo.live_show, demo.scheduled_show
        assert live is not None and scheduled is not None and demo.shop is not None
        out = self.stdout.write
        out(
            self.style.SUCCESS(
                f"Demo data ready: shop {demo.shop.name!r} (id {demo.shop.pk}), "
                f"{len(demo.products)} products."
            )
        )
        out(
            f"Live show {live.title!r} (id {live.pk}, {live.status}); "
            f"scheduled show {scheduled.title!r} (id {scheduled.pk})."
        )
        out("\nOpen:")
        pages = [
            ("/", "home"),
            (f"/shows/{live.pk}/", "viewer page of the live show (sign in to buy)"),
            (f"/studio/shows/{live.pk}/", "host studio (demo_host or demo_seller)"),
            ("/dashboard/", "seller dashboard (demo_seller)"),
            ("/api/docs/", "API docs"),
            ("/admin/", "Django admin (admin)"),
            ("/accounts/login/", "sign in"),
        ]
        for path, what in pages:
            out(f"  {base + path:<48} {what}")
        out(f"\nLogins (password for all: {DEMO_PASSWORD}):")
        for username, role in USERS:
            token = Token.objects.get(user=demo.users[username]).key
            out(f"  {username:<13} {role:<42} API token {token}")
        for note in demo.notes:
            out(note)
