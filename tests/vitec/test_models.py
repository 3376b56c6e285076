"""Unit tests of the typed Vitec models and of the one parser that builds them.

No database and no HTTP: JSON answers are Python values, XML answers go through defusedxml and
`xml_to_data` exactly as the client does.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, date, datetime, timedelta, timezone
from functools import reduce

import pytest
from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st

from contacts.vitec.models import (
    Address,
    Categories,
    Category,
    CompanyTelephone,
    ContactIndex,
    ContactRef,
    ContactType,
    Coordinate,
    CrmCompanyContact,
    CrmContact,
    CrmDeceasedEstateContact,
    CrmPersonContact,
    Email,
    MatchingWatched,
    PersonTelephone,
)
from contacts.vitec.parsing import (
    parse_category_lists,
    parse_contact,
    parse_contact_index,
    parse_contacts,
    parse_datetime,
    parse_search,
    xml_to_data,
)

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))

# A JSON integer too large for a float: json.loads accepts it (it is under Python's 4,300-digit
# limit), so it can reach the parser from a real answer.
HUGE_JSON_INT = json.loads("1" + "0" * 400)


def attr(obj, path: str):
    """`attr(c, "address.coordinate.latitude")`."""
    return reduce(getattr, path.split("."), obj)


def assert_same(actual, expected) -> None:
    """Equal, of the same type (so False is not 0 and "4" is not 4), same UTC offset."""
    assert actual == expected
    assert type(actual) is type(expected)
    if isinstance(expected, datetime):
        assert actual.utcoffset() == expected.utcoffset()


def xml_answer(text: str):
    return xml_to_data(ElementTree.fromstring(text))


# --- the seed page's samples, copied verbatim from seed-crm-contact-endpoint.txt -----------------

SEED_JSON = (
    '[ { "id": "sample string 1", "type": "Person", "customerId": "sample string 2", "agentId'
    '": "sample string 3", "address": { "streetAddress": "sample string 1", "zipCode": "sampl'
    'e string 2", "city": "sample string 3", "countryCode": "sample string 4" }, "email": { "'
    'emailAddress": "sample string 1", "emailAddress2": "sample string 2" }, "advertisingEnab'
    'led": true, "note": "sample string 5", "categories": [ { "id": "sample string 1", "name"'
    ': "sample string 2", "readOnly": true }, { "id": "sample string 1", "name": "sample stri'
    'ng 2", "readOnly": true } ], "createdAt": "2024-11-21T10:31:03.655511+01:00", "changedAt'
    '": "2024-11-21T10:31:03.655511+01:00" }, { "id": "sample string 1", "type": "Person", "c'
    'ustomerId": "sample string 2", "agentId": "sample string 3", "address": { "streetAddress'
    '": "sample string 1", "zipCode": "sample string 2", "city": "sample string 3", "countryC'
    'ode": "sample string 4" }, "email": { "emailAddress": "sample string 1", "emailAddress2"'
    ': "sample string 2" }, "advertisingEnabled": true, "note": "sample string 5", "categorie'
    's": [ { "id": "sample string 1", "name": "sample string 2", "readOnly": true }, { "id": '
    '"sample string 1", "name": "sample string 2", "readOnly": true } ], "createdAt": "2024-1'
    '1-21T10:31:03.655511+01:00", "changedAt": "2024-11-21T10:31:03.655511+01:00" } ]'
)
SEED_XML = (
    '<ArrayOfCrmContact xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://sch'
    'emas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models.Contact.Crm"> <CrmContact'
    "> <Address> <City>sample string 3</City> <CountryCode>sample string 4</CountryCode> <Stre"
    "etAddress>sample string 1</StreetAddress> <ZipCode>sample string 2</ZipCode> </Address> <"
    "AdvertisingEnabled>true</AdvertisingEnabled> <AgentId>sample string 3</AgentId> <Categori"
    'es xmlns:d3p1="http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models.'
    'Category"> <d3p1:Category> <d3p1:Id>sample string 1</d3p1:Id> <d3p1:Name>sample string 2'
    "</d3p1:Name> <d3p1:ReadOnly>true</d3p1:ReadOnly> </d3p1:Category> <d3p1:Category> <d3p1:"
    "Id>sample string 1</d3p1:Id> <d3p1:Name>sample string 2</d3p1:Name> <d3p1:ReadOnly>true</"
    "d3p1:ReadOnly> </d3p1:Category> </Categories> <ChangedAt>2024-11-21T10:31:03.655511+01:00"
    "</ChangedAt> <CreatedAt>2024-11-21T10:31:03.655511+01:00</CreatedAt> <CustomerId>sample s"
    'tring 2</CustomerId> <Email xmlns:d3p1="http://schemas.datacontract.org/2004/07/Vitec.Hou'
    'sing.Connect.Api.Models"> <d3p1:EmailAddress>sample string 1</d3p1:EmailAddress> <d3p1:Em'
    "ailAddress2>sample string 2</d3p1:EmailAddress2> </Email> <Id>sample string 1</Id> <Note>"
    "sample string 5</Note> <Type>Person</Type> </CrmContact> <CrmContact> <Address> <City>sam"
    "ple string 3</City> <CountryCode>sample string 4</CountryCode> <StreetAddress>sample stri"
    "ng 1</StreetAddress> <ZipCode>sample string 2</ZipCode> </Address> <AdvertisingEnabled>tr"
    'ue</AdvertisingEnabled> <AgentId>sample string 3</AgentId> <Categories xmlns:d3p1="http:/'
    '/schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models.Category"> <d3p1:Categ'
    "ory> <d3p1:Id>sample string 1</d3p1:Id> <d3p1:Name>sample string 2</d3p1:Name> <d3p1:Read"
    "Only>true</d3p1:ReadOnly> </d3p1:Category> <d3p1:Category> <d3p1:Id>sample string 1</d3p1"
    ":Id> <d3p1:Name>sample string 2</d3p1:Name> <d3p1:ReadOnly>true</d3p1:ReadOnly> </d3p1:Ca"
    "tegory> </Categories> <ChangedAt>2024-11-21T10:31:03.655511+01:00</ChangedAt> <CreatedAt>"
    "2024-11-21T10:31:03.655511+01:00</CreatedAt> <CustomerId>sample string 2</CustomerId> <Em"
    'ail xmlns:d3p1="http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models"'
    "> <d3p1:EmailAddress>sample string 1</d3p1:EmailAddress> <d3p1:EmailAddress2>sample strin"
    "g 2</d3p1:EmailAddress2> </Email> <Id>sample string 1</Id> <Note>sample string 5</Note> <"
    "Type>Person</Type> </CrmContact> </ArrayOfCrmContact>"
)

SEED_TIMESTAMP = datetime(2024, 11, 21, 10, 31, 3, 655511, tzinfo=CET)
SEED_CATEGORY = Category(id="sample string 1", name="sample string 2", read_only=True)
SEED_FIELDS = [
    ("id", "sample string 1"),
    ("type", ContactType.PERSON),
    ("customer_id", "sample string 2"),
    ("agent_id", "sample string 3"),
    ("address.street_address", "sample string 1"),
    ("address.zip_code", "sample string 2"),
    ("address.city", "sample string 3"),
    ("address.country_code", "sample string 4"),
    ("address.coordinate", None),
    ("email.email_address", "sample string 1"),
    ("email.email_address2", "sample string 2"),
    ("advertising_enabled", True),
    ("note", "sample string 5"),
    ("categories", (SEED_CATEGORY, SEED_CATEGORY)),
    ("created_at", SEED_TIMESTAMP),
    ("changed_at", SEED_TIMESTAMP),
    # The sample shows only the common fields; the person's own ones are absent.
    ("first_name", None),
    ("telephone", None),
    ("lead_score", None),
]


def test_seed_json_sample_is_two_persons() -> None:
    contacts = parse_contacts(json.loads(SEED_JSON))
    assert contacts is not None
    assert len(contacts) == 2
    assert all(type(c) is CrmPersonContact for c in contacts)


@pytest.mark.parametrize(("path", "expected"), SEED_FIELDS, ids=[p for p, _ in SEED_FIELDS])
def test_seed_json_sample_fields(path, expected) -> None:
    contacts = parse_contacts(json.loads(SEED_JSON))
    for contact in contacts:
        assert_same(attr(contact, path), expected)


def test_seed_json_timestamps_are_aware_with_plus_one_hour() -> None:
    for contact in parse_contacts(json.loads(SEED_JSON)):
        for stamp in (contact.created_at, contact.changed_at):
            assert stamp.tzinfo is not None
            assert stamp.utcoffset() == timedelta(hours=1)
            assert stamp.microsecond == 655511
            assert stamp.astimezone(UTC) == datetime(2024, 11, 21, 9, 31, 3, 655511, tzinfo=UTC)


def test_seed_category_read_only_flags() -> None:
    for contact in parse_contacts(json.loads(SEED_JSON)):
        assert [c.read_only for c in contact.categories] == [True, True]


def test_seed_xml_sample_equals_json_sample() -> None:
    from_xml = parse_contacts(xml_answer(SEED_XML))
    from_json = parse_contacts(json.loads(SEED_JSON))
    assert len(from_xml) == 2
    assert from_xml == from_json


# --- one full payload per type, every documented field set ----------------------------------------

PERSON_JSON = {
    "id": "P-1001",
    "type": "Person",
    "customerId": "M30011",
    "agentId": "AG-7",
    "address": {
        "streetAddress": "Storgatan 1",
        "zipCode": "111 22",
        "city": "Stockholm",
        "countryCode": "SE",
        "wgs84Coordinate": {"longitude": 18.0686, "latitude": 59.3293},
    },
    "email": {"emailAddress": "anna@example.se", "emailAddress2": "anna.work@example.se"},
    "advertisingEnabled": False,
    "note": "<b>Ring</b> efter 17 & helger",
    "categories": [
        {"id": "C1", "name": "Spekulant", "readOnly": False},
        {"id": "C2", "name": "Budgivare", "readOnly": True},
    ],
    "createdAt": "2026-10-04T13:51:27.3562702+02:00",
    "changedAt": "2026-11-02T08:05:00.1000000+01:00",
    "firstName": "Anna",
    "lastName": "Lindqvist",
    "socialSecurityNumber": "19800517-1234",
    "isForeignSocialSecurityNumber": True,
    "dateOfBirth": "1980-05-17T00:00:00",
    "telephone": {
        "home": "08-123 45 67",
        "work": "08-987 65 43",
        "cell": "070-111 22 33",
        "other": "+46 31 00 00 00",
    },
    "leadScore": 4,
    "wantsToBeMatched": "NotAsked",
    "matchingChangedAt": "2026-09-01T12:00:00.1234567+02:00",
    "isDeceased": False,
    "isCompanyPerson": True,
    "gdprApprovalDate": "2025-03-15T00:00:00+01:00",
}

COMPANY_JSON = {
    "id": "F-2002",
    "type": "Company",
    "customerId": "M30012",
    "agentId": "AG-8",
    "address": {
        "streetAddress": "Hamngatan 3",
        "zipCode": "411 06",
        "city": "Göteborg",
        "countryCode": "SE",
        "wgs84Coordinate": {"longitude": 11.9746, "latitude": 57.7089},
    },
    "email": {"emailAddress": "info@bolaget.se", "emailAddress2": "ekonomi@bolaget.se"},
    "advertisingEnabled": True,
    "note": "Kontaktperson: Per",
    "categories": [{"id": "K9", "name": "Företagskund", "readOnly": True}],
    "createdAt": "2025-01-10T09:00:00.0000001+01:00",
    "changedAt": "2026-06-30T23:59:59.9999999+02:00",
    "name": "Bolaget AB",
    "corporateNumber": "556677-8899",
    "isForeignCorporateNumber": True,
    "homePage": "https://bolaget.se",
    "telephone": {"switch": "031-700 00 00", "other": "031-700 00 01"},
    "leadScore": 2,
}

ESTATE_JSON = {
    "id": "D-3003",
    "type": "DeceasedEstate",
    "customerId": "M30013",
    "agentId": "AG-9",
    "address": {
        "streetAddress": "Vasagatan 5",
        "zipCode": "753 11",
        "city": "Uppsala",
        "countryCode": "SE",
        "wgs84Coordinate": {"longitude": 17.6389, "latitude": 59.8586},
    },
    "email": {"emailAddress": "dodsbo@example.se", "emailAddress2": "arvinge@example.se"},
    "advertisingEnabled": False,
    "note": "Bouppteckning klar",
    "categories": [{"id": "D1", "name": "Dödsbo", "readOnly": True}],
    "createdAt": "2024-02-29T10:00:00.5000000+01:00",
    "changedAt": "2024-03-31T03:00:00+02:00",
    "name": "Dödsbo efter Karl Berg",
    "socialSecurityNumber": "19400101-0000",
    "isForeignIdSocialSecurityNumber": True,
    "telephone": {
        "home": "018-10 20 30",
        "work": "018-40 50 60",
        "cell": "073-999 88 77",
        "other": "018-70 80 90",
    },
}

PAYLOADS = {"person": PERSON_JSON, "company": COMPANY_JSON, "estate": ESTATE_JSON}
CLASSES = {
    "person": CrmPersonContact,
    "company": CrmCompanyContact,
    "estate": CrmDeceasedEstateContact,
}

EXPECTED = {
    "person": [
        ("id", "P-1001"),
        ("type", ContactType.PERSON),
        ("customer_id", "M30011"),
        ("agent_id", "AG-7"),
        ("address.street_address", "Storgatan 1"),
        ("address.zip_code", "111 22"),
        ("address.city", "Stockholm"),
        ("address.country_code", "SE"),
        ("address.coordinate.longitude", 18.0686),
        ("address.coordinate.latitude", 59.3293),
        ("email.email_address", "anna@example.se"),
        ("email.email_address2", "anna.work@example.se"),
        ("advertising_enabled", False),
        ("note", "<b>Ring</b> efter 17 & helger"),
        (
            "categories",
            (
                Category(id="C1", name="Spekulant", read_only=False),
                Category(id="C2", name="Budgivare", read_only=True),
            ),
        ),
        ("created_at", datetime(2026, 10, 4, 13, 51, 27, 356270, tzinfo=CEST)),
        ("changed_at", datetime(2026, 11, 2, 8, 5, 0, 100000, tzinfo=CET)),
        ("first_name", "Anna"),
        ("last_name", "Lindqvist"),
        ("social_security_number", "19800517-1234"),
        ("is_foreign_social_security_number", True),
        ("date_of_birth", date(1980, 5, 17)),
        ("telephone.home", "08-123 45 67"),
        ("telephone.work", "08-987 65 43"),
        ("telephone.cell", "070-111 22 33"),
        ("telephone.other", "+46 31 00 00 00"),
        ("lead_score", 4),
        ("wants_to_be_matched", MatchingWatched.NOT_ASKED),
        ("matching_changed_at", datetime(2026, 9, 1, 12, 0, 0, 123456, tzinfo=CEST)),
        ("is_deceased", False),
        ("is_company_person", True),
        ("gdpr_approval_date", datetime(2025, 3, 15, 0, 0, tzinfo=CET)),
    ],
    "company": [
        ("id", "F-2002"),
        ("type", ContactType.COMPANY),
        ("customer_id", "M30012"),
        ("agent_id", "AG-8"),
        ("address.street_address", "Hamngatan 3"),
        ("address.zip_code", "411 06"),
        ("address.city", "Göteborg"),
        ("address.country_code", "SE"),
        ("address.coordinate.longitude", 11.9746),
        ("address.coordinate.latitude", 57.7089),
        ("email.email_address", "info@bolaget.se"),
        ("email.email_address2", "ekonomi@bolaget.se"),
        ("advertising_enabled", True),
        ("note", "Kontaktperson: Per"),
        ("categories", (Category(id="K9", name="Företagskund", read_only=True),)),
        ("created_at", datetime(2025, 1, 10, 9, 0, 0, 0, tzinfo=CET)),
        # The 7th digit is dropped, not rounded (rounding would carry into the next day).
        ("changed_at", datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=CEST)),
        ("name", "Bolaget AB"),
        ("corporate_number", "556677-8899"),
        ("is_foreign_corporate_number", True),
        ("home_page", "https://bolaget.se"),
        ("telephone.switch", "031-700 00 00"),
        ("telephone.other", "031-700 00 01"),
        ("lead_score", 2),
    ],
    "estate": [
        ("id", "D-3003"),
        ("type", ContactType.DECEASED_ESTATE),
        ("customer_id", "M30013"),
        ("agent_id", "AG-9"),
        ("address.street_address", "Vasagatan 5"),
        ("address.zip_code", "753 11"),
        ("address.city", "Uppsala"),
        ("address.country_code", "SE"),
        ("address.coordinate.longitude", 17.6389),
        ("address.coordinate.latitude", 59.8586),
        ("email.email_address", "dodsbo@example.se"),
        ("email.email_address2", "arvinge@example.se"),
        ("advertising_enabled", False),
        ("note", "Bouppteckning klar"),
        ("categories", (Category(id="D1", name="Dödsbo", read_only=True),)),
        ("created_at", datetime(2024, 2, 29, 10, 0, 0, 500000, tzinfo=CET)),
        ("changed_at", datetime(2024, 3, 31, 3, 0, 0, tzinfo=CEST)),
        ("name", "Dödsbo efter Karl Berg"),
        ("social_security_number", "19400101-0000"),
        ("is_foreign_social_security_number", True),
        ("telephone.home", "018-10 20 30"),
        ("telephone.work", "018-40 50 60"),
        ("telephone.cell", "073-999 88 77"),
        ("telephone.other", "018-70 80 90"),
    ],
}

FIELD_CASES = [
    pytest.param(kind, path, expected, id=f"{kind}-{path}")
    for kind, cases in EXPECTED.items()
    for path, expected in cases
]


@pytest.mark.parametrize(("kind", "path", "expected"), FIELD_CASES)
def test_full_payload_field(kind, path, expected) -> None:
    contact = parse_contact(copy.deepcopy(PAYLOADS[kind]))
    assert type(contact) is CLASSES[kind]
    assert_same(attr(contact, path), expected)


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_full_payload_leaves_no_field_unset(kind) -> None:
    """Every field of the dataclass is filled: nothing documented was forgotten by the parser."""
    contact = parse_contact(copy.deepcopy(PAYLOADS[kind]))
    unset = [f.name for f in dataclasses.fields(contact) if getattr(contact, f.name) in (None, ())]
    # `name` is common to every other type (unknown ones included); a person has first/last name.
    assert unset == (["name"] if kind == "person" else [])


# DataContract XML of the same three contacts: PascalCase, base members first, namespaces on
# nested contracts, `GDPRApprovalDate`, nested `Wgs84Coordinate`.
FULL_XML = """\
<ArrayOfCrmContact xmlns:i="http://www.w3.org/2001/XMLSchema-instance"
    xmlns="http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models.Contact.Crm">
  <CrmContact i:type="CrmPersonContact">
    <Address>
      <City>Stockholm</City>
      <CountryCode>SE</CountryCode>
      <StreetAddress>Storgatan 1</StreetAddress>
      <Wgs84Coordinate>
        <Latitude>59.3293</Latitude>
        <Longitude>18.0686</Longitude>
      </Wgs84Coordinate>
      <ZipCode>111 22</ZipCode>
    </Address>
    <AdvertisingEnabled>false</AdvertisingEnabled>
    <AgentId>AG-7</AgentId>
    <Categories
        xmlns:d3p1="http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models.Category">
      <d3p1:Category>
        <d3p1:Id>C1</d3p1:Id><d3p1:Name>Spekulant</d3p1:Name><d3p1:ReadOnly>false</d3p1:ReadOnly>
      </d3p1:Category>
      <d3p1:Category>
        <d3p1:Id>C2</d3p1:Id><d3p1:Name>Budgivare</d3p1:Name><d3p1:ReadOnly>true</d3p1:ReadOnly>
      </d3p1:Category>
    </Categories>
    <ChangedAt>2026-11-02T08:05:00.1000000+01:00</ChangedAt>
    <CreatedAt>2026-10-04T13:51:27.3562702+02:00</CreatedAt>
    <CustomerId>M30011</CustomerId>
    <Email xmlns:d3p1="http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models">
      <d3p1:EmailAddress>anna@example.se</d3p1:EmailAddress>
      <d3p1:EmailAddress2>anna.work@example.se</d3p1:EmailAddress2>
    </Email>
    <Id>P-1001</Id>
    <Note>&lt;b&gt;Ring&lt;/b&gt; efter 17 &amp; helger</Note>
    <Type>Person</Type>
    <DateOfBirth>1980-05-17T00:00:00</DateOfBirth>
    <FirstName>Anna</FirstName>
    <GDPRApprovalDate>2025-03-15T00:00:00+01:00</GDPRApprovalDate>
    <IsCompanyPerson>true</IsCompanyPerson>
    <IsDeceased>false</IsDeceased>
    <IsForeignSocialSecurityNumber>true</IsForeignSocialSecurityNumber>
    <LastName>Lindqvist</LastName>
    <LeadScore>4</LeadScore>
    <MatchingChangedAt>2026-09-01T12:00:00.1234567+02:00</MatchingChangedAt>
    <SocialSecurityNumber>19800517-1234</SocialSecurityNumber>
    <Telephone>
      <Cell>070-111 22 33</Cell>
      <Home>08-123 45 67</Home>
      <Other>+46 31 00 00 00</Other>
      <Work>08-987 65 43</Work>
    </Telephone>
    <WantsToBeMatched>NotAsked</WantsToBeMatched>
  </CrmContact>
  <CrmContact i:type="CrmCompanyContact">
    <Address>
      <City>Göteborg</City>
      <CountryCode>SE</CountryCode>
      <StreetAddress>Hamngatan 3</StreetAddress>
      <Wgs84Coordinate>
        <Latitude>57.7089</Latitude>
        <Longitude>11.9746</Longitude>
      </Wgs84Coordinate>
      <ZipCode>411 06</ZipCode>
    </Address>
    <AdvertisingEnabled>true</AdvertisingEnabled>
    <AgentId>AG-8</AgentId>
    <Categories
        xmlns:d3p1="http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models.Category">
      <d3p1:Category>
        <d3p1:Id>K9</d3p1:Id><d3p1:Name>Företagskund</d3p1:Name><d3p1:ReadOnly>true</d3p1:ReadOnly>
      </d3p1:Category>
    </Categories>
    <ChangedAt>2026-06-30T23:59:59.9999999+02:00</ChangedAt>
    <CreatedAt>2025-01-10T09:00:00.0000001+01:00</CreatedAt>
    <CustomerId>M30012</CustomerId>
    <Email xmlns:d3p1="http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models">
      <d3p1:EmailAddress>info@bolaget.se</d3p1:EmailAddress>
      <d3p1:EmailAddress2>ekonomi@bolaget.se</d3p1:EmailAddress2>
    </Email>
    <Id>F-2002</Id>
    <Note>Kontaktperson: Per</Note>
    <Type>Company</Type>
    <CorporateNumber>556677-8899</CorporateNumber>
    <HomePage>https://bolaget.se</HomePage>
    <IsForeignCorporateNumber>true</IsForeignCorporateNumber>
    <LeadScore>2</LeadScore>
    <Name>Bolaget AB</Name>
    <Telephone>
      <Other>031-700 00 01</Other>
      <Switch>031-700 00 00</Switch>
    </Telephone>
  </CrmContact>
  <CrmContact i:type="CrmDeceasedEstateContact">
    <Address>
      <City>Uppsala</City>
      <CountryCode>SE</CountryCode>
      <StreetAddress>Vasagatan 5</StreetAddress>
      <Wgs84Coordinate>
        <Latitude>59.8586</Latitude>
        <Longitude>17.6389</Longitude>
      </Wgs84Coordinate>
      <ZipCode>753 11</ZipCode>
    </Address>
    <AdvertisingEnabled>false</AdvertisingEnabled>
    <AgentId>AG-9</AgentId>
    <Categories
        xmlns:d3p1="http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models.Category">
      <d3p1:Category>
        <d3p1:Id>D1</d3p1:Id><d3p1:Name>Dödsbo</d3p1:Name><d3p1:ReadOnly>true</d3p1:ReadOnly>
      </d3p1:Category>
    </Categories>
    <ChangedAt>2024-03-31T03:00:00+02:00</ChangedAt>
    <CreatedAt>2024-02-29T10:00:00.5000000+01:00</CreatedAt>
    <CustomerId>M30013</CustomerId>
    <Email xmlns:d3p1="http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models">
      <d3p1:EmailAddress>dodsbo@example.se</d3p1:EmailAddress>
      <d3p1:EmailAddress2>arvinge@example.se</d3p1:EmailAddress2>
    </Email>
    <Id>D-3003</Id>
    <Note>Bouppteckning klar</Note>
    <Type>DeceasedEstate</Type>
    <IsForeignIdSocialSecurityNumber>true</IsForeignIdSocialSecurityNumber>
    <Name>Dödsbo efter Karl Berg</Name>
    <SocialSecurityNumber>19400101-0000</SocialSecurityNumber>
    <Telephone>
      <Cell>073-999 88 77</Cell>
      <Home>018-10 20 30</Home>
      <Other>018-70 80 90</Other>
      <Work>018-40 50 60</Work>
    </Telephone>
  </CrmContact>
</ArrayOfCrmContact>
"""


def test_full_xml_equals_full_json() -> None:
    from_xml = parse_contacts(xml_answer(FULL_XML))
    from_json = parse_contacts([copy.deepcopy(p) for p in PAYLOADS.values()])
    assert [type(c) for c in from_xml] == [
        CrmPersonContact,
        CrmCompanyContact,
        CrmDeceasedEstateContact,
    ]
    assert from_xml == from_json


NIL_XML = """\
<ArrayOfCrmContact xmlns:i="http://www.w3.org/2001/XMLSchema-instance"
    xmlns="http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models.Contact.Crm">
  <CrmContact i:type="CrmPersonContact">
    <Address i:nil="true"/>
    <AdvertisingEnabled i:nil="true"/>
    <AgentId i:nil="true"/>
    <Categories/>
    <ChangedAt i:nil="true"/>
    <CreatedAt>2026-10-04T13:51:27.3562702+02:00</CreatedAt>
    <CustomerId>M30011</CustomerId>
    <Email i:nil="true"/>
    <Id>P-1001</Id>
    <Note i:nil="true"/>
    <Type>Person</Type>
    <FirstName>Anna</FirstName>
    <GDPRApprovalDate i:nil="true"/>
    <LastName i:nil="true"/>
    <LeadScore i:nil="true"/>
    <Telephone><Cell>070-111 22 33</Cell><Home i:nil="true"/></Telephone>
  </CrmContact>
</ArrayOfCrmContact>
"""

NIL_JSON = {
    "id": "P-1001",
    "type": "Person",
    "customerId": "M30011",
    "address": None,
    "advertisingEnabled": None,
    "agentId": None,
    "categories": [],
    "changedAt": None,
    "createdAt": "2026-10-04T13:51:27.3562702+02:00",
    "email": None,
    "note": None,
    "firstName": "Anna",
    "gdprApprovalDate": None,
    "lastName": None,
    "leadScore": None,
    "telephone": {"cell": "070-111 22 33", "home": None},
}


def test_xml_nil_elements_parse_like_json_nulls() -> None:
    from_xml = parse_contacts(xml_answer(NIL_XML))
    assert from_xml == parse_contacts([NIL_JSON])
    person = from_xml[0]
    assert person.note is None
    assert person.agent_id is None
    assert person.address is None
    assert person.lead_score is None
    assert person.telephone == PersonTelephone(cell="070-111 22 33")


# --- timestamps -----------------------------------------------------------------------------------

TIMESTAMPS = [
    ("2026-10-04T13:51:27.3562702+02:00", datetime(2026, 10, 4, 13, 51, 27, 356270), 2),
    ("2024-11-21T10:31:03.6555119+01:00", datetime(2024, 11, 21, 10, 31, 3, 655511), 1),
    ("2024-11-21T10:31:03.655511+01:00", datetime(2024, 11, 21, 10, 31, 3, 655511), 1),
    ("2024-11-21T10:31:03+01:00", datetime(2024, 11, 21, 10, 31, 3), 1),
    ("2024-11-21T09:31:03Z", datetime(2024, 11, 21, 9, 31, 3), 0),
    ("2024-11-21T09:31:03.1234567Z", datetime(2024, 11, 21, 9, 31, 3, 123456), 0),
    (" 2026-10-04T13:51:27.3562702+02:00\n", datetime(2026, 10, 4, 13, 51, 27, 356270), 2),
]


@pytest.mark.parametrize(("text", "wall_clock", "offset_hours"), TIMESTAMPS)
def test_parse_datetime(text, wall_clock, offset_hours) -> None:
    parsed = parse_datetime(text)
    assert parsed is not None
    assert parsed.replace(tzinfo=None) == wall_clock
    assert parsed.microsecond == wall_clock.microsecond
    assert parsed.utcoffset() == timedelta(hours=offset_hours)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "not a date",
        "igår kl 13",
        "2024-13-45T00:00:00+01:00",
        "2024-11-21T25:00:00+01:00",
        "Z",
        "2024-11-21T10:31:03+01:00 extra",
        None,
        1732181463,
        1.5,
        True,
        [],
        {},
        ["2024-11-21T10:31:03+01:00"],
    ],
    ids=repr,
)
def test_parse_datetime_garbage_is_none(garbage) -> None:
    assert parse_datetime(garbage) is None


# --- tolerance ------------------------------------------------------------------------------------

# JSON key -> (attribute, value when the field is missing or null), per type.
COMMON_KEYS = {
    "customerId": "customer_id",
    "agentId": "agent_id",
    "address": "address",
    "email": "email",
    "advertisingEnabled": "advertising_enabled",
    "note": "note",
    "categories": "categories",
    "createdAt": "created_at",
    "changedAt": "changed_at",
}
OWN_KEYS = {
    "person": {
        "firstName": "first_name",
        "lastName": "last_name",
        "socialSecurityNumber": "social_security_number",
        "isForeignSocialSecurityNumber": "is_foreign_social_security_number",
        "dateOfBirth": "date_of_birth",
        "telephone": "telephone",
        "leadScore": "lead_score",
        "wantsToBeMatched": "wants_to_be_matched",
        "matchingChangedAt": "matching_changed_at",
        "isDeceased": "is_deceased",
        "isCompanyPerson": "is_company_person",
        "gdprApprovalDate": "gdpr_approval_date",
    },
    "company": {
        "name": "name",
        "corporateNumber": "corporate_number",
        "isForeignCorporateNumber": "is_foreign_corporate_number",
        "homePage": "home_page",
        "telephone": "telephone",
        "leadScore": "lead_score",
    },
    "estate": {
        "name": "name",
        "socialSecurityNumber": "social_security_number",
        "isForeignIdSocialSecurityNumber": "is_foreign_social_security_number",
        "telephone": "telephone",
    },
}


def _empty(attribute: str):
    return () if attribute == "categories" else None


MISSING_OR_NULL = [
    pytest.param(kind, key, attribute, how, id=f"{kind}-{key}-{how}")
    for kind in PAYLOADS
    for key, attribute in {**COMMON_KEYS, **OWN_KEYS[kind]}.items()
    for how in ("missing", "null")
]


@pytest.mark.parametrize(("kind", "key", "attribute", "how"), MISSING_OR_NULL)
def test_missing_or_null_field(kind, key, attribute, how) -> None:
    payload = copy.deepcopy(PAYLOADS[kind])
    if how == "missing":
        del payload[key]
    else:
        payload[key] = None
    contact = parse_contact(payload)
    full = parse_contact(copy.deepcopy(PAYLOADS[kind]))
    assert type(contact) is CLASSES[kind]
    assert_same(getattr(contact, attribute), _empty(attribute))
    # Only that one field is affected.
    assert dataclasses.replace(contact, **{attribute: getattr(full, attribute)}) == full


WRONG_TYPES = [
    # (kind, key, bad value, attribute, expected)
    ("person", "leadScore", "abc", "lead_score", None),
    ("person", "leadScore", 3.5, "lead_score", None),
    ("person", "leadScore", True, "lead_score", None),
    ("person", "leadScore", [4], "lead_score", None),
    ("company", "leadScore", "många", "lead_score", None),
    ("person", "advertisingEnabled", "yes", "advertising_enabled", None),
    ("person", "advertisingEnabled", 1, "advertising_enabled", None),
    ("person", "advertisingEnabled", {"value": True}, "advertising_enabled", None),
    ("person", "isDeceased", "maybe", "is_deceased", None),
    ("person", "isCompanyPerson", 0, "is_company_person", None),
    ("person", "isForeignSocialSecurityNumber", "ja", "is_foreign_social_security_number", None),
    ("company", "isForeignCorporateNumber", [], "is_foreign_corporate_number", None),
    ("estate", "isForeignIdSocialSecurityNumber", "nej", "is_foreign_social_security_number", None),
    ("person", "categories", "C1", "categories", ()),
    ("person", "categories", {"id": "C1", "name": "x"}, "categories", ()),
    ("person", "categories", 7, "categories", ()),
    ("person", "categories", [None, "C1", 5, [], {"name": "no id"}, {"id": ""}], "categories", ()),
    ("person", "address", "Storgatan 1, Stockholm", "address", None),
    ("person", "address", ["Storgatan 1"], "address", None),
    ("company", "address", 12345, "address", None),
    ("person", "email", "anna@example.se", "email", None),
    ("estate", "email", ["a@example.se"], "email", None),
    ("person", "telephone", "070-111 22 33", "telephone", None),
    ("company", "telephone", ["031-700 00 00"], "telephone", None),
    ("estate", "telephone", 7011122, "telephone", None),
    ("person", "firstName", {"text": "Anna"}, "first_name", None),
    ("person", "lastName", ["Lindqvist"], "last_name", None),
    ("person", "note", {"html": "<b>x</b>"}, "note", None),
    ("company", "name", ["Bolaget AB"], "name", None),
    ("company", "homePage", {"url": "x"}, "home_page", None),
    ("estate", "socialSecurityNumber", [1940], "social_security_number", None),
    ("person", "customerId", {"id": "M1"}, "customer_id", None),
    ("person", "agentId", [], "agent_id", None),
    ("person", "createdAt", 1732181463, "created_at", None),
    ("person", "changedAt", "igår", "changed_at", None),
    ("person", "matchingChangedAt", [], "matching_changed_at", None),
    ("person", "gdprApprovalDate", "2025-02-30T00:00:00+01:00", "gdpr_approval_date", None),
    ("person", "dateOfBirth", "17 maj 1980", "date_of_birth", None),
    ("person", "dateOfBirth", 19800517, "date_of_birth", None),
    ("person", "wantsToBeMatched", "Perhaps", "wants_to_be_matched", None),
    ("person", "wantsToBeMatched", 7, "wants_to_be_matched", None),  # not Yes 0/No 1/NotAsked 2
    ("person", "wantsToBeMatched", {"value": "Yes"}, "wants_to_be_matched", None),
]


@pytest.mark.parametrize(
    ("kind", "key", "bad", "attribute", "expected"),
    WRONG_TYPES,
    ids=[f"{k}-{key}-{bad!r}" for k, key, bad, _, _ in WRONG_TYPES],
)
def test_wrong_type_field_is_dropped(kind, key, bad, attribute, expected) -> None:
    payload = copy.deepcopy(PAYLOADS[kind])
    payload[key] = bad
    contact = parse_contact(payload)
    assert type(contact) is CLASSES[kind]
    assert contact.id == PAYLOADS[kind]["id"]
    assert_same(getattr(contact, attribute), expected)


LENIENT = [
    # Values of another JSON type that still carry an unambiguous meaning.
    ("leadScore", "4", "lead_score", 4),
    ("leadScore", 4.0, "lead_score", 4),
    ("advertisingEnabled", "True", "advertising_enabled", True),
    ("isDeceased", " false ", "is_deceased", False),
    ("wantsToBeMatched", "yes", "wants_to_be_matched", MatchingWatched.YES),
    ("wantsToBeMatched", "NO", "wants_to_be_matched", MatchingWatched.NO),
    # MatchingWatched as the number .NET may send for it: Yes = 0, No = 1, NotAsked = 2.
    ("wantsToBeMatched", 0, "wants_to_be_matched", MatchingWatched.YES),
    ("wantsToBeMatched", 1, "wants_to_be_matched", MatchingWatched.NO),
    ("wantsToBeMatched", 2, "wants_to_be_matched", MatchingWatched.NOT_ASKED),
    ("wantsToBeMatched", "2", "wants_to_be_matched", MatchingWatched.NOT_ASKED),
    ("dateOfBirth", "1980-05-17", "date_of_birth", date(1980, 5, 17)),
    ("dateOfBirth", "1980-05-17T00:00:00+02:00", "date_of_birth", date(1980, 5, 17)),
]


@pytest.mark.parametrize(("key", "value", "attribute", "expected"), LENIENT, ids=repr)
def test_lenient_values(key, value, attribute, expected) -> None:
    payload = copy.deepcopy(PERSON_JSON)
    payload[key] = value
    assert_same(getattr(parse_contact(payload), attribute), expected)


NESTED_GARBAGE = [
    # (address value, expected Address)
    (
        {
            "streetAddress": {"x": 1},
            "zipCode": ["111"],
            "city": "Kiruna",
            "wgs84Coordinate": "59,18",
        },
        Address(city="Kiruna"),
    ),
    (
        {"city": "Kiruna", "wgs84Coordinate": {"latitude": "abc", "longitude": 18.0}},
        Address(city="Kiruna"),
    ),
    ({"city": "Kiruna", "wgs84Coordinate": {"latitude": 59.3}}, Address(city="Kiruna")),
    ({"city": "Kiruna", "wgs84Coordinate": [59.3, 18.0]}, Address(city="Kiruna")),
    (
        {"city": "Kiruna", "wgs84Coordinate": {"latitude": True, "longitude": False}},
        Address(city="Kiruna"),
    ),
    (
        {"city": "Kiruna", "wgs84Coordinate": {"latitude": HUGE_JSON_INT, "longitude": 18.0}},
        Address(city="Kiruna"),
    ),
    (
        {"city": "Kiruna", "wgs84Coordinate": {"latitude": "67.85", "longitude": "20.22"}},
        Address(city="Kiruna", coordinate=Coordinate(latitude=67.85, longitude=20.22)),
    ),
    ({}, None),
]


@pytest.mark.parametrize(
    ("address", "expected"),
    NESTED_GARBAGE,
    ids=[
        "wrong-types-inside",
        "latitude-text",
        "longitude-missing",
        "coordinate-list",
        "coordinate-bools",
        "latitude-huge-json-int",
        "coordinate-numeric-strings",
        "empty-object",
    ],
)
def test_address_content_tolerance(address, expected) -> None:
    payload = copy.deepcopy(PERSON_JSON)
    payload["address"] = address
    assert parse_contact(payload).address == expected


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        (
            {"id": "C1", "name": "x", "readOnly": "yes"},
            Category(id="C1", name="x", read_only=False),
        ),
        ({"id": "C1", "name": "x", "readOnly": None}, Category(id="C1", name="x", read_only=False)),
        ({"id": "C1", "name": {"sv": "x"}, "readOnly": True}, Category(id="C1", read_only=True)),
        ({"id": "C1"}, Category(id="C1")),
        (
            {"ID": "C1", "NAME": "x", "READONLY": "true"},
            Category(id="C1", name="x", read_only=True),
        ),
    ],
    ids=["readOnly-yes", "readOnly-null", "name-object", "only-id", "upper-keys"],
)
def test_category_content_tolerance(category, expected) -> None:
    payload = copy.deepcopy(PERSON_JSON)
    payload["categories"] = [category]
    assert parse_contact(payload).categories == (expected,)


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_unknown_extra_fields_are_ignored(kind) -> None:
    payload = copy.deepcopy(PAYLOADS[kind])
    payload.update(
        {
            "futureField": {"nested": [1, 2, 3]},
            "rating": 5,
            "Telephone2": {"cell": "0701"},
        }
    )
    payload["address"]["floor"] = 3
    payload["telephone"]["fax"] = "08-000"
    payload["categories"][0]["colour"] = "red"
    assert parse_contact(payload) == parse_contact(copy.deepcopy(PAYLOADS[kind]))


@pytest.mark.parametrize(
    ("raw_type", "expected_type"),
    [("Estate2030", "Estate2030"), ("", None), ("missing", None), (None, None)],
    ids=["Estate2030", "empty", "missing", "null"],
)
def test_unknown_type_is_generic_contact(raw_type, expected_type) -> None:
    payload = copy.deepcopy(PERSON_JSON)
    if raw_type == "missing":
        del payload["type"]
    else:
        payload["type"] = raw_type
    contact = parse_contact(payload)
    person = parse_contact(copy.deepcopy(PERSON_JSON))
    assert type(contact) is CrmContact
    assert contact.id == "P-1001"
    for field in COMMON_KEYS.values():
        assert_same(getattr(contact, field), getattr(person, field))
    assert not hasattr(contact, "first_name")
    assert isinstance(contact.type, str)
    if expected_type is not None:
        assert contact.type == expected_type


@pytest.mark.parametrize(
    ("raw_type", "cls"),
    [
        ("person", CrmPersonContact),
        ("PERSON", CrmPersonContact),
        (" Person ", CrmPersonContact),
        ("company", CrmCompanyContact),
        ("COMPANY", CrmCompanyContact),
        ("deceasedestate", CrmDeceasedEstateContact),
        ("DECEASEDESTATE", CrmDeceasedEstateContact),
        ("deceasedEstate", CrmDeceasedEstateContact),
    ],
)
def test_type_matching_is_case_insensitive(raw_type, cls) -> None:
    contact = parse_contact({"id": "X-1", "type": raw_type, "name": "N", "firstName": "F"})
    assert type(contact) is cls
    assert contact.id == "X-1"


def test_keys_are_case_insensitive() -> None:
    pascal = {
        "Id": "P-1",
        "Type": "Person",
        "FirstName": "Anna",
        "ADDRESS": {"CITY": "Lund", "Wgs84Coordinate": {"Latitude": 55.7, "LONGITUDE": 13.2}},
        "LeadScore": 3,
    }
    contact = parse_contact(pascal)
    assert contact == CrmPersonContact(
        id="P-1",
        first_name="Anna",
        address=Address(city="Lund", coordinate=Coordinate(latitude=55.7, longitude=13.2)),
        lead_score=3,
    )


@pytest.mark.parametrize(
    "raw",
    [{"type": "Person"}, {"id": None}, {"id": ""}, {"id": []}, {"id": {"v": 1}}, "P-1", 5, None],
    ids=repr,
)
def test_contact_without_id_is_none(raw) -> None:
    assert parse_contact(raw) is None


def test_parse_contacts_drops_contacts_without_id() -> None:
    answer = [
        copy.deepcopy(PERSON_JSON),
        {"type": "Person", "firstName": "Ingen"},
        {"id": None, "type": "Company"},
        {"id": "", "type": "Company"},
        "P-9",
        None,
        42,
        copy.deepcopy(ESTATE_JSON),
    ]
    contacts = parse_contacts(answer)
    assert [c.id for c in contacts] == ["P-1001", "D-3003"]


@pytest.mark.parametrize(
    "answer",
    [{}, {"id": "P-1", "type": "Person"}, "[]", "", None, 0, True],
    ids=repr,
)
def test_parse_contacts_on_non_list_is_none(answer) -> None:
    assert parse_contacts(answer) is None


def test_parse_contacts_on_empty_list_is_empty() -> None:
    assert parse_contacts([]) == []


# --- display_name, primary_phone, telephone numbers ----------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"type": "Person", "firstName": "Anna", "lastName": "Lindqvist"}, "Anna Lindqvist"),
        ({"type": "Person", "firstName": "Anna"}, "Anna"),
        ({"type": "Person", "lastName": "Lindqvist"}, "Lindqvist"),
        ({"type": "Person", "firstName": "", "lastName": ""}, "X-1"),
        ({"type": "Person"}, "X-1"),
        ({"type": "Company", "name": "Bolaget AB"}, "Bolaget AB"),
        ({"type": "Company", "name": ""}, "X-1"),
        ({"type": "Company", "firstName": "Anna"}, "X-1"),
        ({"type": "DeceasedEstate", "name": "Dödsbo efter Karl"}, "Dödsbo efter Karl"),
        ({"type": "DeceasedEstate"}, "X-1"),
        # An unknown type (Association, förening) is shown with its `name` (the contract).
        ({"type": "Estate2030", "name": "Okänd", "firstName": "Anna"}, "Okänd"),
        ({"type": "Association", "name": "BRF Tallen"}, "BRF Tallen"),
        ({"type": "Association"}, "X-1"),
    ],
    ids=repr,
)
def test_display_name(payload, expected) -> None:
    assert parse_contact({"id": "X-1", **payload}).display_name == expected


PHONES = {"home": "H", "work": "W", "cell": "C", "other": "O"}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"type": "Person", "telephone": PHONES}, "C"),
        ({"type": "Person", "telephone": {**PHONES, "cell": None}}, "H"),
        ({"type": "Person", "telephone": {**PHONES, "cell": ""}}, "H"),
        ({"type": "Person", "telephone": {"work": "W", "other": "O"}}, "W"),
        ({"type": "Person", "telephone": {"other": "O"}}, "O"),
        ({"type": "Person", "telephone": {}}, None),
        ({"type": "Person", "telephone": {"cell": None}}, None),
        ({"type": "Person"}, None),
        ({"type": "Company", "telephone": {"switch": "S", "other": "O"}}, "S"),
        ({"type": "Company", "telephone": {"other": "O"}}, "O"),
        ({"type": "Company", "telephone": PHONES}, "O"),
        ({"type": "Company"}, None),
        ({"type": "DeceasedEstate", "telephone": PHONES}, "C"),
        ({"type": "DeceasedEstate", "telephone": {"home": "H", "work": "W"}}, "H"),
        ({"type": "DeceasedEstate"}, None),
        ({"type": "Estate2030", "telephone": PHONES}, None),
    ],
    ids=repr,
)
def test_primary_phone(payload, expected) -> None:
    assert parse_contact({"id": "X-1", **payload}).primary_phone == expected


@pytest.mark.parametrize(
    ("telephone", "expected"),
    [
        (
            PersonTelephone(home="H", work="W", cell="C", other="O"),
            [("cell", "C"), ("home", "H"), ("work", "W"), ("other", "O")],
        ),
        (PersonTelephone(home="H", other="O"), [("home", "H"), ("other", "O")]),
        (PersonTelephone(cell="", home="H"), [("home", "H")]),
        (PersonTelephone(), []),
        (CompanyTelephone(switch="S", other="O"), [("switch", "S"), ("other", "O")]),
        (CompanyTelephone(other="O"), [("other", "O")]),
        (CompanyTelephone(switch=""), []),
        (CompanyTelephone(), []),
    ],
    ids=repr,
)
def test_telephone_numbers(telephone, expected) -> None:
    assert telephone.numbers == expected


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_parsed_telephone_numbers_per_type(kind) -> None:
    contact = parse_contact(copy.deepcopy(PAYLOADS[kind]))
    raw = PAYLOADS[kind]["telephone"]
    order = ["switch", "other"] if kind == "company" else ["cell", "home", "work", "other"]
    assert contact.telephone.numbers == [(k, raw[k]) for k in order]


def test_email_addresses() -> None:
    assert Email("a@x.se", "b@x.se").addresses == ["a@x.se", "b@x.se"]
    assert Email(None, "b@x.se").addresses == ["b@x.se"]
    assert Email("", None).addresses == []


# --- neighbouring endpoints -----------------------------------------------------------------------

INDEX_ANSWER = {
    "persons": [
        {"id": "P-1", "changedAt": "2026-10-04T13:51:27.3562702+02:00", "customerId": "M30011"},
        {"id": "P-2", "changedAt": "2026-01-04T08:00:00+01:00", "customerId": "M30011"},
    ],
    "companies": [{"id": "F-1", "changedAt": None, "customerId": "M30011"}],
    "deceasedEstates": [{"id": "D-1", "changedAt": "2025-05-05T05:05:05Z", "customerId": "M30011"}],
}


def test_parse_contact_index_sample() -> None:
    index = parse_contact_index(INDEX_ANSWER)
    assert index == ContactIndex(
        persons=(
            ContactRef(
                id="P-1",
                customer_id="M30011",
                changed_at=datetime(2026, 10, 4, 13, 51, 27, 356270, tzinfo=CEST),
            ),
            ContactRef(
                id="P-2",
                customer_id="M30011",
                changed_at=datetime(2026, 1, 4, 8, 0, tzinfo=CET),
            ),
        ),
        companies=(ContactRef(id="F-1", customer_id="M30011"),),
        deceased_estates=(
            ContactRef(
                id="D-1", customer_id="M30011", changed_at=datetime(2025, 5, 5, 5, 5, 5, tzinfo=UTC)
            ),
        ),
    )
    assert index.all_ids == ["P-1", "P-2", "F-1", "D-1"]
    assert index.persons[0].changed_at.utcoffset() == timedelta(hours=2)


def test_parse_contact_index_xml_keys() -> None:
    xml = """\
<ContactIds xmlns="http://schemas.datacontract.org/2004/07/Vitec">
  <Companies/>
  <DeceasedEstates><ContactId><ChangedAt>2025-05-05T05:05:05Z</ChangedAt><Id>D-1</Id></ContactId>
  </DeceasedEstates>
  <Persons><ContactId><CustomerId>M30011</CustomerId><Id>P-1</Id></ContactId></Persons>
</ContactIds>"""
    index = parse_contact_index(xml_answer(xml))
    assert index.all_ids == ["P-1", "D-1"]
    assert index.persons[0].customer_id == "M30011"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (None, None),
        ([], None),
        ("persons", None),
        (5, None),
        ({}, ContactIndex()),
        ({"persons": None, "companies": "F-1", "deceasedEstates": {"id": "D-1"}}, ContactIndex()),
        (
            {"persons": [None, 3, "P-1", {"id": ""}, {"changedAt": "2026-01-01T00:00:00Z"}]},
            ContactIndex(),
        ),
        (
            {"persons": [{"id": "P-1", "changedAt": "igår", "customerId": ["M1"]}]},
            ContactIndex(persons=(ContactRef(id="P-1"),)),
        ),
    ],
    ids=repr,
)
def test_parse_contact_index_garbage(answer, expected) -> None:
    assert parse_contact_index(answer) == expected


SEARCH_ANSWER = {
    "matches": [
        {
            "id": "P-1",
            "changedAt": "2026-10-04T13:51:27.3562702+02:00",
            "customerId": "M30011",
            "type": "Person",
            "score": 12.5,
        },
        {"id": "F-1", "changedAt": None, "customerId": "M30011", "type": "Company", "score": 3},
    ]
}


def test_parse_search_sample() -> None:
    assert parse_search(SEARCH_ANSWER) == [
        ContactRef(
            id="P-1",
            customer_id="M30011",
            changed_at=datetime(2026, 10, 4, 13, 51, 27, 356270, tzinfo=CEST),
            type="Person",
            score=12.5,
        ),
        ContactRef(id="F-1", customer_id="M30011", type="Company", score=3.0),
    ]
    assert type(parse_search(SEARCH_ANSWER)[1].score) is float


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (None, None),
        ([], None),
        ([{"id": "P-1"}], None),
        ("matches", None),
        ({}, []),
        ({"matches": None}, []),
        ({"matches": {"id": "P-1"}}, []),
        ({"Matches": [{"Id": "P-1", "Score": "7"}]}, [ContactRef(id="P-1", score=7.0)]),
        ({"matches": [None, "P-1", {"score": 1}]}, []),
        (
            {"matches": [{"id": "P-1", "score": "high", "type": ["Person"], "changedAt": 0}]},
            [ContactRef(id="P-1")],
        ),
        ({"matches": [{"id": "P-1", "score": True}]}, [ContactRef(id="P-1")]),
        ({"matches": [{"id": "P-1", "score": HUGE_JSON_INT}]}, [ContactRef(id="P-1")]),
    ],
    ids=[
        "none",
        "list",
        "list-of-refs",
        "string",
        "empty",
        "matches-null",
        "matches-object",
        "pascal-case",
        "entries-without-id",
        "wrong-types",
        "score-bool",
        "score-huge-json-int",
    ],
)
def test_parse_search_garbage(answer, expected) -> None:
    assert parse_search(answer) == expected


CATEGORIES_ANSWER = {
    "companyCategories": [{"id": "K1", "name": "Företagskund", "readOnly": False}],
    "personCategories": [
        {"id": "C1", "name": "Spekulant", "readOnly": False},
        {"id": "C2", "name": "Budgivare", "readOnly": True},
    ],
}


def test_parse_category_lists_sample() -> None:
    categories = parse_category_lists(CATEGORIES_ANSWER)
    assert categories == Categories(
        person=(
            Category(id="C1", name="Spekulant", read_only=False),
            Category(id="C2", name="Budgivare", read_only=True),
        ),
        company=(Category(id="K1", name="Företagskund", read_only=False),),
    )
    assert [c.id for c in categories.all] == ["C1", "C2", "K1"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (None, None),
        ([], None),
        ([{"id": "C1"}], None),
        ("categories", None),
        ({}, Categories()),
        ({"personCategories": None, "companyCategories": "K1"}, Categories()),
        ({"personCategories": [None, 1, "C1", {"name": "utan id"}]}, Categories()),
        (
            {"PersonCategories": [{"Id": "C1", "ReadOnly": "true"}]},
            Categories(person=(Category(id="C1", read_only=True),)),
        ),
    ],
    ids=repr,
)
def test_parse_category_lists_garbage(answer, expected) -> None:
    assert parse_category_lists(answer) == expected


# --- property tests -------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=25,
)
# Text that looks like the values Vitec sends, so the parsers get past their first checks.
plausible_scalars = json_scalars | st.sampled_from(
    [
        "Person",
        "person",
        "Company",
        "DeceasedEstate",
        "Estate2030",
        "true",
        "False",
        "Yes",
        "NotAsked",
        "2026-10-04T13:51:27.3562702+02:00",
        "2024-11-21T10:31:03Z",
        "1980-05-17",
        "59.3293",
        "4",
    ]
)
any_value = plausible_scalars | json_values


def _objects(keys: list[str]):
    return st.fixed_dictionaries({}, optional={key: any_value for key in keys})


real_contacts = st.fixed_dictionaries(
    {},
    optional={
        "id": any_value,
        "type": any_value,
        **{key: any_value for key in ["customerId", "agentId", "advertisingEnabled", "note"]},
        **{key: any_value for key in ["createdAt", "changedAt", "leadScore", "wantsToBeMatched"]},
        **{key: any_value for key in ["matchingChangedAt", "gdprApprovalDate", "dateOfBirth"]},
        **{key: any_value for key in ["isDeceased", "isCompanyPerson", "name", "homePage"]},
        **{key: any_value for key in ["firstName", "lastName", "socialSecurityNumber"]},
        **{key: any_value for key in ["corporateNumber", "isForeignCorporateNumber"]},
        **{key: any_value for key in ["isForeignSocialSecurityNumber"]},
        **{key: any_value for key in ["isForeignIdSocialSecurityNumber"]},
        "address": any_value
        | st.fixed_dictionaries(
            {},
            optional={
                **{k: any_value for k in ["streetAddress", "zipCode", "city", "countryCode"]},
                "wgs84Coordinate": any_value | _objects(["latitude", "longitude"]),
            },
        ),
        "email": any_value | _objects(["emailAddress", "emailAddress2"]),
        "telephone": any_value | _objects(["home", "work", "cell", "other", "switch"]),
        "categories": any_value | st.lists(any_value | _objects(["id", "name", "readOnly"])),
    },
)


@settings(deadline=None)
@given(json_values)
def test_parse_contact_never_raises_on_any_json(value) -> None:
    contact = parse_contact(value)
    assert contact is None or isinstance(contact, CrmContact)
    assert parse_contacts([value]) == ([] if contact is None else [contact])


@settings(deadline=None)
@given(real_contacts)
def test_parse_contact_never_raises_under_real_keys(payload) -> None:
    contact = parse_contact(payload)
    raw_id = payload.get("id")
    if isinstance(raw_id, str) and raw_id:
        assert contact is not None
        assert contact.id == raw_id
    if contact is not None:
        assert isinstance(contact, CrmContact)
        assert isinstance(contact.display_name, str)
        assert contact.display_name
        assert contact.primary_phone is None or isinstance(contact.primary_phone, str)
        assert all(isinstance(c, Category) for c in contact.categories)


@settings(deadline=None)
@given(json_values)
def test_neighbour_parsers_never_raise(value) -> None:
    index = parse_contact_index(value)
    assert index is None or isinstance(index, ContactIndex)
    matches = parse_search(value)
    assert matches is None or all(isinstance(m, ContactRef) for m in matches)
    lists = parse_category_lists(value)
    assert lists is None or isinstance(lists, Categories)


# --- values the contract allows (issue 10, item 3): hand-written payloads in Vitec's shape -------

DOTNET_EMPTY_DATES = [
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00.0000000+02:00",
    "0001-01-01",
]


@pytest.mark.parametrize("empty", DOTNET_EMPTY_DATES)
@pytest.mark.parametrize(
    "key",
    ["createdAt", "changedAt", "matchingChangedAt", "gdprApprovalDate", "dateOfBirth"],
)
def test_dotnet_empty_date_is_no_date(key, empty) -> None:
    """.NET's DateTime.MinValue means "never set"; with an offset it cannot even be converted."""
    payload = copy.deepcopy(PERSON_JSON)
    payload[key] = empty
    contact = parse_contact(payload)
    attribute = {
        "createdAt": "created_at",
        "changedAt": "changed_at",
        "matchingChangedAt": "matching_changed_at",
        "gdprApprovalDate": "gdpr_approval_date",
        "dateOfBirth": "date_of_birth",
    }[key]
    assert getattr(contact, attribute) is None
    assert contact.first_name == "Anna"  # the rest of the contact is intact


@pytest.mark.parametrize("empty", DOTNET_EMPTY_DATES)
def test_dotnet_empty_date_in_the_id_listing(empty) -> None:
    index = parse_contact_index({"persons": [{"id": "P-1", "changedAt": empty}]})
    assert index.persons[0].changed_at is None


@pytest.mark.parametrize(
    "coordinate",
    [
        {"latitude": 0, "longitude": 0},
        {"latitude": 0.0, "longitude": 0.0},
        {"latitude": "0", "longitude": "0"},
    ],
    ids=repr,
)
def test_zero_coordinate_means_not_geocoded(coordinate) -> None:
    payload = copy.deepcopy(COMPANY_JSON)
    payload["address"]["wgs84Coordinate"] = coordinate
    contact = parse_contact(payload)
    assert contact.address.coordinate is None
    assert contact.address.city == "Göteborg"


def test_a_coordinate_on_one_axis_only_is_kept() -> None:
    payload = copy.deepcopy(COMPANY_JSON)
    payload["address"]["wgs84Coordinate"] = {"latitude": 0.0, "longitude": 11.9746}
    assert parse_contact(payload).address.coordinate == Coordinate(latitude=0.0, longitude=11.9746)


def test_association_keeps_its_name_and_common_fields() -> None:
    payload = {
        "id": "ADR3ADC7B7B0A9447CA97FCAB43E36B582C",
        "type": "Association",
        "customerId": "M30011",
        "name": "Brf Tallbacken",
        "email": {"emailAddress": None, "emailAddress2": "styrelsen@tallbacken.se"},
        "changedAt": "0001-01-01T00:00:00",
    }
    contact = parse_contact(payload)
    assert type(contact) is CrmContact
    assert contact.type == "Association"
    assert contact.name == "Brf Tallbacken"
    assert contact.display_name == "Brf Tallbacken"
    assert contact.email.addresses == ["styrelsen@tallbacken.se"]
    assert contact.changed_at is None
