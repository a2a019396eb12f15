"""Help-centre and support-ticket API (SPEC "v1.1 — Trust"). Thin views."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ApiView
from core.pagination import CursorPagination
from support import selectors, services
from support.models import Ticket
from support.search import search_articles
from support.serializers import (
    ArticleOutput,
    ArticleSummaryOutput,
    TicketOutput,
    TicketReplyOutput,
)

MAX_QUERY_CHARS = 500


class ArticleListApi(ApiView):
    """All articles, or with `?q=` the best matches first (at most `limit`, default 10)."""

    permission_classes = [AllowAny]

    class QuerySerializer(serializers.Serializer):
        q = serializers.CharField(required=False, allow_blank=True, max_length=MAX_QUERY_CHARS)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=50, default=10)

    @extend_schema(
        operation_id="v1_help_articles_list",
        parameters=[QuerySerializer],
        responses={
            200: inline_serializer(
                "ArticleSearchPage",
                {
                    "results": ArticleSummaryOutput(many=True),
                    "next": serializers.CharField(allow_null=True),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        params = self.QuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        q = params.validated_data.get("q", "").strip()
        if q:
            articles = list(search_articles(q, limit=params.validated_data["limit"]))
        else:
            articles = list(selectors.articles_all())
        return Response({"results": ArticleSummaryOutput(articles, many=True).data, "next": None})


class ArticleDetailApi(ApiView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("slug_or_id", str, OpenApiParameter.PATH)],
        responses={200: ArticleOutput},
    )
    def get(self, request: Request, slug_or_id: str) -> Response:
        return Response(ArticleOutput(selectors.article_get(slug_or_id=slug_or_id)).data)


class TicketListApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        category = serializers.ChoiceField(choices=Ticket.Category.choices)
        subject = serializers.CharField(max_length=200)
        body = serializers.CharField(max_length=5000)
        order = serializers.IntegerField(
            required=False, allow_null=True, min_value=1, max_value=2**63 - 1
        )
        show = serializers.IntegerField(
            required=False, allow_null=True, min_value=1, max_value=2**63 - 1
        )

    @extend_schema(responses={200: TicketOutput(many=True)})
    def get(self, request: Request) -> Response:
        tickets = selectors.tickets_for_user(user=request.user).prefetch_related("replies__author")
        paginator = CursorPagination()
        page = paginator.paginate_queryset(tickets, request, view=self)
        return paginator.get_paginated_response(TicketOutput(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: TicketOutput})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        ticket = services.ticket_create(
            requester=request.user,
            category=values["category"],
            subject=values["subject"],
            body=values["body"],
            order_id=values.get("order"),
            show_id=values.get("show"),
        )
        return Response(TicketOutput(ticket).data, status=status.HTTP_201_CREATED)


class TicketDetailApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: TicketOutput})
    def get(self, request: Request, ticket_id: int) -> Response:
        ticket = selectors.ticket_for_user(user=request.user, ticket_id=ticket_id)
        return Response(TicketOutput(ticket).data)


class TicketReplyApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        text = serializers.CharField(max_length=5000)

    @extend_schema(request=InputSerializer, responses={201: TicketReplyOutput})
    def post(self, request: Request, ticket_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reply = services.ticket_reply(
            author=request.user, ticket_id=ticket_id, text=data.validated_data["text"]
        )
        return Response(TicketReplyOutput(reply).data, status=status.HTTP_201_CREATED)


class TicketResolveApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: TicketOutput})
    def post(self, request: Request, ticket_id: int) -> Response:
        ticket = services.ticket_resolve(actor=request.user, ticket_id=ticket_id)
        return Response(TicketOutput(ticket).data)
