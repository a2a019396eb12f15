"""Live-room viewers for the benchmarks: server processes, WebSocket load clients, latency.

Shared by `bench/fanout/run.py` and `bench/auction/run.py`. Everything runs on 127.0.0.1:

- `start` / `servers_running` / `stop`: server processes, each in its own process group
  (only those groups are ever signalled); `live_room_server` starts the product's ASGI app
  on uvicorn as the `ws` process runs it;
- `Clients`: load-client processes (`bench/viewers/clients.py`), each holding many viewers,
  driven over a Pipe; their `Report` keeps every benchmark event's arrival times by key;
- `latency_phase` / `arrival_figures`: latency from a reference time (a publish, a REST
  request, an auction's `ends_at`) to each viewer and to the *last* viewer.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil

from bench.viewers.clients import Report, client_process

ROOT = Path(__file__).resolve().parents[2]
UVICORN_FLAGS = ["--no-access-log", "--log-level", "warning", "--ws-per-message-deflate", "false"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.proc.pid)


def start(name: str, args: list[str], env: dict[str, str], port: int) -> Server:
    log = Path(f"/tmp/lc-bench-{name}-{port}.log")
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return Server(name, proc, port, log)


def wait_listening(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", server.port), 1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not listen on {server.port}")


def stop(servers: list[Server]) -> None:
    for s in servers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(s.proc.pid, signal.SIGTERM)
    for s in servers:
        try:
            s.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(s.proc.pid, signal.SIGKILL)
            s.proc.wait(10)


@contextlib.contextmanager
def servers_running(make: Callable[[], list[Server]]) -> Iterator[list[Server]]:
    servers: list[Server] = []
    try:
        servers = make()
        for s in servers:
            wait_listening(s)
        yield servers
    finally:
        stop(servers)


def live_room_server(port: int, env: dict[str, str], name: str = "live-room") -> Server:
    """The product's ASGI app (REST, pages, WebSockets) on uvicorn, one process on `port`."""
    return start(
        name,
        [
            sys.executable,
            "-m",
            "uvicorn",
            "livecommerce.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *UVICORN_FLAGS,
            "--ws-max-size",
            "65536",
        ],
        env,
        port,
    )


class Clients:
    """The load-client processes."""

    def __init__(self, count: int) -> None:
        ctx = mp.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for _ in range(count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=client_process, args=(child,), daemon=True)
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)

    def ask(self, command: tuple[Any, ...], timeout: float = 300) -> list[Any]:
        for conn in self.conns:
            conn.send(command)
        answers = []
        for conn in self.conns:
            if not conn.poll(timeout):
                raise TimeoutError(f"client did not answer {command[0]}")
            answers.append(conn.recv())
        return answers

    def connect(self, urls: list[str], total: int, *, wait_first: bool = True) -> tuple[int, float]:
        """`total` viewers spread over the client processes, round-robin over `urls`;
        returns (opened, seconds the slowest process took)."""
        per = [
            total // len(self.conns) + (1 if i < total % len(self.conns) else 0)
            for i in range(len(self.conns))
        ]
        return self._connect([("connect", urls, n, wait_first) for n in per])

    def connect_each(self, urls: list[str]) -> tuple[int, float]:
        """One socket per URL (each with its own single-use ticket)."""
        slices = [urls[i :: len(self.conns)] for i in range(len(self.conns))]
        return self._connect([("connect", part or ["unused"], len(part), True) for part in slices])

    def _connect(self, commands: list[tuple[Any, ...]]) -> tuple[int, float]:
        for conn, command in zip(self.conns, commands, strict=True):
            conn.send(command)
        opened, seconds = 0, 0.0
        for conn in self.conns:
            if not conn.poll(600):
                raise TimeoutError("clients did not connect in time")
            _, ok, _failed, took = conn.recv()
            opened += ok
            seconds = max(seconds, took)
        return opened, seconds

    def record(self) -> None:
        self.ask(("record",))

    def report(self) -> Report:
        merged = Report()
        for _, r in self.ask(("report",)):
            merged.events += r.events
            merged.frames += r.frames
            merged.batches += r.batches
            merged.resyncs += r.resyncs
            merged.closed += r.closed
            merged.first = min(x for x in (merged.first, r.first) if x) if r.first else merged.first
            merged.last = max(merged.last, r.last)
            merged.hist = [a + b for a, b in zip(merged.hist, r.hist, strict=True)]
            for key, times in r.arrivals.items():
                merged.arrivals.setdefault(key, []).extend(times)
        return merged

    def close(self) -> None:
        self.ask(("close",))

    def exit(self) -> None:
        with contextlib.suppress(Exception):
            for conn in self.conns:
                conn.send(("exit",))
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
    return total


def arrival_figures(report: Report, sent: dict[str, float], viewers: int) -> dict[str, Any]:
    """Latency of each event (key -> its reference time, monotonic) to each viewer and to
    the last one; `reached_everyone` counts the events all `viewers` received, `duplicated`
    those some viewer received more than once."""
    to_last, each, complete, duplicated = [], [], 0, 0
    for key, t0 in sent.items():
        times = report.arrivals.get(key, [])
        if len(times) >= viewers:
            complete += 1
        if len(times) > viewers:
            duplicated += 1
        if times:
            to_last.append((max(times) - t0) * 1000)
            each.extend((t - t0) * 1000 for t in times)
    return {
        "publishes": len(sent),
        "reached_everyone": complete,
        "duplicated": duplicated,
        "p50_to_last_ms": round(pct(to_last, 0.5), 1),
        "p99_to_last_ms": round(pct(to_last, 0.99), 1),
        "max_to_last_ms": round(max(to_last), 1) if to_last else None,
        "p50_each_ms": round(pct(each, 0.5), 1),
        "p99_each_ms": round(pct(each, 0.99), 1),
        "batches": report.batches,
        "resyncs": report.resyncs,
    }


def latency_phase(
    clients: Clients,
    publish: Callable[[int], str],
    count: int,
    interval: float,
    viewers: int,
    server_pids: list[int],
) -> dict[str, Any]:
    """`count` publishes, `interval` apart; latency from just before each `publish` call
    to each viewer and to the last one."""
    clients.record()
    sent: dict[str, float] = {}
    cpu0 = cpu_of(server_pids)
    for i in range(count):
        t0 = time.monotonic()
        key = publish(i)
        sent[key] = t0
        time.sleep(interval)
    time.sleep(2.0)
    server_cpu = cpu_of(server_pids) - cpu0
    report = clients.report()
    return {
        **arrival_figures(report, sent, viewers),
        # Load-independent cost: server CPU per broadcast (both processes, idle ticks
        # included), and per delivered copy.
        "server_cpu_ms_per_event": round(server_cpu * 1000 / count, 2),
        "server_cpu_us_per_delivery": round(server_cpu * 1e6 / max(1, report.events), 1),
    }
