"""A lean HTTP/1.1 load generator: raw asyncio streams over keep-alive connections to
127.0.0.1, one event loop per process (`run_client` is the process entry point).

Each request is pre-rendered bytes, so the client spends its CPU on sockets, not on
building requests: on a 2-core machine the client shares the CPU with the server, and
how much it took is reported (`cpu_s`) so a client-bound run is visible.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ClientJob:
    host: str
    port: int
    # Pre-rendered requests. With `once`, each is sent exactly once (split over the
    # connections); otherwise they are cycled until `duration` seconds have passed.
    requests: list[bytes]
    connections: int
    duration: float = 0.0
    once: bool = False
    start_at: float = 0.0  # time.time() at which to start (so processes start together)
    # A `{n}` in a request is replaced by a per-request counter (unique Idempotency-Key).
    templated: bool = False
    tag: str = ""
    # Minimum seconds between two requests on one connection (0: back to back).
    interval: float = 0.0


@dataclass
class ClientResult:
    latencies: list[float] = field(default_factory=list)
    # Seconds from the start of the phase (the burst) to each answer.
    answered_at: list[float] = field(default_factory=list)
    answered_status: list[int] = field(default_factory=list)  # the status of each of those
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    bodies: list[bytes] = field(default_factory=list)


def render(
    method: str, path: str, *, token: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Token {token}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _connection(
    job: ClientJob,
    result: ClientResult,
    items: list[bytes],
    deadline: float,
    keep: bool,
    started_at: float,
) -> None:
    reader, writer = await asyncio.open_connection(job.host, job.port)
    i = 0
    counter = 0
    try:
        while True:
            if job.once:
                if i >= len(items):
                    return
            elif time.monotonic() >= deadline:
                return
            request = items[i % len(items)]
            i += 1
            if job.templated:
                counter += 1
                request = request.replace(b"{n}", f"{job.tag}-{id(writer)}-{counter}".encode())
            if job.interval:
                await asyncio.sleep(job.interval)
            started = time.perf_counter()
            try:
                writer.write(request)
                status, body = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(job.host, job.port)
                continue
            result.latencies.append(time.perf_counter() - started)
            result.answered_at.append(time.monotonic() - started_at)
            result.answered_status.append(status)
            result.statuses[status] += 1
            if keep:
                result.bodies.append(body)
    finally:
        writer.close()


async def _run(job: ClientJob, keep_bodies: bool) -> ClientResult:
    result = ClientResult()
    delay = job.start_at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    deadline = started + job.duration
    if job.once:
        shares = [job.requests[k :: job.connections] for k in range(job.connections)]
    else:
        # Each connection starts at its own offset in the list (different buyers).
        step = max(1, len(job.requests) // job.connections)
        shares = [
            job.requests[k * step :] + job.requests[: k * step] for k in range(job.connections)
        ]
    await asyncio.gather(
        *(
            _connection(job, result, share, deadline, keep_bodies, started)
            for share in shares
            if share
        )
    )
    result.wall_s = time.monotonic() - started
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    result.cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return result


def run_client(job: ClientJob, keep_bodies: bool = False) -> ClientResult:
    """Process entry point: run one job on a fresh event loop (uvloop when installed)."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    return runner(_run(job, keep_bodies))  # type: ignore[no-any-return]
