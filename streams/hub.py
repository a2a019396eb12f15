"""The per-process side of the fan-out: one Redis subscriber feeding local sockets.

Each ASGI process (each event loop) has one `Hub`. It holds **one** Redis Pub/Sub
connection, subscribed to the channels of the shows and users that have sockets here
(and to a show's host-only channel for its hosts' sockets: `streams.audience`),
receives each event's serialized frame once, and hands the same string to every local
socket's `Conn` — no per-socket serialization, no per-socket Redis queue. Each `Conn` is
a bounded in-memory queue drained by its consumer's writer task: a slow socket gets
several events in one `batch` frame, and a socket that cannot keep up at all is switched
to `resync` (a fresh snapshot) instead of holding anyone else back.

The hub also runs the two periodic jobs of the room, for the shows it serves:

* presence: every heartbeat it writes its local counts and, if it wins the show's tick
  lock, broadcasts `viewers.changed` (see `streams.presence`);
* reactions: every `REACTION_TICK_SECONDS`, if it wins the show's reaction lock, it takes
  the counts accumulated by `reaction_send` and broadcasts one `reaction.burst`. The lock
  makes exactly one process take the counts per tick, so nothing is counted twice.

Ordering and gaps: Redis delivers one channel's messages in publish order, and publishers
of a show are serialized (`streams.fanout`), so a socket sees seq n, n+1, ... A socket
that nevertheless sees a gap (its process lost the Redis connection) is resynced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from channels.sessions import InstanceSessionWrapper
from django.conf import settings

from core.redis import get_async_redis, redis_key
from streams import fanout, presence
from streams.pubsub import PubSubConnection, PubSubError

logger = logging.getLogger(__name__)

# A Conn's delivery states.
BUFFERING = 0  # no snapshot yet (connecting or resyncing): hold events to sort out later
GATED = 1  # snapshot sent, waiting for the client's first frame (maybe `resume`)
LIVE = 2  # events flow to the socket
DROPPED = 3  # the peer stopped reading: the socket is being dropped, nothing is queued

#: Control frames (answers to the client's own frames) a socket may have unsent: only a
#: client that sends frames and never reads the answers gets there.
CONTROL_QUEUE_MAX = 100

PRIVATE = -1  # the `seq` slot of a private (unsequenced) frame in a pending list

#: Close code of a socket dropped because its peer stopped reading (docs/live-room.md).
CLOSE_DROPPED = 4408

#: Writes one ready-made WebSocket frame to a socket now; False when it cannot (see below).
DirectWrite = Callable[[bytes], bool]


def ws_text_frame(payload: bytes) -> bytes:
    """A complete, unmasked server-to-client text frame (RFC 6455 §5.2), built once per
    event and written as is to every socket that takes the direct path."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return bytes((0x81, 126)) + size.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + size.to_bytes(8, "big") + payload


def _uvicorn_protocol(send: Any) -> Any:
    """uvicorn's websockets-sansio protocol object behind an ASGI `send`, or None."""
    for _ in range(4):
        owner = getattr(send, "__self__", None)
        if type(owner).__module__ == "uvicorn.protocols.websockets.websockets_sansio_impl":
            return owner
        if isinstance(owner, InstanceSessionWrapper):
            # Channels' session middleware wraps `send` only to save the session on
            # accept; a data frame passes through it untouched.
            send = owner.real_send
            continue
        return None
    return None


def uvicorn_abort(send: Any) -> Callable[[], None] | None:
    """Drops a socket served by uvicorn at once: aborts its transport (no close frame —
    a peer that reads nothing would never read it). None under another server."""
    proto = _uvicorn_protocol(send)
    transport = getattr(proto, "transport", None)
    if transport is None:
        return None
    return transport.abort


def uvicorn_direct_write(send: Any) -> DirectWrite | None:
    """The direct path to a socket served by uvicorn's websockets-sansio protocol.

    Going through the ASGI `send` costs, per socket and per event, a task switch, a UTF-8
    encode and a frame serialization. When the socket has no extension (no per-message
    deflate: frames are plain), is open, and its transport is not paused, writing the
    event's ready-made frame to the transport is exactly what `send` would do, minus that
    work. Anything else — another server, compression, a paused or closing socket — gets
    None or False, and the frame goes through the socket's queue and `send` as usual.
    """
    proto = _uvicorn_protocol(send)
    if proto is None:
        return None
    try:
        from websockets.protocol import State

        conn, transport, writable = proto.conn, proto.transport, proto.writable
        if conn.extensions:
            return None
    except AttributeError:  # a uvicorn we do not know: play safe
        return None
    opened = State.OPEN

    def write(frame: bytes) -> bool:
        if (
            proto.disconnected
            or proto.close_sent
            or not writable.is_set()
            or conn.state is not opened
            or conn.expect_continuation_frame
        ):
            return False
        try:
            transport.write(frame)
        except Exception:  # closed under our feet: let the queue and `send` deal with it
            return False
        return True

    return write


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


class Conn:
    """One socket's delivery state: fed by the hub and its consumer, drained by its writer.

    Broadcast frames arrive with their seq; `last_seq` is the last one the socket has (by
    its snapshot or by delivery), so a frame at or below it is a duplicate and dropped.
    Every method is synchronous and runs on the event loop: no locks are needed.
    """

    def __init__(
        self,
        *,
        show_id: int,
        user_id: int | None,
        max_queue: int | None = None,
        hears_hosts: bool = False,
    ) -> None:
        self.show_id = show_id
        self.user_id = user_id
        # Whether the show's host-only events reach this socket (`streams.audience`).
        self.hears_hosts = hears_hosts
        self.max_queue = max_queue or int(settings.WS_SEND_QUEUE_MAX)
        self.state = BUFFERING
        self.pending: list[tuple[int, str]] = []
        self.pending_overflowed = False
        self.events: deque[str] = deque()
        self.control: deque[str] = deque()
        self.last_seq = 0
        self.snapshot_seq = 0
        self.resync_needed = False
        self.resync_reason = "lagging"
        self.close_code: int | None = None
        self.counted = False
        self.wake = asyncio.Event()
        # Set by the consumer when the server allows it; used only while the writer task
        # is idle with nothing queued, so the order of frames never changes.
        self.direct: DirectWrite | None = None
        self.writer_idle = False
        # Loop time when the writer started the send it is still waiting on (None when
        # not sending): the hub's watchdog drops a socket stuck longer than the limit.
        self.send_started: float | None = None
        # Set by the consumer under uvicorn: drops the connection at once.
        self.abort: Callable[[], None] | None = None
        # The client address an anonymous socket is counted under (`Hub.admit_anonymous`).
        self.anonymous_ip: str | None = None

    # --- fed by the hub ----------------------------------------------------------------

    def offer_show(self, seq: int, text: str, frame: bytes | None = None) -> None:
        if self.state != LIVE:
            self._hold(seq, text)
            return
        if seq <= self.last_seq:
            return
        if seq != self.last_seq + 1 or len(self.events) >= self.max_queue:
            self.request_resync()
            return
        self.last_seq = seq
        if frame is not None and self._write_now(frame):
            return
        self.events.append(text)
        self.wake.set()

    def _write_now(self, frame: bytes) -> bool:
        direct = self.direct
        return (
            direct is not None
            and self.writer_idle
            and not self.events
            and not self.control
            and direct(frame)
        )

    def offer_private(self, text: str, frame: bytes | None = None) -> None:
        if self.state != LIVE:
            self._hold(PRIVATE, text)
            return
        if frame is not None and self._write_now(frame):
            return
        if len(self.events) >= self.max_queue:
            self.request_resync()
            return
        self.events.append(text)
        self.wake.set()

    def _hold(self, seq: int, text: str) -> None:
        if self.state == DROPPED:
            return
        if len(self.pending) >= self.max_queue:
            # Held too long (a snapshot that takes ages): drop and take another snapshot.
            self.pending.clear()
            self.pending_overflowed = True
            return
        self.pending.append((seq, text))

    # --- driven by the consumer ----------------------------------------------------------

    def send_control(self, text: str) -> None:
        """A frame for this socket only (error, pong, snapshot), ahead of queued events."""
        if len(self.control) >= CONTROL_QUEUE_MAX:
            self.drop("the client does not read the answers to its frames")
            return
        self.control.append(text)
        self.wake.set()

    def drop(self, why: str) -> None:
        """Give up on a peer that stopped reading: nothing more is queued for it, and the
        connection is aborted (under uvicorn) or closed with 4408 as soon as possible."""
        if self.state == DROPPED:
            return
        logger.info("live room: dropping a socket: %s", why, extra={"show_id": self.show_id})
        self.state = DROPPED
        self.events.clear()
        self.pending.clear()
        self.control.clear()
        self.close_code = CLOSE_DROPPED
        if self.abort is not None:
            self.abort()
        self.wake.set()

    def stalled(self, now: float, limit: float) -> bool:
        """Whether the writer has waited on one send for more than `limit` seconds."""
        started = self.send_started
        return started is not None and now - started > limit

    def request_resync(self, reason: str = "lagging") -> None:
        """Drop what is queued; the writer sends `resync` and a fresh snapshot."""
        if self.state == DROPPED:
            return
        self.resync_reason = reason
        self.state = BUFFERING
        self.events.clear()
        self.pending.clear()
        self.pending_overflowed = False
        self.resync_needed = True
        self.wake.set()

    def request_close(self, code: int) -> None:
        self.close_code = code
        self.wake.set()

    def apply_snapshot(self, *, seq: int, text: str, gated: bool) -> bool:
        """Queue the snapshot (cut at `seq`); False if events were lost meanwhile."""
        if self.pending_overflowed:
            self.pending.clear()
            self.pending_overflowed = False
            return False
        self.last_seq = self.snapshot_seq = seq
        self.send_control(text)
        self.state = GATED
        if not gated:
            self.release()
        return True

    def queue_replay(self, frames: Iterable[str]) -> None:
        self.events.extend(frames)
        self.wake.set()

    def release(self) -> None:
        """Let live events flow: what was held after the snapshot's cut goes out in order."""
        if self.state != GATED:
            return
        self.state = LIVE
        held, self.pending = self.pending, []
        for seq, text in held:
            if seq == PRIVATE:
                self.events.append(text)
                continue
            if seq <= self.last_seq:
                continue
            if seq != self.last_seq + 1:
                self.request_resync()
                return
            self.last_seq = seq
            self.events.append(text)
        if len(self.events) > self.max_queue:
            self.request_resync()
            return
        self.wake.set()

    def take_events(self, limit: int) -> list[str]:
        events = self.events
        count = min(limit, len(events))
        return [events.popleft() for _ in range(count)]


# The channels a Conn listens on, by kind (an index into `Hub._conns_of`).
SHOW_CHANNEL, USER_CHANNEL, HOSTS_CHANNEL = 0, 1, 2


def _channels_of(conn: Conn) -> list[tuple[int, int, str]]:
    """(kind, show or user id, channel name) of each channel `conn` listens on: its show's,
    its user's, and its show's host-only channel when it hears host events."""
    channels = [(SHOW_CHANNEL, conn.show_id, fanout.show_channel(conn.show_id))]
    if conn.user_id is not None:
        channels.append((USER_CHANNEL, conn.user_id, fanout.user_channel(conn.user_id)))
    if conn.hears_hosts:
        channels.append((HOSTS_CHANNEL, conn.show_id, fanout.show_hosts_channel(conn.show_id)))
    return channels


class Hub:
    """One per event loop (so one per ASGI process). See the module docstring."""

    def __init__(self, *, proc_id: str | None = None, redis_url: str | None = None) -> None:
        self.proc_id = proc_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.redis_url = redis_url or settings.REDIS_URL
        self.show_conns: dict[int, set[Conn]] = {}
        self.user_conns: dict[int, set[Conn]] = {}
        self.host_conns: dict[int, set[Conn]] = {}
        self.anonymous_by_ip: dict[str, int] = {}
        self.viewers: dict[int, int] = {}
        self._refs: dict[str, int] = {}
        self._confirmed: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._route: dict[bytes, tuple[int, int]] = {}
        self._pubsub: PubSubConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._redis: aioredis.Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._closed = False

    @property
    def client_name(self) -> str:
        """This hub's Pub/Sub connection name in Redis's CLIENT LIST."""
        return "lc-hub-" + "".join(c if c.isalnum() else "-" for c in self.proc_id)

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            self._redis = get_async_redis()
        return self._redis

    def _start(self) -> None:
        if self._tasks or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._run_reader(), name="live-hub-reader"),
            loop.create_task(self._run_presence(), name="live-hub-presence"),
            loop.create_task(self._run_reactions(), name="live-hub-reactions"),
            loop.create_task(self._run_watchdog(), name="live-hub-watchdog"),
        ]

    async def close(self, *, graceful: bool = True) -> None:
        """Stop the hub. Graceful removes this process's presence at once; a non-graceful
        close behaves like a killed process (its counts expire after the TTL)."""
        self._closed = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if graceful and self.viewers:
            with contextlib.suppress(Exception):
                await self._heartbeat(dict.fromkeys(self.viewers, 0))
        if self._pubsub is not None:
            await self._pubsub.close()
            self._pubsub = None
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            self._redis = None

    # --- sockets -----------------------------------------------------------------------

    async def attach(self, conn: Conn, *, timeout: float = 10.0) -> None:
        """Route the show's and the user's frames to `conn`; returns once Redis confirms
        the subscriptions (so nothing published from now on can be missed)."""
        self._start()
        for kind, ident, channel in _channels_of(conn):
            self._conns_of(kind).setdefault(ident, set()).add(conn)
            self._route[channel.encode()] = (kind, ident)
            self._refs[channel] = self._refs.get(channel, 0) + 1
        await self.subscribed(conn, timeout=timeout)

    def _conns_of(self, kind: int) -> dict[int, set[Conn]]:
        return (self.show_conns, self.user_conns, self.host_conns)[kind]

    async def subscribed(self, conn: Conn, *, timeout: float = 10.0) -> None:
        """Wait until the conn's channels are subscribed (again, after a reconnect)."""
        waits = [self._subscription(channel) for _, _, channel in _channels_of(conn)]
        await asyncio.wait_for(asyncio.gather(*waits), timeout)

    def admit_anonymous(self, conn: Conn, *, ip: str) -> bool:
        """Count an anonymous socket under its client address; False when that address
        already holds `WS_ANON_PER_IP_MAX` of them in this process (the socket must go)."""
        held = self.anonymous_by_ip.get(ip, 0)
        if held >= int(settings.WS_ANON_PER_IP_MAX):
            return False
        self.anonymous_by_ip[ip] = held + 1
        conn.anonymous_ip = ip
        return True

    def _release_anonymous(self, conn: Conn) -> None:
        ip, conn.anonymous_ip = conn.anonymous_ip, None
        if ip is None:
            return
        held = self.anonymous_by_ip.get(ip, 0) - 1
        if held > 0:
            self.anonymous_by_ip[ip] = held
        else:
            self.anonymous_by_ip.pop(ip, None)

    def detach(self, conn: Conn) -> None:
        """Stop routing to `conn` (idempotent)."""
        self._release_anonymous(conn)
        conns = self.show_conns.get(conn.show_id)
        if conns is None or conn not in conns:
            return
        self.uncount(conn)
        gone = []
        for kind, ident, channel in _channels_of(conn):
            by_ident = self._conns_of(kind)
            members = by_ident.get(ident)
            if members is not None:
                members.discard(conn)
                if not members:
                    del by_ident[ident]
            refs = self._refs.get(channel, 0) - 1
            if refs > 0:
                self._refs[channel] = refs
            else:
                self._refs.pop(channel, None)
                self._confirmed.discard(channel)
                self._route.pop(channel.encode(), None)
                gone.append(channel)
        if gone and self._pubsub is not None and self._pubsub.connected:
            with contextlib.suppress(PubSubError, OSError):
                self._pubsub.unsubscribe(*gone)

    def count(self, conn: Conn) -> None:
        """Count the socket as a viewer (from its snapshot on)."""
        if not conn.counted:
            conn.counted = True
            self.viewers[conn.show_id] = self.viewers.get(conn.show_id, 0) + 1

    def uncount(self, conn: Conn) -> None:
        if conn.counted:
            conn.counted = False
            self.viewers[conn.show_id] = max(0, self.viewers.get(conn.show_id, 0) - 1)

    # --- subscriptions -----------------------------------------------------------------

    def _subscription(self, channel: str) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if channel in self._confirmed:
            future.set_result(None)
            return future
        waiters = self._waiters.setdefault(channel, [])
        waiters.append(future)
        if len(waiters) == 1 and self._pubsub is not None and self._pubsub.connected:
            # On failure the reader reconnects and subscribes everything it should.
            with contextlib.suppress(PubSubError, OSError):
                self._pubsub.subscribe(channel)
        return future

    def _confirm(self, channel: str) -> None:
        if self._refs.get(channel, 0) > 0:
            self._confirmed.add(channel)
        for future in self._waiters.pop(channel, []):
            if not future.done():
                future.set_result(None)

    async def _run_reader(self) -> None:
        backoff = 0.05
        connected_before = False
        while not self._closed:
            pubsub = PubSubConnection(self.redis_url, name=self.client_name)
            try:
                await pubsub.connect()
                self._pubsub = pubsub
                self._confirmed.clear()
                wanted = [ch for ch, refs in self._refs.items() if refs > 0]
                wanted += [ch for ch in self._waiters if ch not in wanted]
                if wanted:
                    pubsub.subscribe(*wanted)
                if connected_before:
                    logger.warning("live hub reconnected to Redis; resyncing sockets")
                connected_before = True
                backoff = 0.05
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except (PubSubError, OSError, TimeoutError) as exc:
                logger.warning("live hub lost Redis Pub/Sub: %s", exc)
            except Exception:  # a bug must not leave the process deaf: log, reconnect
                logger.exception("live hub reader failed")
            finally:
                self._pubsub = None
                self._confirmed.clear()
                await pubsub.close()
            # Frames published while we were not subscribed are lost to this process:
            # every socket takes a fresh snapshot once its channels are subscribed again.
            self._resync_everyone()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    def _resync_everyone(self) -> None:
        for conns in self.show_conns.values():
            for conn in conns:
                if conn.state != BUFFERING or not conn.resync_needed:
                    conn.request_resync("reconnected")

    async def _read(self, pubsub: PubSubConnection) -> None:
        route = self._route
        while True:
            msg = await pubsub.read()
            if msg.kind == b"message":
                target = route.get(msg.channel)
                if target is None:
                    continue
                payload = msg.payload
                assert isinstance(payload, bytes)
                sep = payload.index(b"|")
                body = payload[sep + 1 :]
                text = body.decode()
                frame = ws_text_frame(body)
                kind, ident = target
                if kind == SHOW_CHANNEL:
                    seq = int(payload[:sep])
                    for conn in tuple(self.show_conns.get(ident, ())):
                        conn.offer_show(seq, text, frame)
                else:  # one user's or the show's hosts': unsequenced
                    for conn in tuple(self._conns_of(kind).get(ident, ())):
                        conn.offer_private(text, frame)
            elif msg.kind == b"subscribe":
                self._confirm(msg.channel.decode())

    # --- periodic jobs -----------------------------------------------------------------

    def _script(self, source: str) -> Any:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.redis.register_script(source)
        return script

    async def _heartbeat(self, counts: dict[int, int]) -> None:
        script = self._script(presence.HEARTBEAT_SCRIPT)
        ttl = presence.ttl_ms()
        async with self.redis.pipeline(transaction=False) as pipe:
            for show_id, count in counts.items():
                await script(
                    keys=[presence.presence_key(show_id)],
                    args=[self.proc_id, count, ttl],
                    client=pipe,
                )
            await pipe.execute()

    async def presence_tick(self) -> None:
        """One presence round: write local counts, maybe broadcast `viewers.changed`."""
        counts = dict(self.viewers)
        if not counts:
            return
        await self._heartbeat(counts)
        for show_id, count in counts.items():
            if count == 0 and self.viewers.get(show_id) == 0:
                del self.viewers[show_id]
        tick = self._script(presence.TICK_SCRIPT)
        for show_id in counts:
            total = await tick(
                keys=[
                    presence.presence_key(show_id),
                    presence.tick_key(show_id),
                    presence.last_key(show_id),
                ],
                args=[self.proc_id, presence.broadcast_interval_ms()],
            )
            if int(total) >= 0:
                await database_sync_to_async(fanout.publish_show_event)(
                    show_id=show_id, type="viewers.changed", data={"count": int(total)}
                )

    async def reactions_tick(self) -> None:
        """Take and broadcast the reactions of the shows served here (one process per tick)."""
        lock_ms = int(_setting("REACTION_TICK_SECONDS", 0.3) * 1000)
        for show_id in list(self.show_conns):
            won = await self.redis.set(
                redis_key("reactions", show_id, "tick"), self.proc_id, nx=True, px=lock_ms
            )
            if won:
                await database_sync_to_async(_reaction_burst)(show_id=show_id)

    async def _run_presence(self) -> None:
        await self._every(presence.heartbeat_seconds, self.presence_tick, "presence")

    async def _run_reactions(self) -> None:
        await self._every(
            lambda: _setting("REACTION_TICK_SECONDS", 0.3), self.reactions_tick, "reactions"
        )

    async def watchdog_tick(self) -> None:
        """Drop the sockets whose peer stopped reading: their writer has waited on one send
        (uvicorn waits while the TCP buffer is full) for over `WS_SEND_STALL_SECONDS`."""
        limit = float(settings.WS_SEND_STALL_SECONDS)
        now = asyncio.get_running_loop().time()
        for conns in tuple(self.show_conns.values()):
            for conn in tuple(conns):
                if conn.stalled(now, limit):
                    conn.drop(f"no write completed for {limit:g} s")

    async def _run_watchdog(self) -> None:
        await self._every(
            lambda: max(0.05, float(settings.WS_SEND_STALL_SECONDS) / 4),
            self.watchdog_tick,
            "watchdog",
        )

    async def _every(self, interval: Any, job: Any, name: str) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            started = loop.time()
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("live hub %s tick failed", name)
            await asyncio.sleep(max(0.01, interval() - (loop.time() - started)))


def _reaction_burst(*, show_id: int) -> None:
    from streams.services import reaction_counts_take

    counts = reaction_counts_take(show_id=show_id)
    if counts:
        fanout.publish_show_event(show_id=show_id, type="reaction.burst", data={"counts": counts})


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """The hub of the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub._closed:
        hub = _hubs[loop] = Hub()
    return hub


async def close_hub() -> None:
    """Close the running loop's hub, if any (tests; process shutdown)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.pop(loop, None)
    if hub is not None:
        await hub.close()
