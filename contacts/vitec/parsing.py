"""The one place raw JSON/XML from Vitec Connect becomes the typed models of contacts.vitec.models.

Vitec's answer is forgiving in what it sends: any field may be missing or null, new fields appear,
and the `type` discriminator may one day carry a value we do not know. Parsing therefore never
raises on a field's content; only an answer that is not a list of objects is a bad response.
Keys are matched case-insensitively so that the JSON (camelCase) and XML (PascalCase) forms share
one parser; DataContract XML is first turned into the same structure (`xml_to_data`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from .models import (
    Address,
    Categories,
    Category,
    CompanyTelephone,
    Contact,
    ContactIndex,
    ContactRef,
    ContactRelation,
    ContactRelations,
    ContactType,
    Coordinate,
    CrmCompanyContact,
    CrmContact,
    CrmDeceasedEstateContact,
    CrmPersonContact,
    Email,
    MatchingWatched,
    PersonTelephone,
    RelationType,
    VitecUser,
)

_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
# XML elements whose children form a list (DataContract collections), by lower-cased local name.
_XML_LIST_TAGS = frozenset(
    {"categories", "matches", "persons", "companies", "deceasedestates"}
    | {"personcategories", "companycategories", "relations", "reverserelations"}
)


def xml_to_data(element: Any) -> Any:
    """A DataContract XML element as the equivalent JSON structure (keys keep their case)."""
    local = element.tag.rsplit("}", 1)[-1]
    children = list(element)
    if element.get(_XSI_NIL) == "true":
        return None
    if local.startswith("ArrayOf") or local.lower() in _XML_LIST_TAGS:
        return [xml_to_data(child) for child in children]
    if not children:
        return element.text if element.text is not None else ""
    return {child.tag.rsplit("}", 1)[-1]: xml_to_data(child) for child in children}


STOCKHOLM = ZoneInfo("Europe/Stockholm")
_FRACTION = re.compile(r"(\.\d{6})\d+")
# .NET writes a DateTime that was never set as its MinValue, `0001-01-01T00:00:00`: "no date".
_DOTNET_EMPTY = date(1, 1, 1)


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
    if parsed.date() == _DOTNET_EMPTY:  # .NET's DateTime.MinValue: a date that was never set
        return None
    # Vitec always sends an offset; should one ever be missing, the time is Swedish.
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=STOCKHOLM)
    try:  # a time at the very edge of the calendar cannot be shown in any other zone
        parsed.astimezone(UTC).astimezone(STOCKHOLM)
    except OverflowError:
        return None
    return parsed


def _date(value: Any) -> date | None:
    parsed = parse_datetime(value)
    if parsed is not None:
        return parsed.date()
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
        return None if day == _DOTNET_EMPTY else day
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
    if lat is not None and lon is not None and (lat, lon) != (0.0, 0.0):  # 0/0: not geocoded
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
# MatchingWatched is an enum on Vitec's side too: Yes = 0, No = 1, NotAsked = 2.
_MATCHING_BY_NUMBER = {"0": "Yes", "1": "No", "2": "NotAsked"}


def _matching(value: Any) -> MatchingWatched | None:
    text = (_str(value) or "").strip()
    return _enum(MatchingWatched, _MATCHING_BY_NUMBER.get(text, text))


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
    build = _BUILDERS.get(_enum(ContactType, raw_type))
    if build is None:  # a type this version does not know: the fields every contact has
        return CrmContact(**common, type=raw_type or "Unknown", name=_str(raw.get("name")))
    return build(raw, common)


def _person(raw: dict[str, Any], common: dict[str, Any]) -> Contact:
    return CrmPersonContact(
        **common,
        first_name=_str(raw.get("firstname")),
        last_name=_str(raw.get("lastname")),
        social_security_number=_str(raw.get("socialsecuritynumber")),
        is_foreign_social_security_number=_bool(raw.get("isforeignsocialsecuritynumber")),
        date_of_birth=_date(raw.get("dateofbirth")),
        telephone=_person_phone(raw.get("telephone")),
        lead_score=_int(raw.get("leadscore")),
        wants_to_be_matched=_matching(raw.get("wantstobematched")),
        matching_changed_at=parse_datetime(raw.get("matchingchangedat")),
        is_deceased=_bool(raw.get("isdeceased")),
        is_company_person=_bool(raw.get("iscompanyperson")),
        gdpr_approval_date=parse_datetime(raw.get("gdprapprovaldate")),
    )


def _company(raw: dict[str, Any], common: dict[str, Any]) -> Contact:
    return CrmCompanyContact(
        **common,
        name=_str(raw.get("name")),
        corporate_number=_str(raw.get("corporatenumber")),
        is_foreign_corporate_number=_bool(raw.get("isforeigncorporatenumber")),
        home_page=_str(raw.get("homepage")),
        telephone=_company_phone(raw.get("telephone")),
        lead_score=_int(raw.get("leadscore")),
    )


def _deceased_estate(raw: dict[str, Any], common: dict[str, Any]) -> Contact:
    return CrmDeceasedEstateContact(
        **common,
        name=_str(raw.get("name")),
        social_security_number=_str(raw.get("socialsecuritynumber")),
        is_foreign_social_security_number=_bool(
            raw.get("isforeignidsocialsecuritynumber", raw.get("isforeignsocialsecuritynumber"))
        ),
        telephone=_person_phone(raw.get("telephone")),
    )


_BUILDERS: dict[ContactType | None, Callable[[dict[str, Any], dict[str, Any]], Contact]] = {
    ContactType.PERSON: _person,
    ContactType.COMPANY: _company,
    ContactType.DECEASED_ESTATE: _deceased_estate,
}


def parse_contacts(value: Any, *, single: bool = False) -> list[Contact] | None:
    """The contact list of an answer, or None when the answer is not a list at all.

    With `single` (a call for one id) the answer may also be the contact itself, one object:
    Vitec documents `CRM/Contact/{customerId}/{contactId}` as a route of its own that answers
    one object, on the same URL template as the list. An object without an id is no contact.
    """
    if single and isinstance(value, Mapping):
        contact = parse_contact(value)
        return None if contact is None else [contact]
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


# ContactRelationType is an enum on Vitec's side: its numbers, as the JSON may carry them.
_RELATION_BY_NUMBER = {str(member.number): member for member in RelationType}


def parse_relation_type(value: Any) -> RelationType | str:
    """A relation type from its name (any letter case) or its number; a value this version
    does not know is kept as Vitec wrote it ("" when there is none)."""
    text = (_str(value) or "").strip()
    number = _int(value)
    if number is not None and str(number) in _RELATION_BY_NUMBER:
        return _RELATION_BY_NUMBER[str(number)]
    return _enum(RelationType, text) or text


def _as_list(value: Any) -> list[Any]:
    """A list as it is, one object as a list of it (a serialiser that unwraps a list of one),
    anything else (null, a string) as no items."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, Mapping) else []


def _relation(value: Any) -> ContactRelation | None:
    raw = _lower_keys(value)
    contact_id = (_str(raw.get("contactid")) or "").strip()
    if not contact_id:  # nobody to show
        return None
    return ContactRelation(relation=parse_relation_type(raw.get("relation")), contact_id=contact_id)


def _relations(value: Any) -> tuple[ContactRelation, ...]:
    return tuple(r for r in (_relation(item) for item in _as_list(value)) if r is not None)


def parse_contact_relations(value: Any) -> ContactRelations | None:
    """The answer of ContactRelations; None when it is not an object at all. Missing or null
    lists are empty, entries without a contact id are left out."""
    if not isinstance(value, Mapping):
        return None
    raw = _lower_keys(value)
    return ContactRelations(
        relations=_relations(raw.get("relations")),
        reverse_relations=_relations(raw.get("reverserelations")),
    )


def _user(value: Any) -> VitecUser | None:
    raw = _lower_keys(value)
    user_id = (_str(raw.get("userid")) or "").strip()
    if not user_id:
        return None
    return VitecUser(
        user_id=user_id,
        name=_str(raw.get("username")),
        title=_str(raw.get("title")),
        email=_str(raw.get("emailaddress")),
        cell_phone=_str(raw.get("cellphone")),
        archived=bool(_bool(raw.get("archived"))),
    )


def parse_users(value: Any) -> list[VitecUser] | None:
    """The users of GetUser: a list, or one user object on its own; None for anything else.
    Entries without a user id are left out."""
    if not isinstance(value, (list, Mapping)):
        return None
    return [u for u in (_user(item) for item in _as_list(value)) if u is not None]


__all__ = [
    "Address",
    "Categories",
    "Category",
    "CompanyTelephone",
    "Contact",
    "ContactIndex",
    "ContactRef",
    "ContactRelation",
    "ContactRelations",
    "ContactType",
    "Coordinate",
    "CrmCompanyContact",
    "CrmContact",
    "CrmDeceasedEstateContact",
    "CrmPersonContact",
    "Email",
    "MatchingWatched",
    "PersonTelephone",
    "RelationType",
    "VitecUser",
    "parse_categories",
    "parse_category_lists",
    "parse_contact",
    "parse_contact_index",
    "parse_contact_relations",
    "parse_contacts",
    "parse_datetime",
    "parse_relation_type",
    "parse_search",
    "parse_users",
]
