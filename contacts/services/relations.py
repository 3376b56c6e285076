"""Who is around a contact, for its page: the people of Vitec's ContactRelations (a company's
signatories, an estate's parties...) with their names, types and phones, and the broker the
contact belongs to, by name (GetUser). Each is cached per credential like the contacts, and a
failure of either never breaks the page: it becomes a short message, or the agent's id."""

from __future__ import annotations

import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..models import VitecCredential
from ..vitec.errors import NotFoundError, VitecError
from ..vitec.ids import id_key, unique_ids
from ..vitec.models import Contact, ContactRelation, ContactRelations, RelationType, VitecUser
from .lookup import (
    _cache_key,
    _cache_read,
    _cache_write,
    _release_database_connections,
    client_for_credential,
    contacts_lookup,
    ids_parse,
)
from .messages import broker_message, vitec_text
from .phones import Phone, contact_phones
from .presentation import type_label

logger = logging.getLogger(__name__)

# The office's users change seldom (a new broker, a new title): an hour is fresh enough, and a
# busy office then asks GetUser once an hour per credential, not once a page.
USERS_CACHE_SECONDS = 60 * 60
# More rows than a page can sensibly show (or one batched lookup should fetch for it).
MAX_RELATIONS = 100

# What the linked contact is to this one: "Firmatecknare: Anna Berg" on a company's page.
RELATION_LABELS: dict[RelationType, Promise] = {
    RelationType.ESTATE_PARTY: _("Estate party"),
    RelationType.COMPANY_SIGNATORY: _("Company signatory"),
    RelationType.COMPANY_CONTACT_PERSON: _("Company contact person"),
    RelationType.POWER_OF_ATTORNEY: _("Power of attorney"),
    RelationType.GUARDIAN: _("Guardian"),
    RelationType.LIMITED_GUARDIAN: _("Limited guardian"),
    RelationType.REPRESENTATIVE: _("Representative"),
    RelationType.EXECUTOR_UNDER_THE_WILL: _("Executor of the will"),
    RelationType.ESTATE_ADMINISTRATOR: _("Estate administrator"),
    RelationType.DECEASED: _("Deceased"),
}
# What this contact is to the linked one (a reverse relation): "Firmatecknare för Bolaget AB"
# on the signatory's own page.
REVERSE_LABELS: dict[RelationType, Promise] = {
    RelationType.ESTATE_PARTY: _("Estate party in"),
    RelationType.COMPANY_SIGNATORY: _("Company signatory for"),
    RelationType.COMPANY_CONTACT_PERSON: _("Company contact person for"),
    RelationType.POWER_OF_ATTORNEY: _("Power of attorney for"),
    RelationType.GUARDIAN: _("Guardian for"),
    RelationType.LIMITED_GUARDIAN: _("Limited guardian for"),
    RelationType.REPRESENTATIVE: _("Representative for"),
    RelationType.EXECUTOR_UNDER_THE_WILL: _("Executor of the will for"),
    RelationType.ESTATE_ADMINISTRATOR: _("Estate administrator for"),
    RelationType.DECEASED: _("The deceased of"),
}


def relation_label(relation: RelationType | str, *, reverse: bool) -> str:
    """The relation in the broker's words, read from this contact's side. A value this version
    does not know is shown as Vitec sent it."""
    if isinstance(relation, RelationType):
        return str((REVERSE_LABELS if reverse else RELATION_LABELS)[relation])
    name = relation or gettext("Relation")
    return gettext("%(relation)s (reverse)") % {"relation": name} if reverse else name


@dataclass(frozen=True, slots=True)
class RelationRow:
    """One person or company around the contact, as its page lists it."""

    label: str  # the relation, from this contact's side (relation_label)
    contact_id: str  # the related contact's, as Vitec sent it
    name: str  # its name; its id when Vitec did not send the contact
    type: str  # its type in the broker's words; "" when not known
    phone: Phone | None  # its first phone, if any
    found: bool  # Vitec sent the related contact (False: not found, or its lookup failed)
    reverse: bool  # a reverse relation: this contact is the one in the relation
    linkable: bool  # an id the contact page takes (an odd one from Vitec is shown, not linked)


@dataclass(frozen=True, slots=True)
class ContactPeople:
    rows: tuple[RelationRow, ...] = ()
    failure: str = ""  # the relations could not be fetched: the broker's words
    failure_vitec_text: str = ""
    names_failure: str = ""  # some related contacts could not be fetched: shown by id
    hidden: int = 0  # relations beyond MAX_RELATIONS, not listed

    @property
    def contact_ids(self) -> list[str]:
        return unique_ids(row.contact_id for row in self.rows)


def relations_get(*, credential: VitecCredential, contact_id: str) -> ContactRelations:
    """The contact's relations, from the cache where possible (sealed, per credential, for
    VITEC_CACHE_SECONDS). A contact Vitec does not know (404) has none; that is cached too.
    Raises VitecError when the call fails (not cached)."""
    key = _cache_key(credential, "relations", contact_id)
    cached = _cache_read([key]).get(key)
    if isinstance(cached, ContactRelations):
        return cached
    client = client_for_credential(credential)
    _release_database_connections()  # the call below may take seconds
    try:
        relations = client.fetch_relations(credential.customer_id, contact_id)
    except NotFoundError:
        relations = ContactRelations()
    _cache_write({key: relations})
    return relations


def contact_people(*, credential: VitecCredential, contact_id: str) -> ContactPeople:
    """The people around the contact as rows: relations first, then reverse relations, in
    Vitec's order; names, types and phones from one batched lookup (the contacts cache)."""
    try:
        relations = relations_get(credential=credential, contact_id=contact_id)
    except VitecError as error:
        logger.warning("Relations of a contact could not be fetched: %s", error)
        return ContactPeople(failure=broker_message(error), failure_vitec_text=vitec_text(error))
    pairs: list[tuple[ContactRelation, bool]] = [
        *((item, False) for item in relations.relations),
        *((item, True) for item in relations.reverse_relations),
    ]
    shown, hidden = pairs[:MAX_RELATIONS], max(0, len(pairs) - MAX_RELATIONS)
    ids = unique_ids(item.contact_id for item, _reverse in shown)
    found: dict[str, Contact] = {}
    names_failure = ""
    if ids:
        result = contacts_lookup(credential=credential, ids=ids).result
        found = {id_key(contact.id): contact for contact in result.contacts}
        if result.failed:
            names_failure = broker_message(result.failed[0].error)
    rows = tuple(_row(item, reverse, found.get(id_key(item.contact_id))) for item, reverse in shown)
    return ContactPeople(rows=rows, names_failure=names_failure, hidden=hidden)


def _row(item: ContactRelation, reverse: bool, contact: Contact | None) -> RelationRow:
    phones = contact_phones(contact) if contact is not None else []
    return RelationRow(
        label=relation_label(item.relation, reverse=reverse),
        contact_id=item.contact_id,
        name=contact.display_name if contact is not None else item.contact_id,
        type=type_label(contact) if contact is not None else "",
        phone=phones[0] if phones else None,
        found=contact is not None,
        reverse=reverse,
        linkable=ids_parse(item.contact_id).ids == (item.contact_id,),
    )


# --- the agent -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Agent:
    """The broker a contact belongs to (its `agentId`)."""

    id: str
    name: str = ""  # "" when GetUser does not know the id, or failed: the page shows the id
    title: str = ""

    @property
    def display_name(self) -> str:
        return self.name or self.id


def users_get(*, credential: VitecCredential) -> tuple[VitecUser, ...]:
    """The office's users, from the cache where possible (sealed, per credential and customer,
    for USERS_CACHE_SECONDS). Raises VitecError when the call fails (not cached)."""
    key = _cache_key(credential, "users")
    cached = _cache_read([key], seconds=USERS_CACHE_SECONDS).get(key)
    if isinstance(cached, tuple):
        return cached
    client = client_for_credential(credential)
    _release_database_connections()
    users = tuple(client.fetch_users(credential.customer_id))
    _cache_write({key: users}, seconds=USERS_CACHE_SECONDS)
    return users


def agent_get(*, credential: VitecCredential, agent_id: str | None) -> Agent | None:
    """The contact's broker by name; by id alone when GetUser does not know it or fails."""
    if not agent_id:
        return None
    try:
        users = users_get(credential=credential)
    except VitecError as error:
        logger.warning("The office's users could not be fetched: %s", error)
        return Agent(id=agent_id)
    for user in users:
        if id_key(user.user_id) == id_key(agent_id):
            return Agent(id=agent_id, name=(user.name or "").strip(), title=user.title or "")
    return Agent(id=agent_id)


@dataclass(frozen=True, slots=True)
class Around:
    people: ContactPeople
    agent: Agent | None


def contact_around(*, credential: VitecCredential, contact: Contact) -> Around:
    """The people around the contact and its broker: the broker's name fetched beside the
    relations, so a cold page waits for one round more, not two."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vitec-users") as pool:
        run = contextvars.copy_context().run  # the worker's log lines keep the request id
        agent = pool.submit(run, agent_get, credential=credential, agent_id=contact.agent_id)
        people = contact_people(credential=credential, contact_id=contact.id)
        return Around(people=people, agent=agent.result())


def agent_names(credential: VitecCredential) -> dict[str, str]:
    """The office's brokers' names by user id (GetUser, cached an hour); {} when it fails."""
    try:
        users = users_get(credential=credential)
    except VitecError as error:
        logger.warning("The office's users could not be fetched: %s", error)
        return {}
    return {user.user_id: (user.name or "").strip() or user.user_id for user in users}
