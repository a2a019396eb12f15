"""The live room's WebSocket consumer: transport only, frames in and out (SPEC "WebSocket").

One `ShowConsumer` per socket. It authenticates, subscribes through the process hub
(`streams.hub`), sends the snapshot (`streams.catchup`), checks each client frame's size
and shape and turns it into a call of one service (`streams.services`), and writes what
the socket's `Conn` (`streams.connection`) yields, one frame or a batch at a time.
Business rules (who may chat, moderate, react) live in the services; what may go out
and in which order (gating, resume, resync, batching) lives in the `Conn`. See
docs/live-room.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Container
from typing import Any

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from core.errors import ApiError, Forbidden, NotFound, error_reply
from streams import services
from streams.catchup import room_snapshot_frame, show_events_between
from streams.connection import Conn
from streams.direct import uvicorn_abort, uvicorn_direct_write
from streams.frames import control_frame, error_frame
from streams.hub import Hub, get_hub
from streams.selectors import user_hears_hosts
from streams.ws_auth import TicketRejected, ws_user

logger = logging.getLogger(__name__)

CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 4429


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
        if settings.WS_DIRECT_WRITE:
            conn.direct = uvicorn_direct_write(self.base_send)
        conn.abort = uvicorn_abort(self.base_send)
        conn.joined(seq=seq, text=text)
        self.room.count(conn)
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        return None

    async def disconnect(self, code: int) -> None:
        if self.conn is not None:
            self.conn.close()
            self.room.detach(self.conn)
        writer, self._writer = self._writer, None
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer

    async def _snapshot(self) -> tuple[int, str]:
        return await database_sync_to_async(room_snapshot_frame)(
            show_id=self.show_id, user=self.user
        )

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
                batch = conn.take_batch()
                if batch is not None:
                    await self._send_text(batch)
                else:
                    while (text := conn.take_single()) is not None:
                        await self._send_text(text)
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
        limit, hard_limit = settings.WS_FRAME_MAX_BYTES, settings.WS_FRAME_HARD_MAX_BYTES
        if bytes_data is not None:
            size = len(bytes_data)
        else:
            size = _utf8_len(text_data or "", min(limit, hard_limit))
        if size > hard_limit:
            await self.close(code=CLOSE_TOO_BIG)
            return
        try:
            kind, data = _parse_frame(
                text_data, bytes_data, too_large=size > limit, known=self._handlers
            )
        except _BadFrame as bad:
            conn.client_frame(resume=False)
            self._refuse_frame(bad.code, bad.message)
            return
        conn.client_frame(resume=kind == "resume")
        await self._handlers[kind](self, data)

    def _refuse_frame(self, code: str, message: str) -> None:
        assert self.conn is not None
        self.conn.send_control(error_frame(code, message))

    def _invalid(self, message: str) -> None:
        self._refuse_frame("invalid", message)

    def _send_error(self, exc: Exception) -> None:
        """A failure as an `error` frame, mapped as REST maps it (`core.errors.error_reply`:
        a Redis outage is `service_unavailable`); the socket stays open."""
        assert self.conn is not None
        reply = error_reply(exc)
        if not reply.expected:
            logger.exception("a live-room call failed", extra={"show_id": self.show_id})
        message = reply.message
        if reply.code in ("banned", "timed_out") and reply.details.get("reason"):
            message = str(reply.details["reason"])  # SPEC: the message is the reason
        self.conn.send_control(error_frame(reply.code, message, reply.details))

    async def _call(self, service: Callable[..., Any], **kwargs: Any) -> Any:
        """Run one service off the event loop; any failure becomes an error frame."""
        try:
            return await database_sync_to_async(service)(**kwargs)
        except Exception as exc:
            self._send_error(exc)
            return None

    def _signed_in(self) -> bool:
        """Anonymous viewers only watch: their writes are refused, by the services' own
        rule, before the frame's fields are checked."""
        try:
            services.require_user(self.user)
        except ApiError as exc:
            self._send_error(exc)
            return False
        return True

    async def _on_ping(self, data: dict[str, Any]) -> None:
        assert self.conn is not None
        self.conn.send_control(control_frame("pong", data))

    async def _on_chat_send(self, data: dict[str, Any]) -> None:
        if not self._signed_in():
            return
        text = data.get("text")
        if not isinstance(text, str):
            self._invalid('chat.send needs "text", a string.')
            return
        await self._call(services.chat_send, show_id=self.show_id, user=self.user, text=text)

    async def _on_reaction_send(self, data: dict[str, Any]) -> None:
        if not self._signed_in():
            return
        kind = data.get("kind")
        if not isinstance(kind, str):
            self._invalid('reaction.send needs "kind", a string.')
            return
        await self._call(services.reaction_send, show_id=self.show_id, user=self.user, kind=kind)

    async def _on_moderate(self, data: dict[str, Any]) -> None:
        if not self._signed_in():
            return
        action, reason = data.get("action"), data.get("reason")
        target, message, duration = data.get("user"), data.get("message"), data.get("duration_s")
        if not isinstance(action, str) or not isinstance(reason, str):
            self._invalid('moderate needs "action" and "reason", strings.')
            return
        if any(v is not None and not _is_int(v) for v in (target, message, duration)):
            self._invalid('"user", "message" and "duration_s" must be integers.')
            return
        await self._call(
            services.moderation_apply,
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
            conn.release()
            self._invalid('resume needs "after_seq", a non-negative integer.')
            return
        replay = conn.resume_range(after)
        if replay is not None:
            after_seq, upto_seq = replay
            conn.resume_replay(
                await show_events_between(
                    self.room.redis, show_id=self.show_id, after_seq=after_seq, upto_seq=upto_seq
                )
            )

    _handlers: dict[str, Callable[[ShowConsumer, dict[str, Any]], Awaitable[None]]] = {
        "ping": _on_ping,
        "chat.send": _on_chat_send,
        "reaction.send": _on_reaction_send,
        "moderate": _on_moderate,
        "resume": _on_resume,
    }


class _BadFrame(Exception):
    """A client frame the room cannot take: answered with an `error` frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _parse_frame(
    text_data: str | None, bytes_data: bytes | None, *, too_large: bool, known: Container[str]
) -> tuple[str, dict[str, Any]]:
    """A client frame's type (one of `known`) and data, or `_BadFrame` saying why not."""
    if too_large:
        limit = _size_words(settings.WS_FRAME_MAX_BYTES)
        raise _BadFrame("frame_too_large", f"Frames are limited to {limit}.")
    try:
        frame = orjson.loads(text_data if text_data is not None else bytes_data or b"")
    except orjson.JSONDecodeError:
        raise _BadFrame("parse_error", "The frame is not valid JSON.") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise _BadFrame("invalid", 'A frame is a JSON object with a string "type".')
    data = frame.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _BadFrame("invalid", '"data" must be a JSON object.')
    if frame["type"] not in known:
        raise _BadFrame("unknown_type", f"Unknown frame type {frame['type'][:50]!r}.")
    return frame["type"], data


def _client_ip(scope: dict[str, Any]) -> str:
    """The client's address as the server saw it (uvicorn takes it from X-Forwarded-For
    only for trusted proxies: FORWARDED_ALLOW_IPS)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _utf8_len(text: str, limit: int) -> int:
    """The frame's size in UTF-8 bytes, or (cheaply, for the common small frame) a number
    that is at most `limit` exactly when the size is: n characters are at most 4n bytes."""
    if len(text) * 4 <= limit:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def _size_words(size: int) -> str:
    """4096 → "4 KiB" (the limit as the error message states it)."""
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} bytes"
