"""Every way personal data leaves (the list page, a contact's page, a reveal, an export) goes
through one of these functions. Each records its audit event before it hands anything back, and
raises AuditUnavailable (from contacts.audit) when the event cannot be stored: the caller then
shows a message and no data. No trace, no data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..audit import Actor, audit_required
from ..models import AuditEvent, VitecCredential
from ..vitec.models import Contact
from .exports import contacts_export_rows
from .identity import social_security_number
from .lookup import Lookup, contact_get
from .selectors import ContactQuery, ContactView, contacts_view


def _filters(query: ContactQuery) -> dict[str, str]:
    """The filters and sort of a view as the audit trail keeps them."""
    return {"type": query.type, "category": query.category, "q": query.q, "sort": query.sort}


def contacts_page(*, credential: VitecCredential, query: ContactQuery, actor: Actor) -> ContactView:
    """The current view for the list page, its lookup recorded."""
    view = contacts_view(credential=credential, query=query)
    audit_required(
        action=AuditEvent.Action.LOOKUP,
        actor=actor,
        credential=credential,
        contact_ids=query.ids,
        row_count=len(view.rows),
        details={"filters": _filters(query), "page": query.page},
    )
    return view


@dataclass(frozen=True, slots=True)
class ContactShown:
    contact: Contact | None  # None: Vitec has no such contact, or its call failed
    lookup: Lookup
    revealed: bool  # the full personnummer is shown (asked for, and there is one)
    has_number: bool  # a Person or DeceasedEstate with a personnummer to reveal


def contact_show(
    *, credential: VitecCredential, contact_id: str, reveal: bool, actor: Actor
) -> ContactShown:
    """One contact for its page, the view (or the reveal of the personnummer) recorded."""
    contact, lookup = contact_get(credential=credential, contact_id=contact_id)
    has_number = contact is not None and bool(social_security_number(contact))
    revealed = reveal and has_number
    audit_required(
        action=AuditEvent.Action.PERSONNUMMER_REVEAL
        if revealed
        else AuditEvent.Action.CONTACT_VIEW,
        actor=actor,
        credential=credential,
        contact_ids=[contact_id],
        row_count=1 if contact else 0,
    )
    return ContactShown(contact=contact, lookup=lookup, revealed=revealed, has_number=has_number)


class ExportIncomplete(Exception):
    """Some contacts of the view could not be fetched: no file, rather than one that lacks rows."""


def contacts_export(
    *,
    credential: VitecCredential,
    query: ContactQuery,
    include_personnummer: bool,
    actor: Actor,
) -> Iterator[list[str]]:
    """The rows of the current view's file (header first, every page), the export recorded.

    Raises ExportIncomplete when a batch failed, AuditUnavailable when the export cannot be
    recorded; in either case before anything is handed back.
    """
    view = contacts_view(credential=credential, query=query)
    if view.failures:
        raise ExportIncomplete
    audit_required(
        action=AuditEvent.Action.CSV_EXPORT,
        actor=actor,
        credential=credential,
        contact_ids=query.ids,
        row_count=len(view.rows),  # every row of the view is exported
        details={"filters": _filters(query), "include_personnummer": include_personnummer},
    )
    return contacts_export_rows(view=view, include_personnummer=include_personnummer)
