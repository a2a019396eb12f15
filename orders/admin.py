"""Staff views of checkout data (support, disputes). Stock-moving fields are read-only:
holds, orders and attempts change only through orders/services/."""

from __future__ import annotations

from django.contrib import admin

from orders.models import (
    Address,
    Hold,
    Order,
    PaymentAttempt,
    PaymentMethod,
    Refund,
    Shipment,
    ShippingRate,
    WaitlistEntry,
)


@admin.register(Hold)
class HoldAdmin(admin.ModelAdmin):
    list_display = ["id", "buyer", "show", "variant", "quantity", "status", "expires_at", "order"]
    list_filter = ["status", "is_offer"]
    search_fields = ["buyer__username"]
    readonly_fields = [f.name for f in Hold._meta.fields]


class PaymentAttemptInline(admin.TabularInline):
    model = PaymentAttempt
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in PaymentAttempt._meta.fields]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "buyer", "shop", "show", "status", "total", "currency", "created_at"]
    list_filter = ["status"]
    search_fields = ["buyer__username", "id"]
    readonly_fields = [f.name for f in Order._meta.fields]
    inlines = [PaymentAttemptInline]


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ["id", "buyer", "shop", "show", "status", "weight_grams", "fee_charged"]
    list_filter = ["status"]
    readonly_fields = ["buyer", "shop", "show", "weight_grams", "fee_charged", "currency"]


@admin.register(ShippingRate)
class ShippingRateAdmin(admin.ModelAdmin):
    list_display = ["shop", "max_weight_grams", "fee"]


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ["order", "amount", "currency", "actor", "created_at"]
    readonly_fields = [f.name for f in Refund._meta.fields]


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "brand", "last4", "is_default"]


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "name", "city", "country", "is_default"]


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(admin.ModelAdmin):
    list_display = ["id", "show", "variant", "buyer", "status", "created_at"]
    list_filter = ["status"]
