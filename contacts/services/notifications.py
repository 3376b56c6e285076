"""What a Vitec notification changes: the ids it names are queued to be re-read from Vitec.

Nothing in a notification is trusted as data (Vitec does not sign them): the register changes
only by what Vitec answers when asked again. A notification for a customer no active credential
of ours covers is refused, so nobody can fill the queue with other offices' ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import RegisterRefresh, RegisterSync, VitecCredential
from ..vitec.ids import id_key, is_valid_id

_CUSTOMER = re.compile(r"\A[MSOGT][0-9]{1,38}\Z")
MAX_IDS = 100  # a merge names its sources: never more than this many ids from one notification


@dataclass(frozen=True, slots=True)
class Accepted:
    accepted: bool
    queued: int = 0
    reason: str = ""


def _ids(body: dict[str, Any]) -> list[str]:
    ids = [body.get("id"), body.get("destinationId")]
    sources = body.get("sourceIds")
    if isinstance(sources, list):
        ids.extend(sources)
    unique: dict[str, str] = {}
    for value in ids:
        if isinstance(value, str) and is_valid_id(value.strip()):
            unique.setdefault(id_key(value.strip()), value.strip())
    return list(unique.values())[:MAX_IDS]


def notification_accept(body: dict[str, Any]) -> Accepted:
    """Queue the ids of a Contact (Update/Remove) or Merge notification for a re-read."""
    kind = str(body.get("type") or "")
    if kind not in ("Contact", "Merge"):
        return Accepted(False, reason="not a contact notification")
    customer_id = str(body.get("customerId") or "").strip()
    if not _CUSTOMER.match(customer_id):
        return Accepted(False, reason="no customer id")
    if not VitecCredential.objects.filter(customer_id=customer_id, is_active=True).exists():
        return Accepted(False, reason="unknown customer")
    ids = _ids(body)
    if not ids:
        return Accepted(False, reason="no contact id")
    now = timezone.now()
    for contact_id in ids:
        try:
            with transaction.atomic():
                RegisterRefresh.objects.create(
                    customer_id=customer_id,
                    id_key=id_key(contact_id),
                    contact_id=contact_id,
                    asked_at=now,
                )
        except IntegrityError:  # already waiting: a burst of the same id is one re-read
            # Named again: a refresh reading it right now must not forget it (see refresh_pending).
            RegisterRefresh.objects.filter(
                customer_id=customer_id, id_key=id_key(contact_id)
            ).update(asked_at=now)
    _refresh_enqueue(customer_id)
    return Accepted(True, queued=len(ids))


def _refresh_enqueue(customer_id: str) -> None:
    """Queue the customer's refresh task unless one is waiting already."""
    from ..tasks import refresh_pending_task  # tasks import the services

    state = RegisterSync.objects.get_or_create(customer_id=customer_id)[0]
    claimed = RegisterSync.objects.filter(pk=state.pk, refresh_queued=False).update(
        refresh_queued=True
    )
    if claimed:
        refresh_pending_task.enqueue(customer_id)
