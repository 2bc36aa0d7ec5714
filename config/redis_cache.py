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

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple, SharedRedisCacheClient] = {}
_lock = threading.Lock()


class SharedRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._redis: dict[int, object] = {}

    def _get_connection_pool(self, write):
        with _lock:
            return super()._get_connection_pool(write)

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._redis.get(index)
        if client is None:
            client = self._redis[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class RedisCache(DjangoRedisCache):
    @cached_property
    def _cache(self):
        key = (os.getpid(), repr(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = SharedRedisCacheClient(self._servers, **self._options)
        return client
