"""The contacts a broker opened lately, for the list page: read from the audit trail (every
contact page is recorded there), named from the office register or the lookup cache, never
from Vitec. An id whose name is in neither is shown by its id."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from ..models import AuditEvent, RegisterContact, VitecCredential
from ..vitec.ids import id_key
from .lookup import contacts_cached
from .register import register_open_to

RECENT_SHOWN = 8
_EVENTS_READ = 60  # the last contact pages read to find RECENT_SHOWN different contacts


@dataclass(frozen=True, slots=True)
class RecentContact:
    id: str
    name: str  # "" when neither the register nor the cache knows it


def recently_viewed(*, user: AbstractBaseUser, credential: VitecCredential) -> list[RecentContact]:
    """The broker's last contact pages for the credential's customer, newest first, each
    contact once."""
    events = AuditEvent.objects.filter(
        user_id=user.pk,
        customer_id=credential.customer_id,
        action__in=(AuditEvent.Action.CONTACT_VIEW, AuditEvent.Action.PERSONNUMMER_REVEAL),
        row_count=1,  # the contact was found
    ).values_list("contact_ids", flat=True)[:_EVENTS_READ]
    ids: dict[str, str] = {}  # by id_key: ids differing in letter case are one contact
    for contact_ids in events:
        for contact_id in contact_ids if isinstance(contact_ids, list) else ():
            ids.setdefault(id_key(str(contact_id)), str(contact_id))
        if len(ids) >= RECENT_SHOWN:
            break
    shown = list(ids.values())[:RECENT_SHOWN]
    names: dict[str, str] = {}
    if shown and register_open_to(credential) is not None:
        rows = RegisterContact.objects.filter(
            customer_id=credential.customer_id, id_key__in=[id_key(i) for i in shown]
        ).values_list("id_key", "name")
        names = dict(rows)
    missing = [i for i in shown if id_key(i) not in names]
    if missing:
        cached = contacts_cached(credential=credential, ids=missing)
        names.update({id_key(i): c.display_name for i, c in cached.items()})
    return [RecentContact(id=i, name=names.get(id_key(i), "")) for i in shown]
