"""Django's Redis cache backend, with one client and connection pool per process.

Under ASGI Django keeps cache handlers in a context-local, so every request
builds a new ``RedisCache``; the stock backend then makes a new connection
pool (a new TCP connection to Redis, dropped after the request) and a new
``redis.Redis`` object for every cache call. Profiled on the do-nothing API
endpoint, that churn was a fifth of its CPU and a connect per request. Here
every handler in a process shares one client per server list and options;
redis-py's pool is thread-safe and re-creates its connections after a fork.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property

if TYPE_CHECKING:
    from redis import ConnectionPool, Redis

_clients: dict[tuple[int, str, str], SharedRedisCacheClient] = {}
_lock = threading.Lock()


class SharedRedisCacheClient(RedisCacheClient):
    if TYPE_CHECKING:  # Django's private members this class builds on; the stubs leave them out.
        _client: type[Redis]

        def _get_connection_pool_index(self, write: bool) -> int: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._redis: dict[int, Redis] = {}

    def _get_connection_pool(self, write: bool) -> ConnectionPool:
        with _lock:
            # Private in Django and absent from django-stubs.
            pool: ConnectionPool = super()._get_connection_pool(write)  # type: ignore[misc]
        return pool

    def get_client(self, key: str | bytes | memoryview | None = None, *, write: bool = False) -> Redis:
        index = self._get_connection_pool_index(write)
        client = self._redis.get(index)
        if client is None:
            client = self._redis[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class RedisCache(DjangoRedisCache):
    if TYPE_CHECKING:  # set by Django's RedisCache.__init__; private, so not in the stubs
        _servers: list[str]
        _options: dict[str, Any]

    @cached_property
    def _cache(self) -> SharedRedisCacheClient:
        key = (os.getpid(), repr(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = SharedRedisCacheClient(self._servers, **self._options)
        return client
