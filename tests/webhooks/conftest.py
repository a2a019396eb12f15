"""Fixtures for webhook tests: a real HTTP receiver on 127.0.0.1, and endpoints."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from catalog.models import Shop
from webhooks import services
from webhooks.models import Endpoint

WAIT_SECONDS = 60.0  # a bound for a stuck test, never a performance claim


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A threaded HTTP server that records every POST and answers as `mode` says:
    ``ok`` (204), ``error`` (500), ``redirect`` (302 to `redirect_to`), ``hang`` (waits
    until `release` is set or `hang_seconds` pass, then 204), ``huge`` (200 with
    `huge_bytes` of body)."""

    port: int = 0
    mode: str = "ok"
    redirect_to: str = ""
    hang_seconds: float = 10.0
    huge_bytes: int = 50 * 1024 * 1024
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    _server: http.server.ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _connections: set[socket.socket] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with contextlib.suppress(OSError):
                    super().finish()
                with receiver._lock:
                    receiver._connections.discard(self.connection)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, dict(self.headers.items()), body, time.monotonic())
                    )
                mode = receiver.mode
                with contextlib.suppress(OSError):
                    if mode == "hang":
                        receiver.release.wait(receiver.hang_seconds)
                        self._answer(204)
                    elif mode == "error":
                        self._answer(500, b"boom")
                    elif mode == "redirect":
                        self._answer(302, headers={"Location": receiver.redirect_to})
                    elif mode == "huge":
                        self.send_response(200)
                        self.send_header("Content-Length", str(receiver.huge_bytes))
                        self.end_headers()
                        chunk = b"x" * (1024 * 1024)
                        for _ in range(receiver.huge_bytes // len(chunk)):
                            self.wfile.write(chunk)
                    else:
                        self._answer(204)

            def _answer(
                self, code: int, body: bytes = b"", headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(code)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Go down: stop listening (connections are refused until `start` again on the same
        port) and drop the kept-alive connections."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def of_type(self, type_: str) -> list[Received]:
        return [r for r in list(self.received) if r.json["type"] == type_]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT_SECONDS) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    try:
        yield r
    finally:
        r.release.set()
        r.stop()


@pytest.fixture
def make_receiver() -> Iterator[Callable[[], Receiver]]:
    started: list[Receiver] = []

    def make() -> Receiver:
        r = Receiver()
        r.start()
        started.append(r)
        return r

    yield make
    for r in started:
        r.release.set()
        r.stop()


@pytest.fixture(autouse=True)
def _allow_private(settings: Any) -> None:
    """Receivers live on 127.0.0.1; the SSRF tests switch this off again."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def endpoint_for() -> Callable[..., Endpoint]:
    """`endpoint_for(shop, url, events=["*"])` → an active endpoint (through the service)."""

    def make(shop: Shop, url: str, events: list[str] | None = None) -> Endpoint:
        return services.endpoint_create(shop=shop, url=url, events=events or ["*"])

    return make
