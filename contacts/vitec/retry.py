"""When a failed Vitec call is tried again, and how long to wait first."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .errors import VitecError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try a failed call again, and how long to wait first.

    Only failures a retry can cure are retried: connection errors, timeouts, 502/503/504 and 429.
    The wait grows exponentially from `backoff_base`, is capped at `backoff_cap`, and is jittered
    ("full jitter") so that many clients do not retry in step. A `Retry-After` from Vitec is
    honoured as given; one longer than `retry_after_cap` is not waited out at all: the error goes
    to the broker at once instead of holding the page.
    """

    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    retry_after_cap: float = 30.0

    def delay(
        self, *, retries_done: int, error: VitecError, rand: Callable[[], float] = random.random
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when the error is final."""
        if retries_done >= self.max_retries or not error.retryable:
            return None
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.retry_after_cap else None
        ceiling = min(self.backoff_cap, self.backoff_base * (2**retries_done))
        return rand() * ceiling


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None when absent/garbage."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
