"""The cache backend: Django's Redis cache, which a Redis outage cannot turn into a 500.

crmviewer only ever uses the cache to save work (contacts Vitec already sent, sessions the
database holds, the circuit breaker's counts), so every page can be served without it. settings.py
maps a `redis://` (or `rediss://`) CACHE_URL to `ResilientRedisCache`, which:

- answers every operation that cannot reach Redis (connection refused, reset, timed out) as a miss:
  `get` gives the default, `get_many` nothing, `add`/`delete`/`has_key`/`touch` False, `set` does
  nothing and `incr` raises ValueError as for a missing key;
- logs one warning when Redis becomes unreachable and one info line when it answers again (per
  process and Redis address, however many threads and cache objects there are);
- after a failure, does not try Redis again for `down_seconds` (5 s): pages then pay no connection
  attempt per operation; the first operation after that tries again;
- connects and reads with short socket timeouts by default (0.5 s and 1 s), so a Redis that
  hangs costs a page at most that, once per `down_seconds`;
- reads only plain data back (bytes, text, numbers, lists, dicts): a value that is not what we
  store, or is not a pickle at all, is a miss with a warning, never an exception, and never runs
  code. Values worth protecting are sealed before they reach the cache (crmviewer/sealing.py).

`is_down` says whether Redis is currently taken as unreachable (/healthz reports it as
"degraded"). The OPTIONS `down_seconds`, `socket_timeout` and `socket_connect_timeout` can be set
in CACHE_URL's query string (`redis://host:6379/1?socket_timeout=2`).

`FailoverStore` is the circuit breaker's store: the shared cache while it works, a process-local
store while it does not.
"""

from __future__ import annotations

import io
import logging
import pickle
import threading
import time
from collections.abc import Buffer, Callable, Iterable
from typing import Any, SupportsInt

import redis.exceptions
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisSerializer
from django.utils.functional import cached_property

logger = logging.getLogger(__name__)

# What a Redis that is stopped, restarting, unreachable or hanging raises (redis-py wraps the
# socket errors in these).
UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
DEFAULT_DOWN_SECONDS = 5.0
DEFAULT_SOCKET_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 1.0}


class _Unreadable:
    def __repr__(self) -> str:
        return "<unreadable cache value>"


UNREADABLE: Any = _Unreadable()


class _PlainUnpickler(pickle.Unpickler):
    """Builds plain data only: a pickle that names a class or function (which could run code)
    is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


class PlainDataSerializer(RedisSerializer):
    """Django's Redis serializer, reading back plain data only; anything else is UNREADABLE."""

    def loads(self, data: SupportsInt | Buffer) -> Any:
        try:
            return int(data)
        except ValueError:
            pass
        if not isinstance(data, Buffer):  # text that is no number: not what Django stores
            return UNREADABLE
        try:
            return _PlainUnpickler(io.BytesIO(data)).load()
        except Exception:  # not a pickle, truncated, or not plain data: all the same, a miss
            return UNREADABLE


class _Availability:
    """Whether one Redis address is reachable from this process, shared by every cache object
    (Django makes one per thread) that talks to it."""

    def __init__(self, down_seconds: float) -> None:
        self.down_seconds = down_seconds
        self.down = False
        self.since = 0.0
        self.retry_at = 0.0
        self._lock = threading.Lock()

    def skipping(self) -> bool:
        return self.down and time.monotonic() < self.retry_at

    def failed(self, exc: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            self.retry_at = now + self.down_seconds
            if self.down:
                return
            self.down, self.since = True, now
        logger.warning(
            "The cache is unavailable (%s: %s): pages carry on without it (sessions from the "
            "database, contacts from Vitec, the circuit breaker per process); next try in %.0f s",
            type(exc).__name__,
            exc,
            self.down_seconds,
        )

    def succeeded(self) -> None:
        if not self.down:
            return
        with self._lock:
            if not self.down:
                return
            self.down = False
            seconds = time.monotonic() - self.since
        logger.info("The cache is available again after %.1f s", seconds)


_availability: dict[str, _Availability] = {}
_availability_lock = threading.Lock()


def _availability_for(location: str, down_seconds: float) -> _Availability:
    with _availability_lock:
        state = _availability.get(location)
        if state is None:
            state = _availability[location] = _Availability(down_seconds)
        state.down_seconds = down_seconds
        return state


_clients: dict[tuple[tuple[str, ...], str], Any] = {}
_clients_lock = threading.Lock()


class ResilientRedisCache(RedisCache):
    """Django's RedisCache whose operations never fail because Redis is unreachable."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        options = {**DEFAULT_SOCKET_OPTIONS, **(params.get("OPTIONS") or {})}
        down_seconds = float(options.pop("down_seconds", DEFAULT_DOWN_SECONDS))
        options.setdefault("serializer", PlainDataSerializer)
        super().__init__(server, {**params, "OPTIONS": options})
        location = server if isinstance(server, str) else ",".join(server)
        self._availability = _availability_for(location, down_seconds)

    @cached_property
    def _cache(self) -> Any:
        """One Redis client (and so one connection pool) a process for each address and options,
        shared by the cache objects Django makes one a thread: a thread made for a single lookup
        (its Vitec calls' threads, which read and write the circuit breaker and the call slots
        here) borrows a pooled connection instead of opening its own."""
        servers: list[str] = self._servers  # type: ignore[attr-defined]
        options: dict[str, Any] = self._options  # type: ignore[attr-defined]
        key = (tuple(servers), repr(sorted(options.items(), key=str)))
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(servers, **options)  # type: ignore[attr-defined]
        return client

    @property
    def is_down(self) -> bool:
        """True from a failed operation until one succeeds again."""
        return self._availability.down

    def _guarded(
        self, fallback: Any, operation: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        availability = self._availability
        if availability.skipping():
            return fallback
        try:
            result = operation(*args, **kwargs)
        except UNAVAILABLE as exc:
            availability.failed(exc)
            return fallback
        availability.succeeded()
        return result

    def add(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> bool:
        return self._guarded(False, super().add, key, value, timeout, version)

    def get(self, key: Any, default: Any | None = None, version: int | None = None) -> Any:
        value = self._guarded(default, super().get, key, default, version)
        if value is UNREADABLE:
            logger.warning("The cache held a value that is not plain data: taken as a miss")
            return default
        return value

    def set(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        self._guarded(None, super().set, key, value, timeout, version)

    def touch(
        self, key: Any, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        return self._guarded(False, super().touch, key, timeout, version)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._guarded(False, super().delete, key, version)

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        values = self._guarded({}, super().get_many, keys, version)
        readable = {key: value for key, value in values.items() if value is not UNREADABLE}
        if len(readable) < len(values):
            logger.warning(
                "The cache held %d values that are not plain data: taken as misses",
                len(values) - len(readable),
            )
        return readable

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._guarded(False, super().has_key, key, version)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        missing = object()
        value = self._guarded(missing, super().incr, key, delta, version)
        if value is missing:
            raise ValueError(f"Key '{key}' not found (the cache is unavailable).")
        return value

    def set_many(
        self,
        data: dict[Any, Any],
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> list[Any]:
        return self._guarded(list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        self._guarded(None, super().delete_many, keys, version)

    # Django's RedisCache.clear returns whether Redis flushed; django-stubs says None (BaseCache's).
    def clear(self) -> bool:  # type: ignore[override]
        return self._guarded(False, super().clear)


def is_down(cache: Any) -> bool:
    """Whether this cache (a backend or django.core.cache.cache) says it cannot be reached now;
    backends that cannot tell (local memory) never are."""
    return bool(getattr(cache, "is_down", False))


class FailoverStore:
    """A store for the circuit breaker: `shared` (the cache every app server sees) while it works,
    `local` (this process's own memory) while it is down, so the breaker still opens per process
    during a cache outage instead of never."""

    def __init__(self, shared: Any, local: Any) -> None:
        self.shared = shared
        self.local = local

    def _call(self, name: str, *args: Any) -> Any:
        if not is_down(self.shared):
            result = getattr(self.shared, name)(*args)
            if not is_down(self.shared):
                return result
        return getattr(self.local, name)(*args)

    def get(self, key: str, default: Any = None) -> Any:
        return self._call("get", key, default)

    def set(self, key: str, value: Any, timeout: float | None = None) -> Any:
        return self._call("set", key, value, timeout)

    def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
        return self._call("add", key, value, timeout)

    def delete(self, key: str) -> Any:
        return self._call("delete", key)

    def delete_many(self, keys: list[str]) -> Any:
        return self._call("delete_many", keys)

    def incr(self, key: str, delta: int = 1) -> int:
        if not is_down(self.shared):
            try:
                return self.shared.incr(key, delta)
            except ValueError:
                if not is_down(self.shared):
                    raise  # really missing
        return self.local.incr(key, delta)
