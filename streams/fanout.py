"""The publishing side of the live room: sequence, retain and publish show and user events.

Every broadcast event of a show gets the next `seq` of that show, is serialized **once**
into its wire frame ``{"type", "seq", "ts", "data"}``, appended to the show's retention
stream (for `resume`) and PUBLISHed on the show's Redis channel. Each ASGI process holds
one Pub/Sub connection (`streams.hub`) and pushes those bytes, unchanged, to its local
sockets. Private events go to a per-user channel and are not retained. The frame format
is `streams.frames`; snapshots and the `resume` replay, which read what is retained here,
are `streams.catchup`.

Why `seq` comes from PostgreSQL (docs/live-room.md, "Sequence numbers"):

* ``UPDATE streams_show SET last_seq = last_seq + 1 ... RETURNING last_seq`` hands out
  exactly +1 per event, and the value is durable, so a Redis that loses its data cannot
  make a number come back.
* The row lock taken by that UPDATE is held while the frame is appended and published
  (one Lua script, atomic in Redis) and released at COMMIT. Two publishers of one show are
  therefore serialized, so Redis receives — and every subscriber sees — the events in
  `seq` order. Shows do not contend with each other.
* The script refuses a `seq` that is not above the stream's last id. That closes the one
  window where PostgreSQL could hand a number out twice: the script ran but the COMMIT
  was lost (process killed, connection dropped, or a PostgreSQL crash right after an
  asynchronous commit). The publisher then moves `last_seq` past Redis's high-water mark
  and retries, so the number is never reused. Only both stores losing the same recent
  writes at once (a double fault) could repeat a number.
* If Redis is unreachable the transaction rolls back: no number is consumed, the event is
  logged as lost, and sockets are told `resync` when their process reconnects.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction

from core.errors import InternalError
from core.redis import get_redis, redis_channel, redis_key
from streams.audience import Audience, event_audience
from streams.frames import encode_frame

logger = logging.getLogger(__name__)

#: Retention streams live a day after their last event (a show is over long before).
STREAM_TTL_MS = 24 * 3600 * 1000

# Atomic append-and-publish. XADD with the explicit id ``<seq>-0`` fails when the id is not
# above the stream's top id, which is exactly the "never reuse a seq" guard; on failure
# nothing is published and the top seq is returned so the caller can move past it.
_APPEND_PUBLISH = """
local ok = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], ARGV[1] .. '-0', 'f', ARGV[2])
if type(ok) == 'table' and ok.err then
    local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
    if top[1] then
        return {0, top[1][1]}
    end
    return redis.error_reply(ok.err)
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[4], ARGV[1] .. '|' .. ARGV[2])
return {1, ok}
"""


# --- names ---------------------------------------------------------------------------------


# Every name goes through `core.redis` (REDIS_KEY_PREFIX; channels also carry the database
# number: Pub/Sub is global to a Redis server).


def show_channel(show_id: int) -> str:
    return redis_channel("show", show_id)


def user_channel(user_id: int) -> str:
    return redis_channel("user", user_id)


def show_hosts_channel(show_id: int) -> str:
    """The channel of a show's host-only events (`streams.audience`)."""
    return redis_channel("show", show_id, "hosts")


def show_stream_key(show_id: int) -> str:
    return redis_key("show", show_id, "events")


# --- publishing ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _append_publish_script() -> Any:
    # redis-py runs it with EVALSHA and reloads it after a Redis restart.
    return get_redis().register_script(_APPEND_PUBLISH)


def _seq_next(show_id: int) -> int | None:
    with connection.cursor() as cursor:
        # Not waiting for the WAL flush halves the publish latency. A PostgreSQL crash can
        # then lose the last few hundred milliseconds of increments, which is exactly the
        # "COMMIT lost" case the Redis high-water check recovers from (see the docstring).
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            "UPDATE streams_show SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq",
            [show_id],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _seq_move_past(show_id: int, high_water: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE streams_show SET last_seq = GREATEST(last_seq, %s) WHERE id = %s",
            [high_water, show_id],
        )


def show_event_publish(*, show_id: int, type: str, data: dict[str, Any]) -> int | None:
    """Sequence, retain and publish one broadcast event now; returns its `seq`.

    Returns None when the show does not exist. Raises `redis.RedisError` when Redis is
    unreachable (nothing is consumed: the transaction rolls back). Call it outside any
    transaction of your own (`streams.events.emit_show_event` does, after commit): the
    show row stays locked until the surrounding transaction ends.
    """
    script = _append_publish_script()
    for _attempt in range(3):
        with transaction.atomic():
            seq = _seq_next(show_id)
            if seq is None:
                return None
            frame = encode_frame(type=type, seq=seq, data=data)
            result = script(
                keys=[show_stream_key(show_id)],
                args=[
                    seq,
                    frame,
                    settings.FANOUT_RETAIN_EVENTS,
                    show_channel(show_id),
                    STREAM_TTL_MS,
                ],
            )
            if int(result[0]) == 1:
                return seq
            # Redis already holds a higher seq than PostgreSQL: an earlier publish reached
            # Redis but its COMMIT was lost. Move past it (committed) and try again.
            high_water = int(bytes(result[1]).split(b"-")[0])
            logger.warning(
                "seq behind Redis; moving past it",
                extra={"show_id": show_id, "seq": seq, "high_water": high_water},
            )
            _seq_move_past(show_id, high_water)
    raise InternalError(f"could not allocate a seq for show {show_id}", retryable=True)


def publish_show_event(*, show_id: int, type: str, data: dict[str, Any]) -> int | None:
    """Deliver show event `type` to its audience in `show_id` (called after commit).

    Everyone's events are sequenced and retained (returns the `seq`); host-only events go
    to the show's hosts channel without a `seq` (returns None). See `streams.audience`.
    Never raises for an unreachable Redis: the data change already committed, so failing
    the caller would only turn a lost notification into a 500. The loss is logged and the
    hubs tell their sockets to `resync` when they reconnect.
    """
    audience = event_audience(type)
    if audience is Audience.USER:
        raise InternalError(f"{type!r} is for one user: use publish_user_event")
    if audience is Audience.HOSTS:
        _publish_unsequenced(
            channel=show_hosts_channel(show_id), type=type, data=data, show_id=show_id
        )
        return None
    try:
        return show_event_publish(show_id=show_id, type=type, data=data)
    except redis.RedisError:
        logger.exception("show event lost", extra={"show_id": show_id, "event_type": type})
        return None


def publish_user_event(*, user_id: int, type: str, data: dict[str, Any]) -> None:
    """Send a private event to every open socket of one user (not sequenced, not retained)."""
    _publish_unsequenced(channel=user_channel(user_id), type=type, data=data, user_id=user_id)


def _publish_unsequenced(*, channel: str, type: str, data: dict[str, Any], **where: int) -> None:
    frame = encode_frame(type=type, data=data)
    try:
        get_redis().publish(channel, b"0|" + frame)
    except redis.RedisError:
        logger.exception("private event lost", extra={**where, "event_type": type})
