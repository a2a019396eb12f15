"""Shared Redis clients (one pool per process), from `settings.REDIS_URL`."""

from __future__ import annotations

from functools import lru_cache

import redis
import redis.asyncio as aioredis
from django.conf import settings


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, health_check_interval=30)


def get_async_redis() -> aioredis.Redis:
    """A new asyncio client; each event loop needs its own (call once per loop)."""
    return aioredis.Redis.from_url(settings.REDIS_URL)
