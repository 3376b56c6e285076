"""The office register's rows: a typed contact to a RegisterContact and back, and the folded
forms (no case, no accents, Swedish order) that searching and sorting compare.

The personnummer never lands in a column in clear: it is sealed (crmviewer/sealing.py, purpose
"register", bound to the row's customer and id) and indexed by an HMAC of its ten digits, keyed
with SECRET_KEY, so an exact search finds it and nobody reading the table can.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.utils.crypto import salted_hmac

from crmviewer.sealing import MISSING, seal, unseal

from ..models import RegisterCategory, RegisterContact
from ..vitec.codec import contact_from_data, contact_to_data
from ..vitec.ids import id_key
from ..vitec.models import (
    Contact,
    CrmCompanyContact,
    CrmDeceasedEstateContact,
    CrmPersonContact,
)
from .identity import social_security_number
from .ordering import fold, sort_name, swedish_sort_key
from .phones import phone_digits
from .presentation import email, gdpr_date, is_deceased, lead_score

_SEALED = "register"
_DIGITS = re.compile(r"\d")


def personnummer_index(number: str) -> str:
    """The blind index of a personnummer or samordningsnummer: an HMAC of its last ten digits
    (so `19570314-1234`, `570314-1234` and `5703141234` are one)."""
    digits = "".join(_DIGITS.findall(number))[-10:]
    if len(digits) != 10:
        return ""
    return salted_hmac("crmviewer.register.personnummer", digits, algorithm="sha256").hexdigest()


def _seal_key(customer_id: str, contact_id: str) -> str:
    return f"register:{customer_id}:{id_key(contact_id)}"


def _phones(contact: Contact) -> list[str]:
    return [n for _, n in getattr(getattr(contact, "telephone", None), "numbers", [])]


def _search_text(contact: Contact) -> str:
    address = contact.address
    parts = [
        contact.display_name,
        sort_name(contact),
        contact.id,
        *(contact.email.addresses if contact.email else []),
        address.street_address if address else None,
        address.zip_code if address else None,
        address.city if address else None,
    ]
    if address and address.zip_code:
        parts.append(address.zip_code.replace(" ", ""))
    if isinstance(contact, CrmCompanyContact) and contact.corporate_number:
        parts.append(contact.corporate_number)
        parts.append("".join(_DIGITS.findall(contact.corporate_number)))
    return " " + fold(" ".join(part for part in parts if part)) + " "


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo is not None else None


def row_for(contact: Contact, *, customer_id: str, synced_at: datetime) -> RegisterContact:
    """The register row of a contact Vitec answered (not saved)."""
    number = (social_security_number(contact) or "").strip()
    if isinstance(contact, CrmPersonContact | CrmDeceasedEstateContact):  # sealed, below
        stored = contact_to_data(dataclasses.replace(contact, social_security_number=None))
    else:
        stored = contact_to_data(contact)
    address = contact.address
    phones = [phone_digits(p) for p in _phones(contact)]
    return RegisterContact(
        customer_id=customer_id,
        contact_id=contact.id,
        id_key=id_key(contact.id),
        contact_type=str(contact.type),
        name=contact.display_name[:200],
        sort_key=swedish_sort_key(sort_name(contact)),
        search_text=_search_text(contact),
        phone_digits=(" " + " ".join(p for p in phones if p) + " ") if phones else "",
        email=email(contact)[:200],
        street=((address.street_address or "") if address else "")[:100],
        zip_code=((address.zip_code or "") if address else "")[:20],
        city=((address.city or "") if address else "")[:50],
        gdpr_informed_at=_aware(getattr(contact, "gdpr_approval_date", None))
        if gdpr_date(contact)
        else None,
        advertising=contact.advertising_enabled,
        lead_score=lead_score(contact),
        deceased=bool(is_deceased(contact)),
        agent_id=(contact.agent_id or "")[:40],
        created_at=_aware(contact.created_at),
        changed_at=_aware(contact.changed_at),
        data=stored,
        personnummer_sealed=seal(
            number, purpose=_SEALED, key=_seal_key(customer_id, contact.id)
        ).decode("ascii")
        if number
        else "",
        personnummer_index=personnummer_index(number) if number else "",
        synced_at=synced_at,
    )


def categories_for(row: RegisterContact, contact: Contact) -> Iterator[RegisterCategory]:
    seen: set[str] = set()
    for category in contact.categories:
        if category.id in seen:
            continue
        seen.add(category.id)
        yield RegisterCategory(
            contact=row,
            customer_id=row.customer_id,
            category_id=category.id[:100],
            name=(category.name or "")[:200],
        )


def contact_of(row: RegisterContact) -> Contact:
    """The typed contact a row holds, its personnummer unsealed (empty when it cannot be)."""
    contact = contact_from_data(row.data)
    if row.personnummer_sealed:
        number = unseal(
            row.personnummer_sealed.encode("ascii"),
            purpose=_SEALED,
            key=_seal_key(row.customer_id, row.contact_id),
        )
        if number is not MISSING and isinstance(
            contact, CrmPersonContact | CrmDeceasedEstateContact
        ):
            contact = dataclasses.replace(contact, social_security_number=number)
    return contact


def contacts_of(rows: Iterable[RegisterContact]) -> list[Contact]:
    return [contact_of(row) for row in rows]


def register_held(customer_id: str) -> int:
    """How many contacts the customer's register holds now (a first sync's progress: what an
    interrupted sync stored counts, as the next run does not fetch it again)."""
    return RegisterContact.objects.filter(customer_id=customer_id).count()
