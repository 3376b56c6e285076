"""Folded text and Swedish order, shared by the lookups' sort and the office register: `fold`
for comparing without case or accents, `swedish_sort_key` for Å, Ä, Ö after Z under any
database collation, `sort_name` for persons by surname."""

from __future__ import annotations

import re
import unicodedata

from ..vitec.models import Contact, CrmPersonContact

_SPACES = re.compile(r"\s+")
# Swedish alphabetical order: Å, Ä, Ö after Z; Æ as Ä, Ø as Ö, Ü as Y (SAOL's rules, simplified).
_SWEDISH_AFTER_Z = {"å": "å", "ä": "ä", "æ": "ä", "ö": "ö", "ø": "ö", "ü": "y"}
_SORT_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzåäö"


def fold(text: str) -> str:
    """Text without case or accents, spaces collapsed: `Öberg-Ähman` -> `oberg-ahman`."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", stripped).strip()


def swedish_sort_key(text: str) -> str:
    """A key whose plain ordering is Swedish alphabetical order, the same under any database
    collation: each letter or digit becomes two digits (Å, Ä, Ö after Z; other accents ignored),
    anything else a word break."""
    out: list[str] = []
    for char in text.casefold():
        char = _SWEDISH_AFTER_Z.get(char, char)
        if char not in _SORT_ALPHABET:
            char = fold(char)[:1] or " "
        position = _SORT_ALPHABET.find(char)
        out.append("00" if position < 0 else f"{position + 10:02d}")
    return "".join(out).strip("0")[:400] if out else ""


def sort_name(contact: Contact) -> str:
    """Persons by surname, then first name; everyone else by their name."""
    if isinstance(contact, CrmPersonContact) and (contact.last_name or contact.first_name):
        return f"{contact.last_name or ''} {contact.first_name or ''}".strip()
    return contact.display_name
