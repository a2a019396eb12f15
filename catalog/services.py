"""Catalog writes: shops and staff, products with variants, stock, CSV import.

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
from django.db.models import Prefetch
from django.utils.text import slugify

from catalog import rules
from catalog.models import Product, Shop, ShopStaff, StockAdjustment, Variant
from core.errors import ApiError, Invalid, NotFound
from orders import soldout
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
        if delta > 0:
            soldout.stock_back(variant_id=variant_id)  # sold-out gate: units came back
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
        for variant_id in (v for v, d in changes if d > 0):
            soldout.stock_back(variant_id=variant_id)  # sold-out gate: units came back
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


# --- CSV import ------------------------------------------------------------------------


@dataclass
class ImportRowResult:
    row: int
    sku: str
    product_handle: str
    result: str  # created | updated | unchanged | error
    errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ImportReport:
    dry_run: bool
    rows: list[ImportRowResult]
    products_created: int = 0
    products_updated: int = 0

    @property
    def counts(self) -> dict[str, int]:
        counts = {"created": 0, "updated": 0, "unchanged": 0, "error": 0}
        for r in self.rows:
            counts[r.result] += 1
        return counts

    @property
    def row_errors(self) -> list[dict[str, Any]]:
        return [{"row": r.row, "errors": r.errors} for r in self.rows if r.errors]


@dataclass
class _ProductPlan:
    product: Product  # unsaved when new
    is_new: bool
    changed_fields: set[str] = field(default_factory=set)
    new_variants: list[Variant] = field(default_factory=list)
    changed_variants: list[Variant] = field(default_factory=list)
    changed_variant_fields: set[str] = field(default_factory=set)
    stock_changes: list[tuple[Variant, int, int]] = field(
        default_factory=list
    )  # variant, delta, row


IMPORT_REASON = "CSV import"


def catalog_import(*, shop: Shop, actor: User | None, data: bytes, dry_run: bool) -> ImportReport:
    """Upsert the shop's catalog from CSV bytes (format in catalog/csv_format.py).

    All or nothing: any bad row raises `Invalid` with ``details.rows`` = [{row, errors}]
    and changes nothing. A dry run applies nothing and reports every row (created,
    updated, unchanged or error). A changed `stock_on_hand` of an existing SKU is a
    ledger adjustment (kind `import`), refused when it would go below the held units.
    """
    from catalog.csv_format import CsvFileError, catalog_csv_parse

    try:
        parsed = catalog_csv_parse(data)
    except CsvFileError as exc:
        raise Invalid(str(exc), details={"file": [str(exc)]}) from None
    errors: dict[int, dict[str, list[str]]] = {n: dict(e) for n, e in parsed.errors.items()}
    plans, changed_rows, new_rows = _import_plan(shop=shop, rows=parsed.rows, errors=errors)

    results = []
    for number, (sku, handle) in sorted(parsed.keys.items()):
        if number in errors:
            result = "error"
        elif number in new_rows:
            result = "created"
        else:
            result = "updated" if number in changed_rows else "unchanged"
        results.append(ImportRowResult(number, sku, handle, result, errors.get(number, {})))
    report = ImportReport(
        dry_run=dry_run,
        rows=results,
        products_created=sum(1 for p in plans if p.is_new),
        products_updated=sum(
            1 for p in plans if not p.is_new and (p.changed_fields or p.new_variants)
        ),
    )
    if errors and not dry_run:
        raise Invalid(
            f"{len(errors)} row(s) have errors; nothing was imported.",
            details={"rows": report.row_errors},
        )
    if not dry_run:
        _import_apply(plans=plans, actor=actor)
    return report


def _import_plan(
    *, shop: Shop, rows: Sequence[Any], errors: dict[int, dict[str, list[str]]]
) -> tuple[list[_ProductPlan], set[int], set[int]]:
    """Work out every product's final state; record row errors in `errors`.

    Returns the plans, the row numbers that change something, and those that create.
    """

    def fail(row: int, name: str, message: str) -> None:
        errors.setdefault(row, {}).setdefault(name, []).append(message)

    first_row_of_sku: dict[str, int] = {}
    for r in rows:
        if r.sku in first_row_of_sku:
            fail(r.row, "sku", f"SKU {r.sku!r} is also on row {first_row_of_sku[r.sku]}.")
        else:
            first_row_of_sku[r.sku] = r.row
    rows = [r for r in rows if r.row not in errors]
    existing_variants = {
        v.sku: v
        for v in Variant.objects.filter(shop=shop, sku__in={r.sku for r in rows}).select_related(
            "product"
        )
    }
    products = {
        p.handle: p
        for p in Product.objects.filter(
            shop=shop, handle__in={r.product_handle for r in rows}
        ).prefetch_related(
            Prefetch("variants", queryset=Variant.objects.order_by("position", "id"))
        )
    }
    groups: dict[str, list[Any]] = {}
    for r in rows:
        groups.setdefault(r.product_handle, []).append(r)

    plans: list[_ProductPlan] = []
    changed_rows: set[int] = set()
    new_rows: set[int] = set()
    for handle, group in groups.items():
        product = products.get(handle)
        if product is not None and not product.is_active:
            for r in group:
                fail(r.row, "product_handle", "This product was deleted; use another handle.")
            continue
        for r in group:
            v = existing_variants.get(r.sku)
            if v is not None and v.product.handle != handle:
                where = "a deleted product" if not v.product.is_active else repr(v.product.handle)
                fail(r.row, "sku", f"SKU {r.sku!r} belongs to {where}; SKUs cannot move.")
        group = [r for r in group if r.row not in errors]
        if not group:
            continue
        first = group[0]

        def pick(name: str, group: list[Any] = group) -> str | None:
            """The product-level value: the first filled cell of the product's rows; other
            filled cells must agree. None (keep what exists) when every cell is blank."""
            filled = [(r, getattr(r, name)) for r in group if getattr(r, name)]
            for r, v in filled[1:]:
                if v != filled[0][1]:
                    fail(r.row, name, f"Differs from row {filled[0][0].row} of the same product.")
            return filled[0][1] if filled else None

        title = pick("title") or first.title
        description = pick("description")
        currency = pick("currency") or None
        for r in group:
            if r.currency and (
                bad := rules.currency_errors(r.currency, shop_currency=shop.currency)
            ):
                for message in bad:
                    fail(r.row, "currency", message)
        image_url = pick("image_url")

        is_new = product is None
        if product is None:
            product = Product(
                shop=shop,
                handle=handle,
                title=title,
                description=description or "",
                price=first.price,
                currency=currency or shop.currency,
                weight_grams=first.weight_grams or 0,
                image_url=image_url or "",
                options=[],
            )
            current: list[Variant] = []
        else:
            current = list(product.variants.all())
        plan = _ProductPlan(product=product, is_new=is_new)
        if not is_new:
            for name, value in (
                ("title", title),
                ("description", description),
                ("currency", currency),
                ("image_url", image_url),
            ):
                if value is not None and getattr(product, name) != value:
                    setattr(product, name, value)
                    plan.changed_fields.add(name)

        # Option names: the product's, or (for a product without options) the first row's.
        old_options: list[dict[str, Any]] = list(product.options or [])
        names = [o["name"] for o in old_options] or list(first.options)
        values: dict[str, list[str]] = {n: [] for n in names}
        for o in old_options:
            if o["name"] in values:
                values[o["name"]] = list(o["values"])
        by_sku = {v.sku: v for v in current}
        final_options: dict[str, dict[str, str]] = {v.sku: dict(v.options) for v in current}
        for r in group:
            if set(r.options) != set(names):
                expected = ", ".join(names) or "none"
                fail(r.row, "options", f"This product's options are: {expected}.")
                continue
            final_options[r.sku] = {n: r.options[n] for n in names}
        untouched = [v for v in current if v.sku not in {r.sku for r in group}]
        for v in untouched:
            if set(v.options) != set(names):
                fail(
                    first.row,
                    "options",
                    f"Variant {v.sku!r} (not in the file) lacks these options.",
                )
        seen: dict[tuple[str, ...], str] = {}
        for sku, opts in final_options.items():
            for n in names:
                if n in opts and opts[n] not in values[n]:
                    values[n].append(opts[n])
            combo = tuple(opts.get(n, "") for n in names)
            if combo in seen and names:
                row = first_row_of_sku.get(sku, first.row)
                fail(row, "options", f"Same options as SKU {seen[combo]!r}.")
            seen.setdefault(combo, sku)
        new_options = [{"name": n, "values": values[n]} for n in names]
        if not names and len(final_options) > 1:
            for r in group:
                fail(r.row, "options", "A product without options has one variant; add options.")
        if not any(r.row in errors for r in group):
            check = rules.options_definition_errors(new_options) or rules.variant_set_errors(
                new_options, [{"sku": s, "options": o} for s, o in final_options.items()]
            )
            for message in check:
                fail(first.row, "options", message)
        if any(r.row in errors for r in group):
            continue
        if new_options != old_options:
            product.options = new_options
            plan.changed_fields.add("options")

        # A simple product keeps its price and weight on the product; a product with
        # several variants keeps the first row's as the base and per-variant differences.
        simple = not names and len(final_options) == 1
        position = max((v.position for v in current), default=-1) + 1
        for r in group:
            v = by_sku.get(r.sku)
            changed = False
            variant_price: Decimal | None = None
            variant_weight: int | None = None
            if simple:
                if (v.effective_price if v else product.price) != r.price:
                    if product.price != r.price:
                        product.price = r.price
                        plan.changed_fields.add("price")
                    if v is not None and v.price is not None:
                        v.price = None
                        plan.changed_variant_fields.add("price")
                        changed = True
                weight = v.effective_weight_grams if v else product.weight_grams
                if r.weight_grams is not None and weight != r.weight_grams:
                    if product.weight_grams != r.weight_grams:
                        product.weight_grams = r.weight_grams
                        plan.changed_fields.add("weight_grams")
                    if v is not None and v.weight_grams is not None:
                        v.weight_grams = None
                        plan.changed_variant_fields.add("weight_grams")
                        changed = True
            else:
                variant_price = None if r.price == product.price else r.price
                if r.weight_grams is not None and r.weight_grams != product.weight_grams:
                    variant_weight = r.weight_grams
                if v is not None and v.effective_price != r.price:
                    v.price = variant_price
                    plan.changed_variant_fields.add("price")
                    changed = True
                if (
                    v is not None
                    and r.weight_grams is not None
                    and v.effective_weight_grams != r.weight_grams
                ):
                    v.weight_grams = variant_weight
                    plan.changed_variant_fields.add("weight_grams")
                    changed = True
            if v is None:
                plan.new_variants.append(
                    Variant(
                        shop=shop,
                        sku=r.sku,
                        options=final_options[r.sku],
                        price=variant_price,
                        weight_grams=variant_weight,
                        stock_on_hand=r.stock_on_hand,
                        position=position,
                    )
                )
                position += 1
                new_rows.add(r.row)
                continue
            if v.options != final_options[r.sku]:
                v.options = final_options[r.sku]
                plan.changed_variant_fields.add("options")
                changed = True
            if changed:
                plan.changed_variants.append(v)
                changed_rows.add(r.row)
            if r.stock_on_hand != v.stock_on_hand:
                if r.stock_on_hand < v.held:
                    fail(
                        r.row,
                        "stock_on_hand",
                        f"{v.held} units are held by buyers; stock on hand cannot go below that.",
                    )
                    continue
                plan.stock_changes.append((v, r.stock_on_hand - v.stock_on_hand, r.row))
                changed_rows.add(r.row)
        if plan.changed_fields:
            changed_rows.update(r.row for r in group if r.row not in new_rows)
        plans.append(plan)
    return plans, changed_rows, new_rows


def _import_apply(*, plans: Sequence[_ProductPlan], actor: User | None) -> None:
    from django.utils import timezone

    now = timezone.now()
    try:
        with transaction.atomic():
            Product.objects.bulk_create([p.product for p in plans if p.is_new], batch_size=500)
            changed_products = [p.product for p in plans if not p.is_new and p.changed_fields]
            fields = set().union(*(p.changed_fields for p in plans if not p.is_new))
            for product in changed_products:
                product.updated_at = now
            if changed_products:
                Product.objects.bulk_update(
                    changed_products, sorted(fields | {"updated_at"}), batch_size=500
                )
            new_variants = []
            for plan in plans:
                for v in plan.new_variants:
                    v.product = plan.product
                    new_variants.append(v)
            Variant.objects.bulk_create(new_variants, batch_size=1000)
            _ledger_initial(
                variants=new_variants,
                actor=actor,
                kind=StockAdjustment.Kind.IMPORT,
                reason=IMPORT_REASON,
            )
            listing_review(  # trust: flags, cases
                products=[p.product for p in plans if p.is_new or p.changed_fields], actor=actor
            )
            changed_variants = [v for p in plans for v in p.changed_variants]
            variant_fields = set().union(*(p.changed_variant_fields for p in plans))
            if changed_variants:
                Variant.objects.bulk_update(
                    changed_variants, sorted(variant_fields), batch_size=500
                )
            stock_changes = [(v.pk, delta) for p in plans for v, delta, _ in p.stock_changes]
            row_of = {v.pk: row for p in plans for v, _, row in p.stock_changes}
            try:
                stock_adjust_many(
                    changes=stock_changes,
                    reason=IMPORT_REASON,
                    actor=actor,
                    kind=StockAdjustment.Kind.IMPORT,
                )
            except InsufficientStock as exc:
                refused = exc.details.get("variants", [])
                raise Invalid(
                    "Stock changed while importing; nothing was imported.",
                    details={
                        "rows": [
                            {
                                "row": row_of[v],
                                "errors": {"stock_on_hand": ["Below the units now held."]},
                            }
                            for v in refused
                        ]
                    },
                ) from exc
    except IntegrityError as exc:
        raise ApiError(
            "invalid_state",
            "The catalog changed while importing; nothing was imported. Try again.",
            status=409,
        ) from exc
