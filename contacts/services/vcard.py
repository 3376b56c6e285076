"""Contacts as vCard 4.0 (RFC 6350), written by hand: a few properties, escaped and folded.

Each card has FN and N, KIND, ORG (a company's name, or a person's employer when known), every
phone as a `tel:` URI in E.164 with its kind (TYPE=cell, home, work or voice), every e-mail and
the address. Never a personnummer and never the contact's note. Lines end in CRLF and are folded
at 75 octets, never inside a UTF-8 character.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator

from ..vitec.models import Contact, CrmPersonContact
from .phones import phone_e164

LINE_OCTETS = 75
CRLF = "\r\n"
PRODID = "-//crmviewer//Vitec contacts//EN"

# The vCard TYPE of each kind of Vitec phone: a company's switchboard is its work number.
TEL_TYPES = {"cell": "cell", "home": "home", "work": "work", "switch": "work", "other": "voice"}


def vcard_text(value: str) -> str:
    """A text value escaped (RFC 6350, 3.4): backslash, comma, semicolon and line breaks; other
    control characters (not allowed in a vCard) and lone surrogates are left out."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(
        char for char in value if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cs")
    )
    return kept.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")


def fold(line: str) -> str:
    """A content line folded at 75 octets (RFC 6350, 3.2): each continuation line starts with a
    space, which counts in its 75; a multi-byte UTF-8 character is never split."""
    parts: list[str] = []
    current: list[str] = []
    size, limit = 0, LINE_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, LINE_OCTETS - 1
        current.append(char)
        size += width
    parts.append("".join(current))
    return (CRLF + " ").join(parts)


def _compound(*components: str | None) -> str:
    return ";".join(vcard_text(component or "") for component in components)


def _properties(contact: Contact, organisation: str) -> Iterator[str]:
    person = isinstance(contact, CrmPersonContact)
    yield "BEGIN:VCARD"
    yield "VERSION:4.0"
    yield f"PRODID:{PRODID}"
    yield "KIND:" + ("individual" if person else "org")
    yield "FN:" + vcard_text(contact.display_name)
    if isinstance(contact, CrmPersonContact):
        yield "N:" + _compound(contact.last_name, contact.first_name, "", "", "")
    else:
        yield "N:" + _compound("", "", "", "", "")
    organisation = organisation if person else (contact.name or "")
    if organisation:
        yield "ORG:" + vcard_text(organisation)
    numbers = getattr(getattr(contact, "telephone", None), "numbers", [])
    for index, (kind, number) in enumerate(numbers):
        tel_type = TEL_TYPES.get(kind, "voice")
        pref = ";PREF=1" if index == 0 else ""
        e164 = phone_e164(number)
        if e164:
            yield f"TEL;VALUE=uri;TYPE={tel_type}{pref}:tel:{e164}"
        else:  # a number phonenumbers cannot read: as Vitec has it, as text
            yield f"TEL;VALUE=text;TYPE={tel_type}{pref}:{vcard_text(number.strip())}"
    emails = contact.email.addresses if contact.email else []
    for index, email in enumerate(emails):
        yield "EMAIL" + (";PREF=1" if index == 0 else "") + ":" + vcard_text(email)
    place = contact.address
    if place and (place.street_address or place.zip_code or place.city):
        # PO box; extended address; street; locality; region; postal code; country
        yield "ADR:" + _compound(
            "", "", place.street_address, place.city, "", place.zip_code, place.country_code
        )
    yield "END:VCARD"


def contact_vcard(contact: Contact, *, organisation: str = "") -> str:
    """One contact's card, every line folded and ended with CRLF. `organisation`: a person's
    employer (a company's card names the company itself)."""
    return "".join(fold(line) + CRLF for line in _properties(contact, organisation))


def vcards(contacts: Iterable[Contact]) -> Iterator[str]:
    """One card after another, for a .vcf of a whole view (streamed as it is written)."""
    for contact in contacts:
        yield contact_vcard(contact)
