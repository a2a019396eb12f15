"""Shops, products, variants and the stock ledger.

Stock lives on `Variant`: `stock_on_hand` (units in the building) and `held` (units
reserved by active holds). The database itself enforces the no-oversell invariant
``0 <= held <= stock_on_hand`` with CHECK constraints, so no code path — a buggy service,
an admin edit, a race — can commit an oversold state.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q


class Shop(models.Model):
    name = models.CharField(max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_shops"
    )
    staff: models.ManyToManyField = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ShopStaff", related_name="staff_shops", blank=True
    )
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class ShopStaff(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "user"], name="shopstaff_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.shop}"


class Product(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="products")
    handle = models.SlugField(max_length=120)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(max_length=3, default="USD")
    weight_grams = models.PositiveIntegerField(default=0)
    image_url = models.URLField(blank=True, default="", max_length=500)
    # [{"name": "size", "values": ["S", "M"]}, ...]; empty for a simple product.
    options = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "handle"], name="product_handle_unique"),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_nonnegative"),
        ]

    def __str__(self) -> str:
        return self.title

    # Product-level stock figures (SPEC "Variants"): a product with one variant shows that
    # variant's SKU and stock; with several, the sums and no SKU. They read
    # `self.variants.all()`, so prefetch variants when listing products.
    @property
    def sku(self) -> str | None:
        variants = list(self.variants.all())
        return variants[0].sku if len(variants) == 1 else None

    @property
    def stock_on_hand(self) -> int:
        return sum(v.stock_on_hand for v in self.variants.all())

    @property
    def stock_available(self) -> int:
        return sum(v.stock_available for v in self.variants.all())


class Variant(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    # Denormalised from product so SKUs can be unique per shop at the database level.
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=64)
    # {"size": "M", "colour": "red"}; empty for the single variant of a simple product.
    options = models.JSONField(default=dict, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    weight_grams = models.PositiveIntegerField(null=True, blank=True)
    stock_on_hand = models.IntegerField(default=0)
    held = models.IntegerField(default=0)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["product_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "sku"], name="variant_sku_unique_per_shop"),
            models.CheckConstraint(condition=Q(held__gte=0), name="variant_held_nonnegative"),
            models.CheckConstraint(
                condition=Q(held__lte=F("stock_on_hand")), name="variant_held_le_on_hand"
            ),
            models.CheckConstraint(
                condition=Q(price__isnull=True) | Q(price__gte=0),
                name="variant_price_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return self.sku

    @property
    def stock_available(self) -> int:
        return self.stock_on_hand - self.held

    @property
    def effective_price(self) -> Decimal:
        return self.price if self.price is not None else self.product.price

    @property
    def effective_weight_grams(self) -> int:
        return self.weight_grams if self.weight_grams is not None else self.product.weight_grams


class StockAdjustment(models.Model):
    """One line of the stock ledger: every change to on-hand has a reason and an actor."""

    class Kind(models.TextChoices):
        INITIAL = "initial"
        MANUAL = "manual"
        IMPORT = "import"
        SALE = "sale"
        RESTOCK = "restock"

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="adjustments")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MANUAL)
    delta = models.IntegerField()
    reason = models.CharField(max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    on_hand_before = models.IntegerField()
    on_hand_after = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="stockadjustment_reason_required")
        ]

    def __str__(self) -> str:
        return f"{self.variant} {self.delta:+d} ({self.reason})"
