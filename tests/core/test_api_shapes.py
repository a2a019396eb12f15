"""core.api.validated / represent: the same answers as building the serializer each time
(they reuse one built instance per class on the hot paths)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers

from core.api import represent, validated
from orders.api import BuyApi


def _the_drf_way(data: Any) -> tuple[bool, Any]:
    s = BuyApi.InputSerializer(data=data)
    try:
        s.is_valid(raise_exception=True)
    except serializers.ValidationError as exc:
        return False, exc.detail
    return True, dict(s.validated_data)


def _the_reused_way(data: Any) -> tuple[bool, Any]:
    try:
        return True, dict(validated(BuyApi.InputSerializer, data))
    except serializers.ValidationError as exc:
        return False, exc.detail


@pytest.mark.parametrize(
    "data",
    [
        {"product": 3},
        {"product": 3, "variant": 7, "quantity": 2},
        {"product": 3, "variant": None},
        {"product": "3", "quantity": "1"},
        {},
        {"product": 0},
        {"product": -1, "quantity": 10**9},
        {"product": "x"},
        {"product": 1.5},
        [],
        ["product"],
        "product",
        None,
        7,
    ],
)
def test_validated_answers_as_is_valid_does(data: Any) -> None:
    assert _the_reused_way(data) == _the_drf_way(data)


def test_validated_keeps_nothing_between_calls() -> None:
    with pytest.raises(serializers.ValidationError):
        validated(BuyApi.InputSerializer, {"product": "x"})
    assert validated(BuyApi.InputSerializer, {"product": 5}) == {"product": 5, "quantity": 1}


def test_represent_equals_data() -> None:
    class Shape(serializers.Serializer):
        a = serializers.IntegerField()
        b = serializers.DecimalField(max_digits=6, decimal_places=2)

    row = {"a": 1, "b": "2.5"}
    assert represent(Shape, row) == Shape(row).data
    assert represent(Shape, {"a": 2, "b": "3"}) == {"a": 2, "b": "3.00"}
