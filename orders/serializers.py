"""Output shapes for holds, orders, shipments, payment methods and addresses.

One definition serves both the REST answers (`orders/api.py`) and the private events
(`hold.updated`, `order.updated`), so a client sees the same object either way.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api import represent
from orders import clock
from orders.models import Address, Hold, Order, PaymentMethod, Shipment


class HoldOutput(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    order: serializers.PrimaryKeyRelatedField = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )
    offer = serializers.BooleanField(source="is_offer")

    class Meta:
        model = Hold
        fields = [
            "id",
            "show",
            "product",
            "variant",
            "quantity",
            "unit_price",
            "currency",
            "status",
            "offer",
            "expires_at",
            "created_at",
            "ended_at",
            "order",
        ]

    def get_status(self, hold: Hold) -> str:
        return hold.status_at(clock.now())


class ShipmentSummary(serializers.ModelSerializer):
    class Meta:
        model = Shipment
        fields = ["id", "status", "carrier", "tracking_number", "shipped_at", "delivered_at"]


class OrderOutput(serializers.ModelSerializer):
    hold = serializers.SerializerMethodField()
    shipment = ShipmentSummary(allow_null=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "status",
            "shop",
            "show",
            "product",
            "variant",
            "quantity",
            "unit_price",
            "subtotal",
            "shipping_fee",
            "total",
            "currency",
            "hold",
            "shipment",
            "shipping_address",
            "failure_reason",
            "created_at",
            "paid_at",
            "ended_at",
        ]

    def get_hold(self, order: Order) -> int | None:
        hold = getattr(order, "hold", None)
        return hold.pk if hold is not None else None


class ShipmentOutput(serializers.ModelSerializer):
    orders = serializers.SerializerMethodField()

    class Meta:
        model = Shipment
        fields = [
            "id",
            "buyer",
            "shop",
            "show",
            "status",
            "weight_grams",
            "fee_charged",
            "fee_uncollected",
            "currency",
            "carrier",
            "tracking_number",
            "created_at",
            "shipped_at",
            "delivered_at",
            "orders",
        ]

    def get_orders(self, shipment: Shipment) -> list[int]:
        return sorted(o.pk for o in shipment.orders.all())


class PaymentMethodOutput(serializers.ModelSerializer):
    class Meta:
        model = PaymentMethod
        fields = ["id", "brand", "last4", "is_default", "created_at"]


class AddressOutput(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = [
            "id",
            "name",
            "line1",
            "line2",
            "city",
            "postal_code",
            "country",
            "is_default",
            "created_at",
        ]


def hold_data(hold: Hold) -> dict[str, Any]:
    return dict(represent(HoldOutput, hold))


def order_data(order: Order) -> dict[str, Any]:
    return dict(represent(OrderOutput, order))


def shipment_data(shipment: Shipment) -> dict[str, Any]:
    return dict(ShipmentOutput(shipment).data)
