"""A minimal asyncio Redis Pub/Sub connection (RESP2), one per ASGI process.

Why not redis-py's PubSub: the hub needs to send SUBSCRIBE while one task is blocked
reading, to know *when* a subscription is in force (the confirmation), and to decide
itself what a reconnect means (every socket is told `resync`). That is a few dozen lines
of protocol, kept here with no retry or health-check machinery in the way.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import unquote, urlparse


class PubSubError(ConnectionError):
    pass


@dataclass(frozen=True)
class PubSubMessage:
    kind: bytes  # b"message", b"subscribe", b"unsubscribe", b"pong"
    channel: bytes
    payload: bytes | int


def _command(*parts: str | bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        raw = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


class PubSubConnection:
    """One Redis connection in subscriber mode. Not safe for several readers."""

    def __init__(self, url: str, *, name: str = "", connect_timeout: float = 5.0) -> None:
        parsed = urlparse(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 6379
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.name = name
        self.connect_timeout = connect_timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self._reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, limit=2**20), self.connect_timeout
        )
        self._writer = writer
        if self.password is not None:
            parts = ["AUTH", self.password] if self.username is None else ["AUTH"]
            if self.username is not None:
                parts += [self.username, self.password]
            writer.write(_command(*parts))
            reply = await asyncio.wait_for(self._read_value(), self.connect_timeout)
            if reply != b"OK":
                raise PubSubError(f"Redis AUTH failed: {reply!r}")
        if self.name:  # visible in CLIENT LIST: which process holds which subscriber
            writer.write(_command("CLIENT", "SETNAME", self.name))
            reply = await asyncio.wait_for(self._read_value(), self.connect_timeout)
            if reply != b"OK":
                raise PubSubError(f"Redis CLIENT SETNAME failed: {reply!r}")

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    def _write(self, data: bytes) -> None:
        if self._writer is None or self._writer.is_closing():
            raise PubSubError("not connected")
        self._writer.write(data)

    def subscribe(self, *channels: str) -> None:
        if channels:
            self._write(_command("SUBSCRIBE", *channels))

    def unsubscribe(self, *channels: str) -> None:
        if channels:
            self._write(_command("UNSUBSCRIBE", *channels))

    def ping(self) -> None:
        self._write(_command("PING"))

    async def read(self) -> PubSubMessage:
        value = await self._read_value()
        if isinstance(value, list) and len(value) >= 3:
            kind, channel, payload = value[0], value[1], value[-1]
            if (
                isinstance(kind, bytes)
                and isinstance(channel, bytes)
                and isinstance(payload, bytes | int)
            ):
                return PubSubMessage(kind, channel, payload)
        if isinstance(value, list) and value and value[0] == b"pong":
            return PubSubMessage(b"pong", b"", b"")
        raise PubSubError(f"unexpected Pub/Sub reply: {value!r}")

    async def _read_value(self) -> object:
        reader = self._reader
        if reader is None:
            raise PubSubError("not connected")
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.IncompleteReadError as exc:
            raise PubSubError("connection closed") from exc
        prefix, rest = line[:1], line[1:-2]
        if prefix == b"$":
            size = int(rest)
            if size < 0:
                return None
            try:
                data = await reader.readexactly(size + 2)
            except asyncio.IncompleteReadError as exc:
                raise PubSubError("connection closed") from exc
            return data[:-2]
        if prefix == b"*":
            count = int(rest)
            return [await self._read_value() for _ in range(count)] if count >= 0 else None
        if prefix == b":":
            return int(rest)
        if prefix == b"+":
            return rest
        if prefix == b"-":
            raise PubSubError(rest.decode(errors="replace"))
        raise PubSubError(f"bad RESP prefix {line!r}")

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(TimeoutError, OSError, ConnectionError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
