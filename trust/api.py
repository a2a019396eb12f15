"""REST for cases, appeals, staff decisions and listing quality (SPEC "v1.1 — Trust").

Cases are visible to the person, the hosts of the shop whose show the case is in, and
staff; anyone else gets 404. The staff routes answer 404 to non-staff as well: they do
not exist for anyone else.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.models import Product
from catalog.selectors import user_can_manage_shop
from core.api import ApiView
from core.errors import NotFound
from core.pagination import CursorPagination
from trust import quality, selectors, services
from trust.rules import RULES

CaseOut = inline_serializer(
    "Case",
    {
        "id": serializers.IntegerField(),
        "kind": serializers.CharField(),
        "title": serializers.CharField(),
        "rule": serializers.CharField(),
        "rule_title": serializers.CharField(),
        "reason": serializers.CharField(),
        "evidence": serializers.JSONField(),
        "actor": serializers.CharField(),
        "status": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
        "expires_at": serializers.DateTimeField(allow_null=True),
        "appealable_until": serializers.DateTimeField(),
        "can_appeal": serializers.BooleanField(),
        "appeal": serializers.JSONField(allow_null=True),
    },
)
CasePage = inline_serializer(
    "CasePage",
    {"results": CaseOut.__class__(many=True), "next": serializers.CharField(allow_null=True)},
)
QualityOut = inline_serializer(
    "ListingQuality",
    {
        "product": serializers.IntegerField(),
        "score": serializers.IntegerField(),
        "ready": serializers.BooleanField(),
        "checks": serializers.JSONField(),
    },
)


def _require_staff(user: Any) -> None:
    if not (user.is_authenticated and user.is_staff):
        raise NotFound("Not found.")


class DueFirstCursorPagination(CursorPagination):
    """The appeal queue: oldest due first (`appeal_due` from `cases_staff_queue`)."""

    ordering = ("appeal_due", "id")  # type: ignore[assignment]  # DRF takes a tuple too


def _page(
    view: ApiView, request: Request, qs: Any, paginator: CursorPagination | None = None
) -> Response:
    paginator = paginator or CursorPagination()
    rows = paginator.paginate_queryset(qs, request, view=view)
    return paginator.get_paginated_response(
        [selectors.case_payload(c, viewer=request.user) for c in rows or []]
    )


class MyCasesApi(ApiView):
    """The caller's own cases, newest first."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="v1_me_cases_list", responses=CasePage)
    def get(self, request: Request) -> Response:
        return _page(self, request, selectors.cases_of_user(user=request.user))


class CaseDetailApi(ApiView):
    """One case (the person, their show's hosts, staff; 404 to anyone else). Staff also
    read the audit log (`events`)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=CaseOut)
    def get(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get_visible(case_id=case_id, user=request.user)
        payload = selectors.case_payload(case, viewer=request.user)
        if request.user.is_staff:
            payload["events"] = [
                selectors.case_event_payload(e) for e in selectors.case_events(case=case)
            ]
        return Response(payload)


class AppealApi(ApiView):
    """`POST` {text}: the person appeals their case, once, within its window."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        text = serializers.CharField(max_length=2000)

    @extend_schema(request=InputSerializer, responses={201: CaseOut})
    def post(self, request: Request, case_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = services.appeal_create(
            case_id=case_id, user=request.user, text=data.validated_data["text"]
        )
        case = selectors.case_get_visible(case_id=appeal.case_id, user=request.user)
        return Response(selectors.case_payload(case, viewer=request.user), status=201)


class StaffCaseQueueApi(ApiView):
    """Staff: cases, newest first, or by `?appeal=pending|overdue` (oldest due first) or
    `decided`."""

    permission_classes = [IsAuthenticated]

    class FilterSerializer(serializers.Serializer):
        appeal = serializers.ChoiceField(choices=["pending", "overdue", "decided"], required=False)

    @extend_schema(
        operation_id="v1_staff_cases_list",
        parameters=[OpenApiParameter("appeal", str, enum=["pending", "overdue", "decided"])],
        responses=CasePage,
    )
    def get(self, request: Request) -> Response:
        _require_staff(request.user)
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        appeal = query.validated_data.get("appeal")
        qs = selectors.cases_staff_queue(appeal=appeal)
        due_first = appeal in ("pending", "overdue")
        return _page(self, request, qs, DueFirstCursorPagination() if due_first else None)


class StaffDecisionApi(ApiView):
    """Staff: `POST` {decision: uphold|overturn, reason} on a pending appeal."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(choices=list(services.Decision.CHOICES))
        reason = serializers.CharField(max_length=services.MAX_DECISION_REASON_LENGTH)

    @extend_schema(request=InputSerializer, responses=CaseOut)
    def post(self, request: Request, case_id: int) -> Response:
        _require_staff(request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        case = services.appeal_decide(
            case_id=case_id, staff=request.user, decision=v["decision"], reason=v["reason"]
        )
        case = selectors.case_get_visible(case_id=case.pk, user=request.user)
        return Response(selectors.case_payload(case, viewer=request.user))


class StaffListingRemoveApi(ApiView):
    """Staff: `POST` {rule, reason} takes a listing down; its shop owner gets a
    `listing_removed` case (an overturn on appeal puts the listing back)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        rule = serializers.ChoiceField(choices=sorted(RULES))
        reason = serializers.CharField(max_length=services.MAX_REASON_LENGTH)

    @extend_schema(request=InputSerializer, responses={201: CaseOut})
    def post(self, request: Request, product_id: int) -> Response:
        _require_staff(request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = services.listing_remove(
            product_id=product_id,
            staff=request.user,
            rule=data.validated_data["rule"],
            reason=data.validated_data["reason"],
        )
        case = selectors.case_get_visible(case_id=case.pk, user=request.user)
        return Response(selectors.case_payload(case, viewer=request.user), status=201)


class ProductQualityApi(ApiView):
    """A product's listing quality (the shop's owner and staff; 404 to anyone else)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=QualityOut)
    def get(self, request: Request, product_id: int) -> Response:
        product = (
            Product.objects.select_related("shop")
            .prefetch_related("variants")
            .filter(pk=product_id)
            .first()
        )
        if product is None or not user_can_manage_shop(user=request.user, shop=product.shop):
            raise NotFound("No such product.")
        return Response(quality.listing_quality(product).as_dict())
