"""A lean webhook receiver for the benchmark: raw asyncio HTTP/1.1 on 127.0.0.1 in a
process of its own. Answers every POST 204 and records (arrival time, `webhook-id`, the
`n` in the body's data) — nothing else, so its cost stays out of the figures.

`Receiver.start()` → port; `.records()` → what arrived so far; `.stop()`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import threading
import time
from typing import Any

_N = re.compile(rb'"n":\s*(\d+)')
_ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


def _serve(conn: Any) -> None:
    records: list[tuple[float, str, int]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, msg_id = 0, ""
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    lowered = name.strip().lower()
                    if lowered == b"content-length":
                        length = int(value)
                    elif lowered == b"webhook-id":
                        msg_id = value.strip().decode()
                body = await reader.readexactly(length) if length else b""
                found = _N.search(body)
                records.append((time.time(), msg_id, int(found.group(1)) if found else -1))
                writer.write(_ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        conn.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def commands() -> None:
            while True:
                command = conn.recv()
                if command == "records":
                    conn.send(list(records))
                else:
                    loop.call_soon_threadsafe(stop.set)
                    return

        threading.Thread(target=commands, daemon=True).start()
        async with server:
            await stop.wait()

    asyncio.run(main())


class Receiver:
    def __init__(self) -> None:
        self._conn, child = multiprocessing.get_context("spawn").Pipe()
        self._proc = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(child,), daemon=True
        )
        self.port = 0

    def start(self) -> int:
        self._proc.start()
        self.port = int(self._conn.recv())
        return self.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def records(self) -> list[tuple[float, str, int]]:
        self._conn.send("records")
        return list(self._conn.recv())

    def stop(self) -> None:
        if self._proc.is_alive():
            self._conn.send("stop")
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.terminate()
