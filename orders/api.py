"""Checkout API (SPEC "REST": buy through waitlist). Thin views: validate, call one
service or selector, shape the answer. Every POST honours `Idempotency-Key` (ApiView)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from core.api import ApiView, represent, validated
from core.pagination import CursorPagination
from core.throttling import FailOpenSimpleRateThrottle, FailOpenUserRateThrottle
from orders import selectors, services
from orders.serializers import (
    AddressOutput,
    HoldOutput,
    OrderOutput,
    PaymentMethodOutput,
    ShipmentOutput,
)

MAX_QUANTITY = 100


class BuyUserThrottle(FailOpenUserRateThrottle):
    scope = "buy_user"


class BuyIpThrottle(FailOpenSimpleRateThrottle):
    scope = "buy_ip"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def _paginated(
    view: ApiView, request: Request, queryset: QuerySet[Any], serializer: type[BaseSerializer]
) -> Response:
    paginator = CursorPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


class AddressInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    postal_code = serializers.CharField(max_length=20)
    country = serializers.RegexField(r"^[A-Za-z]{2}$", help_text="ISO 3166-1 alpha-2")

    def validate_country(self, value: str) -> str:
        return value.upper()


@extend_schema_field(
    {"oneOf": [{"type": "integer", "description": "a saved address id"}, {"type": "object"}]}
)
class AddressOrId(serializers.Field):
    """A saved address id, or an address object."""

    def to_internal_value(self, data: Any) -> int | dict[str, str]:
        if isinstance(data, bool):
            raise serializers.ValidationError("Give a saved address id or an address.")
        if isinstance(data, int) or (isinstance(data, str) and data.isdigit()):
            return int(data)
        if isinstance(data, dict):
            inner = AddressInput(data=data)
            inner.is_valid(raise_exception=True)
            return dict(inner.validated_data)
        raise serializers.ValidationError("Give a saved address id or an address.")

    def to_representation(self, value: Any) -> Any:
        return value


# --------------------------------------------------------------------------- buy


class BuyApi(ApiView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [BuyUserThrottle, BuyIpThrottle]

    class InputSerializer(serializers.Serializer):
        product = serializers.IntegerField(min_value=1)
        variant = serializers.IntegerField(min_value=1, required=False, allow_null=True)
        quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)

    class OutputSerializer(serializers.Serializer):
        hold = HoldOutput()
        order = OrderOutput(allow_null=True)
        shipping_fee = serializers.DecimalField(max_digits=10, decimal_places=2)
        currency = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request, show_id: int) -> Response:
        data = validated(self.InputSerializer, request.data)  # every tap: built once
        result = services.hold_create(
            buyer=request.user,
            show_id=show_id,
            product_id=data["product"],
            variant_id=data.get("variant"),
            quantity=data["quantity"],
        )
        body = {
            "hold": result.hold,
            "order": result.order,
            "shipping_fee": result.shipping_fee,
            "currency": result.hold.currency,
        }
        return Response(represent(self.OutputSerializer, body), status=status.HTTP_201_CREATED)


class WaitlistJoinApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        product = serializers.IntegerField(min_value=1)
        variant = serializers.IntegerField(min_value=1, required=False, allow_null=True)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        show = serializers.IntegerField(source="show_id")
        product = serializers.IntegerField(source="product_id")
        variant = serializers.IntegerField(source="variant_id")
        status = serializers.CharField()
        hold = serializers.IntegerField(source="hold_id", allow_null=True)
        created_at = serializers.DateTimeField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request, show_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.waitlist_join(
            buyer=request.user,
            show_id=show_id,
            product_id=data.validated_data["product"],
            variant_id=data.validated_data.get("variant"),
        )
        return Response(self.OutputSerializer(entry).data, status=status.HTTP_201_CREATED)


# --------------------------------------------------------------------------- holds


class HoldListApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: HoldOutput(many=True)})
    def get(self, request: Request) -> Response:
        return _paginated(self, request, selectors.holds_for_buyer(buyer=request.user), HoldOutput)


class HoldDetailApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: HoldOutput})
    def get(self, request: Request, hold_id: int) -> Response:
        hold = selectors.hold_for_buyer(buyer=request.user, hold_id=hold_id)
        return Response(HoldOutput(hold).data)


class HoldCheckoutApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        payment_method = serializers.CharField(
            max_length=100, help_text="A saved payment method id, or a token (sandbox_ok …)."
        )
        address = AddressOrId(help_text="A saved address id, or an address object.")

    class OutputSerializer(serializers.Serializer):
        order = OrderOutput()

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer})
    def post(self, request: Request, hold_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.hold_checkout(
            buyer=request.user,
            hold_id=hold_id,
            payment_method=data.validated_data["payment_method"].strip(),
            address=data.validated_data["address"],
        )
        return Response(
            self.OutputSerializer({"order": order}).data, status=status.HTTP_202_ACCEPTED
        )


class HoldCancelApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: HoldOutput})
    def post(self, request: Request, hold_id: int) -> Response:
        hold = services.hold_cancel(buyer=request.user, hold_id=hold_id)
        return Response(HoldOutput(hold).data)


# --------------------------------------------------------------------------- orders


class OrderListApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OrderOutput(many=True)})
    def get(self, request: Request) -> Response:
        orders = selectors.orders_for_buyer(buyer=request.user)
        return _paginated(self, request, orders, OrderOutput)


class OrderDetailApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OrderOutput})
    def get(self, request: Request, order_id: int) -> Response:
        order = selectors.order_for_buyer(buyer=request.user, order_id=order_id)
        return Response(OrderOutput(order).data)


class OrderCancelApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: OrderOutput})
    def post(self, request: Request, order_id: int) -> Response:
        order = services.order_cancel(buyer=request.user, order_id=order_id)
        return Response(OrderOutput(order).data)


class OrderRefundApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=500)
        restock = serializers.BooleanField(required=False, allow_null=True, default=None)

    @extend_schema(request=InputSerializer, responses={200: OrderOutput})
    def post(self, request: Request, order_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.order_refund(
            actor=request.user,
            order_id=order_id,
            reason=data.validated_data["reason"],
            restock=data.validated_data["restock"],
        )
        return Response(OrderOutput(order).data)


# --------------------------------------------------------------------------- seller


class ShopOrderListApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OrderOutput(many=True)})
    def get(self, request: Request, shop_id: int) -> Response:
        shop = selectors.shop_for_manager(user=request.user, shop_id=shop_id)
        return _paginated(self, request, selectors.orders_for_shop(shop=shop), OrderOutput)


class ShopShipmentListApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: ShipmentOutput(many=True)})
    def get(self, request: Request, shop_id: int) -> Response:
        shop = selectors.shop_for_manager(user=request.user, shop_id=shop_id)
        shipments = selectors.shipments_for_shop(shop=shop)
        return _paginated(self, request, shipments, ShipmentOutput)


class ShipmentShipApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        carrier = serializers.CharField(max_length=60)
        tracking_number = serializers.CharField(max_length=100)

    @extend_schema(request=InputSerializer, responses={200: ShipmentOutput})
    def post(self, request: Request, shipment_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shipment = services.shipment_ship(
            actor=request.user, shipment_id=shipment_id, **data.validated_data
        )
        return Response(ShipmentOutput(shipment).data)


class ShipmentDeliverApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: ShipmentOutput})
    def post(self, request: Request, shipment_id: int) -> Response:
        shipment = services.shipment_deliver(actor=request.user, shipment_id=shipment_id)
        return Response(ShipmentOutput(shipment).data)


# --------------------------------------------------------------------------- wallet


class PaymentMethodListApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=100)
        is_default = serializers.BooleanField(required=False, default=False)

    @extend_schema(responses={200: PaymentMethodOutput(many=True)})
    def get(self, request: Request) -> Response:
        methods = selectors.payment_methods_for_user(user=request.user)
        return _paginated(self, request, methods, PaymentMethodOutput)

    @extend_schema(request=InputSerializer, responses={201: PaymentMethodOutput})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        method = services.payment_method_add(
            user=request.user,
            token=data.validated_data["token"].strip(),
            is_default=data.validated_data["is_default"],
        )
        return Response(PaymentMethodOutput(method).data, status=status.HTTP_201_CREATED)


class PaymentMethodDetailApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None})
    def delete(self, request: Request, payment_method_id: int) -> Response:
        services.payment_method_delete(user=request.user, payment_method_id=payment_method_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AddressListApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(AddressInput):
        is_default = serializers.BooleanField(required=False, default=False)

    @extend_schema(responses={200: AddressOutput(many=True)})
    def get(self, request: Request) -> Response:
        addresses = selectors.addresses_for_user(user=request.user)
        return _paginated(self, request, addresses, AddressOutput)

    @extend_schema(request=InputSerializer, responses={201: AddressOutput})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        is_default = fields.pop("is_default")
        address = services.address_add(user=request.user, data=fields, is_default=is_default)
        return Response(AddressOutput(address).data, status=status.HTTP_201_CREATED)


class AddressDetailApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None})
    def delete(self, request: Request, address_id: int) -> Response:
        services.address_delete(user=request.user, address_id=address_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
