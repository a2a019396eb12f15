"""Two real uvicorn processes on one real Redis behave as one live room.

Real WebSocket clients (the `websockets` package) join through tickets fetched over REST,
spread over both processes; the host pins through REST; everyone receives the same
`pin.changed` with the same `seq`. A client that drops out and comes back — through the
*other* process — with `resume` receives exactly what it missed, in order, then live
events with no gap or duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from django.utils import timezone
from websockets.asyncio.client import ClientConnection, connect

from streams.models import Show
from tests.factories import ProductFactory, ShopFactory, ShowFactory, UserFactory, token_for
from tests.support.processes import run_uvicorn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

#: How the live room is meant to be served (docs/live-room.md): no per-message deflate
#: (it would compress every broadcast once per socket) and a 64 KiB frame cap.
UVICORN_ENV = {"UVICORN_WS_PER_MESSAGE_DEFLATE": "false", "UVICORN_WS_MAX_SIZE": "65536"}
WAIT = 20.0


class Client:
    """A real WebSocket client that records every frame it receives (batches unwrapped)."""

    def __init__(self, name: str, ws: ClientConnection) -> None:
        self.name = name
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.arrived = asyncio.Condition()
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                frame = orjson.loads(raw)
                batch = frame["data"]["events"] if frame["type"] == "batch" else [frame]
                async with self.arrived:
                    self.events.extend(batch)
                    self.arrived.notify_all()

    async def send(self, type: str, data: dict[str, Any] | None = None) -> None:
        await self.ws.send(orjson.dumps({"type": type, "data": data or {}}).decode())

    async def first(self, type: str, *, after: int = 0) -> dict[str, Any]:
        """The first event of `type` at index >= `after`, waiting for it."""

        def found() -> dict[str, Any] | None:
            return next((e for e in self.events[after:] if e["type"] == type), None)

        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: found() is not None), WAIT)
        event = found()
        assert event is not None
        return event

    async def until_seq(self, seq: int) -> None:
        async with self.arrived:
            await asyncio.wait_for(
                self.arrived.wait_for(lambda: any(e.get("seq", 0) >= seq for e in self.events)),
                WAIT,
            )

    async def count_of(self, type: str, n: int, *, after: int) -> list[dict[str, Any]]:
        """Wait for `n` events of `type` at index >= `after`; returns them."""

        def found() -> list[dict[str, Any]]:
            return [e for e in self.events[after:] if e["type"] == type]

        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(found()) >= n), WAIT)
        return found()

    def broadcast_seqs(self) -> list[int]:
        return [e["seq"] for e in self.events if "seq" in e]

    async def close(self) -> None:
        await self.ws.close()
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


class Cast:
    def __init__(self) -> None:
        self.host = UserFactory()
        shop = ShopFactory(owner=self.host)
        self.products = [ProductFactory(shop=shop, stock=5) for _ in range(3)]
        self.show = ShowFactory(shop=shop, status=Show.Status.LIVE, started_at=timezone.now())
        self.viewers = [UserFactory() for _ in range(3)]
        self.tokens = {u.pk: token_for(u) for u in [self.host, *self.viewers]}


@pytest.fixture
def cast() -> Cast:
    return Cast()


async def ticket(http: httpx.AsyncClient, base: str, token: str, show_id: int) -> str:
    response = await http.post(
        f"{base}/api/v1/shows/{show_id}/ws-ticket/", headers={"Authorization": f"Token {token}"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["ticket"])


@contextlib.asynccontextmanager
async def joined(
    http: httpx.AsyncClient,
    base: str,
    cast: Cast,
    user: Any | None,
    name: str,
    *,
    resume_after: int | None = None,
) -> AsyncIterator[Client]:
    query = ""
    if user is not None:
        query = "?ticket=" + await ticket(http, base, cast.tokens[user.pk], cast.show.pk)
    url = base.replace("http://", "ws://") + f"/ws/shows/{cast.show.pk}/{query}"
    ws = await connect(url, open_timeout=WAIT, max_size=2**22)
    client = Client(name, ws)
    if resume_after is not None:  # as a client should: first frame, before the snapshot
        await client.send("resume", {"after_seq": resume_after})
    try:
        snapshot = await client.first("show.snapshot")
        assert snapshot["data"]["show"]["id"] == cast.show.pk
        yield client
    finally:
        await client.close()


async def pin(http: httpx.AsyncClient, base: str, cast: Cast, product: Any) -> dict[str, Any]:
    response = await http.post(
        f"{base}/api/v1/shows/{cast.show.pk}/pins/",
        json={"product": product.pk},
        headers={"Authorization": f"Token {cast.tokens[cast.host.pk]}"},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def contiguous(seqs: list[int]) -> bool:
    return seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True


async def test_two_processes_are_one_room_and_resume_fills_the_gap(cast: Cast) -> None:
    with run_uvicorn(env=UVICORN_ENV) as a, run_uvicorn(env=UVICORN_ENV) as b:
        async with httpx.AsyncClient(timeout=WAIT) as http:
            v0, v1, _v2 = cast.viewers
            async with (
                joined(http, a, cast, v0, "v0@A") as c0,
                joined(http, b, cast, v1, "v1@B") as c1,
                joined(http, a, cast, None, "anon@A") as c2,
                joined(http, b, cast, None, "anon@B") as c3,
            ):
                clients = [c0, c1, c2, c3]
                for c in clients:
                    await c.send("ping")
                    await c.first("pong")

                # 1. One pin through REST reaches everyone, with one seq.
                marks = [len(c.events) for c in clients]
                await pin(http, a, cast, cast.products[0])
                pins = [
                    await c.first("pin.changed", after=m)
                    for c, m in zip(clients, marks, strict=True)
                ]
                assert len({p["seq"] for p in pins}) == 1
                assert all(p == pins[0] for p in pins), "same frame bytes for every viewer"
                assert pins[0]["data"]["pin"]["product"]["id"] == cast.products[0].pk

                # 2. v1 drops out; the room goes on without it.
                last_seen = max(c1.broadcast_seqs())
                await c1.close()
                mark = len(c3.events)
                await pin(http, b, cast, cast.products[1])
                await c0.send("chat.send", {"text": "anyone there?"})
                await pin(http, a, cast, cast.products[2])
                # The witness on the other process has all three.
                await c3.count_of("pin.changed", 2, after=mark)
                await c3.first("chat.message", after=mark)
                await c2.until_seq(max(c3.broadcast_seqs()))

                # 3. v1 comes back through the *other* process and resumes.
                async with joined(http, a, cast, v1, "v1-again@A", resume_after=last_seen) as back:
                    snap_seq = back.events[0]["data"]["seq"]
                    await back.until_seq(snap_seq)
                    witness = [e for e in c3.events if last_seen < e.get("seq", 0) <= snap_seq]
                    replayed = [e for e in back.events if "seq" in e and e["seq"] <= snap_seq]
                    assert [e["seq"] for e in replayed] == list(range(last_seen + 1, snap_seq + 1))
                    assert replayed == witness  # exactly the missed events, same bytes
                    types = [e["type"] for e in replayed]
                    assert types.count("pin.changed") == 2 and "chat.message" in types

                    # 4. Live events follow with no gap or duplicate.
                    await pin(http, b, cast, cast.products[0])
                    live = await back.first("pin.changed", after=len(back.events) - 1)
                    assert live["seq"] > snap_seq
                    seqs = back.broadcast_seqs()
                    assert seqs == sorted(set(seqs))
                    assert contiguous(seqs)
                    assert seqs[0] == last_seen + 1

                # Everyone who stayed saw one unbroken sequence.
                for c in (c0, c2, c3):
                    assert contiguous(c.broadcast_seqs()), c.name
