"""Base classes for API views: every POST honours `Idempotency-Key`.

Use `ApiView` (or `IdempotencyMixin` in front of a DRF generic view) for every view in
`*/api.py` so that the SPEC conventions hold everywhere without per-view code.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseBase
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from core.idempotency import idempotency_claim, idempotency_complete, idempotency_release
from core.models import IdempotencyRecord
from core.throttling import throttles_wait

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class IdempotencyMixin:
    _idempotency_record: IdempotencyRecord | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self._idempotency_record = idempotency_claim(request=request)
        method = (request.method or "").lower()
        if method.upper() in BODY_METHODS and hasattr(self, method):
            # Parse now, not when (or if) the view reads it: a malformed body is 400
            # `parse_error` (an unsupported one 415) and changes nothing, also on routes
            # that take no body, such as start/end and cancel. (A method the view does not
            # have stays 405 whatever its body.)
            _ = request.data

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None:
            idempotency_complete(record=record, response=response)
        return response

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        except BaseException:
            record, self._idempotency_record = self._idempotency_record, None
            if record is not None:
                idempotency_release(record=record)
            raise


class ThrottleInOneCallMixin:
    """All of a view's throttles in one Redis round trip instead of two per throttle."""

    def check_throttles(self, request: Request) -> None:
        throttles = self.get_throttles()  # type: ignore[attr-defined]
        if not throttles:
            return
        wait = throttles_wait(request=request, view=self, throttles=throttles)
        if wait is not None:
            self.throttled(request, wait)  # type: ignore[attr-defined]


class ApiView(ThrottleInOneCallMixin, IdempotencyMixin, APIView):
    """An APIView with the project's conventions (errors, idempotency, throttles)."""


_BUILT: dict[type[serializers.BaseSerializer], serializers.BaseSerializer] = {}


def _built(serializer_class: type[serializers.BaseSerializer]) -> serializers.BaseSerializer:
    shape = _BUILT.get(serializer_class)
    if shape is None:  # two threads may both build it: either copy serves
        shape = serializer_class()
        if isinstance(shape, serializers.Serializer):
            _ = shape.fields  # build the field tree now, once per process
        _BUILT[serializer_class] = shape
    return shape


def validated(serializer_class: type[serializers.Serializer], data: Any) -> Any:
    """`serializer_class(data=data)`'s validated data, raising its 400 like
    `is_valid(raise_exception=True)`, without building the serializer again (see
    `represent`). `run_validation` keeps nothing on the instance. For plain input
    serializers only: no context (no request, no current-user defaults), no `instance`."""
    try:
        return _built(serializer_class).run_validation(data)
    except serializers.ValidationError as exc:
        detail = exc.detail
        if (
            isinstance(detail, list)
            and len(detail) == 1
            and getattr(detail[0], "code", "") == "null"
        ):
            # A `null` body: the message `Serializer.errors` gives it.
            detail = {
                api_settings.NON_FIELD_ERRORS_KEY: [ErrorDetail("No data provided", code="null")]
            }
        raise serializers.ValidationError(detail) from None


def represent(serializer_class: type[serializers.BaseSerializer], instance: Any) -> Any:
    """`serializer_class(instance).data` without building the serializer again.

    DRF builds a serializer's fields (for a ModelSerializer, from the model's) every time
    one is instantiated, which costs more than turning the object into a dict; the hot
    paths (a buy's answer, its `hold.updated`) reuse one built instance per class instead.
    `to_representation` only reads that instance, so threads can share it. For output
    serializers without context (no request, no `many`)."""
    return _built(serializer_class).to_representation(instance)
