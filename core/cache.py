"""The cache backend: Django's Redis cache, with one client per connection pool.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` on every cache call, and
redis-py fills ~170 response callbacks in each constructor: measured, that was about a
third of the CPU of an authenticated no-op request (whose only cache call is the token
lookup, `accounts/authentication.py`). A `redis.Redis` is thread-safe (each command
borrows a connection from the pool), so one per pool serves every thread of a process;
after a fork the pool itself reconnects (redis-py checks the pid).
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class PooledRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class PooledRedisCache(RedisCache):
    """`django.core.cache.backends.redis.RedisCache` reusing its clients."""

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = PooledRedisCacheClient
