"""Disputes API (SPEC "v1.1 — Trust"). Thin views: validate, call one service or
selector, shape the answer."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ApiView
from core.pagination import CursorPagination
from disputes import selectors, services
from disputes.models import Dispute
from disputes.serializers import DisputeOutput
from orders.selectors import shop_for_manager


def _page(view: ApiView, request: Request, disputes: QuerySet[Dispute]) -> Response:
    paginator = CursorPagination()
    page = paginator.paginate_queryset(disputes, request, view=view)
    return paginator.get_paginated_response(DisputeOutput(page, many=True).data)


class DisputeOpenApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        reason = serializers.ChoiceField(choices=Dispute.Reason.choices)
        text = serializers.CharField(max_length=4000)

    @extend_schema(request=InputSerializer, responses={201: DisputeOutput})
    def post(self, request: Request, order_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = services.dispute_open(
            buyer=request.user, order_id=order_id, **data.validated_data
        )
        return Response(DisputeOutput(dispute).data, status=status.HTTP_201_CREATED)


class DisputeDetailApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: DisputeOutput})
    def get(self, request: Request, dispute_id: int) -> Response:
        dispute = selectors.dispute_for_user(user=request.user, dispute_id=dispute_id)
        return Response(DisputeOutput(dispute).data)


class DisputeRespondApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=["refund", "reject"])
        reason = serializers.CharField(max_length=2000)

    @extend_schema(request=InputSerializer, responses={200: DisputeOutput})
    def post(self, request: Request, dispute_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = services.dispute_respond(
            actor=request.user, dispute_id=dispute_id, **data.validated_data
        )
        return Response(DisputeOutput(dispute).data)


class StaffDisputeDecisionApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(choices=["refund", "reject"])
        reason = serializers.CharField(max_length=2000)

    @extend_schema(request=InputSerializer, responses={200: DisputeOutput})
    def post(self, request: Request, dispute_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = services.dispute_decide(
            actor=request.user, dispute_id=dispute_id, **data.validated_data
        )
        return Response(DisputeOutput(dispute).data)


class MyDisputeListApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: DisputeOutput(many=True)})
    def get(self, request: Request) -> Response:
        return _page(self, request, selectors.disputes_for_buyer(buyer=request.user))


class ShopDisputeListApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: DisputeOutput(many=True)})
    def get(self, request: Request, shop_id: int) -> Response:
        shop = shop_for_manager(user=request.user, shop_id=shop_id)
        return _page(self, request, selectors.disputes_for_shop(shop=shop))
