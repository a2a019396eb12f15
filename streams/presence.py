"""Viewer counts that stay right across several ASGI processes and when one dies.

Each process writes, for every show it serves, its own local socket count into the show's
presence hash — field = process id, value = ``"<count>:<expires_at_ms>"`` — every
heartbeat (`PRESENCE_HEARTBEAT_SECONDS`). A show's count is the sum of the fields that
have not expired. A process that dies stops refreshing its fields, so its viewers stop
counting after `PRESENCE_TTL_SECONDS`; no stale count survives it. Expiry times use
Redis's clock (``TIME`` inside the scripts), so clock skew between hosts does not matter.

`viewers.changed` is broadcast by whichever process first takes the show's tick lock (held
`PRESENCE_BROADCAST_SECONDS`, one second) and finds the sum different from the last one
broadcast: at most once a second per show, whatever the number of processes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.redis import get_redis, redis_key

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

_SUM = """
local all = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #all, 2 do
    local v = all[i + 1]
    local sep = string.find(v, ':', 1, true)
    local count = tonumber(string.sub(v, 1, sep - 1))
    local expires = tonumber(string.sub(v, sep + 1))
    if expires > now then
        total = total + count
    else
        redis.call('HDEL', KEYS[1], all[i])
    end
end
"""

# KEYS[1] presence hash; ARGV: process id, local count, ttl ms.
HEARTBEAT_SCRIPT = (
    _NOW_MS
    + """
if tonumber(ARGV[2]) > 0 then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + tonumber(ARGV[3])))
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 4)
else
    redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
"""
)

# KEYS[1] presence hash.
SUM_SCRIPT = _NOW_MS + _SUM + "return total\n"

# KEYS: presence hash, tick lock, last broadcast value; ARGV: process id, lock ms.
# Returns the count to broadcast, or -1 (lock held elsewhere, or nothing changed).
TICK_SCRIPT = (
    """
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return -1
end
"""
    + _NOW_MS
    + _SUM
    + """
local last = redis.call('GET', KEYS[3])
if last and tonumber(last) == total then
    return -1
end
redis.call('SET', KEYS[3], total, 'EX', 86400)
return total
"""
)


def presence_key(show_id: int) -> str:
    return redis_key("presence", show_id)


def tick_key(show_id: int) -> str:
    return redis_key("presence", show_id, "tick")


def last_key(show_id: int) -> str:
    return redis_key("presence", show_id, "last")


def heartbeat_seconds() -> float:
    return float(settings.PRESENCE_HEARTBEAT_SECONDS)


def ttl_ms() -> int:
    return int(float(settings.PRESENCE_TTL_SECONDS) * 1000)


def broadcast_interval_ms() -> int:
    return int(float(settings.PRESENCE_BROADCAST_SECONDS) * 1000)


_sum_script: Any = None


def viewer_count(*, show_id: int) -> int:
    """Viewers connected to the show now, summed over live processes (sync)."""
    global _sum_script
    if _sum_script is None:
        _sum_script = get_redis().register_script(SUM_SCRIPT)
    return int(_sum_script(keys=[presence_key(show_id)], client=get_redis()))
