"""Webhooks REST API (SPEC "v1.1 — Webhooks"): a shop's endpoints, secret rotation, the
delivery log and redelivery. Owner only (`selectors.webhook_shop_get`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ApiView
from core.pagination import CursorPagination
from webhooks import selectors, services
from webhooks.urlcheck import MAX_URL_LENGTH

_events_field = serializers.ListField(
    child=serializers.CharField(max_length=64), allow_empty=False, max_length=64
)


class EndpointOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField()
    disabled_reason = serializers.CharField()
    disabled_at = serializers.DateTimeField(allow_null=True)
    failing_since = serializers.DateTimeField(allow_null=True)
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class EndpointWithSecretOutput(EndpointOutput):
    secret = serializers.CharField(help_text="Shown only on creation and rotation.")


class AttemptOutput(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    response_excerpt = serializers.CharField()


class EventSummary(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    created_at = serializers.DateTimeField()


class DeliveryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    event = EventSummary()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    last_duration_ms = serializers.IntegerField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    redelivery_of = serializers.IntegerField(source="redelivery_of_id", allow_null=True)
    created_at = serializers.DateTimeField()
    attempt_log = AttemptOutput(many=True)


class EndpointListCreateApi(ApiView):
    """`GET` the shop's endpoints; `POST` adds one (its secret is in this answer only)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        url = serializers.CharField(max_length=MAX_URL_LENGTH)
        events = _events_field

    @extend_schema(responses=EndpointOutput(many=True))
    def get(self, request: Request, shop_id: int) -> Response:
        shop = selectors.webhook_shop_get(shop_id=shop_id, user=request.user)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(selectors.endpoint_list(shop=shop), request, view=self)
        return paginator.get_paginated_response(EndpointOutput(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: EndpointWithSecretOutput})
    def post(self, request: Request, shop_id: int) -> Response:
        shop = selectors.webhook_shop_get(shop_id=shop_id, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(shop=shop, **data.validated_data)
        return Response(EndpointWithSecretOutput(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailApi(ApiView):
    """One endpoint: read, change (url, events, active) or delete."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        url = serializers.CharField(max_length=MAX_URL_LENGTH, required=False)
        events = serializers.ListField(
            child=serializers.CharField(max_length=64),
            allow_empty=False,
            max_length=64,
            required=False,
        )
        active = serializers.BooleanField(required=False)

    @extend_schema(responses=EndpointOutput)
    def get(self, request: Request, shop_id: int, endpoint_id: int) -> Response:
        shop = selectors.webhook_shop_get(shop_id=shop_id, user=request.user)
        endpoint = selectors.endpoint_get(shop=shop, endpoint_id=endpoint_id)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(request=InputSerializer, responses=EndpointOutput)
    def patch(self, request: Request, shop_id: int, endpoint_id: int) -> Response:
        shop = selectors.webhook_shop_get(shop_id=shop_id, user=request.user)
        endpoint = selectors.endpoint_get(shop=shop, endpoint_id=endpoint_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, **data.validated_data)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, shop_id: int, endpoint_id: int) -> Response:
        shop = selectors.webhook_shop_get(shop_id=shop_id, user=request.user)
        endpoint = selectors.endpoint_get(shop=shop, endpoint_id=endpoint_id)
        services.endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecretApi(ApiView):
    """A new secret (in this answer only); the old one keeps signing for 24 hours."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=EndpointWithSecretOutput)
    def post(self, request: Request, shop_id: int, endpoint_id: int) -> Response:
        shop = selectors.webhook_shop_get(shop_id=shop_id, user=request.user)
        endpoint = selectors.endpoint_get(shop=shop, endpoint_id=endpoint_id)
        endpoint = services.endpoint_secret_rotate(endpoint=endpoint)
        return Response(EndpointWithSecretOutput(endpoint).data)


class DeliveryListApi(ApiView):
    """The endpoint's delivery log, newest first: status, attempts, codes, timing, errors."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=DeliveryOutput(many=True))
    def get(self, request: Request, shop_id: int, endpoint_id: int) -> Response:
        shop = selectors.webhook_shop_get(shop_id=shop_id, user=request.user)
        endpoint = selectors.endpoint_get(shop=shop, endpoint_id=endpoint_id)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(
            selectors.delivery_list(endpoint=endpoint), request, view=self
        )
        return paginator.get_paginated_response(DeliveryOutput(page, many=True).data)


class DeliveryRedeliverApi(ApiView):
    """Send a delivery's event again now (a new delivery, the same `webhook-id`)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={201: DeliveryOutput})
    def post(self, request: Request, shop_id: int, endpoint_id: int, delivery_id: int) -> Response:
        shop = selectors.webhook_shop_get(shop_id=shop_id, user=request.user)
        endpoint = selectors.endpoint_get(shop=shop, endpoint_id=endpoint_id)
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery_id)
        new = services.delivery_redeliver(delivery=delivery)
        new = selectors.delivery_get(endpoint=endpoint, delivery_id=new.pk)
        return Response(DeliveryOutput(new).data, status=status.HTTP_201_CREATED)
