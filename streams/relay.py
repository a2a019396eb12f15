"""The live room's event relay: publishes committed events off the request's thread.

Services emit events inside their transaction; after COMMIT `streams.events` hands each to
`relay_submit`. With LIVE_EVENTS_RELAY on (the default outside tests), that only appends the
event to this process's queue and returns: a buy answers 201 as soon as its hold is durable,
without waiting for the show's `seq` allocation (a PostgreSQL transaction on the show row),
the Redis append-and-publish, or another buy of the same show holding that row. One daemon
thread per process publishes the queue in order through `streams.fanout`, which owns
sequencing exactly as before: a `seq` is taken only when its event is appended to the
retention stream, so it still goes up by 1 per event and is never reused, and resume works
unchanged.

What the relay does not change: an event is published after its transaction committed, or
never (a process killed between COMMIT and publish loses the queued events, as it lost the
one it was about to publish before; no `seq` was consumed for them, so viewers see no gap,
and their next snapshot or event carries the state). At exit the queue is drained for up to
`DRAIN_SECONDS`.

Coalescing (`coalesce=` key, `LIVE_EVENTS_COALESCE_MS`): an event that only states the
latest value of something (`stock.changed`: a variant's available count) waits up to the
window, and a newer one with the same key replaces it meanwhile, so a burst of sales sends
viewers the latest count a few times a second instead of every step (each step would cost
a `seq`, a Redis write and one frame per viewer). Only that event waits: everything else
is published in queue order as before. `seq` is taken when the surviving event is
published, so it stays +1 and never reused.
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

DRAIN_SECONDS = 5.0

Publish = Callable[[], object]


@dataclass(frozen=True)
class _Due:
    """A coalesced key's turn: publish its latest event at `at` (monotonic)."""

    at: float
    key: Hashable


@dataclass(frozen=True)
class _Flush:
    """Publish everything pending now, coalesced or not, then set `done`."""

    done: threading.Event


Item = Publish | _Due | _Flush | None

_lock = threading.Lock()
_queue: queue.Queue[Item] | None = None
# The latest event of each coalesced key that is waiting for its turn (this process's).
_coalesced: dict[Hashable, Publish] = {}
_tiebreak = itertools.count()
_thread: threading.Thread | None = None
_pid = 0
_inline = False


def relay_inline() -> None:
    """From now on, this process (and the processes it forks) publishes in the caller's
    thread. For Celery workers (`livecommerce/celery.py`): no request waits there, and
    Celery's Django fixup closes the database pool before and after every task, so the
    relay thread taking its `seq` in PostgreSQL could meet a closed pool and lose the
    event (bench/auction lost `auction.closed` events that way)."""
    global _inline
    _inline = True


def relay_submit(publish: Publish, *, coalesce: Hashable | None = None) -> None:
    """Run `publish` (a committed event's publication) on the relay thread, or now when
    LIVE_EVENTS_RELAY is off or in a Celery worker (`relay_inline`). With `coalesce`, a
    newer event with the same key submitted within LIVE_EVENTS_COALESCE_MS replaces it."""
    if _inline or not settings.LIVE_EVENTS_RELAY:
        publish()
        return
    q = _relay_queue()
    window = settings.LIVE_EVENTS_COALESCE_MS / 1000
    if coalesce is None or window <= 0:
        q.put(publish)
        return
    with _lock:
        scheduled = coalesce in _coalesced
        _coalesced[coalesce] = publish
    if not scheduled:
        q.put(_Due(time.monotonic() + window, coalesce))


def relay_flush(timeout: float = DRAIN_SECONDS) -> bool:
    """Publish everything submitted so far (coalesced events without waiting for their
    window) and wait until it is done; False on timeout."""
    q = _queue
    if q is None or _pid != os.getpid():
        return True
    done = threading.Event()
    q.put(_Flush(done))
    return done.wait(timeout)


def _relay_queue() -> queue.Queue[Item]:
    global _queue, _thread, _pid
    if _queue is not None and _pid == os.getpid():
        return _queue
    with _lock:
        # A forked child (a Celery pool process) gets a queue and thread of its own.
        if _queue is None or _pid != os.getpid():
            q: queue.Queue[Item] = queue.Queue()
            _coalesced.clear()  # a forked child's: its parent's pending events are not its own
            thread = threading.Thread(target=_run, args=(q,), name="live-events-relay", daemon=True)
            thread.start()
            _queue, _thread, _pid = q, thread, os.getpid()
            atexit.register(_drain, q, thread)
        return _queue


def _IDLE() -> None:
    """What `_run` got when no item arrived before the next coalesced key's turn."""


def _run(q: queue.Queue[Item]) -> None:
    due: list[tuple[float, int, Hashable]] = []  # coalesced keys by their turn
    while True:
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else None
        try:
            item = q.get(timeout=timeout)
        except queue.Empty:
            item = _IDLE
        if item is None:  # exit: publish what is pending, then stop
            _publish_due(due, everything=True)
            return
        if isinstance(item, _Due):
            heapq.heappush(due, (item.at, next(_tiebreak), item.key))
        elif isinstance(item, _Flush):
            _publish_due(due, everything=True)
            item.done.set()
        elif item is not _IDLE:
            _publish(item)
        _publish_due(due)
        if q.empty():
            close_old_connections()


def _publish_due(due: list[tuple[float, int, Hashable]], *, everything: bool = False) -> None:
    now = time.monotonic()
    while due and (everything or due[0][0] <= now):
        _, _, key = heapq.heappop(due)
        with _lock:
            publish = _coalesced.pop(key, None)
        if publish is not None:
            _publish(publish)


def _publish(publish: Publish) -> None:
    try:
        publish()
    except Exception:  # never let one event stop the relay
        logger.exception("live event not published")


def _drain(q: queue.Queue[Item], thread: threading.Thread) -> None:
    q.put(None)
    thread.join(DRAIN_SECONDS)
