"""Helpers for live-room tests: open a room over Channels' WebsocketCommunicator.

Every communicator opened through `room()` is disconnected when the block ends, also
when the test fails; `hubs_closed` (use it in every async live-room test) closes the
hubs the test's event loop created so no task outlives the test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path

from livecommerce.routing import websocket_application
from streams.consumers import ShowConsumer
from streams.hub import Hub, close_hub
from streams.ws_auth import origin_validator

TIMEOUT = 10.0


def app_for_hub(hub: Hub) -> Any:
    """The WebSocket app as another process would run it (its own hub)."""
    routes = [path("ws/shows/<int:show_id>/", ShowConsumer.as_asgi(hub=hub))]
    return origin_validator(AuthMiddlewareStack(URLRouter(routes)))


class Room:
    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.c = communicator
        self.snapshot: dict[str, Any] | None = None
        self._backlog: list[dict[str, Any]] = []

    async def send(self, type: str, data: dict[str, Any] | None = None) -> None:
        frame: dict[str, Any] = {"type": type}
        if data is not None:
            frame["data"] = data
        await self.c.send_to(text_data=orjson.dumps(frame).decode())

    async def send_raw(self, text: str) -> None:
        await self.c.send_to(text_data=text)

    async def frame(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next frame as sent (a `batch` stays a batch)."""
        return orjson.loads(await self.c.receive_from(timeout=timeout))

    async def event(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next event, batches unwrapped."""
        if not self._backlog:
            frame = await self.frame(timeout)
            if frame["type"] == "batch":
                self._backlog.extend(frame["data"]["events"])
            else:
                self._backlog.append(frame)
        return self._backlog.pop(0)

    async def event_of(self, type: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next event of `type`, skipping others (presence, reactions, ...)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = await self.event(max(0.05, deadline - loop.time()))
            if event["type"] == type:
                return event

    async def nothing(self, timeout: float = 0.3) -> bool:
        return not self._backlog and await self.c.receive_nothing(timeout=timeout)

    async def types_within(self, timeout: float) -> list[str]:
        """Types of every event received during `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = [event["type"] for event in self._backlog]
        self._backlog.clear()
        # receive_nothing() polls without cancelling the app (a timed-out receive would).
        while loop.time() < deadline:
            if await self.c.receive_nothing(timeout=0.05, interval=0.01):
                continue
            seen.append((await self.event())["type"])
            seen.extend(event["type"] for event in self._backlog)
            self._backlog.clear()
        return seen

    async def closed_with(self, timeout: float = TIMEOUT) -> int:
        output = await self.c.receive_output(timeout=timeout)
        while output["type"] != "websocket.close":
            output = await self.c.receive_output(timeout=timeout)
        return int(output.get("code", 1000))


@contextlib.asynccontextmanager
async def room(
    show_id: int,
    *,
    query: str = "",
    headers: list[tuple[bytes, bytes]] | None = None,
    app: Any = None,
    expect_snapshot: bool = True,
) -> AsyncIterator[Room]:
    url = f"/ws/shows/{show_id}/" + (f"?{query}" if query else "")
    communicator = WebsocketCommunicator(app or websocket_application, url, headers=headers)
    try:
        connected, _ = await communicator.connect(timeout=TIMEOUT)
        r = Room(communicator)
        r.connected = connected  # type: ignore[attr-defined]
        if connected and expect_snapshot:
            first = await r.frame()
            assert first["type"] == "show.snapshot", first
            r.snapshot = first["data"]
        yield r
    finally:
        with contextlib.suppress(Exception):
            await communicator.disconnect(timeout=TIMEOUT)


@pytest.fixture
async def hubs_closed() -> AsyncIterator[None]:
    yield
    await close_hub()


def session_headers(user: Any) -> list[tuple[bytes, bytes]]:
    """Cookie header of a logged-in Django session for `user` (call from sync code)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    return [(b"cookie", f"sessionid={cookie}".encode())]
