"""Shared Redis clients (one pool per process), from `settings.REDIS_URL`, and the one
naming function for every key and Pub/Sub channel the product writes there.

Every name starts with `settings.REDIS_KEY_PREFIX` (default ``lc``), so two deployments —
or a test run and a dev run — sharing one Redis database never touch each other's keys.
The cache (throttles, token cache) gets the same prefix through `CACHES`' KEY_PREFIX.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlparse

import redis
import redis.asyncio as aioredis
from django.conf import settings


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, health_check_interval=30)


def redis_key(*parts: object) -> str:
    """``<REDIS_KEY_PREFIX>:<part>:<part>…``: the name of a key the product writes."""
    return ":".join([settings.REDIS_KEY_PREFIX, *(str(p) for p in parts)])


def redis_channel(*parts: object) -> str:
    """The name of a Pub/Sub channel. Channels are global to a Redis server, not per
    database, so the database number is part of the name as well as the prefix."""
    return redis_key(_database_number(settings.REDIS_URL), *parts)


@lru_cache(maxsize=8)
def _database_number(redis_url: str) -> str:
    return urlparse(redis_url).path.strip("/") or "0"


def get_async_redis() -> aioredis.Redis:
    """A new asyncio client; each event loop needs its own (call once per loop)."""
    return aioredis.Redis.from_url(settings.REDIS_URL)
