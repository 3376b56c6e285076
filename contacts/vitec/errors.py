"""The one error hierarchy for Vitec Connect calls, and the one place a status becomes an error.

Every error carries what failed (method and URL, never credentials), the HTTP status when there
was one, Vitec's own message text when it sent one, and a `code` naming the kind of failure. The
words a broker reads are chosen from the code by the app (contacts/services/messages.py): this
package speaks HTTP and JSON only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FailedRequest:
    method: str
    url: str  # with percent-encoded ids; never contains the password


class VitecError(Exception):
    """Base of everything that can go wrong when talking to Vitec Connect."""

    code = "unavailable"
    retryable = False

    def __init__(
        self,
        detail: str = "",
        *,
        status: int | None = None,
        vitec_message: str | None = None,
        request: FailedRequest | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.detail = detail or self.__class__.__name__
        self.status = status
        self.vitec_message = vitec_message
        self.request = request
        self.retry_after = retry_after  # seconds Vitec asked us to wait (429/503), if it said
        self.attempts = 1  # HTTP attempts made before giving up, set by the client
        super().__init__(self.detail)

    def __str__(self) -> str:
        parts = [self.detail]
        if self.status is not None:
            parts.append(f"status {self.status}")
        if self.request is not None:
            parts.append(f"{self.request.method} {self.request.url}")
        if self.vitec_message:
            parts.append(f"Vitec: {self.vitec_message}")
        return " | ".join(parts)


class AuthenticationError(VitecError):
    code = "authentication"


class PermissionDeniedError(VitecError):
    code = "permission_denied"


class ValidationError(VitecError):
    code = "invalid_request"


class NotFoundError(VitecError):
    code = "not_found"


class RateLimitedError(VitecError):
    code = "rate_limited"
    retryable = True


class ServerError(VitecError):
    code = "server_error"

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.status in RETRYABLE_STATUSES


class VitecConnectionError(VitecError):
    code = "connection"
    retryable = True


class VitecTimeoutError(VitecConnectionError):
    code = "timeout"


class CircuitOpenError(VitecConnectionError):
    """Calls with this credential failed repeatedly: they fail fast for a short while.

    `seconds_left` is how long the pause still lasts, in whole seconds (None: not known)."""

    code = "circuit_open"
    retryable = False

    def __init__(self, detail: str = "", *, seconds_left: int | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.seconds_left = seconds_left


class BadResponseError(VitecError):
    code = "bad_response"


class VitecBusyError(VitecError):
    """Every call the customer may have in flight (contacts/vitec/limiter.py) was taken for as
    long as an attempt may wait: this one was not sent. Not retried, not Vitec's fault."""

    code = "busy"


# 429 is retryable too, but handled apart because it carries Retry-After.
RETRYABLE_STATUSES = frozenset({502, 503, 504})

_BY_STATUS: dict[int, type[VitecError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitedError,
}


def vitec_message_from_body(body: bytes | str | None) -> str | None:
    """Whatever message text Vitec put in an error body, whatever its shape (or None)."""
    if not body:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    messages: list[str] = []

    def collect(value: object, *, every_key: bool = False, depth: int = 0) -> None:
        if depth > 10:
            return
        if isinstance(value, str) and value.strip():
            messages.append(value.strip())
        elif isinstance(value, list):
            for item in value:
                collect(item, every_key=every_key, depth=depth + 1)
        elif isinstance(value, dict):
            for key, item in value.items():
                name = str(key).lower()
                if every_key or name in ("message", "error", "title", "detail"):
                    collect(item, every_key=every_key, depth=depth + 1)
                elif name in ("modelstate", "errors"):  # {field: [messages]}: every field counts
                    collect(item, every_key=True, depth=depth + 1)

    collect(data)
    unique = list(dict.fromkeys(messages))
    return " ".join(unique)[:500] or None


def error_for_status(
    status: int,
    *,
    body: bytes | str | None = None,
    request: FailedRequest | None = None,
    retry_after: float | None = None,
) -> VitecError:
    """Map a non-2xx HTTP status to the error that describes it."""
    if status in _BY_STATUS:
        kind, detail = _BY_STATUS[status], f"Vitec answered {status}"
    elif status >= 500:
        kind, detail = ServerError, f"Vitec answered {status}"
    else:
        kind, detail = BadResponseError, f"Unexpected status {status}"
    return kind(
        detail,
        status=status,
        vitec_message=vitec_message_from_body(body),
        request=request,
        retry_after=retry_after,
    )
