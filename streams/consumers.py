"""The live room's WebSocket consumer: transport only (SPEC "WebSocket").

It authenticates, subscribes through the process's hub, sends the snapshot, turns client
frames into calls of one service each, and writes the socket's queue. Business rules
(who may chat, moderate, react) live in `streams.services`; sequencing, retention and
delivery live in `streams.fanout` and `streams.hub`. See docs/live-room.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from core.errors import ApiError, Forbidden, NotFound
from streams import fanout
from streams.audience import user_hears_hosts
from streams.hub import (
    BUFFERING,
    GATED,
    LIVE,
    Conn,
    Hub,
    get_hub,
    uvicorn_abort,
    uvicorn_direct_write,
)
from streams.ws_auth import TicketRejected, ws_user

logger = logging.getLogger(__name__)

CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 4429


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def control_frame(type: str, data: dict[str, Any] | None = None) -> str:
    return fanout.encode_frame(type=type, data=data).decode()


def error_frame(code: str, message: str, details: dict[str, Any] | None = None) -> str:
    data: dict[str, Any] = {"code": code, "message": message}
    if details:
        data["details"] = details
    return control_frame("error", data)


def batch_frame(frames: list[str]) -> str:
    """Several already-serialized frames in one: joined, never parsed again."""
    return (
        '{"type":"batch","ts":"'
        + fanout.now_iso()
        + '","data":{"events":['
        + ",".join(frames)
        + "]}}"
    )


class ShowConsumer(AsyncWebsocketConsumer):
    """``/ws/shows/{id}/``. One instance per socket."""

    # The room does not use Channels' channel layer: broadcast goes through the hub (one
    # Redis subscriber per process). Without a layer no per-socket layer channel exists.
    channel_layer_alias = "live-room-uses-no-channel-layer"
    #: The hub to use; tests pass another one (`as_asgi(hub=...)`) to play a second process.
    hub: Hub | None = None

    conn: Conn | None = None
    _joined = False
    _writer: asyncio.Task[None] | None = None
    _gate: asyncio.TimerHandle | None = None

    def __init__(self, *args: Any, hub: Hub | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hub = hub

    # --- connect / disconnect -------------------------------------------------------------

    async def connect(self) -> None:
        self.show_id = int(self.scope["url_route"]["kwargs"]["show_id"])
        self.room = self.hub or get_hub()
        await self.accept()
        try:
            code = await self._join()
        except BaseException:
            if self.conn is not None:
                self.room.detach(self.conn)
            raise
        if code is not None:
            if self.conn is not None:
                self.room.detach(self.conn)
            await self.close(code=code)

    async def _join(self) -> int | None:
        """Authenticate, subscribe, snapshot; a close code when the socket cannot stay."""
        try:
            self.user = await ws_user(scope=self.scope, show_id=self.show_id, redis=self.room.redis)
        except TicketRejected:
            return CLOSE_UNAUTHORIZED
        except (RedisError, OSError):
            return CLOSE_TRY_AGAIN
        user_id = self.user.pk if self.user.is_authenticated else None
        try:
            hears_hosts = user_id is not None and await database_sync_to_async(user_hears_hosts)(
                show_id=self.show_id, user=self.user
            )
            conn = self.conn = Conn(show_id=self.show_id, user_id=user_id, hears_hosts=hears_hosts)
            if user_id is None and not self.room.admit_anonymous(conn, ip=_client_ip(self.scope)):
                return CLOSE_TOO_MANY
            await self.room.attach(conn)
            seq, text = await self._snapshot()
        except TimeoutError:
            return CLOSE_TRY_AGAIN
        except (RedisError, OSError):
            logger.warning("live room: Redis unavailable on connect", exc_info=True)
            return CLOSE_TRY_AGAIN
        except NotFound:
            return CLOSE_NOT_FOUND
        except Forbidden:
            return CLOSE_FORBIDDEN
        self._joined = True
        if getattr(settings, "WS_DIRECT_WRITE", True):
            conn.direct = uvicorn_direct_write(self.base_send)
        conn.abort = uvicorn_abort(self.base_send)
        if not conn.apply_snapshot(seq=seq, text=text, gated=True):
            conn.request_resync()
        self.room.count(conn)
        loop = asyncio.get_running_loop()
        self._writer = loop.create_task(self._write_loop())
        # Live events wait for the client's first frame (a `resume` must be answered before
        # them to keep order), or for the grace period when the client sends nothing.
        self._gate = loop.call_later(_setting("WS_RESUME_GRACE_SECONDS", 0.5), self._release)
        return None

    async def disconnect(self, code: int) -> None:
        if self._gate is not None:
            self._gate.cancel()
        if self.conn is not None:
            self.room.detach(self.conn)
        writer, self._writer = self._writer, None
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer

    async def _snapshot(self) -> tuple[int, str]:
        data = await database_sync_to_async(fanout.room_snapshot)(
            show_id=self.show_id, user=self.user
        )
        return int(data["seq"]), control_frame("show.snapshot", data)

    def _release(self) -> None:
        if self.conn is not None and self.conn.state == GATED:
            self.conn.release()

    # --- writing ----------------------------------------------------------------------

    async def _send_text(self, text: str) -> None:
        conn = self.conn
        assert conn is not None
        # Watched by the hub: a send that never completes means the peer stopped reading.
        conn.send_started = asyncio.get_running_loop().time()
        try:
            await self.base_send({"type": "websocket.send", "text": text})
        finally:
            conn.send_started = None

    async def _write_loop(self) -> None:
        conn = self.conn
        assert conn is not None
        batch_min = int(_setting("WS_BATCH_MIN", 3))
        batch_max = int(_setting("WS_BATCH_MAX", 200))
        try:
            while True:
                conn.writer_idle = True
                await conn.wake.wait()
                conn.writer_idle = False
                conn.wake.clear()
                while conn.control:
                    await self._send_text(conn.control.popleft())
                if conn.close_code is not None:
                    await self.close(code=conn.close_code)
                    return
                if conn.resync_needed:
                    await self._resync()
                    continue
                if len(conn.events) >= batch_min:
                    frames = conn.take_events(batch_max)
                    await self._send_text(batch_frame(frames))
                else:
                    while conn.events and len(conn.events) < batch_min:
                        await self._send_text(conn.events.popleft())
                if conn.events or conn.control:
                    conn.wake.set()
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket is gone (or broken): nothing more to write
            logger.debug("live room writer stopped", exc_info=True)

    async def _resync(self) -> None:
        """Tell the client to drop its state, then send a fresh snapshot; events resume
        after the snapshot's cut."""
        conn = self.conn
        assert conn is not None
        conn.resync_needed = False
        await self._send_text(control_frame("resync", {"reason": conn.resync_reason}))
        for _attempt in range(3):
            await self.room.subscribed(conn)
            try:
                seq, text = await self._snapshot()
            except NotFound:
                conn.request_close(CLOSE_NOT_FOUND)
                return
            except Forbidden:
                conn.request_close(CLOSE_FORBIDDEN)
                return
            if conn.resync_needed:  # asked again meanwhile: that snapshot may be stale
                conn.resync_needed = False
                continue
            if conn.apply_snapshot(seq=seq, text=text, gated=False):
                return
        conn.request_close(CLOSE_TRY_AGAIN)

    # --- reading ----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        conn = self.conn
        if conn is None or not self._joined:
            return
        size = len(bytes_data) if bytes_data is not None else _utf8_len(text_data or "")
        if size > int(_setting("WS_FRAME_HARD_MAX_BYTES", 65536)):
            await self.close(code=CLOSE_TOO_BIG)
            return
        if size > int(_setting("WS_FRAME_MAX_BYTES", 4096)):
            self._release()
            conn.send_control(error_frame("frame_too_large", "Frames are limited to 4 KiB."))
            return
        try:
            frame = orjson.loads(text_data if text_data is not None else bytes_data or b"")
        except orjson.JSONDecodeError:
            self._release()
            conn.send_control(error_frame("parse_error", "The frame is not valid JSON."))
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            self._release()
            conn.send_control(
                error_frame("invalid", 'A frame is a JSON object with a string "type".')
            )
            return
        data = frame.get("data", {})
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self._release()
            conn.send_control(error_frame("invalid", '"data" must be a JSON object.'))
            return
        handler = self._handlers.get(frame["type"])
        if handler is None:
            self._release()
            conn.send_control(
                error_frame("unknown_type", f"Unknown frame type {frame['type'][:50]!r}.")
            )
            return
        if frame["type"] != "resume":
            self._release()
        await handler(self, data)

    async def _call(self, service: Callable[..., Any], **kwargs: Any) -> Any:
        """Run one service off the event loop; an expected failure becomes an error frame."""
        assert self.conn is not None
        try:
            return await database_sync_to_async(service)(**kwargs)
        except ApiError as exc:
            message = exc.message
            if exc.code in ("banned", "timed_out") and exc.details.get("reason"):
                message = str(exc.details["reason"])  # SPEC: the message is the reason
            self.conn.send_control(error_frame(exc.code, message, exc.details))
            return None

    def _require_user(self) -> bool:
        assert self.conn is not None
        if not self.user.is_authenticated:
            self.conn.send_control(
                error_frame(
                    "not_authenticated", "Sign in to do this; anonymous viewers only watch."
                )
            )
            return False
        return True

    def _invalid(self, message: str) -> None:
        assert self.conn is not None
        self.conn.send_control(error_frame("invalid", message))

    async def _on_ping(self, data: dict[str, Any]) -> None:
        assert self.conn is not None
        self.conn.send_control(control_frame("pong", data))

    async def _on_chat_send(self, data: dict[str, Any]) -> None:
        if not self._require_user():
            return
        text = data.get("text")
        if not isinstance(text, str):
            self._invalid('chat.send needs "text", a string.')
            return
        from streams.services import chat_send

        await self._call(chat_send, show_id=self.show_id, user=self.user, text=text)

    async def _on_reaction_send(self, data: dict[str, Any]) -> None:
        if not self._require_user():
            return
        kind = data.get("kind")
        if not isinstance(kind, str):
            self._invalid('reaction.send needs "kind", a string.')
            return
        from streams.services import reaction_send

        await self._call(reaction_send, show_id=self.show_id, user=self.user, kind=kind)

    async def _on_moderate(self, data: dict[str, Any]) -> None:
        if not self._require_user():
            return
        action, reason = data.get("action"), data.get("reason")
        target, message, duration = data.get("user"), data.get("message"), data.get("duration_s")
        if not isinstance(action, str) or not isinstance(reason, str):
            self._invalid('moderate needs "action" and "reason", strings.')
            return
        if any(v is not None and not _is_int(v) for v in (target, message, duration)):
            self._invalid('"user", "message" and "duration_s" must be integers.')
            return
        from streams.services import moderation_apply

        await self._call(
            moderation_apply,
            show_id=self.show_id,
            actor=self.user,
            action=action,
            target_user_id=target,
            message_id=message,
            reason=reason,
            duration_s=duration,
        )

    async def _on_resume(self, data: dict[str, Any]) -> None:
        conn = self.conn
        assert conn is not None
        after = data.get("after_seq")
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            self._release()
            self._invalid('resume needs "after_seq", a non-negative integer.')
            return
        if conn.state == BUFFERING:
            return  # a fresh snapshot is on its way: it supersedes any resume
        upto = conn.snapshot_seq
        if conn.state == LIVE:
            if after >= upto:
                return  # it has everything up to the snapshot, and live events since
            if conn.last_seq != upto:
                # Live events already went out after the snapshot: replaying older ones
                # now would break the order, so start over from a fresh snapshot.
                conn.request_resync("late_resume")
                return
            conn.state = GATED  # nothing went out yet: hold live events, replay first
        if after > upto:  # ahead of the server: its state cannot be trusted
            conn.request_resync("ahead")
            return
        if after < upto:
            events = await fanout.show_events_between(
                self.room.redis, show_id=self.show_id, after_seq=after, upto_seq=upto
            )
            if conn.state != GATED:
                return  # resynced meanwhile
            if events is None:
                conn.request_resync("too_old")
                return
            conn.queue_replay(events)
        conn.release()

    _handlers: dict[str, Callable[[ShowConsumer, dict[str, Any]], Awaitable[None]]] = {
        "ping": _on_ping,
        "chat.send": _on_chat_send,
        "reaction.send": _on_reaction_send,
        "moderate": _on_moderate,
        "resume": _on_resume,
    }


def _client_ip(scope: dict[str, Any]) -> str:
    """The client's address as the server saw it (uvicorn takes it from X-Forwarded-For
    only for trusted proxies: FORWARDED_ALLOW_IPS)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _utf8_len(text: str) -> int:
    """The frame's size in UTF-8 bytes, or (cheaply, for the common small frame) a number
    that is below the 4 KiB limit exactly when the size is: n characters are at most 4n
    bytes."""
    return len(text) if len(text) * 4 <= 4096 else len(text.encode("utf-8", "surrogatepass"))
