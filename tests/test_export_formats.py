"""The exports brokers use (issue 12, item 4): Excel (.xlsx) read back with openpyxl, vCard 4.0
read back with vobject, partial exports that name the ids that could not be fetched, the
personnummer rules of every format, one contact's vCard, and the audit event of each format.

Expected values come from the sandbox's own records (tests/oracle.py) or are written by hand;
hostile values are served by the sandbox over HTTP like any other contact.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from datetime import datetime
from urllib.parse import urlsplit

import openpyxl
import pytest
import vobject
from django.http import FileResponse
from django.template.loader import render_to_string
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from contacts.models import AuditEvent
from contacts.services.vcard import fold, vcard_text
from tests import oracle
from tests.dashboard_fixtures import cid, ids_range, make_credential, missing_id, serve_for_m1001
from tests.test_export import HEADER_EN, HEADER_SV, PHONE_HEADERS

CSV = "/contacts/export.csv"
XLSX = "/contacts/export.xlsx"
VCF = "/contacts/export.vcf"
LOOKUP = "/contacts/"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMN = {header: index for index, header in enumerate(HEADER_EN)}
LAST_COLUMN = "U"  # the 21st column
# The vCard TYPE of each of Vitec's phone kinds, by hand: a switchboard is a work number.
TEL_TYPE = {"cell": "cell", "home": "home", "work": "work", "switch": "work", "other": "voice"}
FORMULA = "=cmd|' /C calc'!A0"

pytestmark = pytest.mark.django_db


def vcard_url(contact_id: str) -> str:
    return f"/contacts/{contact_id}/vcard.vcf"


def phone_kinds(contact: oracle.Record) -> list[tuple[str, str]]:
    """(kind, number) of the numbers that are set, in Vitec's order of usefulness."""
    telephone = contact.get("telephone") or {}
    kinds = (
        ("switch", "other") if contact["type"] == "Company" else ("cell", "home", "work", "other")
    )
    return [(kind, telephone[kind]) for kind in kinds if telephone.get(kind)]


def workbook_of(response):
    assert response.status_code == 200, response.status_code
    assert isinstance(response, FileResponse)
    # Reading it to the end closes it, as a server does (not response.close(): outside a request
    # that fires request_finished, which closes the test's database connection).
    data = b"".join(response.streaming_content)
    return openpyxl.load_workbook(io.BytesIO(data)).active


def sheet_rows(sheet) -> list[list]:
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def body_bytes(response) -> bytes:
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content)


def cards_of(body: bytes) -> list:
    return list(vobject.readComponents(body.decode("utf-8")))


def the_event() -> AuditEvent:
    (event,) = AuditEvent.objects.all()
    return event


# --- Excel ----------------------------------------------------------------------------------------


def test_xlsx_response_is_a_file_with_the_views_name(en_client, credential, monkeypatch):
    made = []
    temporary_file = tempfile.TemporaryFile

    def recorded(*args, **kwargs):
        made.append(temporary_file(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "TemporaryFile", recorded)
    response = en_client.get(XLSX, {"credential": credential.pk, "ids": ",".join(ids_range(1, 3))})
    assert response.status_code == 200
    assert isinstance(response, FileResponse)
    assert response["Content-Type"] == XLSX_TYPE
    assert re.fullmatch(
        r'attachment; filename="contacts-M1001-\d{8}-\d{4}\.xlsx"', response["Content-Disposition"]
    )
    assert response["Cache-Control"] == "no-store"
    assert made and not made[0].closed  # written to a temporary file first, then streamed
    assert b"".join(response.streaming_content).startswith(b"PK")  # read to the end: closed
    assert all(handle.closed for handle in made)  # TemporaryFiles: deleted as they are closed


def test_xlsx_cells_are_typed_from_the_contacts(en_client, credential, reference):
    ids = ids_range(1, 120)
    sheet = workbook_of(en_client.get(XLSX, {"credential": credential.pk, "ids": ",".join(ids)}))
    rows = list(sheet.iter_rows())
    assert [cell.value for cell in rows[0]] == HEADER_EN
    assert all(cell.font.b for cell in rows[0])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{LAST_COLUMN}{len(ids) + 1}"
    assert len(rows) == 1 + len(ids)
    assert [row[0].value for row in rows[1:]] == ids
    zeros = 0
    for row in rows[1:]:
        contact = reference[row[0].value]
        cell = {header: row[index] for header, index in COLUMN.items()}
        assert cell["Name"].value == oracle.name(contact)
        deceased = contact.get("isDeceased") if contact["type"] == "Person" else None
        assert cell["Deceased"].value == {True: "Yes", False: "No", None: None}[deceased]
        number = cell["Organisationsnummer / personnummer"]
        if contact["type"] == "Company":
            assert number.value == (contact["corporateNumber"] or None)
        elif swedish := oracle.swedish_personnummer(contact):
            assert number.value == oracle.masked(swedish)
            assert number.data_type == "s"
        kinds = dict(phone_kinds(contact))
        for kind, header in PHONE_HEADERS.items():
            value = cell[header].value
            if kind not in kinds:
                assert value is None
                continue
            assert isinstance(value, str) and value.startswith("0")  # text: the zero kept
            assert oracle.digits(value) == oracle.national_digits(kinds[kind])
            zeros += 1
        primary = oracle.primary_phone(contact)
        assert cell["Phone (E.164)"].value == (oracle.phone_e164(primary) if primary else None)
        emails = oracle.emails(contact)
        assert cell["E-mail"].value == (emails[0] if emails else None)
        assert cell["Second e-mail"].value == (emails[1] if len(emails) > 1 else None)
        address = oracle.address(contact)
        assert cell["Street address"].value == (address.get("streetAddress") or None)
        assert cell["Zip code"].value == (address.get("zipCode") or None)
        assert cell["Zip code"].value is None or cell["Zip code"].data_type == "s"
        assert cell["City"].value == (address.get("city") or None)
        lead = contact.get("leadScore")
        assert cell["Lead score"].value == lead
        assert lead is None or cell["Lead score"].data_type == "n"
        gdpr, changed = cell["GDPR informed"], cell["Changed"]
        if oracle.local_date(contact, "gdprApprovalDate"):
            assert isinstance(gdpr.value, datetime) and gdpr.is_date
            assert gdpr.value.date().isoformat() == oracle.local_date(contact, "gdprApprovalDate")
            assert gdpr.number_format == "yyyy-mm-dd"
        else:
            assert gdpr.value is None
        if oracle.local_minute(contact, "changedAt"):
            assert isinstance(changed.value, datetime) and changed.is_date
            minute = changed.value.strftime("%Y-%m-%d %H:%M")
            assert minute == oracle.local_minute(contact, "changedAt")
            assert changed.number_format == "yyyy-mm-dd hh:mm"
    assert zeros > 100, "the sample should hold phone numbers"


def test_xlsx_headers_in_swedish_by_default(client, broker, credential):
    """Needs the Swedish translations of the new headers (locale/sv)."""
    client.force_login(broker)
    response = client.get(XLSX, {"credential": credential.pk, "ids": cid(1)})
    assert re.search(
        r'filename="kontakter-M1001-\d{8}-\d{4}\.xlsx"', response["Content-Disposition"]
    )
    sheet = workbook_of(response)
    assert [cell.value for cell in sheet[1]] == HEADER_SV
    assert sheet.title == "Kontakter"


def test_xlsx_with_personnummer_holds_them_as_text_in_one_column(en_client, credential, reference):
    ids = ids_range(1, 120)
    query = {"credential": credential.pk, "ids": ",".join(ids), "include_personnummer": "on"}
    sheet = workbook_of(en_client.post(XLSX, query))
    rows = list(sheet.iter_rows())
    assert [cell.value for cell in rows[0]] == HEADER_EN  # no second personnummer column
    leading_zero = 0
    for row in rows[1:]:
        contact = reference[row[0].value]
        number = row[COLUMN["Organisationsnummer / personnummer"]]
        if contact["type"] == "Company":
            assert number.value == (contact["corporateNumber"] or None)
        elif personnummer := oracle.personnummer(contact):
            assert number.value == personnummer and number.data_type == "s"
            leading_zero += personnummer.startswith("0")
    assert leading_zero, "the sample should hold a personnummer with a leading zero"


# --- hostile values -------------------------------------------------------------------------------

HOSTILE_PERSON = "ADRAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
HOSTILE_COMPANY = "ADRBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
LONG_PERSON = "ADRCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
EMPLOYEE = "ADRDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD"
HOSTILE_IDS = [HOSTILE_PERSON, HOSTILE_COMPANY, LONG_PERSON, EMPLOYEE]
FIRST = 'Anna, "Kalle"; Nilsson\\Berg'
LAST = "Öberg\nRad två 😀👩‍👩‍👧"
LONG_FIRST = "Åsa-Märta " * 12 + "🏠" * 9
COMPANY_NAME = FORMULA + ', Bolaget; "AB"'
STREET = "Storgatan 1; lgh 2, vån 3\nBakgården"
CITY = '=HYPERLINK("http://evil","x")'


def _person(contact_id: str, **fields) -> dict:
    payload = {
        "id": contact_id,
        "type": "Person",
        "customerId": "M1001",
        "firstName": "Anna",
        "lastName": "Lindqvist",
        "email": {"emailAddress": None, "emailAddress2": None},
        "telephone": {"home": None, "work": None, "cell": None, "other": None},
        "categories": [],
    }
    payload.update(fields)
    return payload


HOSTILE = {
    HOSTILE_PERSON: _person(
        HOSTILE_PERSON,
        firstName=FIRST,
        lastName=LAST,
        socialSecurityNumber="19811218-9876",
        email={"emailAddress": "anna,berg;x@example.se", "emailAddress2": FORMULA},
        telephone={"home": "+46 8 123 45 67", "work": None, "cell": "0701112233", "other": None},
        address={"streetAddress": STREET, "zipCode": "-111 22", "city": CITY, "countryCode": "SE"},
    ),
    HOSTILE_COMPANY: {
        "id": HOSTILE_COMPANY,
        "type": "Company",
        "customerId": "M1001",
        "name": COMPANY_NAME,
        "corporateNumber": "556703-7485",
        "email": {"emailAddress": "info@bolaget.se", "emailAddress2": None},
        "telephone": {"switch": "031-12 34 56", "other": None},
        "categories": [],
    },
    LONG_PERSON: _person(LONG_PERSON, firstName=LONG_FIRST, lastName="Ek" * 60),
    EMPLOYEE: _person(
        EMPLOYEE,
        firstName="Bo",
        lastName="Anställd",
        telephone={"home": None, "work": "08-123 45 67", "cell": None, "other": "12"},
    ),
}


@pytest.fixture
def hostile(monkeypatch, vitec):
    """The sandbox serves the hostile contacts above; Bo signs for the hostile company."""
    serve_for_m1001(
        monkeypatch,
        HOSTILE,
        lambda data: {
            "relations": {
                HOSTILE_COMPANY: ({"relation": "CompanySignatory", "contactId": EMPLOYEE},)
            },
            "reverse_relations": {
                EMPLOYEE: ({"relation": "CompanySignatory", "contactId": HOSTILE_COMPANY},)
            },
        },
    )
    return vitec


def test_xlsx_keeps_hostile_text_as_text_with_a_quote_prefix(en_client, credential, hostile):
    query = {"credential": credential.pk, "ids": ",".join(HOSTILE_IDS)}
    sheet = workbook_of(en_client.get(XLSX, query))
    rows = {row[0].value: row for row in list(sheet.iter_rows())[1:]}
    person, company = rows[HOSTILE_PERSON], rows[HOSTILE_COMPANY]
    name = company[COLUMN["Name"]]
    assert (name.value, name.data_type, name.quotePrefix) == (COMPANY_NAME, "s", True)
    city = person[COLUMN["City"]]
    assert (city.value, city.data_type, city.quotePrefix) == (CITY, "s", True)
    zip_code = person[COLUMN["Zip code"]]
    assert (zip_code.value, zip_code.data_type, zip_code.quotePrefix) == ("-111 22", "s", True)
    second = person[COLUMN["Second e-mail"]]
    assert (second.value, second.data_type, second.quotePrefix) == (FORMULA, "s", True)
    assert person[COLUMN["Name"]].value == f"{FIRST} {LAST}"
    assert person[COLUMN["Name"]].quotePrefix is False
    assert person[COLUMN["Street address"]].value == STREET
    assert rows[LONG_PERSON][COLUMN["Name"]].value == f"{LONG_FIRST} {'Ek' * 60}"
    assert person[COLUMN["Mobile phone"]].value == "070-111 22 33"
    assert person[COLUMN["Home phone"]].value == "08-123 45 67"
    for row in rows.values():
        assert all(cell.data_type != "f" for cell in row)


def test_csv_neutralises_the_same_hostile_text(en_client, credential, hostile):
    query = {"credential": credential.pk, "ids": ",".join(HOSTILE_IDS)}
    body = body_bytes(en_client.get(CSV, query)).decode("utf-8")[1:]
    rows = {row[0]: row for row in list(csv.reader(io.StringIO(body, newline=""), delimiter=";"))}
    assert rows[HOSTILE_COMPANY][COLUMN["Name"]] == "'" + COMPANY_NAME
    assert rows[HOSTILE_PERSON][COLUMN["City"]] == "'" + CITY
    assert rows[HOSTILE_PERSON][COLUMN["Second e-mail"]] == "'" + FORMULA
    assert rows[HOSTILE_PERSON][COLUMN["Name"]] == f"{FIRST} {LAST}"


def test_vcards_round_trip_hostile_values_exactly(en_client, credential, hostile):
    query = {"credential": credential.pk, "ids": ",".join(HOSTILE_IDS)}
    response = en_client.get(VCF, query)
    assert response["Content-Type"] == "text/vcard; charset=utf-8"
    body = body_bytes(response)
    assert_folded(body)
    cards = cards_of(body)
    assert len(cards) == len(HOSTILE_IDS)
    person, company, long_person, employee = cards
    assert person.fn.value == f"{FIRST} {LAST}"
    assert (person.n.value.family, person.n.value.given) == (LAST, FIRST)
    assert [e.value for e in person.contents["email"]] == ["anna,berg;x@example.se", FORMULA]
    adr = person.adr.value
    assert (adr.street, adr.city, adr.code, adr.country) == (STREET, CITY, "-111 22", "SE")
    assert "org" not in person.contents
    assert company.fn.value == COMPANY_NAME
    assert company.org.value == [COMPANY_NAME]
    assert company.kind.value == "org"
    assert [(t.params["TYPE"], t.value) for t in company.contents["tel"]] == [
        (["work"], "tel:+4631123456")
    ]
    assert long_person.fn.value == f"{LONG_FIRST} {'Ek' * 60}"
    assert (long_person.n.value.family, long_person.n.value.given) == ("Ek" * 60, LONG_FIRST)
    # Bo's other number cannot be read as a phone number: kept as text, as Vitec has it.
    assert [(t.params["TYPE"], t.params["VALUE"], t.value) for t in employee.contents["tel"]] == [
        (["work"], ["uri"], "tel:+4681234567"),
        (["voice"], ["text"], "12"),
    ]
    assert b"19811218-9876" not in body and b"811218" not in body  # never a personnummer


def assert_folded(body: bytes) -> None:
    """CRLF line ends only; no line longer than 75 octets; each line valid UTF-8 alone (no
    character split by the folding)."""
    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"") and b"\r" not in body.replace(b"\r\n", b"")
    for line in body.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")


# --- vCards of a view -----------------------------------------------------------------------------


def test_vcards_of_the_view_come_from_the_contacts(en_client, credential, reference):
    ids = ids_range(1, 120)
    response = en_client.get(VCF, {"credential": credential.pk, "ids": ",".join(ids)})
    assert re.fullmatch(
        r'attachment; filename="contacts-M1001-\d{8}-\d{4}\.vcf"', response["Content-Disposition"]
    )
    body = body_bytes(response)
    assert_folded(body)
    cards = cards_of(body)
    assert len(cards) == len(ids)
    phones = 0
    for card, contact_id in zip(cards, ids, strict=True):
        contact = reference[contact_id]
        assert card.version.value == "4.0"
        assert card.fn.value == oracle.name(contact)
        if contact["type"] == "Person":
            assert card.kind.value == "individual"
            name = card.n.value
            assert (name.family, name.given) == (
                contact.get("lastName") or "",
                contact.get("firstName") or "",
            )
        else:
            assert card.kind.value == "org"
            assert card.org.value == [oracle.name(contact)]
        tels = [(t.params["TYPE"], t.value) for t in card.contents.get("tel", [])]
        expected = [([TEL_TYPE[k]], "tel:" + oracle.phone_e164(n)) for k, n in phone_kinds(contact)]
        assert tels == expected
        phones += len(tels)
        assert [e.value for e in card.contents.get("email", [])] == oracle.emails(contact)
        address = oracle.address(contact)
        if address.get("streetAddress") or address.get("city"):
            adr = card.adr.value
            assert adr.street == (address.get("streetAddress") or "")
            assert adr.city == (address.get("city") or "")
            assert adr.code == (address.get("zipCode") or "")
        assert "note" not in card.contents
    assert phones > 100


def test_vcards_never_hold_a_personnummer_even_when_asked(en_client, credential, reference):
    ids = ids_range(1, 60)
    query = {"credential": credential.pk, "ids": ",".join(ids), "include_personnummer": "on"}
    body = body_bytes(en_client.post(VCF, query)).decode("utf-8")
    numbers = [n for i in ids if (n := oracle.personnummer(reference[i]))]
    assert numbers
    assert [n for n in numbers if n in body or oracle.digits(n) in body] == []
    assert the_event().details["include_personnummer"] is False


# --- one contact's vCard --------------------------------------------------------------------------


def test_one_contacts_vcard_is_audited_as_its_export(en_client, broker, credential, reference):
    contact = reference[cid(2)]
    response = en_client.get(vcard_url(cid(2)), {"credential": credential.pk})
    assert response["Content-Type"] == "text/vcard; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    assert re.fullmatch(r'attachment; filename="[a-z0-9-]+\.vcf"', response["Content-Disposition"])
    body = body_bytes(response)
    assert_folded(body)
    (card,) = cards_of(body)
    assert card.fn.value == oracle.name(contact)
    event = the_event()
    assert (event.action, event.user, event.credential) == ("csv_export", broker, credential)
    assert (event.contact_ids, event.row_count) == ([cid(2)], 1)
    assert event.details == {"format": "vcf", "include_personnummer": False}


def test_a_persons_vcard_names_their_employer(en_client, credential, hostile):
    body = body_bytes(en_client.get(vcard_url(EMPLOYEE), {"credential": credential.pk}))
    (card,) = cards_of(body)
    assert card.fn.value == "Bo Anställd"
    assert card.org.value == [COMPANY_NAME]
    assert card.kind.value == "individual"


def test_another_brokers_contact_vcard_is_not_found(client, other_broker, credential):
    make_credential(other_broker, customer_id="M1001", label="Theirs")
    client.force_login(other_broker)
    response = client.get(vcard_url(cid(1)), {"credential": credential.pk})
    assert response.status_code == 404
    assert not getattr(response, "streaming", False)
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize("contact_id", [missing_id(7), "a b"])
def test_a_vcard_of_no_contact_is_not_found(en_client, credential, contact_id):
    response = en_client.get(vcard_url(contact_id), {"credential": credential.pk})
    assert response.status_code == 404
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_a_contacts_page_links_its_vcard(en_client, credential, vitec):
    page = en_client.get(f"/contacts/{cid(3)}/", {"credential": credential.pk}).content.decode()
    assert f'href="/contacts/{cid(3)}/vcard.vcf?customer={credential.customer_id}"' in page
    assert render_to_string("contacts/_vcard_link.html", {"credential": credential}).strip() == ""


# --- partial exports ------------------------------------------------------------------------------

# The client asks for contacts in batches of 20: the magic id fails the second batch, which holds
# it and the five ids after it. Those six are missing; the first twenty arrive.
PARTIAL_IDS = [*ids_range(1, 20), "fault-500", *ids_range(21, 25)]
MISSING = ["fault-500", *ids_range(21, 25)]


@pytest.mark.parametrize(("url", "extension"), [(CSV, "csv"), (XLSX, "xlsx"), (VCF, "vcf")])
def test_without_asking_a_file_that_would_lack_rows_is_refused(
    en_client, credential, vitec, url, extension
):
    response = en_client.post(url, {"credential": credential.pk, "ids": ",".join(PARTIAL_IDS)})
    assert response.status_code == 302
    assert "Content-Disposition" not in response
    page = en_client.get(response["Location"]).content.decode()
    said = "The CSV was not made" if extension == "csv" else "The file was not made"
    assert f"{said}: some contacts could not be fetched from Vitec." in page
    assert 'name="partial"' in page  # the form now offers what arrived
    assert AuditEvent.objects.filter(action="csv_export").count() == 0


@pytest.mark.parametrize(("url", "extension"), [(CSV, "csv"), (XLSX, "xlsx"), (VCF, "vcf")])
def test_a_partial_export_names_the_missing_ids(
    en_client, broker, credential, vitec, url, extension
):
    query = {"credential": credential.pk, "ids": ",".join(PARTIAL_IDS), "partial": "on"}
    response = en_client.post(url, query)
    assert re.fullmatch(
        rf'attachment; filename="contacts-M1001-\d{{8}}-\d{{4}}-6-missing\.{extension}"',
        response["Content-Disposition"],
    )
    line = "Missing: " + ", ".join(MISSING)
    if extension == "csv":
        body = body_bytes(response).decode("utf-8")[1:]
        rows = list(csv.reader(io.StringIO(body, newline=""), delimiter=";"))
        assert [row[0] for row in rows[1:-1]] == ids_range(1, 20)
        assert rows[-1] == [line]
    elif extension == "xlsx":
        sheet = workbook_of(response)
        rows = sheet_rows(sheet)
        assert [row[0] for row in rows[1:21]] == ids_range(1, 20)
        assert all(value is None for value in rows[21])  # an empty row apart from the contacts
        assert rows[22][0] == line and len(rows) == 23
        assert sheet.auto_filter.ref == f"A1:{LAST_COLUMN}21"
    else:
        cards = cards_of(body_bytes(response))
        assert len(cards) == 20
    event = the_event()
    assert (event.action, event.user, event.row_count) == ("csv_export", broker, 20)
    assert event.details["missing"] == MISSING
    assert event.details["format"] == extension
    assert event.contact_ids == PARTIAL_IDS


def test_the_export_form_offers_what_arrived_only_when_ids_failed(en_client, credential, vitec):
    complete = en_client.get(LOOKUP, {"credential": credential.pk, "ids": cid(1)}).content.decode()
    assert 'name="partial"' not in complete
    assert 'formaction="/contacts/export.xlsx"' in complete
    assert 'formaction="/contacts/export.vcf"' in complete
    failed = en_client.get(LOOKUP, {"credential": credential.pk, "ids": ",".join(PARTIAL_IDS)})
    form = re.search(
        r'<form method="post" action="/contacts/export\.csv" class="export-form">(.*?)</form>',
        failed.content.decode(),
        re.S,
    )
    assert form and 'name="partial"' in form[1] and "Export what arrived" in form[1]


# --- personnummer, audit -------------------------------------------------------------------------


@pytest.mark.parametrize("url", [XLSX, VCF])
def test_a_get_never_makes_a_file_with_personnummer(en_client, credential, url):
    query = {"credential": credential.pk, "ids": ",".join(ids_range(1, 5))}
    response = en_client.get(url, {**query, "include_personnummer": "on"})
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == LOOKUP
    page = en_client.get(response["Location"]).content.decode()
    assert "A file with personnummer is only made from the download form on this page." in page
    assert not AuditEvent.objects.filter(action="csv_export").exists()


@pytest.mark.parametrize(
    ("url", "method", "extension", "include"),
    [
        (CSV, "get", "csv", False),
        (CSV, "post", "csv", True),
        (XLSX, "get", "xlsx", False),
        (XLSX, "post", "xlsx", True),
        (VCF, "get", "vcf", False),
        (VCF, "post", "vcf", False),  # asked for, never given
    ],
)
def test_each_export_is_audited_with_its_format(
    en_client, broker, credential, url, method, extension, include
):
    ids = ids_range(1, 30)
    query = {"credential": credential.pk, "ids": ",".join(ids), "type": "Person"}
    if method == "post":
        query["include_personnummer"] = "on"
    response = getattr(en_client, method)(url, query)
    assert response.status_code == 200
    event = the_event()
    assert (event.action, event.user, event.contact_ids) == ("csv_export", broker, ids)
    assert event.details == {
        "filters": {"type": "Person", "category": "", "q": "", "sort": ""},
        "include_personnummer": include,
        "format": extension,
    }


@pytest.mark.integration
@pytest.mark.parametrize("url", [XLSX, VCF])
def test_the_registers_view_as_excel_and_vcards(en_client, synced, vitec, url):
    companies = sorted(
        (r for r in oracle.records("M1002").values() if r["type"] == "Company"),
        key=lambda r: oracle.name(r).casefold(),
    )
    vitec.stats.reset()
    response = en_client.post(url, {"credential": synced.pk, "type": "Company"})
    if url == XLSX:
        ids = [row[0] for row in sheet_rows(workbook_of(response))[1:]]
        assert sorted(ids) == sorted(r["id"] for r in companies)
    else:
        cards = cards_of(body_bytes(response))
        assert sorted(c.fn.value for c in cards) == sorted(oracle.name(r) for r in companies)
    assert vitec.stats.requests == []  # from the register
    (event,) = AuditEvent.objects.filter(action="register_export")
    assert event.details["format"] == ("xlsx" if url == XLSX else "vcf")
    assert event.row_count == len(companies)


# --- the vCard writer -----------------------------------------------------------------------------


def _unescape(text: str) -> str:
    """RFC 6350's escapes undone, by hand."""
    out, escaped = [], False
    for char in text:
        if escaped:
            out.append("\n" if char in "nN" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)


_vcard_safe = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"), max_size=300
).map(lambda s: "".join(c for c in s if c in "\n\t" or not (c < " " or "\x7f" <= c < "\xa0")))


@given(_vcard_safe)
@example(FORMULA)
@example("a,b;c\\d\ne")
@example("é" * 100)
@example("😀" * 40)
@hypothesis_settings(deadline=None)
def test_escaped_and_folded_text_comes_back_exactly(value):
    line = "FN:" + vcard_text(value)
    folded = fold(line)
    physical = folded.encode("utf-8").split(b"\r\n")
    assert all(len(part) <= 75 for part in physical)
    assert all(part.startswith(b" ") for part in physical[1:])
    assert [part.decode("utf-8") for part in physical]  # no character split
    unfolded = folded.replace("\r\n ", "")
    assert unfolded == line
    assert _unescape(unfolded.removeprefix("FN:")) == value
    assert "\n" not in unfolded and not re.search(r"(?<!\\)(\\\\)*[,;]", unfolded[3:])


@pytest.mark.parametrize("url", [XLSX, VCF, vcard_url(cid(1))])
def test_every_export_needs_a_login(client, credential, url):
    response = client.get(url, {"credential": credential.pk, "ids": cid(1)})
    assert response.status_code == 302
    assert "next=" in response["Location"]
    assert AuditEvent.objects.count() == 0
