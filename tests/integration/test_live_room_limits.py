"""Live-room limits on a real uvicorn: a peer that never reads is dropped; anonymous
sockets per client address are bounded (docs/live-room.md "Slow and silent clients",
"Anonymous sockets")."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import Callable

import pytest
from django.utils import timezone
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from streams import fanout
from streams.models import Show
from streams.presence import viewer_count
from tests.factories import ShowFactory
from tests.support.processes import run_uvicorn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

UVICORN_ENV = {"UVICORN_WS_PER_MESSAGE_DEFLATE": "false", "UVICORN_WS_MAX_SIZE": "65536"}
WAIT = 30.0


def _handshake(port: int, path: str) -> socket.socket:
    """A raw WebSocket client socket, handshake done, that will never read again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """Read whatever was buffered; True once the server ended the connection (EOF or
    reset), False if it is still open and silent at `deadline`."""
    sock.settimeout(1.0)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(1 << 16)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
        if not chunk:
            return True
    return False


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_peer_that_never_reads_is_dropped() -> None:
    show = ShowFactory(status=Show.Status.LIVE, started_at=timezone.now())
    env = {**UVICORN_ENV, "WS_SEND_STALL_SECONDS": "1", "WS_SEND_QUEUE_MAX": "64"}
    with run_uvicorn(env=env) as base:
        port = int(base.rsplit(":", 1)[1])
        sock = _handshake(port, f"/ws/shows/{show.pk}/")
        try:
            _until(lambda: viewer_count(show_id=show.pk) == 1, "the socket to count")
            text = "x" * 30_000
            # ~12 MB: far more than the kernel and uvicorn buffer for one socket.
            for _ in range(400):
                fanout.publish_show_event(
                    show_id=show.pk, type="chat.message", data={"id": 0, "text": text}
                )
            # Still not reading: the server gives up on the socket by itself.
            _until(lambda: viewer_count(show_id=show.pk) == 0, "the socket to be dropped")
            assert _closed_by_server(sock, time.monotonic() + WAIT)
        finally:
            sock.close()


def test_anonymous_sockets_per_address_are_bounded() -> None:
    show = ShowFactory(status=Show.Status.LIVE, started_at=timezone.now())
    with run_uvicorn(env={**UVICORN_ENV, "WS_ANON_PER_IP_MAX": "2"}) as base:
        url = base.replace("http://", "ws://") + f"/ws/shows/{show.pk}/"

        async def scenario() -> None:
            a = await connect(url, open_timeout=WAIT)
            b = await connect(url, open_timeout=WAIT)
            for ws in (a, b):
                assert '"show.snapshot"' in await asyncio.wait_for(ws.recv(), WAIT)
            c = await connect(url, open_timeout=WAIT)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(c.recv(), WAIT)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
            await a.close()
            # Once the server has seen `a` go, the address has room for one more.
            deadline = asyncio.get_running_loop().time() + WAIT
            while True:
                d = await connect(url, open_timeout=WAIT)
                try:
                    first = await asyncio.wait_for(d.recv(), WAIT)
                    break
                except ConnectionClosed:
                    assert asyncio.get_running_loop().time() < deadline
                    await asyncio.sleep(0.1)
            assert '"show.snapshot"' in first
            for ws in (b, d):
                await ws.close()

        asyncio.run(scenario())
