"""Catalog REST API: shops and staff, products, stock adjustments, CSV import/export.

Views validate, authorize (catalog.selectors), call one service and shape the answer.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from catalog import rules, selectors, services
from catalog.csv_format import MAX_FILE_BYTES, catalog_csv_write, options_format
from catalog.importing import ImportReport, catalog_import
from catalog.models import Product, Shop, StockAdjustment, Variant
from core.api import ApiView
from core.errors import ApiError, Invalid, NotFound
from core.pagination import CursorPagination

# --- fields ----------------------------------------------------------------------------


class StrictIntegerField(serializers.IntegerField):
    """An integer that is really one: rejects 1.5, 2.0, true and "abc" (DRF allows 2.0)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        if isinstance(data, str) and not data.strip().lstrip("-").isdigit():
            self.fail("invalid")
        return super().to_internal_value(data)


class MoneyField(serializers.DecimalField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", Decimal("0"))
        kwargs.setdefault("max_value", rules.MAX_PRICE)
        super().__init__(max_digits=10, decimal_places=2, **kwargs)


def _sku_field(**kwargs: Any) -> serializers.RegexField:
    return serializers.RegexField(
        rules.SKU_RE,
        max_length=rules.MAX_SKU,
        error_messages={"invalid": "A SKU is one word of at most 64 characters, no spaces."},
        **kwargs,
    )


def _currency_field(**kwargs: Any) -> serializers.RegexField:
    return serializers.RegexField(
        rules.CURRENCY_RE,
        error_messages={"invalid": "Use 3 capital letters (ISO 4217), for example USD."},
        **kwargs,
    )


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


# --- shops -----------------------------------------------------------------------------


class ShopOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    currency = serializers.CharField()
    owner = UserRefSerializer()
    created_at = serializers.DateTimeField()


class ShopListCreateApi(ApiView):
    """`GET` the caller's shops (owned or staff of); `POST` creates one they own."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=120)
        currency = _currency_field(required=False, default="USD")

    OutputSerializer = ShopOutputSerializer

    @extend_schema(responses=ShopOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = CursorPagination()
        qs = selectors.shops_for_user(user=request.user).select_related("owner")
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: ShopOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shop = services.shop_create(owner=request.user, **data.validated_data)  # type: ignore[arg-type]
        return Response(self.OutputSerializer(shop).data, status=status.HTTP_201_CREATED)


class ShopDetailApi(ApiView):
    """A shop's public card."""

    OutputSerializer = ShopOutputSerializer

    @extend_schema(responses=ShopOutputSerializer)
    def get(self, request: Request, shop_id: int) -> Response:
        return Response(self.OutputSerializer(selectors.shop_get(shop_id=shop_id)).data)


class ShopStaffApi(ApiView):
    """The shop's staff: anyone of them may list; only the owner adds or removes.

    Adding someone who is already staff answers 200 and changes nothing; removing
    someone who is not staff answers 204 too (both idempotent).
    """

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)

    class OutputSerializer(serializers.Serializer):
        user = UserRefSerializer()
        added_at = serializers.DateTimeField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: Request, shop_id: int) -> Response:
        shop = selectors.shop_get_managed(shop_id=shop_id, user=request.user)
        members = selectors.shop_staff_list(shop=shop)
        return Response({"results": self.OutputSerializer(members, many=True).data, "next": None})

    @extend_schema(
        request=InputSerializer, responses={201: OutputSerializer, 200: OutputSerializer}
    )
    def post(self, request: Request, shop_id: int) -> Response:
        shop = selectors.shop_get_owned(shop_id=shop_id, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership, created = services.shop_staff_add(shop=shop, **data.validated_data)
        return Response(
            self.OutputSerializer(membership).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        request=InputSerializer,
        parameters=[OpenApiParameter("username", required=False, description="Or in the body.")],
        responses={204: None},
    )
    def delete(self, request: Request, shop_id: int) -> Response:
        shop = selectors.shop_get_owned(shop_id=shop_id, user=request.user)
        body = (
            request.data
            if isinstance(request.data, dict) and request.data
            else request.query_params
        )
        data = self.InputSerializer(data=body)
        data.is_valid(raise_exception=True)
        services.shop_staff_remove(shop=shop, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- products --------------------------------------------------------------------------


class VariantOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    options = serializers.DictField(child=serializers.CharField())
    price = serializers.DecimalField(source="effective_price", max_digits=10, decimal_places=2)
    weight_grams = serializers.IntegerField(source="effective_weight_grams")
    stock_on_hand = serializers.IntegerField()
    stock_available = serializers.IntegerField()


class OptionSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=rules.MAX_OPTION_NAME)
    values = serializers.ListField(
        child=serializers.CharField(max_length=rules.MAX_OPTION_VALUE),
        min_length=1,
        max_length=rules.MAX_OPTION_VALUES,
    )


class ProductOutputSerializer(serializers.Serializer):
    """A product as every client sees it (SPEC "Variants": product-level figures)."""

    id = serializers.IntegerField()
    shop = serializers.IntegerField(source="shop_id")
    handle = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    weight_grams = serializers.IntegerField()
    image_url = serializers.CharField()
    options = OptionSerializer(many=True)
    sku = serializers.CharField(allow_null=True)
    stock_on_hand = serializers.IntegerField()
    stock_available = serializers.IntegerField()
    variants = VariantOutputSerializer(many=True, source="variants.all")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class VariantInputSerializer(serializers.Serializer):
    sku = _sku_field()
    options = serializers.DictField(
        child=serializers.CharField(max_length=rules.MAX_OPTION_VALUE),
        required=False,
        default=dict,
    )
    price = MoneyField(required=False, allow_null=True, default=None)
    stock_on_hand = StrictIntegerField(min_value=0, max_value=rules.MAX_STOCK)
    weight_grams = StrictIntegerField(
        min_value=0,
        max_value=rules.MAX_WEIGHT_GRAMS,
        required=False,
        allow_null=True,
        default=None,
    )


class ProductListCreateApi(ApiView):
    """`GET` active products (public, newest first, `?shop=<id>`); `POST` creates one."""

    class FilterSerializer(serializers.Serializer):
        shop = StrictIntegerField(required=False, min_value=1)

    class InputSerializer(serializers.Serializer):
        shop = StrictIntegerField(min_value=1)
        title = serializers.CharField(max_length=200)
        handle = serializers.RegexField(
            rules.HANDLE_RE, max_length=rules.MAX_HANDLE, required=False
        )
        description = serializers.CharField(
            max_length=10_000, required=False, allow_blank=True, default=""
        )
        price = MoneyField()
        currency = _currency_field(required=False)
        sku = _sku_field(required=False)
        stock_on_hand = StrictIntegerField(min_value=0, max_value=rules.MAX_STOCK, required=False)
        weight_grams = StrictIntegerField(
            min_value=0, max_value=rules.MAX_WEIGHT_GRAMS, required=False, default=0
        )
        image_url = serializers.URLField(
            max_length=500, required=False, allow_blank=True, default=""
        )
        options = OptionSerializer(many=True, required=False, default=list)
        variants: serializers.ListSerializer = serializers.ListSerializer(
            child=VariantInputSerializer(),
            required=False,
            allow_empty=False,
            max_length=rules.MAX_VARIANTS,
        )

    OutputSerializer = ProductOutputSerializer

    @extend_schema(
        parameters=[OpenApiParameter("shop", OpenApiTypes.INT)],
        responses=ProductOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        paginator = CursorPagination()
        qs = selectors.product_list(shop_id=query.validated_data.get("shop"))
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: ProductOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "variants" in fields:
            fields["variants"] = [services.VariantInput(**v) for v in fields["variants"]]
        shop = _shop_for_product_create(shop_id=fields.pop("shop"), user=request.user)
        product = services.product_create(shop=shop, actor=request.user, **fields)  # type: ignore[arg-type]
        product = selectors.product_get(product_id=product.pk)
        return Response(self.OutputSerializer(product).data, status=status.HTTP_201_CREATED)


def _shop_for_product_create(*, shop_id: int, user: Any) -> Shop:
    try:
        return selectors.shop_get_managed(shop_id=shop_id, user=user)
    except NotFound:
        raise Invalid("No such shop.", details={"shop": ["No such shop."]}) from None


class VariantPatchSerializer(serializers.Serializer):
    id = StrictIntegerField()
    sku = _sku_field(required=False)
    price = MoneyField(required=False, allow_null=True)
    weight_grams = StrictIntegerField(
        min_value=0, max_value=rules.MAX_WEIGHT_GRAMS, required=False, allow_null=True
    )


class ProductDetailApi(ApiView):
    """`GET` (public), `PATCH` and `DELETE` (shop owner and staff) one product.

    PATCH ignores `stock_on_hand`, `stock_available`, `options` and any unknown field:
    stock moves only through stock adjustments. DELETE archives the product (204):
    it leaves the catalog but pins, holds and orders that refer to it keep working.
    """

    class InputSerializer(serializers.Serializer):
        title = serializers.CharField(max_length=200, required=False)
        handle = serializers.RegexField(
            rules.HANDLE_RE, max_length=rules.MAX_HANDLE, required=False
        )
        description = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
        price = MoneyField(required=False)
        currency = _currency_field(required=False)
        sku = _sku_field(required=False)
        weight_grams = StrictIntegerField(
            min_value=0, max_value=rules.MAX_WEIGHT_GRAMS, required=False
        )
        image_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
        variants: serializers.ListSerializer = serializers.ListSerializer(
            child=VariantPatchSerializer(), required=False, max_length=rules.MAX_VARIANTS
        )

    OutputSerializer = ProductOutputSerializer

    @extend_schema(responses=ProductOutputSerializer)
    def get(self, request: Request, product_id: int) -> Response:
        return Response(self.OutputSerializer(selectors.product_get(product_id=product_id)).data)

    @extend_schema(request=InputSerializer, responses=ProductOutputSerializer)
    def patch(self, request: Request, product_id: int) -> Response:
        product = selectors.product_get_managed(product_id=product_id, user=request.user)
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        variants = [dict(v) for v in fields.pop("variants", [])]
        services.product_update(product=product, data=fields, variants=variants)
        return Response(self.OutputSerializer(selectors.product_get(product_id=product.pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, product_id: int) -> Response:
        product = selectors.product_get_managed(product_id=product_id, user=request.user)
        services.product_delete(product=product)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- stock -----------------------------------------------------------------------------


class StockAdjustmentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    variant = serializers.IntegerField(source="variant_id")
    kind = serializers.CharField()
    delta = serializers.IntegerField()
    reason = serializers.CharField()
    on_hand_before = serializers.IntegerField()
    on_hand_after = serializers.IntegerField()
    actor = UserRefSerializer(allow_null=True)
    created_at = serializers.DateTimeField()


class StockAdjustmentApi(ApiView):
    """The product's stock ledger (owner and staff): `GET` lists it, `POST` adds a line.

    `variant` is required when the product has several (400 `variant_required`); a
    change that would take available stock below zero is 409 `insufficient_stock`.
    """

    permission_classes = [IsAuthenticated]

    class FilterSerializer(serializers.Serializer):
        variant = StrictIntegerField(required=False)

    class InputSerializer(serializers.Serializer):
        delta = StrictIntegerField(min_value=-rules.MAX_STOCK, max_value=rules.MAX_STOCK)
        reason = serializers.CharField(max_length=500)
        variant = StrictIntegerField(required=False, allow_null=True)

    OutputSerializer = StockAdjustmentOutputSerializer

    @extend_schema(
        parameters=[OpenApiParameter("variant", OpenApiTypes.INT)],
        responses=StockAdjustmentOutputSerializer(many=True),
    )
    def get(self, request: Request, product_id: int) -> Response:
        product = selectors.product_get_managed(product_id=product_id, user=request.user)
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        qs = selectors.stock_ledger_list(
            product=product, variant_id=query.validated_data.get("variant")
        )
        paginator = CursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: StockAdjustmentOutputSerializer})
    def post(self, request: Request, product_id: int) -> Response:
        product = selectors.product_get_managed(product_id=product_id, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        variant = _variant_of(product=product, variant_id=data.validated_data.get("variant"))
        entry = services.stock_adjust(
            variant_id=variant.pk,
            delta=data.validated_data["delta"],
            reason=data.validated_data["reason"],
            actor=request.user,  # type: ignore[arg-type]
            kind=StockAdjustment.Kind.MANUAL,
        )
        return Response(self.OutputSerializer(entry).data, status=status.HTTP_201_CREATED)


def _variant_of(*, product: Product, variant_id: int | None) -> Variant:
    variants = list(product.variants.all())
    if variant_id is None:
        if len(variants) != 1:
            raise ApiError(
                "variant_required",
                "This product has several variants: say which one.",
                status=400,
                details={"variant": ["Required for a product with several variants."]},
            )
        return variants[0]
    for v in variants:
        if v.pk == variant_id:
            return v
    raise Invalid("That variant is not part of this product.", details={"variant": ["Unknown."]})


# --- CSV -------------------------------------------------------------------------------


class CatalogImportApi(ApiView):
    """Upsert the shop's catalog from a CSV `file` (multipart); `dry_run` reports only."""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(allow_empty_file=True)
        dry_run = serializers.BooleanField(required=False, default=False)

    RowSerializer = inline_serializer(
        "CatalogImportRow",
        {
            "row": serializers.IntegerField(),
            "sku": serializers.CharField(),
            "product_handle": serializers.CharField(),
            "result": serializers.CharField(),
            "errors": serializers.DictField(
                child=serializers.ListField(child=serializers.CharField())
            ),
        },
    )

    class OutputSerializer(serializers.Serializer):
        dry_run = serializers.BooleanField()
        valid = serializers.SerializerMethodField()
        counts = serializers.DictField(child=serializers.IntegerField())
        products_created = serializers.IntegerField()
        products_updated = serializers.IntegerField()

        def get_valid(self, report: ImportReport) -> bool:
            return not report.row_errors

    @extend_schema(
        request={"multipart/form-data": InputSerializer},
        responses={
            200: inline_serializer(
                "CatalogImportResult",
                {
                    "dry_run": serializers.BooleanField(),
                    "valid": serializers.BooleanField(),
                    "counts": serializers.DictField(child=serializers.IntegerField()),
                    "products_created": serializers.IntegerField(),
                    "products_updated": serializers.IntegerField(),
                    "rows": serializers.ListField(child=RowSerializer),
                },
            )
        },
    )
    def post(self, request: Request, shop_id: int) -> Response:
        shop = selectors.shop_get_managed(shop_id=shop_id, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise Invalid(
                "The file is larger than 2 MB.", details={"file": ["At most 2 MB; split it."]}
            )
        report = catalog_import(
            shop=shop,
            actor=request.user,  # type: ignore[arg-type]
            data=upload.read(),
            dry_run=data.validated_data["dry_run"],
        )
        body = dict(self.OutputSerializer(report).data)
        if report.dry_run:
            body["rows"] = [dataclasses.asdict(r) for r in report.rows]
        return Response(body)


class CatalogExportApi(ApiView):
    """The shop's catalog as CSV (owner and staff): one row per variant, re-importable."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, shop_id: int) -> HttpResponse:
        shop = selectors.shop_get_managed(shop_id=shop_id, user=request.user)
        # Built in memory (a few MB at most) so no query runs after the view returns.
        rows = (_export_row(v) for v in selectors.catalog_export_variants(shop=shop))
        response = HttpResponse(
            "".join(catalog_csv_write(rows)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="catalog-shop-{shop.pk}.csv"'
        return response


def _export_row(v: Variant) -> dict[str, str]:
    p = v.product
    # JSONB does not keep key order: write options in the product's option order.
    names = [o["name"] for o in p.options or []]
    ordered = {n: v.options[n] for n in names if n in v.options}
    return {
        "sku": v.sku,
        "product_handle": p.handle,
        "title": p.title,
        "description": p.description,
        "options": options_format({**ordered, **v.options}),
        "price": f"{v.effective_price:.2f}",
        "currency": p.currency,
        "stock_on_hand": str(v.stock_on_hand),
        "weight_grams": str(v.effective_weight_grams),
        "image_url": p.image_url,
    }


# --- me --------------------------------------------------------------------------------


# The account (accounts) with the shops it owns or is staff of (catalog): composed here,
# the lowest layer that may import both.
class MeApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "id": serializers.IntegerField(),
                "username": serializers.CharField(),
                "shops": serializers.ListField(child=serializers.DictField()),
            },
        )
    )
    def get(self, request: Request) -> Response:
        user: Any = request.user
        shops = [
            {
                "id": s.pk,
                "name": s.name,
                "role": "owner" if s.owner_id == user.pk else "staff",
            }
            for s in selectors.shops_for_user(user=user)
        ]
        return Response({"id": user.pk, "username": user.username, "shops": shops})
