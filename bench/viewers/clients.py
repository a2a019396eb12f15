"""Load clients for the live-room benchmarks: one OS process holding many WebSocket viewers.

The runner (`Clients` in `bench/viewers/__init__.py`, for bench/fanout and bench/auction)
drives each process over a Pipe with small commands:

- ``("connect", urls, count)`` → open `count` sockets, round-robin over `urls`; answers
  ``("connected", opened, failed, seconds)`` once every socket has its first frame.
- ``("record",)`` → forget what was received so far and start recording.
- ``("report",)`` → ``("report", Report)`` for what was received since ``record``.
- ``("close",)`` → close every socket; answers ``("closed",)``.
- ``("exit",)``.

A benchmark event is a ``bench.tick`` frame whose data carries the publisher's
``time.monotonic()`` (one clock for every process on this machine), or a product event
whose reference time the runner knows by key: `pin.changed` (``p<pin id>``),
`auction.bid` (``a<auction id>.<bid_count>``) and `auction.closed` (``c<auction id>``).
Batches are unwrapped: every event delivered to a viewer counts once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson

HIST_MS = 20_000  # per-millisecond latency histogram, 0..20 s


@dataclass
class Report:
    events: int = 0  # benchmark events received (all sockets)
    frames: int = 0
    batches: int = 0
    resyncs: int = 0
    closed: int = 0
    first: float = 0.0
    last: float = 0.0
    hist: list[int] = field(default_factory=lambda: [0] * (HIST_MS + 1))
    # id -> arrival times (pins and ticks): latency to the last viewer per publish.
    arrivals: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, now: float, t0: float | None) -> None:
        self.events += 1
        if not self.first:
            self.first = now
        self.last = now
        self.arrivals.setdefault(key, []).append(now)
        if t0 is not None:
            self.hist[min(HIST_MS, max(0, int((now - t0) * 1000)))] += 1


class Viewer:
    def __init__(self, ws: Any, state: dict[str, Any]) -> None:
        self.ws = ws
        self.state = state


async def _read(ws: Any, state: dict[str, Any], first: asyncio.Future[None]) -> None:
    try:
        async for raw in ws:
            now = time.monotonic()
            if not first.done():
                first.set_result(None)
            report: Report = state["report"]
            report.frames += 1
            frame = orjson.loads(raw)
            kind = frame.get("type")
            if kind == "batch":
                report.batches += 1
                events = frame["data"]["events"]
            else:
                events = (frame,)
            for event in events:
                kind = event.get("type")
                if kind == "bench.tick":
                    data = event["data"]
                    report.add(f"t{data['id']}", now, data["t0"])
                elif kind == "pin.changed":
                    pin = event["data"].get("pin")
                    if pin:
                        report.add(f"p{pin['id']}", now, None)
                elif kind == "auction.bid":
                    data = event["data"]
                    report.add(f"a{data['auction']}.{data['bid_count']}", now, None)
                elif kind == "auction.closed":
                    report.add(f"c{event['data']['auction']}", now, None)
                elif kind == "resync":
                    report.resyncs += 1
    except Exception:
        pass
    finally:
        if not first.done():
            first.set_result(None)
        state["report"].closed += 1


async def _guarded(sem: asyncio.Semaphore, open_one: Any, url: str, wait_first: bool) -> bool:
    async with sem:
        return bool(await open_one(url, wait_first))


async def _main(conn: Connection) -> None:
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    state: dict[str, Any] = {"report": Report()}
    sockets: list[Any] = []
    readers: list[asyncio.Task[None]] = []

    async def open_one(url: str, wait_first: bool) -> bool:
        try:
            ws = await connect(
                url,
                open_timeout=60,
                compression=None,
                max_size=None,
                ping_interval=None,
                close_timeout=2,
            )
        except Exception:
            return False
        first: asyncio.Future[None] = loop.create_future()
        sockets.append(ws)
        readers.append(loop.create_task(_read(ws, state, first)))
        if wait_first:
            await asyncio.wait_for(first, 120)
        return True

    while True:
        command = await loop.run_in_executor(None, conn.recv)
        name = command[0]
        if name == "connect":
            _, urls, count, wait_first = command
            started = time.monotonic()
            sem = asyncio.Semaphore(50)
            results = await asyncio.gather(
                *(_guarded(sem, open_one, urls[i % len(urls)], wait_first) for i in range(count)),
                return_exceptions=True,
            )
            opened = sum(1 for r in results if r is True)
            conn.send(("connected", opened, count - opened, time.monotonic() - started))
        elif name == "record":
            state["report"] = Report()
            conn.send(("recording",))
        elif name == "report":
            conn.send(("report", state["report"]))
        elif name == "close":
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            sockets.clear()
            readers.clear()
            conn.send(("closed",))
        elif name == "exit":
            return


def client_process(conn: Connection) -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_main(conn))
