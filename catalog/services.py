"""Catalog writes: shops and staff, products with variants, stock (CSV import: importing.py).

Authorization is checked by the caller (see `catalog.selectors.shop_get_managed`), so
these services stay usable by other apps, the admin and background jobs. Stock changes
go through `stock_adjust` / `stock_adjust_many` only (`catalog.stock`, served by stock's
one owner `orders.inventory`): one conditional UPDATE that cannot take available stock
below zero, plus the ledger line, in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from accounts.selectors import user_by_username
from catalog import hooks, rules
from catalog.models import Product, Shop, ShopStaff, StockAdjustment, Variant

# Stock moves through its one owner, orders.inventory (catalog.stock says why and how).
from catalog.stock import InsufficientStock, stock_adjust, stock_adjust_many  # noqa: F401
from core.errors import Invalid

# --- shops -----------------------------------------------------------------------------


def shop_create(*, owner: User, name: str, currency: str = "USD") -> Shop:
    """Create a shop owned by `owner`."""
    name = name.strip()
    if not name:
        raise Invalid("A shop needs a name.", details={"name": ["This field may not be blank."]})
    if not rules.CURRENCY_RE.match(currency):
        raise Invalid(
            "Currency must be an ISO 4217 code.", details={"currency": ["Use 3 capital letters."]}
        )
    return Shop.objects.create(owner=owner, name=name, currency=currency)


def shop_staff_add(*, shop: Shop, username: str) -> tuple[ShopStaff, bool]:
    """Make the user named `username` staff of `shop`; returns (membership, created).

    Adding someone who is already staff changes nothing and returns the membership.
    """
    user = _user_by_username(username)
    if user.pk == shop.owner_id:
        raise Invalid(
            "The owner already manages the shop.",
            details={"username": ["The owner cannot be added as staff."]},
        )
    membership, created = ShopStaff.objects.get_or_create(shop=shop, user=user)
    return membership, created


def shop_staff_remove(*, shop: Shop, username: str) -> bool:
    """Remove `username` from the shop's staff; returns whether they were staff."""
    user = _user_by_username(username)
    deleted, _ = ShopStaff.objects.filter(shop=shop, user=user).delete()
    return deleted > 0


def _user_by_username(username: str) -> User:
    user = user_by_username(username)  # any case, like sign-in
    if user is None:
        raise Invalid("No user has that username.", details={"username": ["Unknown username."]})
    return user


# --- products --------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantInput:
    sku: str
    stock_on_hand: int
    options: dict[str, str] = field(default_factory=dict)
    price: Decimal | None = None
    weight_grams: int | None = None


def _unique_handle(*, shop: Shop, title: str) -> str:
    base = (slugify(title) or "product")[:100].strip("-") or "product"
    taken = set(
        Product.objects.filter(shop=shop, handle__startswith=base).values_list("handle", flat=True)
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _integrity_to_invalid(exc: IntegrityError) -> Invalid:
    text = str(exc)
    if "variant_sku_unique_per_shop" in text:
        return Invalid("That SKU is already used in this shop.", details={"sku": ["Already used."]})
    if "product_handle_unique" in text:
        return Invalid(
            "That handle is already used in this shop.", details={"handle": ["Already used."]}
        )
    raise exc


def product_create(
    *,
    shop: Shop,
    actor: User | None,
    title: str,
    price: Decimal,
    currency: str | None = None,
    sku: str | None = None,
    stock_on_hand: int | None = None,
    handle: str | None = None,
    description: str = "",
    weight_grams: int = 0,
    image_url: str = "",
    options: Sequence[dict[str, Any]] | None = None,
    variants: Sequence[VariantInput] | None = None,
) -> Product:
    """Create a product and its variants; initial stock is written to the ledger.

    Without `variants` the product is simple: one variant with `sku` and `stock_on_hand`.
    With `variants`, `options` must define every variant's keys and values, and each
    combination appears at most once.
    """
    options = [{"name": o["name"], "values": list(o["values"])} for o in (options or [])]
    if variants is None:
        missing = {
            name: ["This field is required."]
            for name, value in (("sku", sku), ("stock_on_hand", stock_on_hand))
            if value is None
        }
        if options:
            missing["variants"] = ["Required when the product has options."]
        if missing:
            raise Invalid("The product is incomplete.", details=missing)
        assert sku is not None and stock_on_hand is not None
        variants = [VariantInput(sku=sku, stock_on_hand=stock_on_hand)]
    elif sku is not None or stock_on_hand is not None:
        raise Invalid(
            "With variants, give sku and stock_on_hand per variant.",
            details={
                k: ["Give this per variant."]
                for k, v in (("sku", sku), ("stock_on_hand", stock_on_hand))
                if v is not None
            },
        )
    errors: dict[str, list[str]] = {}
    if option_errors := rules.options_definition_errors(options):
        errors["options"] = option_errors
    elif variant_errors := rules.variant_set_errors(options, [v.__dict__ for v in variants]):
        errors["variants"] = variant_errors
    currency = currency or shop.currency
    if currency_errors := rules.currency_errors(currency, shop_currency=shop.currency):
        errors["currency"] = currency_errors
    if errors:
        raise Invalid("The product is not valid.", details=errors)
    skus = [v.sku for v in variants]
    if taken := list(Variant.objects.filter(shop=shop, sku__in=skus).values_list("sku", flat=True)):
        raise Invalid(
            "A SKU is already used in this shop.",
            details={"sku": [f"{s!r} is already used in this shop." for s in taken]},
        )
    if handle and Product.objects.filter(shop=shop, handle=handle).exists():
        raise Invalid(
            "That handle is already used in this shop.", details={"handle": ["Already used."]}
        )
    try:
        with transaction.atomic():
            product = Product.objects.create(
                shop=shop,
                handle=handle or _unique_handle(shop=shop, title=title),
                title=title,
                description=description,
                price=price,
                currency=currency,
                weight_grams=weight_grams,
                image_url=image_url,
                options=options,
            )
            created = Variant.objects.bulk_create(
                Variant(
                    product=product,
                    shop=shop,
                    sku=v.sku,
                    options=dict(v.options),
                    price=v.price,
                    weight_grams=v.weight_grams,
                    stock_on_hand=v.stock_on_hand,
                    position=i,
                )
                for i, v in enumerate(variants)
            )
            _ledger_initial(
                variants=created,
                actor=actor,
                kind=StockAdjustment.Kind.INITIAL,
                reason="Initial stock",
            )
            hooks.products_written(products=[product], actor=actor)  # trust: flags, cases
    except IntegrityError as exc:
        raise _integrity_to_invalid(exc) from exc
    return product


def _ledger_initial(
    *, variants: Iterable[Variant], actor: User | None, kind: str, reason: str
) -> None:
    """Ledger lines for the stock new variants were created with (0 → stock)."""
    StockAdjustment.objects.bulk_create(
        StockAdjustment(
            variant=v,
            kind=kind,
            delta=v.stock_on_hand,
            reason=reason,
            actor=actor,
            on_hand_before=0,
            on_hand_after=v.stock_on_hand,
        )
        for v in variants
        if v.stock_on_hand
    )


PRODUCT_EDITABLE_FIELDS = (
    "title",
    "handle",
    "description",
    "price",
    "currency",
    "weight_grams",
    "image_url",
)


def product_update(
    *,
    product: Product,
    data: dict[str, Any],
    variants: Sequence[dict[str, Any]] = (),
) -> Product:
    """Change a product's editable fields, and per variant (by id) its sku, price or weight.

    `data` may also carry `sku` for a product with a single variant. Stock is never
    changed here: on-hand moves only through `stock_adjust`.
    """
    data = dict(data)
    product_variants = {v.pk: v for v in product.variants.all()}
    errors: dict[str, list[str]] = {}
    variant_changes: dict[int, dict[str, Any]] = {}
    if "sku" in data:
        sku = data.pop("sku")
        if len(product_variants) != 1:
            errors["sku"] = ["This product has several variants: set the SKU per variant."]
        else:
            variant_changes[next(iter(product_variants))] = {"sku": sku}
    for change in variants:
        change = dict(change)
        variant_id = change.pop("id")
        if variant_id not in product_variants:
            errors.setdefault("variants", []).append(
                f"Variant {variant_id} is not in this product."
            )
            continue
        variant_changes.setdefault(variant_id, {}).update(change)
    if "currency" in data and (
        currency_errors := rules.currency_errors(
            data["currency"], shop_currency=product.shop.currency
        )
    ):
        errors["currency"] = currency_errors
    new_skus = [c["sku"] for c in variant_changes.values() if "sku" in c]
    if len(set(new_skus)) != len(new_skus):
        errors.setdefault("variants", []).append("Two variants cannot share a SKU.")
    if errors:
        raise Invalid("The change is not valid.", details=errors)
    clashing = (
        Variant.objects.filter(shop_id=product.shop_id, sku__in=new_skus)
        .exclude(pk__in=[pk for pk, c in variant_changes.items() if "sku" in c])
        .values_list("sku", flat=True)
    )
    if clashing_list := list(clashing):
        raise Invalid(
            "A SKU is already used in this shop.",
            details={"sku": [f"{s!r} is already used in this shop." for s in clashing_list]},
        )
    if data.get("handle") and (
        Product.objects.filter(shop_id=product.shop_id, handle=data["handle"])
        .exclude(pk=product.pk)
        .exists()
    ):
        raise Invalid(
            "That handle is already used in this shop.", details={"handle": ["Already used."]}
        )
    try:
        with transaction.atomic():
            fields = [f for f in PRODUCT_EDITABLE_FIELDS if f in data]
            for name in fields:
                setattr(product, name, data[name])
            product.save(update_fields=[*fields, "updated_at"])
            changed: list[Variant] = []
            variant_fields: set[str] = set()
            for variant_id, change in variant_changes.items():
                variant = product_variants[variant_id]
                for name in ("sku", "price", "weight_grams"):
                    if name in change:
                        setattr(variant, name, change[name])
                        variant_fields.add(name)
                changed.append(variant)
            if changed:
                Variant.objects.bulk_update(changed, sorted(variant_fields))
            hooks.products_written(products=[product])  # trust: flags, cases
    except IntegrityError as exc:
        raise _integrity_to_invalid(exc) from exc
    return product


def product_delete(*, product: Product) -> None:
    """Archive the product: it leaves the catalog, but pins, holds and orders that refer
    to it (and its SKUs, which stay reserved) keep their history."""
    Product.objects.filter(pk=product.pk).update(is_active=False)
