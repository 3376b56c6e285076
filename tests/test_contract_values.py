"""Values Vitec's contract allows and the sandbox never generates (issue 10, items 3 and 4): the
list, a contact's page and the CSV over real HTTP, with hand-written contacts in Vitec's JSON
shape served by the sandbox.

The sandbox serves its own generated contacts; `served` adds the contacts below to customer
M1001's data set for the test, so that the client fetches them from the sandbox over HTTP like any
other. Every expectation is written out by hand.
"""

from __future__ import annotations

import csv
import io
import re
from html import escape

import pytest
from django.test import Client

from tests.dashboard_fixtures import (
    all_columns,
    copy_button,
    list_cell,
    list_email,
    serve_for_m1001,
)

LOOKUP = "/contacts/"
EXPORT = "/contacts/export.csv"

DECEASED_ID = "ADR3ADC7B7B0A9447CA97FCAB43E36B582C"
FOREIGN_ID = "ADR0F1E2D3C4B5A69788796A5B4C3D2E1F0"
INVALID_ID = "ADR11111111111111111111111111111111"
COORDINATION_ID = "ADR22222222222222222222222222222222"
ASSOCIATION_ID = "ADR33333333333333333333333333333333"
COMPANY_ID = "ADR44444444444444444444444444444444"
BAD_ORGNR_ID = "ADR55555555555555555555555555555555"
FOREIGN_ORGNR_ID = "ADR66666666666666666666666666666666"

DASH = "\u2013"  # what a page writes for a missing value
EMPTY = "0001-01-01T00:00:00"
EMPTY_WITH_OFFSET = "0001-01-01T00:00:00+01:00"


def person(contact_id: str, **fields) -> dict:
    """A person as Vitec's JSON writes one (camelCase, every documented key present)."""
    payload = {
        "id": contact_id,
        "type": "Person",
        "customerId": "M1001",
        "agentId": "HANE99C53F2DE4F489AB1E464D0F9AFFACD",
        "address": {
            "streetAddress": "Storgatan 1",
            "zipCode": "111 22",
            "city": "Stockholm",
            "countryCode": "SE",
            "wgs84Coordinate": {"longitude": 0.0, "latitude": 0.0},
        },
        "email": {"emailAddress": None, "emailAddress2": None},
        "advertisingEnabled": False,
        "note": None,
        "categories": [],
        "createdAt": "2026-10-04T13:51:27.3562702+02:00",
        "changedAt": "2026-11-02T08:05:00.1000000+01:00",
        "firstName": "Anna",
        "lastName": "Lindqvist",
        "socialSecurityNumber": None,
        "isForeignSocialSecurityNumber": False,
        "dateOfBirth": None,
        "telephone": {"home": None, "work": None, "cell": None, "other": None},
        "leadScore": None,
        "wantsToBeMatched": None,
        "matchingChangedAt": None,
        "isDeceased": False,
        "isCompanyPerson": False,
        "gdprApprovalDate": None,
    }
    payload.update(fields)
    return payload


def company(contact_id: str, **fields) -> dict:
    payload = {
        "id": contact_id,
        "type": "Company",
        "customerId": "M1001",
        "agentId": None,
        "address": None,
        "email": {"emailAddress": "info@bolaget.se", "emailAddress2": None},
        "advertisingEnabled": True,
        "note": None,
        "categories": [],
        "createdAt": "2026-10-04T13:51:27.3562702+02:00",
        "changedAt": "2026-11-02T08:05:00.1000000+01:00",
        "name": "Bolaget AB",
        "corporateNumber": None,
        "isForeignCorporateNumber": False,
        "homePage": None,
        "telephone": {"switch": "031-12 34 56", "other": None},
        "leadScore": 2,
    }
    payload.update(fields)
    return payload


PAYLOADS = [
    person(
        DECEASED_ID,
        firstName="Greta",
        lastName="Berg",
        socialSecurityNumber="19811218-9876",
        email={"emailAddress": None, "emailAddress2": "greta.berg@example.se"},
        telephone={"home": "+46 8 123 45 67", "work": None, "cell": "0701112233", "other": None},
        isDeceased=True,
        wantsToBeMatched=1,  # MatchingWatched.No as a number
        createdAt=EMPTY,
        changedAt=EMPTY_WITH_OFFSET,
        matchingChangedAt=EMPTY_WITH_OFFSET,
        gdprApprovalDate=EMPTY_WITH_OFFSET,
        dateOfBirth=EMPTY,
    ),
    person(
        FOREIGN_ID,
        firstName="Ola",
        lastName="Nordmann",
        socialSecurityNumber="NO 17058012345",
        isForeignSocialSecurityNumber=True,
        address={
            "streetAddress": "Drottninggatan 5",
            "zipCode": "111 51",
            "city": "Stockholm",
            "countryCode": "SE",
            "wgs84Coordinate": {"longitude": 18.068581, "latitude": 59.329323},
        },
        wantsToBeMatched=0,
        telephone={"home": None, "work": None, "cell": "+47 22 33 44 55", "other": None},
    ),
    person(INVALID_ID, firstName="Ivar", lastName="Fel", socialSecurityNumber="811218-9877"),
    person(COORDINATION_ID, firstName="Sam", lastName="Ordning", socialSecurityNumber="8112789873"),
    {
        "id": ASSOCIATION_ID,
        "type": "Association",
        "customerId": "M1001",
        "name": "Brf Tallbacken",
        "email": {"emailAddress": "styrelsen@tallbacken.se", "emailAddress2": None},
        "createdAt": EMPTY_WITH_OFFSET,
        "changedAt": EMPTY,
    },
    company(COMPANY_ID, corporateNumber="5567037485"),
    company(BAD_ORGNR_ID, name="Felbolaget AB", corporateNumber="556703-7486"),
    company(
        FOREIGN_ORGNR_ID,
        name="Nordbolaget AS",
        corporateNumber="NO 923 456 789",
        isForeignCorporateNumber=True,
    ),
]
IDS = [payload["id"] for payload in PAYLOADS]


@pytest.fixture
def served(monkeypatch, vitec):
    """The sandbox answers for the contacts above too (customer M1001), over HTTP."""

    serve_for_m1001(monkeypatch, {payload["id"]: payload for payload in PAYLOADS})
    return vitec


def page(client: Client, credential, ids=IDS) -> str:
    response = client.get(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids)})
    assert response.status_code == 200
    return response.content.decode()


def detail(client: Client, credential, contact_id: str) -> str:
    response = client.get(f"{LOOKUP}{contact_id}/", {"credential": credential.pk})
    assert response.status_code == 200
    return response.content.decode()


def export_rows(client: Client, credential, ids=IDS) -> dict[str, dict[str, str]]:
    response = client.get(EXPORT, {"credential": credential.pk, "ids": ",".join(ids)})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    header, *rows = csv.reader(io.StringIO(body[1:], newline=""), delimiter=";")
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


# --- the list -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_shows_every_contract_value_without_crashing(en_client, credential, served):
    all_columns(credential.user)
    html = page(en_client, credential)
    assert re.search(r'<h2 id="results-heading">\s*8 contacts\s*</h2>', html)
    for contact_id in IDS:
        assert f"/contacts/{contact_id}/" in html
    # The deceased person is marked beside the name; nobody else is.
    assert html.count('<span class="deceased"') == 1
    assert (
        'Greta Berg</a> <span class="deceased" title="Deceased">†'
        '<span class="visually-hidden"> Deceased</span></span></th>'
    ) in html
    # The second address is the e-mail of a contact that has only that one.
    assert list_email("greta.berg@example.se") in html
    # An association keeps its name and its type as Vitec wrote it.
    assert ">Brf Tallbacken</a></th>" in html
    assert list_cell("type", "Type", "Association") in html
    # Phones: national format on screen, E.164 in the link; a foreign one international.
    assert '<a href="tel:+46701112233">070-111 22 33</a>' in html
    assert '<a href="tel:+4722334455">+47 22 33 44 55</a>' in html
    # Identity numbers: masked, foreign in its own shape, invalid ones marked.
    number = "Org./personnummer"
    assert list_cell("id_number", number, "811218-****", nowrap=True) in html
    assert list_cell("id_number", number, "NO 1705801****", nowrap=True) in html
    assert list_cell("id_number", number, "811218-**** (invalid)", nowrap=True) in html
    assert list_cell("id_number", number, "811278-****", nowrap=True) in html  # samordningsnr
    assert list_cell("id_number", number, "556703-7485", nowrap=True) in html
    assert list_cell("id_number", number, "556703-**** (invalid)", nowrap=True) in html
    assert list_cell("id_number", number, "NO 923 456 789", nowrap=True) in html
    for hidden in ("9876", "9877", "9873", "12345"):
        assert f"-{hidden}" not in html and f" {hidden}" not in html


@pytest.mark.django_db
def test_real_ids_pasted_in_lower_case_are_found(en_client, credential, served):
    """Real ids are `ADR` + 32 upper-case hex digits; a lower-case paste finds them (Vitec
    matches ids without regard to case) and the page links them in Vitec's spelling."""
    html = page(en_client, credential, ids=[contact_id.lower() for contact_id in IDS])
    assert re.search(r'<h2 id="results-heading">\s*8 contacts\s*</h2>', html)
    assert "not found in Vitec" not in html
    for contact_id in IDS:
        assert f"/contacts/{contact_id}/" in html
    assert "Greta Berg" in detail(en_client, credential, DECEASED_ID.lower())


@pytest.mark.django_db
def test_the_list_marks_invalid_numbers_in_swedish(client, broker, credential, served):
    client.force_login(broker)
    all_columns(broker)
    html = page(client, credential, [INVALID_ID, BAD_ORGNR_ID])
    number = "Org.-/personnummer"
    assert list_cell("id_number", number, "811218-**** (ogiltigt)", nowrap=True) in html
    assert list_cell("id_number", number, "556703-**** (ogiltigt)", nowrap=True) in html
    assert 'title="Avliden"' not in html


@pytest.mark.django_db
def test_sorting_by_the_changed_column_with_empty_dates(en_client, credential, served):
    response = en_client.get(
        LOOKUP, {"credential": credential.pk, "ids": ",".join(IDS), "sort": "-changed"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    # The contacts without a date come last, after those that have one.
    assert html.index("Ola Nordmann") < html.index("Greta Berg")
    assert html.index("Ola Nordmann") < html.index("Brf Tallbacken")


# --- a contact's page -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_detail_of_a_deceased_person_with_empty_dates(en_client, credential, served):
    html = detail(en_client, credential, DECEASED_ID)
    assert '<h1>Greta Berg <span class="deceased" title="Deceased">† Deceased</span>' in html
    assert "<dt>Deceased</dt><dd>Yes</dd>" in html
    assert "<dt>Wants to be matched</dt><dd>No</dd>" in html
    for label in ("GDPR informed", "Matching changed", "Created", "Changed", "Date of birth"):
        assert f"<dt>{label}</dt><dd>{DASH}</dd>" in html
    assert f"<dt>Coordinates (WGS84)</dt>\n      <dd>{DASH}</dd>" in html  # 0/0: not geocoded
    assert "openstreetmap" not in html
    assert '<a href="mailto:greta.berg@example.se">greta.berg@example.se</a>' in html
    # A mobile number can be called, texted and copied; a landline called and copied.
    assert (
        '<dd><a href="tel:+46701112233">070-111 22 33</a> '
        '<a href="sms:+46701112233" class="sms-link" aria-label="Text 070-111 22 33">SMS</a>'
        f"{copy_button('070-111 22 33', 'Mobile')}</dd>"
    ) in html
    home = '<dd><a href="tel:+4681234567">08-123 45 67</a>'
    assert f"{home}{copy_button('08-123 45 67', 'Home')}</dd>" in html
    assert "<dt>Personnummer</dt><dd>811218-****</dd>" in html
    assert "9876" not in html


@pytest.mark.django_db
def test_detail_links_real_coordinates_to_openstreetmap(en_client, credential, served):
    html = detail(en_client, credential, FOREIGN_ID)
    osm = "https://www.openstreetmap.org/?mlat=59.329323&amp;mlon=18.068581#map=17/59.329323/18.068581"
    assert (
        f'<dd>59.329323, 18.068581 <a href="{osm}" rel="noopener noreferrer" '
        'target="_blank">Show on OpenStreetMap</a></dd>'
    ) in html
    assert "<iframe" not in html and "<img" not in html
    assert "<dt>Wants to be matched</dt><dd>Yes</dd>" in html  # sent as 0


@pytest.mark.django_db
def test_a_foreign_number_is_masked_in_its_own_shape_and_revealed_as_given(
    en_client, credential, served
):
    html = detail(en_client, credential, FOREIGN_ID)
    assert "<dt>Personnummer</dt><dd>NO 1705801****</dd>" in html
    assert "12345" not in html
    response = en_client.post(f"{LOOKUP}{FOREIGN_ID}/reveal/?credential={credential.pk}")
    revealed = response.content.decode()
    copy = copy_button("NO 17058012345", "the personnummer")
    assert f"<dt>Personnummer</dt><dd>NO 17058012345{copy}</dd>" in revealed


@pytest.mark.django_db
def test_an_invalid_swedish_number_is_masked_and_marked_even_revealed(
    en_client, credential, served
):
    assert "<dt>Personnummer</dt><dd>811218-**** (invalid)</dd>" in detail(
        en_client, credential, INVALID_ID
    )
    response = en_client.post(f"{LOOKUP}{INVALID_ID}/reveal/?credential={credential.pk}")
    copy = copy_button("811218-9877 (invalid)", "the personnummer")
    assert f"<dt>Personnummer</dt><dd>811218-9877 (invalid){copy}</dd>" in response.content.decode()


@pytest.mark.django_db
def test_detail_of_an_association_shows_its_name(en_client, credential, served):
    html = detail(en_client, credential, ASSOCIATION_ID)
    assert f"<h1>{escape('Brf Tallbacken')} " in html
    assert "<dt>Name</dt><dd>Brf Tallbacken</dd>" in html
    assert "<dt>Type</dt><dd>Association</dd>" in html
    assert f"<dt>Changed</dt><dd>{DASH}</dd>" in html


@pytest.mark.django_db
def test_detail_of_a_company_formats_its_organisationsnummer(en_client, credential, served):
    assert "<dt>Organisationsnummer</dt><dd>556703-7485</dd>" in detail(
        en_client, credential, COMPANY_ID
    )
    assert "<dt>Organisationsnummer</dt><dd>NO 923 456 789</dd>" in detail(
        en_client, credential, FOREIGN_ORGNR_ID
    )


# --- the CSV --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_csv_holds_every_contract_value(en_client, credential, served):
    rows = export_rows(en_client, credential)
    assert list(rows) == IDS
    greta = rows[DECEASED_ID]
    assert greta["Name"] == "Greta Berg"
    assert greta["Deceased"] == "Yes"
    assert greta["E-mail"] == "greta.berg@example.se"
    assert greta["Second e-mail"] == ""
    assert greta["Mobile phone"] == "070-111 22 33"
    assert greta["Home phone"] == "08-123 45 67"  # each phone in the column of its kind
    assert greta["Phone (E.164)"] == "+46701112233"
    assert greta["GDPR informed"] == "" and greta["Changed"] == ""
    assert greta["Organisationsnummer / personnummer"] == "811218-****"
    assert rows[FOREIGN_ID]["Deceased"] == "No"
    assert rows[FOREIGN_ID]["Mobile phone"] == "+47 22 33 44 55"
    assert rows[FOREIGN_ID]["Phone (E.164)"] == "+4722334455"
    assert rows[FOREIGN_ID]["Organisationsnummer / personnummer"] == "NO 1705801****"
    assert rows[INVALID_ID]["Organisationsnummer / personnummer"] == "811218-**** (invalid)"
    association = rows[ASSOCIATION_ID]
    assert association["Name"] == "Brf Tallbacken"
    assert association["Type"] == "Association"
    assert association["Deceased"] == "" and association["Changed"] == ""
    assert association["E-mail"] == "styrelsen@tallbacken.se"
    assert rows[COMPANY_ID]["Organisationsnummer / personnummer"] == "556703-7485"
    assert rows[COMPANY_ID]["Switchboard"] == "031-12 34 56"
    assert rows[COMPANY_ID]["Phone (E.164)"] == "+4631123456"
    assert rows[COMPANY_ID]["Deceased"] == ""


@pytest.mark.django_db
def test_the_csv_with_personnummer_on_request_gives_them_as_vitec_has_them(
    en_client, credential, served
):
    response = en_client.post(
        EXPORT,
        {"credential": credential.pk, "ids": ",".join(IDS), "include_personnummer": "on"},
    )
    body = b"".join(response.streaming_content).decode("utf-8")
    header, *rows = csv.reader(io.StringIO(body[1:], newline=""), delimiter=";")
    numbers = {
        row[0]: dict(zip(header, row, strict=True))["Organisationsnummer / personnummer"]
        for row in rows
    }
    assert numbers[DECEASED_ID] == "19811218-9876"
    assert numbers[FOREIGN_ID] == "NO 17058012345"
    assert numbers[COORDINATION_ID] == "8112789873"
