"""A cap on the calls in flight to Vitec for one customer, across every thread, process and app
server that shares the store (Django's cache in the app: Redis when configured).

Vitec documents no rate limit, but many brokers of one office looking up long lists at once, and
the office register's syncs, must not open dozens of connections to it together. Each HTTP
attempt holds one of `limit` slots of its customer while it runs: a slot is a key added with the
store's atomic `add` (Redis SET NX), holding a random token, for at most `lease` seconds, so a
process that dies mid-call frees its slots when their lease runs out. An attempt that finds every
slot taken waits, polling, up to `wait` seconds, then fails with VitecBusyError (never retried,
never counted by the circuit breaker: Vitec was not even asked).

Without a shared store (the local-memory cache) the cap holds per process. Slots are polled, not
queued: under a burst, calls are served in no strict order.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .breaker import Store
from .errors import VitecBusyError

# How long a waiting attempt sleeps between tries: from the first, doubling up to the last, each
# time a random part of it. Polling every slot costs one store round trip a slot: waiters that
# poll fast cost the app servers more CPU than the calls they wait for (measured: 150 waiting
# calls polling every 10-40 ms slowed every page of the same servers several times over).
POLL_SECONDS = (0.05, 0.5)


class InFlightLimit:
    """At most `limit` calls in flight per customer (see the module's doc)."""

    def __init__(
        self,
        store: Store,
        *,
        limit: int,
        lease: float,
        wait: float,
        prefix: str = "vitec-slots",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.store = store
        self.limit = limit
        self.lease = lease
        self.wait = wait
        self.prefix = prefix
        self._sleep = sleep
        self._clock = clock
        self._rand = rand

    def _key(self, customer_id: str, slot: int) -> str:
        return f"{self.prefix}:{customer_id}:{slot}"

    @contextmanager
    def slot(self, customer_id: str) -> Iterator[None]:
        """Hold one of the customer's slots for the duration of the block."""
        key, token = self._acquire(customer_id)
        held_from = self._clock()
        try:
            yield
        finally:
            # Within its lease the slot is still this call's: freed at once. After it (a process
            # paused for longer than the lease), only if no other call has taken it since.
            if self._clock() - held_from < self.lease - 1 or self.store.get(key) == token:
                self.store.delete(key)

    def _acquire(self, customer_id: str) -> tuple[str, str]:
        token = secrets.token_hex(8)
        deadline = self._clock() + self.wait
        first = int(self._rand() * self.limit)  # callers spread over the slots, not all on 0
        pause, longest = POLL_SECONDS
        while True:
            for n in range(self.limit):
                key = self._key(customer_id, (first + n) % self.limit)
                if self.store.add(key, token, self.lease):
                    return key, token
            if self._clock() >= deadline:
                raise VitecBusyError(
                    f"All {self.limit} calls allowed for the customer are in flight"
                )
            self._sleep(max(0.0, min(pause * (0.5 + self._rand() / 2), deadline - self._clock())))
            pause = min(longest, pause * 2)
