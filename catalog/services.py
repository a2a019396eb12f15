"""Catalog writes: shops and staff, products with variants, stock (CSV import: importing.py).

Authorization is checked by the caller (see `catalog.selectors.shop_get_managed`), so
these services stay usable by other apps, the admin and background jobs. Stock changes
go through `stock_adjust` / `stock_adjust_many` only: one conditional UPDATE that cannot
take available stock below zero, plus the ledger line, in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.utils.text import slugify

from catalog import rules
from catalog.models import Product, Shop, ShopStaff, StockAdjustment, Variant
from core.errors import ApiError, Invalid, NotFound
from trust.services import listing_review

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


def _user_by_username(username: str) -> Any:
    user = get_user_model().objects.filter(username=username).first()
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
            listing_review(products=[product], actor=actor)  # trust: flags, cases
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
            listing_review(products=[product])  # trust: flags, cases
    except IntegrityError as exc:
        raise _integrity_to_invalid(exc) from exc
    return product


def product_delete(*, product: Product) -> None:
    """Archive the product: it leaves the catalog, but pins, holds and orders that refer
    to it (and its SKUs, which stay reserved) keep their history."""
    Product.objects.filter(pk=product.pk).update(is_active=False)


# --- stock -----------------------------------------------------------------------------


class InsufficientStock(ApiError):
    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__("insufficient_stock", message, status=409, details=details)


def _check_adjustment(*, reason: str, kind: str) -> str:
    reason = reason.strip()
    if not reason:
        raise Invalid("A stock change needs a reason.", details={"reason": ["Required."]})
    if kind not in StockAdjustment.Kind.values:
        raise Invalid("Unknown adjustment kind.", details={"kind": [f"Unknown kind {kind!r}."]})
    return reason[:500]


# INVARIANT (SPEC "No oversell"): 0 <= held <= stock_on_hand for every variant, always.
# The WHERE clause only lets the UPDATE through when on-hand after the change still
# covers the held units, so concurrent adjustments and holds (which raise `held` with
# their own conditional UPDATE) serialize on the row lock and none can overshoot; the
# CHECK constraints on catalog_variant are the last line of defence.
_ADJUST_ONE_SQL = f"""
    UPDATE {Variant._meta.db_table}
       SET stock_on_hand = stock_on_hand + %(delta)s
     WHERE id = %(id)s
       AND stock_on_hand + %(delta)s >= held
       AND stock_on_hand + %(delta)s <= %(max)s
 RETURNING stock_on_hand, held, product_id
"""  # noqa: S608  (table name from the model, values bound)


def stock_adjust(
    *,
    variant_id: int,
    delta: int,
    reason: str,
    actor: User | None,
    kind: str = StockAdjustment.Kind.MANUAL,
) -> StockAdjustment:
    """Add `delta` (may be negative) to a variant's on-hand stock and write the ledger line.

    Raises 409 `insufficient_stock` when the change would take available stock
    (on hand - held) below zero, `Invalid` for a zero delta, a blank reason or an on-hand
    above `rules.MAX_STOCK`, and `NotFound` for an unknown variant. `actor` is None for
    system changes (for example a restock after a cancelled order). Viewers of every live
    show where the product is pinned get `stock.changed` after commit.
    """
    reason = _check_adjustment(reason=reason, kind=kind)
    if delta == 0:
        raise Invalid("A stock change cannot be zero.", details={"delta": ["Must not be 0."]})
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                _ADJUST_ONE_SQL, {"id": variant_id, "delta": delta, "max": rules.MAX_STOCK}
            )
            row = cursor.fetchone()
        if row is None:
            _raise_adjust_refused(variant_id=variant_id, delta=delta)
        on_hand_after, held, product_id = row
        entry = StockAdjustment.objects.create(
            variant_id=variant_id,
            kind=kind,
            delta=delta,
            reason=reason,
            actor=actor,
            on_hand_before=on_hand_after - delta,
            on_hand_after=on_hand_after,
        )
        _emit_stock_changed([(product_id, variant_id, on_hand_after - held)])
    return entry


def _raise_adjust_refused(*, variant_id: int, delta: int) -> None:
    current = Variant.objects.filter(pk=variant_id).values("stock_on_hand", "held").first()
    if current is None:
        raise NotFound("No such variant.")
    if current["stock_on_hand"] + delta > rules.MAX_STOCK:
        raise Invalid(
            f"Stock on hand cannot exceed {rules.MAX_STOCK}.", details={"delta": ["Too large."]}
        )
    available = current["stock_on_hand"] - current["held"]
    raise InsufficientStock(
        f"Only {available} units are available; this change would take stock below zero.",
        details={"variant": variant_id, "available": available},
    )


def stock_adjust_many(
    *,
    changes: Sequence[tuple[int, int]],
    reason: str,
    actor: User | None,
    kind: str,
) -> list[StockAdjustment]:
    """Apply several `(variant_id, delta)` changes all-or-nothing (used by the CSV import).

    Same rule as `stock_adjust`, as one conditional UPDATE for the whole batch. Rows are
    locked in primary-key order first, so two batches never deadlock each other. Raises
    `InsufficientStock` (nothing applied) naming the variants that would go below zero.
    """
    reason = _check_adjustment(reason=reason, kind=kind)
    changes = [(int(v), int(d)) for v, d in changes if d]
    if not changes:
        return []
    ids = [v for v, _ in changes]
    if len(set(ids)) != len(ids):
        raise ValueError("stock_adjust_many: a variant appears twice")
    table = Variant._meta.db_table
    values_sql = ", ".join(["(%s::bigint, %s::integer)"] * len(changes))
    params: list[int] = [x for pair in changes for x in pair]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR UPDATE",  # noqa: S608
                [ids],
            )
            # Same invariant as _ADJUST_ONE_SQL, for many rows at once.
            cursor.execute(
                f"""
                UPDATE {table} AS v
                   SET stock_on_hand = v.stock_on_hand + d.delta
                  FROM (VALUES {values_sql}) AS d(id, delta)
                 WHERE v.id = d.id
                   AND v.stock_on_hand + d.delta >= v.held
                   AND v.stock_on_hand + d.delta <= %s
             RETURNING v.id, v.stock_on_hand, v.held, v.product_id
                """,  # noqa: S608
                [*params, rules.MAX_STOCK],
            )
            rows = {r[0]: r[1:] for r in cursor.fetchall()}
        refused = [v for v in ids if v not in rows]
        if refused:
            raise InsufficientStock(
                "These changes would take available stock below zero.",
                details={"variants": refused},
            )
        deltas = dict(changes)
        entries = StockAdjustment.objects.bulk_create(
            StockAdjustment(
                variant_id=variant_id,
                kind=kind,
                delta=deltas[variant_id],
                reason=reason,
                actor=actor,
                on_hand_before=on_hand - deltas[variant_id],
                on_hand_after=on_hand,
            )
            for variant_id, (on_hand, _held, _product) in rows.items()
        )
        _emit_stock_changed(
            [(product_id, vid, on_hand - held) for vid, (on_hand, held, product_id) in rows.items()]
        )
    return entries


def _emit_stock_changed(changes: Sequence[tuple[int, int, int]]) -> None:
    """`stock.changed` {product, variant, available} to every live show pinning the product."""
    from streams.events import emit_show_event
    from streams.models import Pin, Show

    product_ids = {product_id for product_id, _, _ in changes}
    pins = Pin.objects.filter(
        product_id__in=product_ids, unpinned_at__isnull=True, show__status=Show.Status.LIVE
    ).values_list("show_id", "product_id")
    shows_by_product: dict[int, list[int]] = {}
    for show_id, product_id in pins:
        shows_by_product.setdefault(product_id, []).append(show_id)
    for product_id, variant_id, available in changes:
        for show_id in shows_by_product.get(product_id, []):
            emit_show_event(
                show_id=show_id,
                type="stock.changed",
                data={"product": product_id, "variant": variant_id, "available": available},
            )
