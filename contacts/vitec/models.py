"""Typed models of Vitec Connect's CRM answers (contacts.vitec.parsing makes them from JSON or
XML)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


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
    name: str | None = None  # companies, estates and types we do not know (e.g. Association)
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
        return self.name or self.id

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
    corporate_number: str | None = None
    is_foreign_corporate_number: bool | None = None
    home_page: str | None = None
    telephone: CompanyTelephone | None = None
    lead_score: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CrmDeceasedEstateContact(CrmContact):
    type: str = ContactType.DECEASED_ESTATE
    social_security_number: str | None = None
    # Vitec spells this one "IsForeignIdSocialSecurityNumber"; we keep a plain Python name.
    is_foreign_social_security_number: bool | None = None
    telephone: PersonTelephone | None = None


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


class RelationType(StrEnum):
    """How two contacts are related (Vitec's ContactRelationType); Vitec sends a name or its
    number (`number`). A value this version does not know stays a plain string."""

    ESTATE_PARTY = "EstateParty"
    COMPANY_SIGNATORY = "CompanySignatory"
    COMPANY_CONTACT_PERSON = "CompanyContactPerson"
    POWER_OF_ATTORNEY = "PowerOfAttorney"
    GUARDIAN = "Guardian"
    LIMITED_GUARDIAN = "LimitedGuardian"
    REPRESENTATIVE = "Representative"
    EXECUTOR_UNDER_THE_WILL = "ExecutorUnderTheWill"
    ESTATE_ADMINISTRATOR = "EstateAdministrator"
    DECEASED = "Deceased"

    @property
    def number(self) -> int:
        return RELATION_NUMBERS[self]


RELATION_NUMBERS: dict[RelationType, int] = {
    RelationType.ESTATE_PARTY: 2,
    RelationType.COMPANY_SIGNATORY: 3,
    RelationType.COMPANY_CONTACT_PERSON: 4,
    RelationType.POWER_OF_ATTORNEY: 5,
    RelationType.GUARDIAN: 6,
    RelationType.LIMITED_GUARDIAN: 7,
    RelationType.REPRESENTATIVE: 8,
    RelationType.EXECUTOR_UNDER_THE_WILL: 9,
    RelationType.ESTATE_ADMINISTRATOR: 10,
    RelationType.DECEASED: 100,
}


@dataclass(frozen=True, slots=True)
class ContactRelation:
    """One person or company around a contact. `relation` is a RelationType, or Vitec's value as
    it came ("" when none) when this version does not know it."""

    relation: RelationType | str
    contact_id: str


@dataclass(frozen=True, slots=True)
class ContactRelations:
    """Answer of `GET CRM/Contact/{customerId}/{contactId}/ContactRelations`: `relations` point
    from the contact to its people (a company's signatories, an estate's parties),
    `reverse_relations` the other way (the company someone signs for, the estate they share)."""

    relations: tuple[ContactRelation, ...] = ()
    reverse_relations: tuple[ContactRelation, ...] = ()


@dataclass(frozen=True, slots=True)
class VitecUser:
    """One of the office's public users (`GET User/GetUser`): a contact's agent, a broker."""

    user_id: str
    name: str | None = None
    title: str | None = None
    email: str | None = None
    cell_phone: str | None = None
    archived: bool = False
