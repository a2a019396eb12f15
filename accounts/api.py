"""Account API: register, token, logout (SPEC "REST"); /me/ lists the user's shops too, so
it is served one layer up, by `catalog.api.MeApi`."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.services import token_issue, token_revoke, user_register
from accounts.signin import signin_attempt_check, signin_refusal
from core.api import ApiView
from core.errors import ApiError


class RegisterApi(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        username = serializers.RegexField(r"^[\w.@+-]+$", max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        email = serializers.EmailField(required=False, allow_blank=True, default="")

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        token = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # A password presented on sign-up counts like any other (accounts.signin).
        signin_attempt_check(request=request._request, username=data.validated_data["username"])
        user, token = user_register(**data.validated_data)
        body = {"id": user.pk, "username": user.username, "token": token}
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)


class TokenApi(ApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    # The sign-in limits are counted by the authentication backend (accounts.signin).

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(
        request=InputSerializer,
        responses={200: inline_serializer("TokenOut", {"token": serializers.CharField()})},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request._request, **data.validated_data)
        refusal = signin_refusal(request._request)
        if refusal is not None:
            raise refusal
        if user is None or not user.is_active:
            raise ApiError("not_authenticated", "Unknown username or wrong password.", status=401)
        return Response({"token": token_issue(user=user)})


class LogoutApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        token_revoke(user=request.user)  # type: ignore[arg-type]  # IsAuthenticated
        return Response(status=status.HTTP_204_NO_CONTENT)
