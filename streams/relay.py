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
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

DRAIN_SECONDS = 5.0

_lock = threading.Lock()
_queue: queue.Queue[Callable[[], object] | None] | None = None
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


def relay_submit(publish: Callable[[], object]) -> None:
    """Run `publish` (a committed event's publication) on the relay thread, or now when
    LIVE_EVENTS_RELAY is off or in a Celery worker (`relay_inline`)."""
    if _inline or not settings.LIVE_EVENTS_RELAY:
        publish()
        return
    _relay_queue().put(publish)


def relay_flush(timeout: float = DRAIN_SECONDS) -> bool:
    """Wait until everything submitted so far is published; False on timeout."""
    q = _queue
    if q is None or _pid != os.getpid():
        return True
    done = threading.Event()
    q.put(done.set)
    return done.wait(timeout)


def _relay_queue() -> queue.Queue[Callable[[], object] | None]:
    global _queue, _thread, _pid
    if _queue is not None and _pid == os.getpid():
        return _queue
    with _lock:
        # A forked child (a Celery pool process) gets a queue and thread of its own.
        if _queue is None or _pid != os.getpid():
            q: queue.Queue[Callable[[], object] | None] = queue.Queue()
            thread = threading.Thread(target=_run, args=(q,), name="live-events-relay", daemon=True)
            thread.start()
            _queue, _thread, _pid = q, thread, os.getpid()
            atexit.register(_drain, q, thread)
        return _queue


def _run(q: queue.Queue[Callable[[], object] | None]) -> None:
    while True:
        publish = q.get()
        if publish is None:
            return
        try:
            publish()
        except Exception:  # never let one event stop the relay
            logger.exception("live event not published")
        finally:
            if q.empty():
                close_old_connections()


def _drain(q: queue.Queue[Callable[[], object] | None], thread: threading.Thread) -> None:
    q.put(None)
    thread.join(DRAIN_SECONDS)
