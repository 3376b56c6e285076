"""The one error hierarchy for Vitec Connect calls, and the one place a status becomes an error.

Every error carries what failed (method and URL, never credentials), the HTTP status when there
was one, Vitec's own message text when it sent one, and a short message a broker can read, in
the active language (Swedish by default, English on request).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True, slots=True)
class FailedRequest:
    method: str
    url: str  # with percent-encoded ids; never contains the password


class VitecError(Exception):
    """Base of everything that can go wrong when talking to Vitec Connect."""

    user_message: Promise = _("Vitec could not be reached right now. Try again in a while.")
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

    @property
    def broker_message(self) -> str:
        """The message to show a broker, in the active language."""
        return str(self.user_message)


class AuthenticationError(VitecError):
    user_message = _(
        "Vitec did not accept the stored API user name or password. Ask your administrator "
        "to check the credential."
    )


class PermissionDeniedError(VitecError):
    user_message = _(
        "The stored credential has no access to this customer in Vitec. Ask your administrator."
    )


class ValidationError(VitecError):
    user_message = _("Vitec rejected the request as invalid.")

    @property
    def broker_message(self) -> str:
        if self.vitec_message:
            return f"{self.user_message} ({self.vitec_message})"
        return str(self.user_message)


class NotFoundError(VitecError):
    user_message = _("Vitec did not find what was asked for.")


class RateLimitedError(VitecError):
    user_message = _("Vitec asks us to slow down. Wait a moment and try again.")
    retryable = True


class ServerError(VitecError):
    user_message = _("Vitec had an internal error. Try again in a while.")

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.status in RETRYABLE_STATUSES


class VitecConnectionError(VitecError):
    user_message = _("Vitec could not be reached. Check the connection and try again.")
    retryable = True


class VitecTimeoutError(VitecConnectionError):
    user_message = _("Vitec did not answer in time. Try again in a while.")


class CircuitOpenError(VitecConnectionError):
    """Vitec failed repeatedly for this customer: calls fail fast for a short while."""

    user_message = _(
        "Vitec has not been answering for this customer, so crmviewer pauses its calls for a "
        "short while. Try again in a minute."
    )
    retryable = False


class BadResponseError(VitecError):
    user_message = _("Vitec sent an answer that could not be read. Try again in a while.")


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
    kwargs = {
        "status": status,
        "vitec_message": vitec_message_from_body(body),
        "request": request,
        "retry_after": retry_after,
    }
    if status in _BY_STATUS:
        return _BY_STATUS[status](f"Vitec answered {status}", **kwargs)
    if status >= 500:
        return ServerError(f"Vitec answered {status}", **kwargs)
    return BadResponseError(f"Unexpected status {status}", **kwargs)
