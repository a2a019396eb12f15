"""Admin for the catalog. Stock figures and the ledger are read-only here: on-hand stock
moves only through `catalog.stock.stock_adjust` (owner: orders.inventory)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from catalog.models import Product, Shop, ShopStaff, StockAdjustment, Variant
from core.admin import ReadOnlyAdminMixin


class ShopStaffInline(admin.TabularInline):
    model = ShopStaff
    extra = 0
    raw_id_fields = ("user",)
    readonly_fields = ("added_at",)


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "owner", "currency", "created_at")
    search_fields = ("name", "owner__username")
    raw_id_fields = ("owner",)
    inlines = [ShopStaffInline]

    def get_readonly_fields(self, request: Any, obj: Shop | None = None) -> tuple[str, ...]:
        # A shop sells in one currency, chosen at creation: changing it would leave its
        # products, fee table and parcels priced in the old one (docs/checkout.md).
        return ("currency",) if obj is not None else ()


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    fields = ("sku", "options", "price", "weight_grams", "position", "stock_on_hand", "held")
    readonly_fields = ("stock_on_hand", "held")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a variant may be referenced by holds and orders


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "shop", "price", "currency", "is_active", "created_at")
    list_filter = ("is_active", "currency")
    search_fields = ("title", "handle", "variants__sku")
    raw_id_fields = ("shop",)
    inlines = [VariantInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        # New variants added inline belong to the product's shop (SKUs are unique per shop).
        for obj in formset.save(commit=False):
            if isinstance(obj, Variant):
                obj.shop_id = form.instance.shop_id
            obj.save()
        formset.save_m2m()


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
    list_display = ("id", "sku", "product", "shop", "stock_on_hand", "held", "price")
    search_fields = ("sku", "product__title")
    raw_id_fields = ("product", "shop")
    readonly_fields = ("stock_on_hand", "held")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StockAdjustment)
class StockAdjustmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The ledger: append-only, written by services only."""

    list_display = (
        "id",
        "variant",
        "kind",
        "delta",
        "on_hand_after",
        "reason",
        "actor",
        "created_at",
    )
    list_filter = ("kind",)
    search_fields = ("variant__sku", "reason")
    list_select_related = ("variant", "actor")
