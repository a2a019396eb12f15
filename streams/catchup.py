"""How a socket catches up: the `show.snapshot` with its seq cut, and the `resume` replay.

Publishing (`streams.fanout`) appends every broadcast event to the show's retention
stream; this module reads what it wrote. A joining (or resyncing) socket gets
`room_snapshot_frame`: the room's state for its user, cut at the seq it includes. A
`resume {after_seq}` is answered from `show_events_between`: the retained frames up to
the snapshot's cut, exactly and in order, or None (`resync`) when any is gone. The
reasoning behind the cut is in docs/live-room.md ("The subscribe/snapshot race").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.errors import NotFound
from core.redis import get_redis
from streams.fanout import show_stream_key
from streams.frames import control_frame, now_iso
from streams.models import Show
from streams.presence import viewer_count
from streams.selectors import show_snapshot


def show_last_seq_redis(*, show_id: int) -> int:
    """Top seq of the show's retention stream (0 when Redis holds none)."""
    top = get_redis().xrevrange(show_stream_key(show_id), count=1)
    return _seq_of(top[0][0]) if top else 0


def _seq_of(entry_id: bytes | str | None) -> int:
    if entry_id is None:
        return 0
    raw = entry_id if isinstance(entry_id, bytes) else entry_id.encode()
    return int(raw.split(b"-")[0])


def parse_entries(entries: list[Any]) -> list[tuple[int, bytes]]:
    """(seq, frame bytes) of retention stream entries (XRANGE's answer)."""
    return [(_seq_of(entry_id), fields[b"f"]) for entry_id, fields in entries]


def replay_complete(events: list[tuple[int, bytes]], *, after_seq: int, upto_seq: int) -> bool:
    """Whether `events` are exactly the seqs after_seq+1 .. upto_seq, in order."""
    if len(events) != upto_seq - after_seq:
        return False
    return all(seq == after_seq + 1 + i for i, (seq, _) in enumerate(events))


# --- snapshots -----------------------------------------------------------------------------


def room_snapshot(*, show_id: int, user: Any) -> dict[str, Any]:
    """`show.snapshot` data for `user`; its `seq` is the last event it includes.

    Raises NotFound (no such show) or Forbidden (a rehearsal the user does not host).

    The cut is read *before* the state, and after the caller's socket is subscribed: every
    event at or below it changed data that committed before its seq was handed out, so
    the state read next includes it. Events above it reach the socket live. (A change
    committed just before the cut's read but sequenced just after it shows up in both
    places; events are idempotent state updates and chat carries ids.) Redis's top id is
    taken with PostgreSQL's `last_seq`, whichever is higher: Redis knows a publish whose
    COMMIT is still in flight, PostgreSQL knows everything when Redis lost its data.
    """
    redis_seq = show_last_seq_redis(show_id=show_id)
    pg_seq = Show.objects.filter(pk=show_id).values_list("last_seq", flat=True).first()
    if pg_seq is None:
        raise NotFound("No such show.")
    data = dict(show_snapshot(show_id=show_id, user=user))
    data["viewer_count"] = viewer_count(show_id=show_id)
    data["seq"] = max(redis_seq, int(pg_seq))
    # Clients correct countdowns (an auction's ends_at) by their offset from this.
    data["server_time"] = now_iso()
    return data


def room_snapshot_frame(*, show_id: int, user: Any) -> tuple[int, str]:
    """The `show.snapshot` frame for `user` and the seq it is cut at (sync: run it off
    the event loop)."""
    data = room_snapshot(show_id=show_id, user=user)
    return int(data["seq"]), control_frame("show.snapshot", data)


# --- replay --------------------------------------------------------------------------------


async def show_events_between(
    client: Any, *, show_id: int, after_seq: int, upto_seq: int
) -> list[str] | None:
    """The retained frames with seq in (after_seq, upto_seq], in order — or None when any
    of them is no longer retained (too old, or Redis lost them): the caller resyncs."""
    count = upto_seq - after_seq
    if count <= 0:
        return []
    if count > int(settings.FANOUT_RETAIN_EVENTS) * 2:
        return None
    entries = await client.xrange(
        show_stream_key(show_id), min=f"{after_seq + 1}-0", max=f"{upto_seq}-0", count=count + 1
    )
    events = parse_entries(entries)
    if not replay_complete(events, after_seq=after_seq, upto_seq=upto_seq):
        return None
    return [frame.decode() for _, frame in events]
