"""Every way personal data leaves (the list page, a contact's page, a reveal, an export) goes
through one of these functions. Each records its audit event before it hands anything back, and
raises AuditUnavailable (from contacts.audit) when the event cannot be stored: the caller then
shows a message and no data. No trace, no data."""

from __future__ import annotations

import functools
from collections.abc import Generator
from dataclasses import dataclass

from django.core.paginator import Page, Paginator

from ..audit import Actor, audit_record, audit_required, audit_row_count
from ..models import AuditEvent, RegisterContact, RegisterSync, VitecCredential
from ..vitec.errors import VitecError
from ..vitec.ids import LookupResult, id_key, unique_ids
from ..vitec.models import Contact, CrmCompanyContact, CrmPersonContact, RelationType
from .exports import ExportRows, register_contacts, view_contacts
from .identity import social_security_number
from .lookup import Arrived, Lookup, contact_get, contacts_lookup, contacts_lookup_stream
from .register import (
    RegisterQuery,
    RegisterView,
    register_open_to,
    register_view,
)
from .register_store import contact_of, contacts_of
from .relations import Agent, ContactPeople, agent_names, contact_around, relations_get
from .selectors import ContactQuery, ContactView, contacts_filter, contacts_view, contacts_view_of
from .sync import sync_request


def _filters(query: ContactQuery) -> dict[str, str]:
    """The filters and sort of a view as the audit trail keeps them."""
    return {"type": query.type, "category": query.category, "q": query.q, "sort": query.sort}


# The steps of a lookup page: arrivals, then the view.
LookupSteps = Generator[Arrived, None, ContactView]


def contacts_page_stream(
    *, credential: VitecCredential, query: ContactQuery, actor: Actor
) -> LookupSteps:
    """contacts_page, told as it goes (contacts_lookup_stream): what the cache holds and how
    many ids are still to come, then the contacts of each of Vitec's answers (filtered as the
    view is), then the view.

    When anything is still to come, the lookup is recorded before the first contacts are
    handed back (its row count added when the view is known): no trace, no data."""
    record = functools.partial(
        audit_required,
        action=AuditEvent.Action.LOOKUP,
        actor=actor,
        credential=credential,
        contact_ids=query.ids,
        details={"filters": _filters(query), "page": query.page},
    )
    steps = contacts_lookup_stream(credential=credential, ids=query.ids)
    first = next(steps)
    event = record() if first.remaining else None
    yield _filtered(first, query)
    lookup = yield from _each_filtered(steps, query)
    view = contacts_view_of(lookup, query)
    if event is None:
        record(row_count=len(view.rows))
    else:
        audit_row_count(event, len(view.rows))
    return view


def _each_filtered(
    steps: Generator[Arrived, None, Lookup], query: ContactQuery
) -> Generator[Arrived, None, Lookup]:
    while True:
        try:
            arrival = next(steps)
        except StopIteration as finished:
            return finished.value
        yield _filtered(arrival, query)


def _filtered(arrival: Arrived, query: ContactQuery) -> Arrived:
    """The arrival's contacts that the view's filters let through."""
    return Arrived(
        contacts=tuple(contacts_filter(arrival.contacts, query)), remaining=arrival.remaining
    )


@dataclass(frozen=True, slots=True)
class ContactShown:
    contact: Contact | None  # None: Vitec has no such contact, or its call failed
    lookup: Lookup
    revealed: bool  # the full personnummer is shown (asked for, and there is one)
    has_number: bool  # a Person or DeceasedEstate with a personnummer to reveal
    people: ContactPeople | None = None  # the people around it (None: no contact to show)
    agent: Agent | None = None  # its broker (None: none named)


def contact_show(
    *, credential: VitecCredential, contact_id: str, reveal: bool, actor: Actor
) -> ContactShown:
    """One contact for its page, with the people around it and its broker; the view (or the
    reveal of the personnummer) recorded, with the ids of the people shown beside it.

    The contact comes from the office register when it is open to the credential and holds it
    (kept fresh by syncs and Vitec's notifications), else from Vitec (through the cache)."""
    contact: Contact | None = _register_contact(credential, contact_id)
    if contact is not None:
        lookup = Lookup(result=LookupResult(requested=(contact.id,), contacts=(contact,)))
    else:
        contact, lookup = contact_get(credential=credential, contact_id=contact_id)
    has_number = contact is not None and bool(social_security_number(contact))
    revealed = reveal and has_number
    around = contact_around(credential=credential, contact=contact) if contact else None
    related = around.people.contact_ids if around else []
    audit_required(
        action=AuditEvent.Action.PERSONNUMMER_REVEAL
        if revealed
        else AuditEvent.Action.CONTACT_VIEW,
        actor=actor,
        credential=credential,
        contact_ids=[contact_id],
        row_count=1 if contact else 0,
        details={"related_ids": related} if related else None,
    )
    return ContactShown(
        contact=contact,
        lookup=lookup,
        revealed=revealed,
        has_number=has_number,
        people=around.people if around else None,
        agent=around.agent if around else None,
    )


def _register_contact(credential: VitecCredential, contact_id: str) -> Contact | None:
    if register_open_to(credential) is None:
        return None
    row = RegisterContact.objects.filter(
        customer_id=credential.customer_id, id_key=id_key(contact_id)
    ).first()
    return contact_of(row) if row is not None else None


class ExportIncomplete(Exception):
    """Some contacts of the view could not be fetched: no file, rather than one that lacks rows
    (unless the broker asked for what arrived: a partial export, which names the missing ids)."""


# The formats of a file: CSV, Excel and vCard.
EXPORT_FORMATS = ("csv", "xlsx", "vcf")


def contacts_export(
    *,
    credential: VitecCredential,
    query: ContactQuery,
    include_personnummer: bool,
    actor: Actor,
    format: str = "csv",
    partial: bool = False,
) -> ExportRows:
    """The contacts of the current view's file (every page), the export recorded first, with
    its format (a vCard never holds a personnummer: recorded as not included).

    Raises ExportIncomplete when a batch failed and `partial` was not asked for (with it, the
    file holds what arrived and names the missing ids, recorded too), AuditUnavailable when the
    export cannot be recorded; in either case before anything is handed back.
    """
    include_personnummer = include_personnummer and format != "vcf"
    view = contacts_view(credential=credential, query=query)
    missing = tuple(i for failure in view.failures for i in failure.ids)
    if missing and not partial:
        raise ExportIncomplete
    details: dict[str, object] = {
        "filters": _filters(query),
        "include_personnummer": include_personnummer,
        "format": format,
    }
    if missing:
        details["missing"] = list(missing)
    audit_required(
        action=AuditEvent.Action.CSV_EXPORT,
        actor=actor,
        credential=credential,
        contact_ids=query.ids,
        row_count=len(view.rows),  # every row of the view is exported
        details=details,
    )
    return ExportRows(
        view_contacts(view, reveal=include_personnummer),
        missing=missing,
        include_personnummer=include_personnummer,
    )


@dataclass(frozen=True, slots=True)
class ContactCard:
    """One contact for its vCard: None when Vitec has no such contact (`failed`: or its call
    failed)."""

    contact: Contact | None
    failed: bool = False
    organisation: str = ""  # a person's employer, when Vitec names one


# A person's employer: the company they sign for, or are the contact person of.
_EMPLOYER_RELATIONS = frozenset(
    {RelationType.COMPANY_SIGNATORY, RelationType.COMPANY_CONTACT_PERSON}
)


def contact_card(*, credential: VitecCredential, contact_id: str, actor: Actor) -> ContactCard:
    """One contact for its vCard (from the register when it holds it, else from Vitec), with a
    person's employer; recorded as an export of that contact (format vcf) before it is handed
    back. Nothing is recorded when there is no contact to hand back."""
    contact = _register_contact(credential, contact_id)
    if contact is None:
        contact, lookup = contact_get(credential=credential, contact_id=contact_id)
        if contact is None:
            return ContactCard(contact=None, failed=bool(lookup.result.failed))
    organisation = _employer(credential, contact)
    audit_required(
        action=AuditEvent.Action.CSV_EXPORT,
        actor=actor,
        credential=credential,
        contact_ids=[contact_id],
        row_count=1,
        details={"format": "vcf", "include_personnummer": False},
    )
    return ContactCard(contact=contact, organisation=organisation)


def _employer(credential: VitecCredential, contact: Contact) -> str:
    """The name of the company a person works for by Vitec's relations ("" when none is named,
    or the relations or the company cannot be fetched: the card is made without it)."""
    if not isinstance(contact, CrmPersonContact):
        return ""
    try:
        relations = relations_get(credential=credential, contact_id=contact.id)
    except VitecError:
        return ""
    ids = unique_ids(
        item.contact_id
        for item in relations.reverse_relations
        if item.relation in _EMPLOYER_RELATIONS
    )
    if not ids:
        return ""
    found = contacts_lookup(credential=credential, ids=ids).result.contacts
    return next((c.name for c in found if isinstance(c, CrmCompanyContact) and c.name), "")


# --- the office register ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterPage:
    view: RegisterView
    contacts: list[Contact]  # the rows of the page asked for
    page: Page[RegisterContact]
    live: Lookup | None  # the ids of `ids` the register does not hold, fetched from Vitec


def _register_filters(query: RegisterQuery) -> dict[str, str]:
    return {key: value for key, value in query.params().items() if key != "ids"}


def register_page(
    *,
    credential: VitecCredential,
    query: RegisterQuery,
    actor: Actor,
    state: RegisterSync | None,
) -> RegisterPage:
    """A page of the register's current view, the ids shown on it recorded first. `state`: the
    customer's register state, as the caller read it to open the register."""
    view = register_view(
        customer_id=credential.customer_id,
        query=query,
        agents=agent_names(credential),
        state=state,
    )
    paginator = Paginator(view.rows, query.per_page)
    paginator.count = view.total  # counted with the facets: not counted again
    page = paginator.get_page(query.page)
    rows = list(page.object_list)
    live = (
        contacts_lookup(credential=credential, ids=view.unknown_ids) if view.unknown_ids else None
    )
    shown = [row.contact_id for row in rows]
    if live is not None:
        shown += [c.id for c in live.result.contacts]
    audit_required(
        action=AuditEvent.Action.REGISTER_VIEW,
        actor=actor,
        credential=credential,
        contact_ids=shown,
        row_count=view.total,
        details={"filters": _register_filters(query), "page": page.number, "ids": len(query.ids)},
    )
    return RegisterPage(view=view, contacts=contacts_of(rows), page=page, live=live)


def register_export(
    *,
    credential: VitecCredential,
    query: RegisterQuery,
    include_personnummer: bool,
    actor: Actor,
    format: str = "csv",
) -> ExportRows:
    """The contacts of the register's current view as a file (every page), the export recorded
    first, with its format. Rows are read from the database in chunks as the file is written."""
    include_personnummer = include_personnummer and format != "vcf"
    view = register_view(customer_id=credential.customer_id, query=query, with_facets=False)
    audit_required(
        action=AuditEvent.Action.REGISTER_EXPORT,
        actor=actor,
        credential=credential,
        row_count=view.total,
        details={
            "filters": _register_filters(query),
            "ids": len(query.ids),
            "include_personnummer": include_personnummer,
            "format": format,
        },
    )
    return ExportRows(
        register_contacts(view.rows, reveal=include_personnummer),
        include_personnummer=include_personnummer,
    )


def register_sync_ask(*, credential: VitecCredential, actor: Actor) -> bool:
    """Queue a sync of the credential's customer now ("Sync now"); False when one is queued or
    running already."""
    queued = sync_request(credential.customer_id)
    audit_record(
        action=AuditEvent.Action.REGISTER_SYNC,
        user=actor.user,
        credential=credential,
        details={"queued": queued},
    )
    return queued
