"""The audit trail: who looked up, viewed, revealed, exported or changed what; old events purged.

An event never holds a password, a Fernet token or a full personnummer: callers pass ids, counts,
filters and field names only, and whatever still looks like a personnummer is masked on the way
in; control characters (NUL among them, which PostgreSQL's jsonb refuses) are dropped.

Two ways to record, by what is at stake:
- `audit_required` for every access to personal data (lookup, contact view, reveal, export): it
  raises `AuditUnavailable` when the event cannot be stored, and the caller then shows nothing.
  No trace, no data.
- `audit_record` for everything else (credential changes, connection tests, failed logins): a
  failed write is logged and the request goes on.
The log line of a failed write names the action and the kind of error only: never the ids, the
filters or the database's message (which quotes the values).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from .models import AuditEvent, VitecCredential

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.db.models import QuerySet
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

Action = AuditEvent.Action

# A detail whose key names one of these is dropped whatever its value (a slip must not leak).
_SECRET_KEY = re.compile(r"password|passwd|secret|token", re.I)
# A Swedish personnummer or samordningsnummer: [CC]YYMMDD[-+]NNNN, not inside a longer number.
_PERSONNUMMER = re.compile(r"(?<![0-9])(?:[0-9]{2})?([0-9]{6})[-+]?([0-9]{4})(?![0-9])")
_USERNAME_MAX = AuditEvent._meta.get_field("username").max_length or 150
# C0 and C1 control characters: NUL breaks PostgreSQL's jsonb and text columns, the rest a log.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class AuditUnavailable(Exception):
    """An access to personal data could not be recorded: the data must not be shown."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does what the event records: the user (None when nobody is logged in) and where from."""

    user: Any = None
    ip_address: str | None = None

    @classmethod
    def of(cls, request: HttpRequest) -> Actor:
        user = getattr(request, "user", None)
        return cls(
            user=user if user is not None and user.is_authenticated else None,
            ip_address=_ip_address(request),
        )


def control_strip(text: str) -> str:
    """The text without control characters."""
    return _CONTROL.sub("", text)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(digits):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _looks_like_personnummer(match: re.Match[str]) -> bool:
    date, last = match.group(1), match.group(2)
    month, day = int(date[2:4]), int(date[4:6])
    day = day - 60 if day > 60 else day  # samordningsnummer: the day plus 60
    return 1 <= month <= 12 and 1 <= day <= 31 and _luhn_ok(date + last)


def personnummer_scrub(text: str) -> str:
    """The text with every valid-looking personnummer masked to `YYMMDD-****`."""
    return _PERSONNUMMER.sub(
        lambda m: f"{m.group(1)}-****" if _looks_like_personnummer(m) else m.group(0), text
    )


def _clean(value: Any) -> Any:
    """A JSON-safe copy of a detail value: no secret keys, no full personnummer."""
    if isinstance(value, Mapping):
        return {
            control_strip(str(key)): _clean(item)
            for key, item in value.items()
            if not _SECRET_KEY.search(str(key))
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_clean(item) for item in items]
    if value is None or isinstance(value, bool | int | float):
        return value
    return personnummer_scrub(control_strip(str(value)))


def _ip_address(request: HttpRequest | None) -> str | None:
    address = (request.META.get("REMOTE_ADDR") or "").strip() if request is not None else ""
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None


def _event(
    *,
    action: str,
    actor: Actor,
    username: str,
    credential: VitecCredential | None,
    contact_ids: Iterable[str],
    row_count: int | None,
    details: Mapping[str, Any] | None,
) -> AuditEvent:
    user = actor.user
    if not username and user is not None:
        username = user.get_username()
    return AuditEvent(
        action=action,
        user=user,
        username=control_strip(str(username))[:_USERNAME_MAX],
        credential=credential,
        customer_id=credential.customer_id if credential is not None else "",
        contact_ids=[personnummer_scrub(control_strip(str(i))) for i in contact_ids],
        row_count=row_count,
        details=_clean(dict(details or {})),
        ip_address=actor.ip_address,
    )


def _store(
    *,
    action: str,
    actor: Actor,
    username: str = "",
    credential: VitecCredential | None = None,
    contact_ids: Iterable[str] = (),
    row_count: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Build and save the event; AuditUnavailable (and an error in the log) if that fails."""
    try:
        event = _event(
            action=action,
            actor=actor,
            username=username,
            credential=credential,
            contact_ids=contact_ids,
            row_count=row_count,
            details=details,
        )
        # In a transaction, a savepoint: a failed insert must not spoil the transaction the
        # caller is in. Outside one (a page, in autocommit), the insert alone.
        in_transaction = transaction.get_connection().in_atomic_block
        with transaction.atomic() if in_transaction else contextlib.nullcontext():
            event.save()
    except Exception as exc:
        _log_failure(action, exc)
        raise AuditUnavailable(action) from None
    return event


def audit_required(
    *,
    action: str,
    actor: Actor,
    credential: VitecCredential | None = None,
    contact_ids: Iterable[str] = (),
    row_count: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Store one event of an access to personal data, or raise AuditUnavailable.

    The user name is the actor's; the customer id the credential's.
    """
    return _store(
        action=action,
        actor=actor,
        credential=credential,
        contact_ids=contact_ids,
        row_count=row_count,
        details=details,
    )


def audit_row_count(event: AuditEvent, row_count: int) -> None:
    """The rows shown, added to an event stored before they were known (a streamed lookup)."""
    AuditEvent.objects.filter(pk=event.pk).update(row_count=row_count)
    event.row_count = row_count


def audit_record(
    *,
    action: str,
    user: AbstractBaseUser | None = None,
    username: str = "",
    credential: VitecCredential | None = None,
    contact_ids: Iterable[str] = (),
    row_count: int | None = None,
    details: Mapping[str, Any] | None = None,
    request: HttpRequest | None = None,
    actor: Actor | None = None,
) -> AuditEvent | None:
    """Store one event that shows no personal data; None (and an error in the log) if it could
    not be stored.

    Who did it: `actor`, else the request's logged-in user and REMOTE_ADDR; `user` overrides the
    user. The user name defaults to the user's, the customer id to the credential's.
    """
    if actor is None:
        actor = Actor.of(request) if request is not None else Actor()
    if user is not None:
        actor = Actor(user=user, ip_address=actor.ip_address)
    try:
        return _store(
            action=action,
            actor=actor,
            username=username,
            credential=credential,
            contact_ids=contact_ids,
            row_count=row_count,
            details=details,
        )
    except AuditUnavailable:
        return None


def _log_failure(action: str, exc: Exception) -> None:
    # Neither the traceback nor str(exc): a database error quotes the values it refused.
    logger.error("Could not record the audit event %r: %s", action, type(exc).__name__)


def audit_expired(*, older_than_days: int) -> QuerySet[AuditEvent]:
    """The events created more than `older_than_days` days ago."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    return AuditEvent.objects.filter(created_at__lt=cutoff)


def audit_purge(*, older_than_days: int, dry_run: bool = False) -> int:
    """Delete the events older than `older_than_days` days; how many (would have) went."""
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    expired = audit_expired(older_than_days=older_than_days)
    if dry_run:
        return expired.count()
    deleted, _ = expired.delete()
    return deleted


def login_failed_record(
    sender: Any, credentials: Mapping[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Receiver of `user_login_failed`: the user name tried and where from, never the password.

    Django has already replaced the password in `credentials`; only the user name is read anyway.
    """
    audit_record(
        action=Action.LOGIN_FAILED,
        username=str((credentials or {}).get("username") or ""),
        request=request,
    )
