"""A small circuit breaker: after repeated failed calls of one credential, fail fast.

While Vitec is down or timing out for a credential, every page would otherwise wait for its
timeouts and retries, and queue more calls onto a struggling service. After `threshold` failed
calls in a row the breaker opens for `cooldown` seconds: calls with that credential fail at once
with CircuitOpenError, which says how many seconds the pause still lasts. After the cooldown one
call is let through; if it fails too, the breaker opens again at once, and a success closes it.

The breaker judges calls, not attempts: the client records a call once, when it succeeded or
failed after its retries (contacts/vitec/client.py). It is keyed by credential (base URL,
customer and API user, see `breaker_name`), so one broker's failing calls never pause a
colleague's credential.

State lives in a cache-like store (Django's cache in the app), so that several app servers
share it. Only failures that say something about Vitec's health count: connection errors,
timeouts, 5xx and unreadable answers; no 4xx (400, 401, 403, 404, 429, ...) ever counts: Vitec
answered, about the request or its pace.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from .errors import (
    BadResponseError,
    CircuitOpenError,
    ServerError,
    VitecConnectionError,
    VitecError,
)

_COUNTED = (VitecConnectionError, ServerError, BadResponseError)


def breaker_name(base_url: str, customer_id: str, username: str) -> str:
    """The breaker of one credential: the customer id, and a hash of base URL, customer and
    API user (so that a cache key never holds the user name in clear)."""
    login = "\0".join((base_url.rstrip("/"), customer_id, username))
    return f"{customer_id}:{hashlib.sha256(login.encode()).hexdigest()[:32]}"


def counts(error: VitecError) -> bool:
    """Whether a failed call says something about Vitec's health (see the module's doc)."""
    if isinstance(error, CircuitOpenError) or not isinstance(error, _COUNTED):
        return False
    return error.status is None or not 400 <= error.status < 500


class Store(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def set(self, key: str, value: Any, timeout: float | None = ...) -> Any: ...
    def add(self, key: str, value: Any, timeout: float | None = ...) -> bool: ...
    def incr(self, key: str, delta: int = 1) -> int: ...
    def delete(self, key: str) -> Any: ...
    def delete_many(self, keys: list[str]) -> Any: ...


class MemoryStore:
    """A process-local store with the same calls as Django's cache (for use outside Django)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[Any, float | None]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _live(self, key: str) -> tuple[Any, float | None] | None:
        item = self._data.get(key)
        if item is not None and item[1] is not None and item[1] <= self._clock():
            del self._data[key]
            return None
        return item

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            item = self._live(key)
            return default if item is None else item[0]

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        with self._lock:
            expires = None if timeout is None else self._clock() + timeout
            self._data[key] = (value, expires)

    def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            expires = None if timeout is None else self._clock() + timeout
            self._data[key] = (value, expires)
            return True

    def incr(self, key: str, delta: int = 1) -> int:
        with self._lock:
            item = self._live(key)
            if item is None:
                raise ValueError(f"Key {key!r} not found")
            self._data[key] = (item[0] + delta, item[1])
            return item[0] + delta

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def delete_many(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)


def _ttl(seconds: float) -> int:
    """Whole seconds, at least one: Redis and memcached cut timeouts to whole seconds, and a
    0.5 s cooldown would become 0, an already expired key and a breaker that never opens."""
    return max(1, math.ceil(seconds))


class CircuitBreaker:
    def __init__(
        self,
        *,
        store: Store | None = None,
        threshold: int = 5,
        cooldown: float = 30.0,
        prefix: str = "vitec-breaker",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if threshold < 1 or cooldown <= 0:
            raise ValueError("threshold must be at least 1 and cooldown positive")
        self.store = store if store is not None else MemoryStore()
        self.threshold = threshold
        self.cooldown = cooldown
        self.prefix = prefix
        # Wall-clock time: when the pause ends is stored, and app servers share the store.
        self._clock = clock

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{kind}:{name}"

    def is_open(self, name: str) -> bool:
        return bool(self.store.get(self._key("open", name)))

    def seconds_left(self, name: str) -> int | None:
        """Whole seconds until the breaker for `name` lets a call through again (at least 1);
        None while it is closed."""
        until = self.store.get(self._key("open", name))
        if not until:
            return None
        if isinstance(until, bool) or not isinstance(until, int | float):
            return _ttl(self.cooldown)  # a value without its end: at most a cooldown
        return min(_ttl(self.cooldown), _ttl(until - self._clock()))

    def before_call(self, name: str) -> None:
        """Raise CircuitOpenError while the breaker for `name` is open."""
        seconds = self.seconds_left(name)
        if seconds is not None:
            raise CircuitOpenError(
                f"Circuit open for {name}: failing fast for {seconds} s more",
                seconds_left=seconds,
            )

    def record(self, name: str, error: VitecError | None) -> None:
        """Count the outcome of one call (after its retries): None for a success, else the error
        it ended with. Record each call once, never each attempt."""
        if error is None:  # one round trip: this is every successful call's cost
            self.store.delete_many([self._key(kind, name) for kind in ("fails", "tripped", "open")])
            return
        if not counts(error):
            return
        fails_key = self._key("fails", name)
        # Failures further apart than a cooldown (or two) are not "in a row".
        self.store.add(fails_key, 0, _ttl(2 * self.cooldown))
        try:
            fails = self.store.incr(fails_key)
        except ValueError:  # expired between add and incr
            self.store.set(fails_key, 1, _ttl(2 * self.cooldown))
            fails = 1
        tripped_before = self.store.get(self._key("tripped", name))
        if fails >= self.threshold or tripped_before:
            pause = _ttl(self.cooldown)
            self.store.set(self._key("open", name), self._clock() + pause, pause)
            self.store.set(self._key("tripped", name), True, _ttl(4 * self.cooldown))
            self.store.delete(fails_key)
