"""What the sandbox holds, read straight from the data it generates: the tests' oracle.

contacts/vitec/sandbox/data.py generates every contact as the JSON record Vitec Connect sends
(camelCase keys). Tests take their expected values from those records, with the small accessors
below, written by hand from Vitec's documented fields and from what the broker is meant to see;
never through the client, the parsers, the services or the views under test.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from contacts.vitec.sandbox import SandboxConfig
from contacts.vitec.sandbox.data import customer_data

Record = Mapping[str, Any]

_CONFIG = SandboxConfig()  # the tests' sandbox serves its default data (tests/conftest.py)
STOCKHOLM = ZoneInfo("Europe/Stockholm")  # the site's time zone: dates and times are shown in it
# A type the app does not know (the sandbox's Association) is shown as Vitec names it.
TYPE_EN = {
    "Person": "Person",
    "Company": "Company",
    "DeceasedEstate": "Deceased estate",
    "Association": "Association",
}
# .NET writes a date that was never set as 0001-01-01 (with or without an offset): no date.
EMPTY_DATE_PREFIX = "0001-01-01"


def records(customer: str = "M1001") -> Mapping[str, Record]:
    """Every contact of a customer, by id, as the sandbox serves it."""
    data = customer_data(customer, seed=_CONFIG.seed, count=_CONFIG.contacts_per_customer)
    return data.by_id


def contact_id(n: int, customer: str = "M1001") -> str:
    """The id of the sandbox's contact number n (1-based) of a customer, read from its record."""
    data = customer_data(customer, seed=_CONFIG.seed, count=_CONFIG.contacts_per_customer)
    return data.contacts[n - 1]["id"]


def categories_of_customer(customer: str = "M1001") -> list[Record]:
    """GetCategories of a customer: {"id", "name", "readOnly"} each."""
    data = customer_data(customer, seed=_CONFIG.seed, count=_CONFIG.contacts_per_customer)
    return [*data.person_categories, *data.company_categories]


# --- fields of one record -------------------------------------------------------------------------


def name(contact: Record) -> str:
    """The name a broker sees: a person's first and last name, else the record's name, else its
    id."""
    if contact["type"] == "Person":
        parts = (contact.get("firstName"), contact.get("lastName"))
        return " ".join(part for part in parts if part) or contact["id"]
    return contact.get("name") or contact["id"]


# The three ASCII signs after "z"; a hyphen separates words as a space does.
_AFTER_Z = str.maketrans({"å": "{", "ä": "|", "ö": "}", "-": " "})


def swedish_text(text: str) -> str:
    """Text as a Swedish reader orders it: word by word, case ignored, Å, Ä, Ö after Z, other
    accents dropped."""
    plain = unicodedata.normalize("NFKD", text.casefold().translate(_AFTER_Z))
    return "".join(c for c in plain if not unicodedata.combining(c))


def swedish_order(contact: Record) -> str:
    """Where a broker expects the contact in a list by name, Swedish style: persons by surname
    then first name (one without a surname by the first name), others by name."""
    if contact["type"] == "Person":
        words = [contact.get("lastName"), contact.get("firstName")]
        return swedish_text(" ".join(w for w in words if w) or contact["id"])
    return swedish_text(name(contact))


def personnummer(contact: Record) -> str | None:
    """The social security number as Vitec sends it (persons and deceased estates only)."""
    if contact["type"] in ("Person", "DeceasedEstate"):
        return contact.get("socialSecurityNumber") or None
    return None


def digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")


def swedish_personnummer(contact: Record) -> str | None:
    """The number when it is a Swedish personnummer (10 or 12 digits), else None."""
    number = personnummer(contact)
    return number if number and len(digits(number)) in (10, 12) else None


def masked(number: str) -> str:
    """A Swedish personnummer as the broker sees it by default: YYMMDD-****."""
    return f"{digits(number)[-10:-4]}-****"


def foreign_masked(number: str) -> str:
    """A foreign number as the broker sees it by default: its own shape, the last four letters
    or digits hidden ("****" whole when it has no more than four)."""
    chars, hidden = list(number), 0
    for index in range(len(chars) - 1, -1, -1):
        if hidden < 4 and chars[index].isalnum():
            chars[index], hidden = "*", hidden + 1
    return "****" if sum(c.isalnum() for c in number) <= 4 else "".join(chars)


def phones(contact: Record) -> list[str]:
    """The numbers that are set, most useful first: a mobile before the others; a company's
    switchboard first."""
    telephone = contact.get("telephone") or {}
    kinds = (
        ("switch", "other") if contact["type"] == "Company" else ("cell", "home", "work", "other")
    )
    return [telephone[kind] for kind in kinds if telephone.get(kind)]


def primary_phone(contact: Record) -> str | None:
    numbers = phones(contact)
    return numbers[0] if numbers else None


def national_digits(number: str) -> str:
    """A Swedish number's digits as dialled at home: "+46 70 123 45 67" -> "0701234567"."""
    if number.strip().startswith("+46"):
        return "0" + digits(number)[2:]
    return digits(number)


def phone_e164(number: str) -> str:
    """A Swedish number in E.164: "070-123 45 67" -> "+46701234567"."""
    return "+46" + national_digits(number)[1:]


def phone_shown(page: str, number: str) -> bool:
    """Whether the page links the number: `tel:` with its E.164 form, the text in national
    format (its digits those dialled at home, the leading zero kept)."""
    pattern = rf'<a href="tel:{re.escape(phone_e164(number))}">(0[0-9 -]+)</a>'
    return any(digits(m) == national_digits(number) for m in re.findall(pattern, page))


def tel_href(number: str) -> str:
    """A tel: link of the number's digits, with its leading +."""
    return "tel:" + ("+" if number.startswith("+") else "") + digits(number)


def emails(contact: Record) -> list[str]:
    email = contact.get("email") or {}
    return [
        address for address in (email.get("emailAddress"), email.get("emailAddress2")) if address
    ]


def email(contact: Record) -> str | None:
    """The first e-mail address that is set (emailAddress, else emailAddress2): the one of the
    list and the CSV."""
    addresses = emails(contact)
    return addresses[0] if addresses else None


def address(contact: Record) -> Record:
    return contact.get("address") or {}


def city(contact: Record) -> str | None:
    return address(contact).get("city") or None


def categories(contact: Record) -> list[Record]:
    """{"id", "name", "readOnly"} of each category the contact is in."""
    return list(contact.get("categories") or [])


def category_ids(contact: Record) -> list[str]:
    return [category["id"] for category in categories(contact)]


def moment(contact: Record, field: str) -> datetime | None:
    """A timestamp field (createdAt, changedAt, gdprApprovalDate, ...) as an aware datetime."""
    value = contact.get(field)
    if not value or value.startswith(EMPTY_DATE_PREFIX):  # never set: no date
        return None
    return datetime.fromisoformat(value)


def local_date(contact: Record, field: str) -> str:
    """The date of a timestamp in Stockholm, as the pages and the CSV write it ("" if none)."""
    value = moment(contact, field)
    return value.astimezone(STOCKHOLM).date().isoformat() if value else ""


def local_minute(contact: Record, field: str) -> str:
    """A timestamp in Stockholm to the minute, as the pages and the CSV write it ("" if none)."""
    value = moment(contact, field)
    return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") if value else ""
