"""CSV catalog import: upsert a shop's products and variants from one file, all or nothing.

The steps, in the order `catalog_import` runs them:

1. **parse** the file (`catalog.csv_format`): rows valid on their own, and row errors;
2. **validate rows** against each other: a SKU is on one row only (`_Planner.plan`);
3. **group** the rows into products by `product_handle`, and load what exists;
4. **diff** each product against what exists (`_Planner._plan_product`): product-level
   values, options, then each variant's price, weight and stock;
5. **plan**: a `_ProductPlan` per product says what to create, update and adjust; the
   report says, per row, created, updated, unchanged or error;
6. **apply** the plans in one transaction (`_import_apply`), unless it is a dry run or a
   row has an error.

The file format is documented in catalog/csv_format.py and docs/catalog.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone

from catalog import hooks, rules
from catalog.csv_format import CsvFileError, CsvRow, catalog_csv_parse
from catalog.models import Product, Shop, StockAdjustment, Variant
from catalog.services import InsufficientStock, _ledger_initial, stock_adjust_many
from core.errors import ApiError, Invalid

IMPORT_REASON = "CSV import"

RowErrors = dict[int, dict[str, list[str]]]  # row number → field → messages


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


def catalog_import(*, shop: Shop, actor: User | None, data: bytes, dry_run: bool) -> ImportReport:
    """Upsert the shop's catalog from CSV bytes (format in catalog/csv_format.py).

    All or nothing: any bad row raises `Invalid` with ``details.rows`` = [{row, errors}]
    and changes nothing. A dry run applies nothing and reports every row (created,
    updated, unchanged or error). A changed `stock_on_hand` of an existing SKU is a
    ledger adjustment (kind `import`), refused when it would go below the held units.
    """
    try:
        parsed = catalog_csv_parse(data)
    except CsvFileError as exc:
        raise Invalid(str(exc), details={"file": [str(exc)]}) from None
    errors: RowErrors = {n: dict(e) for n, e in parsed.errors.items()}
    planner = _Planner(shop=shop, errors=errors)
    plans = planner.plan(parsed.rows)

    report = ImportReport(
        dry_run=dry_run,
        rows=_row_results(parsed.keys, planner),
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


def _row_results(keys: dict[int, tuple[str, str]], planner: _Planner) -> list[ImportRowResult]:
    """Every row of the file, in order, with what the import does to it."""
    results = []
    for number, (sku, handle) in sorted(keys.items()):
        if number in planner.errors:
            result = "error"
        elif number in planner.new_rows:
            result = "created"
        else:
            result = "updated" if number in planner.changed_rows else "unchanged"
        results.append(ImportRowResult(number, sku, handle, result, planner.errors.get(number, {})))
    return results


@dataclass
class _ProductValues:
    """The product-level cells of a product's rows; None keeps what exists."""

    title: str
    description: str | None
    currency: str | None
    image_url: str | None


class _Planner:
    """Works out every product's final state from the rows; records row errors in
    `errors` (a row with an error changes nothing), the rows that change something in
    `changed_rows` and those that create a variant in `new_rows`."""

    def __init__(self, *, shop: Shop, errors: RowErrors) -> None:
        self.shop = shop
        self.errors = errors
        self.changed_rows: set[int] = set()
        self.new_rows: set[int] = set()
        self.first_row_of_sku: dict[str, int] = {}
        self.existing_variants: dict[str, Variant] = {}
        self.products: dict[str, Product] = {}

    def fail(self, row: int, name: str, message: str) -> None:
        self.errors.setdefault(row, {}).setdefault(name, []).append(message)

    def _ok(self, group: list[CsvRow]) -> list[CsvRow]:
        return [r for r in group if r.row not in self.errors]

    def plan(self, rows: Sequence[CsvRow]) -> list[_ProductPlan]:
        # Validate the rows against each other: a SKU is on one row only.
        for r in rows:
            if r.sku in self.first_row_of_sku:
                self.fail(
                    r.row, "sku", f"SKU {r.sku!r} is also on row {self.first_row_of_sku[r.sku]}."
                )
            else:
                self.first_row_of_sku[r.sku] = r.row
        valid = self._ok(list(rows))
        self._load_existing(valid)
        groups: dict[str, list[CsvRow]] = {}
        for r in valid:
            groups.setdefault(r.product_handle, []).append(r)
        plans = []
        for handle, group in groups.items():
            plan = self._plan_product(handle, group)
            if plan is not None:
                plans.append(plan)
        return plans

    def _load_existing(self, rows: list[CsvRow]) -> None:
        """The shop's variants with the file's SKUs, and its products with its handles."""
        self.existing_variants = {
            v.sku: v
            for v in Variant.objects.filter(
                shop=self.shop, sku__in={r.sku for r in rows}
            ).select_related("product")
        }
        self.products = {
            p.handle: p
            for p in Product.objects.filter(
                shop=self.shop, handle__in={r.product_handle for r in rows}
            ).prefetch_related(
                Prefetch("variants", queryset=Variant.objects.order_by("position", "id"))
            )
        }

    def _plan_product(self, handle: str, group: list[CsvRow]) -> _ProductPlan | None:
        """The plan of one product (its rows: `group`), or None when a row has an error."""
        product = self.products.get(handle)
        group = self._rows_that_may_write(handle, product, group)
        if not group:
            return None
        values = self._product_values(group)
        plan, current = self._product_diff(handle, product, group[0], values)
        options = self._plan_options(plan, current, group)
        if options is None:
            return None
        names, final_options = options
        self._plan_variants(plan, current, group, names, final_options)
        if plan.changed_fields:
            self.changed_rows.update(r.row for r in group if r.row not in self.new_rows)
        return plan

    def _rows_that_may_write(
        self, handle: str, product: Product | None, group: list[CsvRow]
    ) -> list[CsvRow]:
        """A deleted product takes no rows; a SKU stays with its product."""
        if product is not None and not product.is_active:
            for r in group:
                self.fail(r.row, "product_handle", "This product was deleted; use another handle.")
            return []
        for r in group:
            v = self.existing_variants.get(r.sku)
            if v is not None and v.product.handle != handle:
                where = "a deleted product" if not v.product.is_active else repr(v.product.handle)
                self.fail(r.row, "sku", f"SKU {r.sku!r} belongs to {where}; SKUs cannot move.")
        return self._ok(group)

    def _pick(self, group: list[CsvRow], name: str) -> str | None:
        """The product-level value: the first filled cell of the product's rows; other
        filled cells must agree. None (keep what exists) when every cell is blank."""
        filled = [(r, getattr(r, name)) for r in group if getattr(r, name)]
        for r, v in filled[1:]:
            if v != filled[0][1]:
                self.fail(r.row, name, f"Differs from row {filled[0][0].row} of the same product.")
        return filled[0][1] if filled else None

    def _product_values(self, group: list[CsvRow]) -> _ProductValues:
        title = self._pick(group, "title") or group[0].title
        description = self._pick(group, "description")
        currency = self._pick(group, "currency") or None
        for r in group:
            if r.currency and (
                bad := rules.currency_errors(r.currency, shop_currency=self.shop.currency)
            ):
                for message in bad:
                    self.fail(r.row, "currency", message)
        image_url = self._pick(group, "image_url")
        return _ProductValues(title, description, currency, image_url)

    def _product_diff(
        self, handle: str, product: Product | None, first: CsvRow, values: _ProductValues
    ) -> tuple[_ProductPlan, list[Variant]]:
        """The plan with the product-level changes, and the product's current variants."""
        if product is None:
            product = Product(
                shop=self.shop,
                handle=handle,
                title=values.title,
                description=values.description or "",
                price=first.price,
                currency=values.currency or self.shop.currency,
                weight_grams=first.weight_grams or 0,
                image_url=values.image_url or "",
                options=[],
            )
            return _ProductPlan(product=product, is_new=True), []
        plan = _ProductPlan(product=product, is_new=False)
        for name, value in (
            ("title", values.title),
            ("description", values.description),
            ("currency", values.currency),
            ("image_url", values.image_url),
        ):
            if value is not None and getattr(product, name) != value:
                setattr(product, name, value)
                plan.changed_fields.add(name)
        return plan, list(product.variants.all())

    def _plan_options(
        self, plan: _ProductPlan, current: list[Variant], group: list[CsvRow]
    ) -> tuple[list[str], dict[str, dict[str, str]]] | None:
        """The option names and every variant's options once imported (SKU → name →
        value); None when a row of the product has an error."""
        product, first = plan.product, group[0]
        # Option names: the product's, or (for a product without options) the first row's.
        old_options: list[dict[str, Any]] = list(product.options or [])
        names = [o["name"] for o in old_options] or list(first.options)
        values: dict[str, list[str]] = {n: [] for n in names}
        for o in old_options:
            if o["name"] in values:
                values[o["name"]] = list(o["values"])
        final_options: dict[str, dict[str, str]] = {v.sku: dict(v.options) for v in current}
        for r in group:
            if set(r.options) != set(names):
                expected = ", ".join(names) or "none"
                self.fail(r.row, "options", f"This product's options are: {expected}.")
                continue
            final_options[r.sku] = {n: r.options[n] for n in names}
        untouched = [v for v in current if v.sku not in {r.sku for r in group}]
        for v in untouched:
            if set(v.options) != set(names):
                self.fail(
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
                row = self.first_row_of_sku.get(sku, first.row)
                self.fail(row, "options", f"Same options as SKU {seen[combo]!r}.")
            seen.setdefault(combo, sku)
        new_options = [{"name": n, "values": values[n]} for n in names]
        if not names and len(final_options) > 1:
            for r in group:
                self.fail(
                    r.row, "options", "A product without options has one variant; add options."
                )
        if any(r.row in self.errors for r in group):
            return None
        check = rules.options_definition_errors(new_options) or rules.variant_set_errors(
            new_options, [{"sku": s, "options": o} for s, o in final_options.items()]
        )
        for message in check:
            self.fail(first.row, "options", message)
        if check:
            return None
        if new_options != old_options:
            product.options = new_options
            plan.changed_fields.add("options")
        return names, final_options

    def _plan_variants(
        self,
        plan: _ProductPlan,
        current: list[Variant],
        group: list[CsvRow],
        names: list[str],
        final_options: dict[str, dict[str, str]],
    ) -> None:
        """Each row's variant: new, or its changes of price, weight, options and stock."""
        by_sku = {v.sku: v for v in current}
        # A simple product keeps its price and weight on the product; a product with
        # several variants keeps the first row's as the base and per-variant differences.
        simple = not names and len(final_options) == 1
        position = max((v.position for v in current), default=-1) + 1
        for r in group:
            v = by_sku.get(r.sku)
            if simple:
                changed = self._simple_price_and_weight(plan, v, r)
                variant_price: Decimal | None = None
                variant_weight: int | None = None
            else:
                changed, variant_price, variant_weight = self._variant_price_and_weight(plan, v, r)
            if v is None:
                plan.new_variants.append(
                    Variant(
                        shop=self.shop,
                        sku=r.sku,
                        options=final_options[r.sku],
                        price=variant_price,
                        weight_grams=variant_weight,
                        stock_on_hand=r.stock_on_hand,
                        position=position,
                    )
                )
                position += 1
                self.new_rows.add(r.row)
                continue
            if v.options != final_options[r.sku]:
                v.options = final_options[r.sku]
                plan.changed_variant_fields.add("options")
                changed = True
            if changed:
                plan.changed_variants.append(v)
                self.changed_rows.add(r.row)
            self._plan_stock(plan, v, r)

    @staticmethod
    def _simple_price_and_weight(plan: _ProductPlan, v: Variant | None, r: CsvRow) -> bool:
        """A simple product's price and weight live on the product (the variant's are
        cleared). Returns whether the variant itself changed."""
        product, changed = plan.product, False
        for name, value in (("price", r.price), ("weight_grams", r.weight_grams)):
            now = getattr(v, f"effective_{name}") if v else getattr(product, name)
            if value is None or now == value:  # a blank weight keeps what exists
                continue
            if getattr(product, name) != value:
                setattr(product, name, value)
                plan.changed_fields.add(name)
            if v is not None and getattr(v, name) is not None:
                setattr(v, name, None)
                plan.changed_variant_fields.add(name)
                changed = True
        return changed

    @staticmethod
    def _variant_price_and_weight(
        plan: _ProductPlan, v: Variant | None, r: CsvRow
    ) -> tuple[bool, Decimal | None, int | None]:
        """A variant of a product with options keeps only its differences from the
        product. Returns whether the variant changed, and its own price and weight."""
        product, changed = plan.product, False
        variant_price = None if r.price == product.price else r.price
        variant_weight = None
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
        return changed, variant_price, variant_weight

    def _plan_stock(self, plan: _ProductPlan, v: Variant, r: CsvRow) -> None:
        """A changed stock on hand is a ledger adjustment, never below the held units."""
        if r.stock_on_hand == v.stock_on_hand:
            return
        if r.stock_on_hand < v.held:
            self.fail(
                r.row,
                "stock_on_hand",
                f"{v.held} units are held by buyers; stock on hand cannot go below that.",
            )
            return
        plan.stock_changes.append((v, r.stock_on_hand - v.stock_on_hand, r.row))
        self.changed_rows.add(r.row)


def _import_apply(*, plans: Sequence[_ProductPlan], actor: User | None) -> None:
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
            hooks.products_written(  # trust: flags, cases
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
