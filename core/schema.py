"""OpenAPI schema generation tweaks (drf-spectacular).

Views nest their serializers (`TokenApi.InputSerializer`, house style), so plain class names
collide across views. Components are named by the qualified name instead:
`TokenApi.InputSerializer` → `TokenApiInput` (`TokenApiInputRequest` for request bodies).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer: Any, direction: Any) -> str:
        return str(type(serializer).__qualname__.replace(".", ""))
