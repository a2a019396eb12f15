"""OpenAPI schema generation tweaks (drf-spectacular).

Views nest their serializers (`TokenApi.InputSerializer`, house style), so plain class names
collide across views. Components are named by the qualified name instead:
`TokenApi.InputSerializer` → `TokenApiInput` (`TokenApiInputRequest` for request bodies).

Views are plain `ApiView`s that paginate by hand, so spectacular cannot see that a list
answer is a page: every list response is documented as the SPEC page
``{"results": [...], "next": url|null}``. Every operation also documents its errors
(`4XX`, the SPEC error shape), so clients and the contract fuzzer (tests/contract) can
check error bodies against the schema, and every POST documents its optional
`Idempotency-Key` header.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent

from core.pagination import CursorPagination

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every 4xx answer (SPEC Conventions).",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                "message": {"type": "string", "minLength": 1},
                "details": {"type": "object", "additionalProperties": True},
            },
        }
    },
}

IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": (
        "Repeat a POST safely: the first non-5xx answer is replayed for 24 hours; the same "
        "key with another body is 422 `idempotency_key_reused`."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer: Any, direction: Any) -> str:
        return str(type(serializer).__qualname__.replace(".", ""))

    def _get_paginator(self) -> Any:
        # Only consulted for list responses (`many=True`): they are all cursor pages.
        return super()._get_paginator() or CursorPagination()

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        component = ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, schema=ERROR_SCHEMA, object="Error"
        )
        self.registry.register_on_missing(component)
        operation.setdefault("responses", {}).setdefault(
            "4XX",
            {
                "description": "Bad input or refused: the SPEC error shape.",
                "content": {"application/json": {"schema": component.ref}},
            },
        )
        if self.method == "POST":
            operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY_PARAMETER)
        return operation
