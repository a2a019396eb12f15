"""One socket's delivery state machine (`Conn`): what may go out to it, and in which order.

It owns the rules between the process hub, which feeds it frames, and the consumer, which
writes what it yields to the socket:

* **States.** ``BUFFERING`` (no snapshot yet: connecting or resyncing; events are held to
  be sorted out against the snapshot's cut) → ``GATED`` (snapshot queued; live events wait
  for the client's first frame, or `WS_RESUME_GRACE_SECONDS`) → ``LIVE`` (events flow).
  ``DROPPED``: the peer stopped reading; nothing is queued any more.
* **Order and gaps.** Broadcast frames arrive with their seq; `last_seq` is the last one
  the socket has (by its snapshot or by delivery), so a frame at or below it is a
  duplicate and dropped, and a gap switches the socket to `resync`.
* **Resume.** `resume_range` decides what a `resume` frame needs (nothing, a `resync`,
  or a replay of a seq range, fetched by the consumer from `streams.catchup`), and
  `resume_replay` queues that replay ahead of the held live events.
* **Bounds and batching.** Events and held events are bounded (`WS_SEND_QUEUE_MAX`: past
  it, `resync`), answers to the client's own frames too (`CONTROL_QUEUE_MAX`: past it the
  peer is dropped); a backlog of `WS_BATCH_MIN` or more events leaves as one `batch`.

Every method is synchronous and runs on the event loop: no locks are needed. See
docs/live-room.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable

from django.conf import settings

from streams.direct import DirectWrite
from streams.frames import batch_frame

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


class Conn:
    """One socket's delivery state: fed by the hub and its consumer, drained by its writer."""

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
        self.batch_min = int(settings.WS_BATCH_MIN)
        self.batch_max = int(settings.WS_BATCH_MAX)
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
        # Opens the gate when the client sends nothing after its snapshot (`joined`).
        self._grace: asyncio.TimerHandle | None = None

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

    def joined(self, *, seq: int, text: str) -> None:
        """The socket's first snapshot: queue it and gate live events.

        They wait for the client's first frame (a `resume` must be answered before them to
        keep order), or for `WS_RESUME_GRACE_SECONDS` when the client sends nothing."""
        if not self.apply_snapshot(seq=seq, text=text, gated=True):
            self.request_resync()
        grace = float(settings.WS_RESUME_GRACE_SECONDS)
        self._grace = asyncio.get_running_loop().call_later(grace, self.release)

    def client_frame(self, *, resume: bool) -> None:
        """The client sent a frame: unless it is a valid `resume` (which opens the gate
        itself once its replay is queued), live events may flow now."""
        if not resume:
            self.release()

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

    def close(self) -> None:
        """The socket is gone: no timer of its own may fire any more."""
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    # --- resume -------------------------------------------------------------------------

    def resume_range(self, after_seq: int) -> tuple[int, int] | None:
        """What a `resume {after_seq}` needs: the (after, upto] seq range to replay before
        live events, or None when it is settled here (nothing to replay, or a `resync`).

        Only possible while no live event has gone out since the snapshot: after one,
        replaying older events would break the order, so the socket starts over from a
        fresh snapshot (`late_resume`). A client ahead of the server cannot be trusted
        (`ahead`). During a resync the fresh snapshot supersedes any resume."""
        if self.state == BUFFERING:
            return None
        upto = self.snapshot_seq
        if self.state == LIVE:
            if after_seq >= upto:
                return None  # it has everything up to the snapshot, and live events since
            if self.last_seq != upto:
                self.request_resync("late_resume")
                return None
            self.state = GATED  # nothing went out yet: hold live events, replay first
        if after_seq > upto:
            self.request_resync("ahead")
            return None
        if after_seq == upto:
            self.release()
            return None
        return after_seq, upto

    def resume_replay(self, frames: list[str] | None) -> None:
        """Queue the replay of `resume_range` (None: not retained any more → `resync`),
        then let the held live events follow it."""
        if self.state != GATED:
            return  # resynced meanwhile
        if frames is None:
            self.request_resync("too_old")
            return
        self.queue_replay(frames)
        self.release()

    def queue_replay(self, frames: Iterable[str]) -> None:
        self.events.extend(frames)
        self.wake.set()

    # --- drained by the writer ----------------------------------------------------------

    def take_events(self, limit: int) -> list[str]:
        events = self.events
        count = min(limit, len(events))
        return [events.popleft() for _ in range(count)]

    def take_batch(self) -> str | None:
        """A backlog of at least `WS_BATCH_MIN` events as one `batch` frame (at most
        `WS_BATCH_MAX` of them); None when fewer are queued (`take_single` sends those)."""
        if len(self.events) < self.batch_min:
            return None
        return batch_frame(self.take_events(self.batch_max))

    def take_single(self) -> str | None:
        """The next queued event on its own, while the backlog is below a batch."""
        events = self.events
        if events and len(events) < self.batch_min:
            return events.popleft()
        return None
