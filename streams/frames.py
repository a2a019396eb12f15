"""The live room's wire format: every frame a socket receives is built here.

A frame is ``{"type", "seq"?, "ts", "data"}`` (SPEC "WebSocket"): broadcast events carry
a `seq`, frames for one socket (`show.snapshot`, `resync`, `pong`, `error`, `batch`) and
private events do not. Events are serialized **once**, by the publisher (`encode_frame`),
and travel as those bytes; a `batch` joins already-serialized frames without parsing
them; `ws_text_frame` wraps an event's bytes into the WebSocket frame the direct path
writes (`streams.direct`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson


def now_iso() -> str:
    """Current time as ISO 8601 UTC with milliseconds and a ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_frame(
    *, type: str, data: dict[str, Any] | None = None, seq: int | None = None, ts: str | None = None
) -> bytes:
    """One wire frame, serialized once (``seq`` only on broadcast events)."""
    frame: dict[str, Any] = {"type": type}
    if seq is not None:
        frame["seq"] = seq
    frame["ts"] = ts or now_iso()
    frame["data"] = data if data is not None else {}
    return orjson.dumps(frame, default=_json_default)


def control_frame(type: str, data: dict[str, Any] | None = None) -> str:
    """A frame for one socket (`pong`, `resync`, `show.snapshot`, ...), as text."""
    return encode_frame(type=type, data=data).decode()


def error_frame(code: str, message: str, details: dict[str, Any] | None = None) -> str:
    """An `error` frame: the socket stays open (SPEC "WebSocket")."""
    data: dict[str, Any] = {"code": code, "message": message}
    if details:
        data["details"] = details
    return control_frame("error", data)


def batch_frame(frames: list[str]) -> str:
    """Several already-serialized frames in one: joined, never parsed again."""
    return '{"type":"batch","ts":"' + now_iso() + '","data":{"events":[' + ",".join(frames) + "]}}"


def ws_text_frame(payload: bytes) -> bytes:
    """A complete, unmasked server-to-client text frame (RFC 6455 §5.2), built once per
    event and written as is to every socket that takes the direct path."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return bytes((0x81, 126)) + size.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + size.to_bytes(8, "big") + payload
