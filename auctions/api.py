"""Auctions API (SPEC "v1.1 — Live auctions"). Thin views: validate the shape, call one
service or selector, shape the answer with `auctions.selectors.auction_payload`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response

from auctions import selectors, services
from auctions.models import Auction
from core.api import ApiView
from core.errors import NotFound
from streams.selectors import iso, money, show_get


def _money_field(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0.01"), **kwargs
    )


class AuctionStartApi(ApiView):
    """POST: start an auction (hosts). GET: the show's auctions, oldest first, with their
    results (the shoppable replay lists them)."""

    permission_classes = [IsAuthenticatedOrReadOnly]

    class InputSerializer(serializers.Serializer):
        product = serializers.IntegerField(min_value=1)
        variant = serializers.IntegerField(min_value=1, required=False, allow_null=True)
        starting_bid = _money_field()
        duration_s = serializers.IntegerField(
            min_value=Auction.MIN_DURATION_S, max_value=Auction.MAX_DURATION_S
        )
        sudden_death = serializers.BooleanField(default=False)
        reserve = _money_field(required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, show_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        auction = services.auction_start(
            user=request.user,
            show_id=show_id,
            product_id=v["product"],
            variant_id=v.get("variant"),
            starting_bid=v["starting_bid"],
            duration_s=v["duration_s"],
            sudden_death=v["sudden_death"],
            reserve=v.get("reserve"),
        )
        return Response(selectors.auction_payload(auction), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, show_id: int) -> Response:
        show_get(show_id=show_id, user=request.user)  # 404, also for a rehearsal
        auctions = selectors.auctions_of_show(show_id=show_id).select_related("product")
        results = [
            {**selectors.auction_payload(a), "product_title": a.product.title}
            for a in auctions[: selectors.SHOW_AUCTIONS_LISTED]
        ]
        return Response({"results": results, "next": None})


class AuctionDetailApi(ApiView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, auction_id: int) -> Response:
        auction = selectors.auction_get(auction_id=auction_id)
        if auction is None:
            raise NotFound("No such auction.")
        return Response(selectors.auction_payload(auction))


class BidApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        amount = _money_field()
        max_amount = _money_field(required=False, allow_null=True)
        currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False)

    @extend_schema(request=InputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, auction_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        result = services.bid_place(
            user=request.user,
            auction_id=auction_id,
            amount=v["amount"],
            max_amount=v.get("max_amount"),
            currency=v.get("currency"),
        )
        bid = {
            "auction": result.auction.pk,
            "bidder": request.user.username,
            "amount": money(result.amount),
            "max_amount": money(result.max_amount),
            "leading": result.leading,
            "created_at": iso(result.created_at),
        }
        body = {"bid": bid, "auction": selectors.auction_payload(result.auction)}
        return Response(body, status=status.HTTP_201_CREATED)


class AuctionCancelApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=500)

    @extend_schema(request=InputSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, auction_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        auction = services.auction_cancel(
            user=request.user, auction_id=auction_id, reason=data.validated_data["reason"]
        )
        return Response(selectors.auction_payload(auction))


class PreBidApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        product = serializers.IntegerField(min_value=1)
        variant = serializers.IntegerField(min_value=1, required=False, allow_null=True)
        max_amount = _money_field()

    @extend_schema(request=InputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, show_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        prebid = services.prebid_place(
            user=request.user,
            show_id=show_id,
            product_id=v["product"],
            variant_id=v.get("variant"),
            max_amount=v["max_amount"],
        )
        body = {
            "id": prebid.pk,
            "show": prebid.show_id,
            "product": prebid.product_id,
            "variant": prebid.variant_id,
            "max_amount": money(prebid.max_amount),
            "created_at": iso(prebid.created_at),
        }
        return Response(body, status=status.HTTP_201_CREATED)
