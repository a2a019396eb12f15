"""REST for shows, moderators, pins, chat history and moderation (SPEC "REST").

Views validate input with their nested `InputSerializer`, call one service and answer with
the payload shaped in `streams.selectors` (the same shape events and the WebSocket
snapshot carry). The nested `Output` serializers document that shape for the OpenAPI
schema.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ApiView
from core.errors import Forbidden, NotFound
from core.pagination import CursorPagination, OldestFirstCursorPagination
from streams import selectors, services
from streams.models import ModerationAction, Show

# --- output shapes (schema only; data comes from streams.selectors) ------------------------


class UserRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class VariantOut(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    options = serializers.DictField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    stock_available = serializers.IntegerField()


class ProductCardOut(serializers.Serializer):
    """What every product shape starts with (`streams.selectors._product_card`)."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    image_url = serializers.CharField()


class ProductOut(ProductCardOut):
    options = serializers.ListField(child=serializers.DictField())
    variants = VariantOut(many=True)
    stock_available = serializers.IntegerField()


class LineupEntryOut(ProductCardOut):
    stock_available = serializers.IntegerField()


class PinOut(serializers.Serializer):
    id = serializers.IntegerField()
    show = serializers.IntegerField()
    product = ProductOut()
    price = serializers.DecimalField(max_digits=10, decimal_places=2, help_text="Price to pay.")
    list_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    limit_per_buyer = serializers.IntegerField(allow_null=True)
    pinned_at = serializers.DateTimeField()
    unpinned_at = serializers.DateTimeField(allow_null=True)
    offset_s = serializers.FloatField(help_text="Seconds from the show's start (0 before it).")


class ShowOut(serializers.Serializer):
    id = serializers.IntegerField()
    shop = serializers.IntegerField()
    shop_name = serializers.CharField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=Show.Status.choices)
    scheduled_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    playback_url = serializers.CharField()
    rehearsal = serializers.BooleanField()
    lineup = LineupEntryOut(many=True)
    current_pin = PinOut(allow_null=True)
    viewer_count = serializers.IntegerField()
    slow_mode_s = serializers.IntegerField()
    blocked_words = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Hosts and moderators only."
    )
    created_at = serializers.DateTimeField()


class MessageOut(serializers.Serializer):
    id = serializers.IntegerField()
    user = UserRefOut()
    text = serializers.CharField()
    ts = serializers.DateTimeField()


class ModerationOut(serializers.Serializer):
    id = serializers.IntegerField()
    show = serializers.IntegerField()
    action = serializers.ChoiceField(choices=ModerationAction.Action.choices)
    actor = UserRefOut(allow_null=True)
    user = UserRefOut()
    message = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()
    until = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class NoticeShowOut(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()


class NoticeMessageOut(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()


class NoticeOut(serializers.Serializer):
    id = serializers.IntegerField()
    show = NoticeShowOut()
    action = serializers.ChoiceField(choices=ModerationAction.Action.choices)
    reason = serializers.CharField()
    until = serializers.DateTimeField(allow_null=True)
    message = NoticeMessageOut(allow_null=True)
    created_at = serializers.DateTimeField()


class ModeratorOut(serializers.Serializer):
    user = UserRefOut()
    added_at = serializers.DateTimeField()


def _page_of(out: type[serializers.Serializer], name: str) -> Any:
    return inline_serializer(
        name,
        {
            "results": out(many=True),
            "next": serializers.CharField(allow_null=True),
        },
    )


def _show_answer(*, show_id: int, request: Request, code: int = 200) -> Response:
    show = selectors.show_get(show_id=show_id, user=request.user)
    return Response(selectors.show_payload(show, viewer=request.user), status=code)


# --- shows --------------------------------------------------------------------------------


class ShowListApi(ApiView):
    class InputSerializer(serializers.Serializer):
        shop = serializers.IntegerField()
        title = serializers.CharField(max_length=200)
        scheduled_at = serializers.DateTimeField()
        playback_url = serializers.URLField(
            max_length=500, required=False, allow_blank=True, default=""
        )
        lineup = serializers.ListField(
            child=serializers.IntegerField(min_value=1), required=False, max_length=200
        )
        rehearsal = serializers.BooleanField(required=False, default=False)

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Show.Status.choices, required=False)

    @extend_schema(
        operation_id="v1_shows_list",
        parameters=[OpenApiParameter("status", enum=Show.Status.values, required=False)],
        responses=_page_of(ShowOut, "ShowPage"),
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = selectors.shows_visible(user=request.user, status=filters.validated_data.get("status"))
        paginator = CursorPagination()
        shows = list(paginator.paginate_queryset(qs, request, view=self) or [])
        roles = selectors.user_show_roles(user=request.user, shows=shows)
        data = [
            selectors.show_payload(show, viewer=request.user, role=roles[show.pk]) for show in shows
        ]
        return paginator.get_paginated_response(data)

    @extend_schema(request=InputSerializer, responses={201: ShowOut})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        show = services.show_create(
            user=request.user,
            shop_id=v["shop"],
            title=v["title"],
            scheduled_at=v["scheduled_at"],
            playback_url=v["playback_url"],
            lineup=v.get("lineup"),
            rehearsal=v["rehearsal"],
        )
        return _show_answer(show_id=show.pk, request=request, code=status.HTTP_201_CREATED)


class ShowDetailApi(ApiView):
    class InputSerializer(serializers.Serializer):
        title = serializers.CharField(max_length=200, required=False)
        scheduled_at = serializers.DateTimeField(required=False)
        playback_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
        lineup = serializers.ListField(
            child=serializers.IntegerField(min_value=1), required=False, max_length=200
        )
        slow_mode_s = serializers.IntegerField(
            min_value=0, max_value=services.MAX_SLOW_MODE_S, required=False
        )
        blocked_words = serializers.ListField(
            child=serializers.CharField(max_length=services.MAX_BLOCKED_WORD_LENGTH),
            required=False,
            max_length=services.MAX_BLOCKED_WORDS,
        )

    @extend_schema(responses=ShowOut)
    def get(self, request: Request, show_id: int) -> Response:
        return _show_answer(show_id=show_id, request=request)

    @extend_schema(request=InputSerializer, responses=ShowOut)
    def patch(self, request: Request, show_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.show_update(user=request.user, show_id=show_id, **data.validated_data)
        return _show_answer(show_id=show_id, request=request)


class ShowStartApi(ApiView):
    @extend_schema(request=None, responses=ShowOut)
    def post(self, request: Request, show_id: int) -> Response:
        services.show_start(user=request.user, show_id=show_id)
        return _show_answer(show_id=show_id, request=request)


class ShowEndApi(ApiView):
    @extend_schema(request=None, responses=ShowOut)
    def post(self, request: Request, show_id: int) -> Response:
        services.show_end(user=request.user, show_id=show_id)
        return _show_answer(show_id=show_id, request=request)


class ShowChatSettingsApi(ApiView):
    class InputSerializer(serializers.Serializer):
        slow_mode_s = serializers.IntegerField(
            min_value=0, max_value=services.MAX_SLOW_MODE_S, required=False
        )
        blocked_words = serializers.ListField(
            child=serializers.CharField(max_length=services.MAX_BLOCKED_WORD_LENGTH),
            required=False,
            max_length=services.MAX_BLOCKED_WORDS,
        )

    @extend_schema(request=InputSerializer, responses=ShowOut)
    def post(self, request: Request, show_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.show_chat_settings_set(user=request.user, show_id=show_id, **data.validated_data)
        return _show_answer(show_id=show_id, request=request)


# --- moderators ---------------------------------------------------------------------------


def _moderator_payload(row: Any) -> dict[str, Any]:
    return {
        "user": {"id": row.user_id, "username": row.user.username},
        "added_at": selectors.iso(row.added_at),
    }


class ShowModeratorsApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)

    @extend_schema(
        operation_id="v1_shows_moderators_list", responses=_page_of(ModeratorOut, "ModeratorPage")
    )
    def get(self, request: Request, show_id: int) -> Response:
        show = selectors.show_get(show_id=show_id, user=request.user)
        if selectors.user_show_role(user=request.user, show=show) not in ("host", "moderator"):
            raise Forbidden("Only the show's hosts and moderators may see its moderators.")
        rows = selectors.show_moderators(show=show)
        return Response({"results": [_moderator_payload(r) for r in rows], "next": None})

    @extend_schema(request=InputSerializer, responses={201: ModeratorOut, 200: ModeratorOut})
    def post(self, request: Request, show_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row, created = services.show_moderator_add(
            user=request.user, show_id=show_id, username=data.validated_data["username"]
        )
        return Response(_moderator_payload(row), status=201 if created else 200)

    @extend_schema(
        request=InputSerializer,
        parameters=[OpenApiParameter("username", required=False)],
        responses={204: None},
    )
    def delete(self, request: Request, show_id: int) -> Response:
        body = request.data if isinstance(request.data, dict) and request.data else None
        data = self.InputSerializer(data=body or request.query_params)
        data.is_valid(raise_exception=True)
        services.show_moderator_remove(
            user=request.user, show_id=show_id, username=data.validated_data["username"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- pins ---------------------------------------------------------------------------------


class PinListApi(ApiView):
    class InputSerializer(serializers.Serializer):
        product = serializers.IntegerField()
        price = serializers.DecimalField(
            max_digits=10, decimal_places=2, min_value=0, required=False, allow_null=True
        )
        limit_per_buyer = serializers.IntegerField(
            min_value=1, max_value=10000, required=False, allow_null=True
        )

    @extend_schema(operation_id="v1_shows_pins_list", responses=_page_of(PinOut, "PinPage"))
    def get(self, request: Request, show_id: int) -> Response:
        show = selectors.show_get(show_id=show_id, user=request.user)
        paginator = OldestFirstCursorPagination()
        pins = paginator.paginate_queryset(selectors.pin_timeline(show=show), request, view=self)
        return paginator.get_paginated_response([selectors.pin_payload(p) for p in pins or []])

    @extend_schema(request=InputSerializer, responses={201: PinOut})
    def post(self, request: Request, show_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        pin = services.pin_product(
            user=request.user,
            show_id=show_id,
            product_id=v["product"],
            price=v.get("price"),
            limit_per_buyer=v.get("limit_per_buyer"),
        )
        return Response(selectors.pin_payload(pin, viewer=request.user), status=201)


class PinCurrentApi(ApiView):
    @extend_schema(responses=PinOut)
    def get(self, request: Request, show_id: int) -> Response:
        show = selectors.show_get(show_id=show_id, user=request.user)
        pin = selectors.pin_current(show_id=show.pk)
        if pin is None:
            raise NotFound("Nothing is pinned.")
        return Response(selectors.pin_payload(pin, viewer=request.user))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, show_id: int) -> Response:
        services.pin_clear(user=request.user, show_id=show_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- chat ---------------------------------------------------------------------------------


class MessageListApi(ApiView):
    """Chat history: the first page is the latest 50 messages, ascending; `next` is older."""

    class InputSerializer(serializers.Serializer):
        text = serializers.CharField(max_length=500, trim_whitespace=False)

    class FilterSerializer(serializers.Serializer):
        before = serializers.IntegerField(min_value=1, required=False)

    @extend_schema(
        operation_id="v1_shows_messages_list",
        parameters=[OpenApiParameter("before", int, required=False)],
        responses=_page_of(MessageOut, "MessagePage"),
    )
    def get(self, request: Request, show_id: int) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        show = selectors.show_get(show_id=show_id, user=request.user)
        page, has_older = selectors.chat_history_page(
            show_id=show.pk, before_id=filters.validated_data.get("before")
        )
        next_url = None
        if has_older and page:
            next_url = request.build_absolute_uri(
                f"{request.path}?{urlencode({'before': page[0].pk})}"
            )
        return Response(
            {"results": [selectors.chat_message_payload(m) for m in page], "next": next_url}
        )

    @extend_schema(request=InputSerializer, responses={201: MessageOut})
    def post(self, request: Request, show_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.chat_send(
            show_id=show_id, user=request.user, text=data.validated_data["text"]
        )
        return Response(selectors.chat_message_payload(message), status=201)


# --- moderation ---------------------------------------------------------------------------


class ModerationApi(ApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=ModerationAction.Action.choices)
        user = serializers.IntegerField(required=False, allow_null=True)
        message = serializers.IntegerField(required=False, allow_null=True)
        reason = serializers.CharField(max_length=500)
        duration_s = serializers.IntegerField(required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses={201: ModerationOut})
    def post(self, request: Request, show_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        record = services.moderation_apply(
            show_id=show_id,
            actor=request.user,
            action=v["action"],
            target_user_id=v.get("user"),
            message_id=v.get("message"),
            reason=v["reason"],
            duration_s=v.get("duration_s"),
        )
        return Response(selectors.moderation_action_payload(record), status=201)


class MeModerationApi(ApiView):
    """What moderators did to the caller or their messages, with reasons, newest first."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="v1_me_moderation_list", responses=_page_of(NoticeOut, "NoticePage")
    )
    def get(self, request: Request) -> Response:
        paginator = CursorPagination()
        qs = selectors.moderation_actions_affecting(user=request.user)
        rows = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(
            [selectors.moderation_notice_payload(r) for r in rows or []]
        )
