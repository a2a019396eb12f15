"""A socket's queues are bounded: a peer that stops reading is dropped, not kept growing
(streams.connection.Conn, streams.hub.Hub.watchdog_tick). The real-uvicorn version of this is
tests/integration/test_live_room_limits.py."""

from __future__ import annotations

import asyncio

import pytest

from streams.connection import CLOSE_DROPPED, CONTROL_QUEUE_MAX, DROPPED, LIVE, Conn
from streams.hub import Hub


def _live_conn() -> tuple[Conn, list[str]]:
    conn = Conn(show_id=1, user_id=None, max_queue=4)
    aborted: list[str] = []
    conn.abort = lambda: aborted.append("abort")
    conn.state = LIVE
    return conn, aborted


async def test_a_client_that_never_reads_its_answers_is_dropped() -> None:
    conn, aborted = _live_conn()
    for _ in range(CONTROL_QUEUE_MAX):
        conn.send_control('{"type":"pong"}')
    assert conn.state == LIVE
    conn.send_control('{"type":"pong"}')
    assert conn.state == DROPPED
    assert aborted == ["abort"]
    assert conn.close_code == CLOSE_DROPPED
    assert not conn.control and not conn.events


async def test_nothing_is_queued_for_a_dropped_socket() -> None:
    conn, _ = _live_conn()
    conn.drop("test")
    for seq in range(1, 100):
        conn.offer_show(seq, "{}")
        conn.offer_private("{}")
    conn.request_resync()
    assert conn.state == DROPPED
    assert not conn.events and not conn.pending


@pytest.mark.parametrize(("waited", "dropped"), [(0.5, False), (5.0, True)])
async def test_the_watchdog_drops_a_socket_stuck_in_one_send(
    settings, waited: float, dropped: bool
) -> None:  # type: ignore[no-untyped-def]
    settings.WS_SEND_STALL_SECONDS = 2
    hub = Hub(proc_id="watchdog-test")
    conn, aborted = _live_conn()
    hub.show_conns[1] = {conn}
    conn.send_started = asyncio.get_running_loop().time() - waited
    await hub.watchdog_tick()
    assert (conn.state == DROPPED) is dropped
    assert bool(aborted) is dropped
