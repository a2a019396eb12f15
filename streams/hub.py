"""The process hub: one per ASGI process (event loop), shared by all its live-room sockets.

It owns what a process does once for all its sockets, never per socket:

* **One Redis reader.** One Pub/Sub connection, subscribed to the channels of the shows
  and users that have sockets here (and to a show's host-only channel for its hosts'
  sockets: `streams.audience`). It receives each event's serialized frame once and hands
  the same string (and the same ready-made WebSocket frame) to every local socket's
  `Conn` — no per-socket serialization, no per-socket Redis queue. When it loses Redis it
  reconnects, resubscribes, and tells every socket to `resync`.
* **Admission and counts.** Anonymous sockets per client address (`WS_ANON_PER_IP_MAX`)
  and the local viewer count of each show.
* **Timers.** Presence: every heartbeat it writes its local counts and, if it wins the
  show's tick lock, broadcasts `viewers.changed` (`streams.presence`). Reactions: every
  `REACTION_TICK_SECONDS`, if it wins the show's reaction lock, it takes the counts
  accumulated by `reaction_send` and broadcasts one `reaction.burst` (exactly one process
  takes them per tick, so nothing is counted twice). The watchdog drops sockets whose
  peer stopped reading (`WS_SEND_STALL_SECONDS`).

What a socket does with a frame (hold, order, batch, resync) is its `Conn`'s business
(`streams.connection`); writing it is the consumer's (`streams.consumers`).

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
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from django.conf import settings

from core.redis import get_async_redis, redis_key
from streams import fanout, presence
from streams.connection import BUFFERING, Conn
from streams.frames import ws_text_frame
from streams.pubsub import PubSubConnection, PubSubError
from streams.services import reaction_counts_take

logger = logging.getLogger(__name__)


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
        lock_ms = int(float(settings.REACTION_TICK_SECONDS) * 1000)
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
            lambda: float(settings.REACTION_TICK_SECONDS), self.reactions_tick, "reactions"
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

    async def _every(
        self, interval: Callable[[], float], job: Callable[[], Awaitable[None]], name: str
    ) -> None:
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
