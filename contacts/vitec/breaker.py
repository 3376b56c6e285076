"""A small circuit breaker: after repeated failures of one customer's Vitec calls, fail fast.

While Vitec is down or timing out for a customer, every page would otherwise wait for its
timeouts and retries, and queue more calls onto a struggling service. After `threshold`
failures in a row the breaker opens for `cooldown` seconds: calls for that customer fail at once
with CircuitOpenError. After the cooldown one call is let through; if it fails too, the breaker
opens again at once, and a success closes it.

State lives in a cache-like store (Django's cache in the app), so that several app servers
share it. Only failures that say something about Vitec's health count: connection errors,
timeouts, 5xx, 429 and unreadable answers; a 400/401/403/404 is about the request, not Vitec.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from .errors import (
    BadResponseError,
    CircuitOpenError,
    RateLimitedError,
    ServerError,
    VitecConnectionError,
    VitecError,
)

_COUNTED = (VitecConnectionError, ServerError, RateLimitedError, BadResponseError)


class Store(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def set(self, key: str, value: Any, timeout: float | None = ...) -> Any: ...
    def add(self, key: str, value: Any, timeout: float | None = ...) -> bool: ...
    def incr(self, key: str, delta: int = 1) -> int: ...
    def delete(self, key: str) -> Any: ...


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
    ) -> None:
        if threshold < 1 or cooldown <= 0:
            raise ValueError("threshold must be at least 1 and cooldown positive")
        self.store = store if store is not None else MemoryStore()
        self.threshold = threshold
        self.cooldown = cooldown
        self.prefix = prefix

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{kind}:{name}"

    def is_open(self, name: str) -> bool:
        return bool(self.store.get(self._key("open", name)))

    def before_call(self, name: str) -> None:
        """Raise CircuitOpenError while the breaker for `name` is open."""
        if self.is_open(name):
            raise CircuitOpenError(
                f"Circuit open for {name}: failing fast for up to {self.cooldown:.0f} s"
            )

    def record(self, name: str, error: VitecError | None) -> None:
        """Count the outcome of one call: None for a success, else the error it ended with."""
        if error is None:
            for kind in ("fails", "tripped", "open"):
                self.store.delete(self._key(kind, name))
            return
        if not isinstance(error, _COUNTED) or isinstance(error, CircuitOpenError):
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
            self.store.set(self._key("open", name), True, _ttl(self.cooldown))
            self.store.set(self._key("tripped", name), True, _ttl(4 * self.cooldown))
            self.store.delete(fails_key)
