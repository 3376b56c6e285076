"""Typed models of Vitec Connect's CRM answers, and the one place raw JSON/XML becomes them.

Vitec's answer is forgiving in what it sends: any field may be missing or null, new fields appear,
and the `type` discriminator may one day carry a value we do not know. Parsing therefore never
raises on a field's content; only an answer that is not a list of objects is a bad response.
Keys are matched case-insensitively so that the JSON (camelCase) and XML (PascalCase) forms share
one parser.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


class ContactType(StrEnum):
    PERSON = "Person"
    COMPANY = "Company"
    DECEASED_ESTATE = "DeceasedEstate"


class MatchingWatched(StrEnum):
    YES = "Yes"
    NO = "No"
    NOT_ASKED = "NotAsked"


@dataclass(frozen=True, slots=True)
class Coordinate:
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Address:
    street_address: str | None = None
    zip_code: str | None = None
    city: str | None = None
    country_code: str | None = None
    coordinate: Coordinate | None = None


@dataclass(frozen=True, slots=True)
class Email:
    email_address: str | None = None
    email_address2: str | None = None

    @property
    def addresses(self) -> list[str]:
        return [a for a in (self.email_address, self.email_address2) if a]


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    name: str | None = None
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class PersonTelephone:
    """Telephone numbers of a person or a deceased estate (PersonTelephoneNumbers)."""

    home: str | None = None
    work: str | None = None
    cell: str | None = None
    other: str | None = None

    @property
    def numbers(self) -> list[tuple[str, str]]:
        """(kind, number) pairs that are set, most useful first."""
        pairs = [
            ("cell", self.cell),
            ("home", self.home),
            ("work", self.work),
            ("other", self.other),
        ]
        return [(kind, number) for kind, number in pairs if number]


@dataclass(frozen=True, slots=True)
class CompanyTelephone:
    """Telephone numbers of a company (CompanyTelephoneNumbers)."""

    switch: str | None = None
    other: str | None = None

    @property
    def numbers(self) -> list[tuple[str, str]]:
        pairs = [("switch", self.switch), ("other", self.other)]
        return [(kind, number) for kind, number in pairs if number]


@dataclass(frozen=True, slots=True, kw_only=True)
class CrmContact:
    """Fields common to every contact type. An unknown `type` parses to this class itself."""

    id: str
    type: str
    customer_id: str | None = None
    agent_id: str | None = None
    address: Address | None = None
    email: Email | None = None
    advertising_enabled: bool | None = None
    note: str | None = None
    categories: tuple[Category, ...] = ()
    created_at: datetime | None = None
    changed_at: datetime | None = None

    @property
    def display_name(self) -> str:
        return self.id

    @property
    def primary_phone(self) -> str | None:
        numbers = getattr(getattr(self, "telephone", None), "numbers", [])
        return numbers[0][1] if numbers else None


@dataclass(frozen=True, slots=True, kw_only=True)
class CrmPersonContact(CrmContact):
    type: str = ContactType.PERSON
    first_name: str | None = None
    last_name: str | None = None
    social_security_number: str | None = None
    is_foreign_social_security_number: bool | None = None
    date_of_birth: date | None = None
    telephone: PersonTelephone | None = None
    lead_score: int | None = None
    wants_to_be_matched: MatchingWatched | None = None
    matching_changed_at: datetime | None = None
    is_deceased: bool | None = None
    is_company_person: bool | None = None
    gdpr_approval_date: datetime | None = None

    @property
    def display_name(self) -> str:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or self.id


@dataclass(frozen=True, slots=True, kw_only=True)
class CrmCompanyContact(CrmContact):
    type: str = ContactType.COMPANY
    name: str | None = None
    corporate_number: str | None = None
    is_foreign_corporate_number: bool | None = None
    home_page: str | None = None
    telephone: CompanyTelephone | None = None
    lead_score: int | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.id


@dataclass(frozen=True, slots=True, kw_only=True)
class CrmDeceasedEstateContact(CrmContact):
    type: str = ContactType.DECEASED_ESTATE
    name: str | None = None
    social_security_number: str | None = None
    # Vitec spells this one "IsForeignIdSocialSecurityNumber"; we keep a plain Python name.
    is_foreign_social_security_number: bool | None = None
    telephone: PersonTelephone | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.id


Contact = CrmPersonContact | CrmCompanyContact | CrmDeceasedEstateContact | CrmContact


@dataclass(frozen=True, slots=True)
class ContactRef:
    """One entry of the id listing and of search results."""

    id: str
    customer_id: str | None = None
    changed_at: datetime | None = None
    type: str | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class ContactIndex:
    """Answer of `GET CRM/Contact/{customerId}`: ids of all contacts, grouped by type."""

    persons: tuple[ContactRef, ...] = ()
    companies: tuple[ContactRef, ...] = ()
    deceased_estates: tuple[ContactRef, ...] = ()

    @property
    def all_ids(self) -> list[str]:
        return [ref.id for ref in (*self.persons, *self.companies, *self.deceased_estates)]


@dataclass(frozen=True, slots=True)
class Categories:
    """Answer of `GET Category/GetCategories`."""

    person: tuple[Category, ...] = ()
    company: tuple[Category, ...] = ()

    @property
    def all(self) -> tuple[Category, ...]:
        return (*self.person, *self.company)


# --- parsing -------------------------------------------------------------------------------------

STOCKHOLM = ZoneInfo("Europe/Stockholm")
_FRACTION = re.compile(r"(\.\d{6})\d+")


def _lower_keys(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    return {str(key).lower(): item for key, item in value.items()}


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def parse_datetime(value: Any) -> datetime | None:
    """Parse Vitec's ISO timestamps, e.g. `2026-10-04T13:51:27.3562702+02:00` (7 digits)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = _FRACTION.sub(r"\1", value.strip())  # Python keeps microseconds: drop the 7th digit
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    # Vitec always sends an offset; should one ever be missing, the time is Swedish.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=STOCKHOLM)


def _date(value: Any) -> date | None:
    parsed = parse_datetime(value)
    if parsed is not None:
        return parsed.date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _enum[E: StrEnum](enum: type[E], value: Any) -> E | None:
    text = _str(value)
    for member in enum:
        if text is not None and member.value.lower() == text.strip().lower():
            return member
    return None


def _address(value: Any) -> Address | None:
    raw = _lower_keys(value)
    if not raw:
        return None
    coordinate = None
    coords = _lower_keys(raw.get("wgs84coordinate"))
    lat, lon = _float(coords.get("latitude")), _float(coords.get("longitude"))
    if lat is not None and lon is not None:
        coordinate = Coordinate(latitude=lat, longitude=lon)
    return Address(
        street_address=_str(raw.get("streetaddress")),
        zip_code=_str(raw.get("zipcode")),
        city=_str(raw.get("city")),
        country_code=_str(raw.get("countrycode")),
        coordinate=coordinate,
    )


def _email(value: Any) -> Email | None:
    raw = _lower_keys(value)
    if not raw:
        return None
    return Email(
        email_address=_str(raw.get("emailaddress")), email_address2=_str(raw.get("emailaddress2"))
    )


def _category(value: Any) -> Category | None:
    raw = _lower_keys(value)
    category_id = _str(raw.get("id"))
    if not category_id:
        return None
    return Category(
        id=category_id, name=_str(raw.get("name")), read_only=bool(_bool(raw.get("readonly")))
    )


def parse_categories(value: Any) -> tuple[Category, ...]:
    items = value if isinstance(value, list) else []
    return tuple(c for c in (_category(item) for item in items) if c is not None)


def _person_phone(value: Any) -> PersonTelephone | None:
    raw = _lower_keys(value)
    if not raw:
        return None
    return PersonTelephone(
        home=_str(raw.get("home")),
        work=_str(raw.get("work")),
        cell=_str(raw.get("cell")),
        other=_str(raw.get("other")),
    )


def _company_phone(value: Any) -> CompanyTelephone | None:
    raw = _lower_keys(value)
    if not raw:
        return None
    return CompanyTelephone(switch=_str(raw.get("switch")), other=_str(raw.get("other")))


_TYPE_BY_NUMBER = {"0": "Person", "1": "Company", "2": "DeceasedEstate"}


def parse_contact(value: Any) -> Contact | None:
    """One contact from its JSON (or XML-derived) object; None when it has no id at all."""
    raw = _lower_keys(value)
    contact_id = _str(raw.get("id"))
    if not contact_id:
        return None
    raw_type = _str(raw.get("type")) or ""
    if raw_type in _TYPE_BY_NUMBER:  # ContactType is an enum (0, 1, 2) on Vitec's side
        raw_type = _TYPE_BY_NUMBER[raw_type]
    common: dict[str, Any] = {
        "id": contact_id,
        "customer_id": _str(raw.get("customerid")),
        "agent_id": _str(raw.get("agentid")),
        "address": _address(raw.get("address")),
        "email": _email(raw.get("email")),
        "advertising_enabled": _bool(raw.get("advertisingenabled")),
        "note": _str(raw.get("note")),
        "categories": parse_categories(raw.get("categories")),
        "created_at": parse_datetime(raw.get("createdat")),
        "changed_at": parse_datetime(raw.get("changedat")),
    }
    contact_type = _enum(ContactType, raw_type)
    if contact_type is ContactType.PERSON:
        return CrmPersonContact(
            **common,
            first_name=_str(raw.get("firstname")),
            last_name=_str(raw.get("lastname")),
            social_security_number=_str(raw.get("socialsecuritynumber")),
            is_foreign_social_security_number=_bool(raw.get("isforeignsocialsecuritynumber")),
            date_of_birth=_date(raw.get("dateofbirth")),
            telephone=_person_phone(raw.get("telephone")),
            lead_score=_int(raw.get("leadscore")),
            wants_to_be_matched=_enum(MatchingWatched, raw.get("wantstobematched")),
            matching_changed_at=parse_datetime(raw.get("matchingchangedat")),
            is_deceased=_bool(raw.get("isdeceased")),
            is_company_person=_bool(raw.get("iscompanyperson")),
            gdpr_approval_date=parse_datetime(raw.get("gdprapprovaldate")),
        )
    if contact_type is ContactType.COMPANY:
        return CrmCompanyContact(
            **common,
            name=_str(raw.get("name")),
            corporate_number=_str(raw.get("corporatenumber")),
            is_foreign_corporate_number=_bool(raw.get("isforeigncorporatenumber")),
            home_page=_str(raw.get("homepage")),
            telephone=_company_phone(raw.get("telephone")),
            lead_score=_int(raw.get("leadscore")),
        )
    if contact_type is ContactType.DECEASED_ESTATE:
        return CrmDeceasedEstateContact(
            **common,
            name=_str(raw.get("name")),
            social_security_number=_str(raw.get("socialsecuritynumber")),
            is_foreign_social_security_number=_bool(
                raw.get("isforeignidsocialsecuritynumber", raw.get("isforeignsocialsecuritynumber"))
            ),
            telephone=_person_phone(raw.get("telephone")),
        )
    return CrmContact(**common, type=raw_type or "Unknown")


def parse_contacts(value: Any) -> list[Contact] | None:
    """The contact list of an answer, or None when the answer is not a list at all."""
    if not isinstance(value, list):
        return None
    return [c for c in (parse_contact(item) for item in value) if c is not None]


def _ref(value: Any) -> ContactRef | None:
    raw = _lower_keys(value)
    ref_id = _str(raw.get("id"))
    if not ref_id:
        return None
    return ContactRef(
        id=ref_id,
        customer_id=_str(raw.get("customerid")),
        changed_at=parse_datetime(raw.get("changedat")),
        type=_str(raw.get("type")),
        score=_float(raw.get("score")),
    )


def _refs(value: Any) -> tuple[ContactRef, ...]:
    items = value if isinstance(value, list) else []
    return tuple(r for r in (_ref(item) for item in items) if r is not None)


def parse_contact_index(value: Any) -> ContactIndex | None:
    if not isinstance(value, Mapping):
        return None
    raw = _lower_keys(value)
    return ContactIndex(
        persons=_refs(raw.get("persons")),
        companies=_refs(raw.get("companies")),
        deceased_estates=_refs(raw.get("deceasedestates")),
    )


def parse_search(value: Any) -> list[ContactRef] | None:
    if not isinstance(value, Mapping):
        return None
    return list(_refs(_lower_keys(value).get("matches")))


def parse_category_lists(value: Any) -> Categories | None:
    if not isinstance(value, Mapping):
        return None
    raw = _lower_keys(value)
    return Categories(
        person=parse_categories(raw.get("personcategories")),
        company=parse_categories(raw.get("companycategories")),
    )


__all__ = [
    "Address",
    "Categories",
    "Category",
    "CompanyTelephone",
    "Contact",
    "ContactIndex",
    "ContactRef",
    "ContactType",
    "Coordinate",
    "CrmCompanyContact",
    "CrmContact",
    "CrmDeceasedEstateContact",
    "CrmPersonContact",
    "Email",
    "MatchingWatched",
    "PersonTelephone",
    "parse_categories",
    "parse_category_lists",
    "parse_contact",
    "parse_contact_index",
    "parse_contacts",
    "parse_datetime",
    "parse_search",
]
