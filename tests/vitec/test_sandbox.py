"""Contract tests for the Vitec Connect sandbox, over real HTTP with plain `requests`."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import defusedxml.ElementTree as SafeET
import pytest
import requests
from django.core.management import CommandError, call_command

from contacts.vitec.sandbox import (
    DEFAULT_ACCOUNTS,
    FAULTS,
    Account,
    SandboxConfig,
    SandboxServer,
)
from contacts.vitec.sandbox.data import STOCKHOLM, customer_data, generate_customer_data
from tests.dashboard_fixtures import cid, missing_id

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AUTH = ("demo", "demo")
TIMEOUT = 5
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
CRM = "{http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models.Contact.Crm}"
MODELS = "{http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models}"
CATEGORY = "{http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models.Category}"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+0[12]:00$")

# The documented fields (connect-api.md), per contact type.
COMMON_FIELDS = {
    "id",
    "type",
    "customerId",
    "agentId",
    "address",
    "email",
    "advertisingEnabled",
    "note",
    "categories",
    "createdAt",
    "changedAt",
}
TYPE_FIELDS = {
    "Person": {
        "firstName",
        "lastName",
        "socialSecurityNumber",
        "isForeignSocialSecurityNumber",
        "dateOfBirth",
        "telephone",
        "leadScore",
        "wantsToBeMatched",
        "matchingChangedAt",
        "isDeceased",
        "isCompanyPerson",
        "gdprApprovalDate",
    },
    "Company": {
        "name",
        "corporateNumber",
        "isForeignCorporateNumber",
        "homePage",
        "telephone",
        "leadScore",
    },
    "DeceasedEstate": {
        "name",
        "socialSecurityNumber",
        "isForeignIdSocialSecurityNumber",
        "telephone",
    },
    # Not documented on the contacts page: the sandbox gives it a name, a number and phones.
    "Association": {"name", "corporateNumber", "isForeignCorporateNumber", "telephone"},
}
TELEPHONE_FIELDS = {
    "Person": {"home", "work", "cell", "other"},
    "Company": {"switch", "other"},
    "DeceasedEstate": {"home", "work", "cell", "other"},
    "Association": {"switch", "other"},
}
EMPTY_DATE = "0001-01-01T00:00:00"  # .NET's DateTime.MinValue: never set
MATCHING_NUMBERS = {0: "Yes", 1: "No", 2: "NotAsked"}
ADDRESS_FIELDS = {"streetAddress", "zipCode", "city", "countryCode", "wgs84Coordinate"}
EMAIL_FIELDS = {"emailAddress", "emailAddress2"}
MAX_LENGTHS = {
    "id": 40,
    "customerId": 40,
    "firstName": 30,
    "lastName": 30,
    "socialSecurityNumber": 20,
    "corporateNumber": 20,
    "homePage": 60,
}


def ids(*numbers: int, customer: str = "M1001") -> list[str]:
    """The ids of contacts number n (1-based) as the sandbox generates them; a number past the
    last contact (2,400 by default) gives a real-shaped id the sandbox does not have."""
    data = customer_data(customer, seed=1, count=2400)
    return [
        data.contacts[n - 1]["id"] if n <= len(data.contacts) else missing_id(n) for n in numbers
    ]


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


# --- fixtures -------------------------------------------------------------------------------------

BASE_CONFIG = SandboxConfig(slow_body_seconds=1.0)


@pytest.fixture(scope="module")
def running() -> SandboxServer:
    with SandboxServer(dataclasses.replace(BASE_CONFIG)) as server:
        yield server


@pytest.fixture
def server(running: SandboxServer) -> SandboxServer:
    """The module's sandbox with its config and statistics reset around each test."""
    defaults = {f.name: getattr(BASE_CONFIG, f.name) for f in dataclasses.fields(BASE_CONFIG)}
    running.configure(**defaults)
    running.stats.reset()
    yield running
    running.configure(**defaults)
    settle(running)
    running.stats.reset()


def settle(server: SandboxServer, within: float = 3.0) -> None:
    """Wait until no request is in flight (a client that timed out leaves the server busy)."""
    deadline = time.monotonic() + within
    while server.stats.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def get(server: SandboxServer):
    """GET a path on the sandbox as the demo account (override auth/headers/timeout per call)."""
    session = requests.Session()

    def get(path: str, **options) -> requests.Response:
        options.setdefault("auth", AUTH)
        options.setdefault("timeout", TIMEOUT)
        return session.get(server.base_url + path, **options)

    yield get
    session.close()


@pytest.fixture(scope="module")
def m1001():
    return customer_data("M1001", seed=1, count=2400)


def contact_calls(server: SandboxServer) -> list:
    return [r for r in server.stats.requests if r.endpoint == "contacts"]


# --- access ---------------------------------------------------------------------------------------


def test_health(server):
    response = requests.get(f"{server.base_url}/_sandbox/health", timeout=TIMEOUT)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("auth", "headers"),
    [
        (None, {}),
        (("demo", "wrong"), {}),
        (("nobody", "demo"), {}),
        (("", ""), {}),
        (None, {"Authorization": "Basic !!!not-base64"}),
        (None, {"Authorization": "Basic ZGVtbw=="}),  # "demo" without a colon
        (None, {"Authorization": "Bearer demo"}),
    ],
    ids=["none", "wrong-password", "unknown-user", "empty", "garbled", "no-colon", "bearer"],
)
def test_bad_credentials_are_401(get, auth, headers):
    response = get(f"/CRM/Contact/M1001/{cid(1)}", auth=auth, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"message": "Authorization has been denied for this request."}
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Vitec Connect sandbox"'


@pytest.mark.parametrize(
    "path",
    [
        f"/CRM/Contact/M1001/{cid(1)}",
        "/CRM/Contact/M1001",
        "/CRM/Contact/M1001/Search?Term=Andersson",
        f"/CRM/Contact/M1001/Person/{cid(1)}",
        "/Category/GetCategories?customerId=M1001",
    ],
)
def test_every_endpoint_needs_auth(get, path):
    assert get(path, auth=None).status_code == 401
    assert get(path).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/CRM/Contact/M9999/{missing_id(1)}",
        "/CRM/Contact/M9999",
        "/CRM/Contact/M9999/Search?Term=Andersson",
        f"/CRM/Contact/M9999/Company/{missing_id(1)}",
        "/Category/GetCategories?customerId=M9999",
    ],
)
def test_a_customer_outside_the_account_is_403(get, path):
    response = get(path)
    assert response.status_code == 403
    assert "M9999" in response.json()["message"]


def test_accounts_are_configurable(server, get):
    server.configure(accounts=(Account("alice", "s3cret", frozenset({"M2001"})),))
    assert get(f"/CRM/Contact/M2001/{cid(1, 'M2001')}", auth=("alice", "s3cret")).status_code == 200
    assert get(f"/CRM/Contact/M1001/{cid(1)}", auth=("alice", "s3cret")).status_code == 403
    assert get(f"/CRM/Contact/M1001/{cid(1)}").status_code == 401  # demo is gone


@pytest.mark.parametrize("path", ["/", "/CRM", "/CRM/Contact", "/CRM/Contact/M1001/a/b", "/x"])
def test_unknown_paths_are_404_json(get, path):
    response = get(path)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert "message" in response.json()


def test_only_get_is_allowed(server):
    response = requests.post(
        f"{server.base_url}/CRM/Contact/M1001/{cid(1)}", auth=AUTH, timeout=TIMEOUT
    )
    assert response.status_code == 405 and "message" in response.json()


# --- GET CRM/Contact/{customerId}/{contactIds} ----------------------------------------------------


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        (",".join(ids(*range(1, 22))), "Max 20 kontakter per anrop"),
        (f"{cid(1)},", "Kontaktid får inte vara tomt"),
        (f"{cid(1)},,{cid(2)}", "Kontaktid får inte vara tomt"),
        (f",{cid(1)}", "Kontaktid får inte vara tomt"),
        ("x" * 41, "Kontaktid måste vara mellan 0 och 40 tecken"),
        (quote("å" * 41), "Kontaktid måste vara mellan 0 och 40 tecken"),
    ],
    ids=["21-ids", "trailing-comma", "double-comma", "leading-comma", "41-chars", "41-non-ascii"],
)
def test_invalid_id_lists_are_400(get, segment, message):
    response = get(f"/CRM/Contact/M1001/{segment}")
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "The request is invalid."
    assert message in body["modelState"]["contactIds"]


@pytest.mark.parametrize("length", [1, 40])
def test_ids_up_to_40_characters_are_accepted(get, length):
    response = get(f"/CRM/Contact/M1001/{'x' * length},{'y' * length}")
    assert response.status_code == 200 and response.json() == []
    # One unknown id on the one-contact route: not found (and no 400 for its length).
    response = get(f"/CRM/Contact/M1001/{'x' * length}")
    assert response.status_code == 404
    assert response.json() == {"message": f"Kontakten '{'x' * length}' hittades inte."}


def test_twenty_ids_are_answered(get):
    response = get(f"/CRM/Contact/M1001/{','.join(ids(*range(1, 21)))}")
    assert response.status_code == 200
    assert [c["id"] for c in response.json()] == ids(*range(1, 21))


@pytest.mark.parametrize(
    ("asked", "answered"),
    [
        (ids(3, 1, 2), ids(3, 1, 2)),
        (ids(2400, 1), ids(2400, 1)),
        (["NOPE", *ids(5), cid(1, "M1002"), *ids(2401)], ids(5)),
        (ids(7, 7, 4, 7, 4), ids(7, 4)),
        (["nope", "NOPE"], []),
        # Ids in any letter case, as Vitec matches them; the answer keeps the contact's spelling.
        ([cid(1).lower(), "x"], [cid(1)]),
        ([cid(2).lower(), cid(2), cid(1)], [cid(2), cid(1)]),
    ],
    ids=[
        "order",
        "first-last",
        "unknown-left-out",
        "duplicates-once",
        "none-found",
        "case",
        "case-duplicates-once",
    ],
)
def test_contacts_come_back_in_the_order_asked(get, asked, answered):
    response = get(f"/CRM/Contact/M1001/{','.join(asked)}")
    assert response.status_code == 200
    assert [c["id"] for c in response.json()] == answered


@pytest.mark.parametrize(
    "odd_id", ["a/b", "a,b", "a?b=c", "a#b", "100%", "%2F", "a b", "a+b", "Åsa ö", "日本", "../x"]
)
def test_odd_ids_are_decoded_exactly(server, get, odd_id):
    response = get(f"/CRM/Contact/M1001/{quote(odd_id, safe='')},{cid(1)}")
    assert [c["id"] for c in response.json()] == [cid(1)]
    (call,) = contact_calls(server)
    assert call.contact_ids == (odd_id, cid(1))
    assert call.customer_id == "M1001"
    assert call.raw_path.count("/") == 4  # the raw path still has the id encoded


def test_a_raw_utf8_id_is_read_too(server):
    # http.client refuses non-ASCII request targets, so speak HTTP by hand.
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as conn:
        conn.sendall(
            "GET /CRM/Contact/M1001/Åsa HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            "Authorization: Basic ZGVtbzpkZW1v\r\n\r\n".encode()
        )
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 404")  # read, and not found
    (call,) = contact_calls(server)
    assert call.contact_ids == ("Åsa",) and call.raw_path == "/CRM/Contact/M1001/%C3%85sa"


def test_json_answer(get):
    response = get(f"/CRM/Contact/M1001/{cid(1)}")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.json()["id"] == cid(1)  # one id, no comma: the object itself
    listed = get(f"/CRM/Contact/M1001/{cid(1)},{cid(2)}")
    assert [c["id"] for c in listed.json()] == [cid(1), cid(2)]


@pytest.mark.parametrize(
    ("segment", "contact_type", "count"),
    [
        ("Person", "Person", 5),
        ("Company", "Company", 2),
        ("DeceasedEstate", "DeceasedEstate", 3),
        ("person", "Person", 5),
    ],
)
def test_one_type_endpoints(get, m1001, segment, contact_type, count):
    asked = ids(*range(1, 11))
    expected = [i for i in asked if m1001.by_id[i]["type"] == contact_type]
    assert len(expected) == count
    by_path = get(f"/CRM/Contact/M1001/{segment}/{','.join(asked)}").json()
    by_query = get(f"/CRM/Contact/M1001/{segment}", params={"contactIds": ",".join(asked)}).json()
    assert [c["id"] for c in by_path] == [c["id"] for c in by_query] == expected


def test_one_type_endpoint_takes_repeated_query_ids(get):
    query = f"contactIds={cid(4)}%2C{cid(1)}&contactIds={cid(3)}&contactIds={cid(2)}"
    response = get(f"/CRM/Contact/M1001/Person?{query}")
    assert [c["id"] for c in response.json()] == ids(4, 1, 2)


def test_one_type_endpoint_without_ids_is_400(get):
    response = get("/CRM/Contact/M1001/Person")
    assert response.status_code == 400 and "contactIds" in response.json()["modelState"]


def test_every_documented_field_is_present(get):
    contacts = get(f"/CRM/Contact/M1001/{','.join(ids(*range(1, 21)))}").json()
    assert {c["type"] for c in contacts} == set(TYPE_FIELDS)
    for contact in contacts:
        kind = contact["type"]
        assert set(contact) == COMMON_FIELDS | TYPE_FIELDS[kind], contact["id"]
        if contact["telephone"] is not None:  # the estate without any telephone has null
            assert set(contact["telephone"]) == TELEPHONE_FIELDS[kind]
        if contact["address"] is not None:
            assert set(contact["address"]) == ADDRESS_FIELDS
        if contact["email"] is not None:
            assert set(contact["email"]) == EMAIL_FIELDS
        for category in contact["categories"]:
            assert set(category) == {"id", "name", "readOnly"}


# --- XML ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "xml"),
    [
        ("application/xml", True),
        ("text/xml", True),
        ("application/json;q=0.5, application/xml", True),
        ("application/json", False),
        ("*/*", False),
        ("", False),
        ("application/xml;q=0.1, application/json", False),
        ("text/html", False),
    ],
)
def test_accept_chooses_xml_or_json(get, accept, xml):
    response = get(f"/CRM/Contact/M1001/{cid(1)}", headers={"Accept": accept})
    content_type = response.headers["Content-Type"]
    if xml:
        assert content_type == f"{accept.split(',')[-1].strip()}; charset=utf-8"
        SafeET.fromstring(response.content)
    else:
        assert content_type == "application/json; charset=utf-8"
        response.json()


def test_xml_carries_the_same_person(get):
    asked = ids(*range(1, 11))
    json_contacts = get(f"/CRM/Contact/M1001/{','.join(asked)}").json()
    response = get(f"/CRM/Contact/M1001/{','.join(asked)}", headers={"Accept": "application/xml"})
    root = SafeET.fromstring(response.content)
    assert root.tag == f"{CRM}ArrayOfCrmContact"
    elements = root.findall(f"{CRM}CrmContact")
    assert [e.findtext(f"{CRM}Id") for e in elements] == asked
    assert [e.get(f"{XSI}type") for e in elements] == [
        f"Crm{c['type']}Contact" for c in json_contacts
    ]
    for person, element in zip(json_contacts, elements, strict=True):
        if person["type"] != "Person" or person["email"] is None:
            continue
        assert element.findtext(f"{CRM}FirstName") == person["firstName"]
        assert element.findtext(f"{CRM}LastName") == person["lastName"]
        assert element.findtext(f"{CRM}SocialSecurityNumber") == person["socialSecurityNumber"]
        assert element.findtext(f"{CRM}ChangedAt") == person["changedAt"]
        assert element.findtext(f"{CRM}LeadScore") == str(person["leadScore"])
        assert element.findtext(f"{CRM}IsDeceased") == str(person["isDeceased"]).lower()
        gdpr = element.find(f"{CRM}GDPRApprovalDate")
        if person["gdprApprovalDate"] is None:
            assert gdpr.get(f"{XSI}nil") == "true"
        else:
            assert gdpr.text == person["gdprApprovalDate"]
        email = element.find(f"{CRM}Email")
        assert email.findtext(f"{MODELS}EmailAddress") == person["email"]["emailAddress"]
        categories = element.find(f"{CRM}Categories").findall(f"{CATEGORY}Category")
        assert [c.findtext(f"{CATEGORY}Id") for c in categories] == [
            c["id"] for c in person["categories"]
        ]
        # DataContract order: base members first, then the Person's own, each alphabetical.
        names = [child.tag.removeprefix(CRM) for child in element]
        assert names[:11] == sorted(names[:11]) and names[11:] == sorted(names[11:])
        assert names[10] == "Type" and names[11] == "DateOfBirth"
        break
    else:
        pytest.fail("no person with an e-mail among the first ten contacts")


def test_xml_escapes_markup_and_writes_nil(get, m1001):
    marked = next(c for c in m1001.contacts if c["note"] and "<b>" in c["note"])
    sparse = next(c for c in m1001.contacts if c["address"] is None)
    response = get(
        f"/CRM/Contact/M1001/{marked['id']},{sparse['id']}", headers={"Accept": "text/xml"}
    )
    first, second = SafeET.fromstring(response.content)
    assert first.findtext(f"{CRM}Note") == marked["note"]
    assert second.find(f"{CRM}Address").get(f"{XSI}nil") == "true"


def test_xml_for_one_type(get):
    response = get(f"/CRM/Contact/M1001/Person/{cid(1)}", headers={"Accept": "application/xml"})
    root = SafeET.fromstring(response.content)
    assert root.tag == f"{CRM}ArrayOfCrmPersonContact"
    assert [e.tag for e in root] == [f"{CRM}CrmPersonContact"]


def test_errors_stay_json_when_xml_is_asked(get):
    response = get("/CRM/Contact/M1001/,", headers={"Accept": "application/xml"})
    assert response.status_code == 400 and response.json()["message"]


# --- one id: Vitec's one-contact route ----------------------------------------------------------


def test_one_id_answers_the_contact_itself(get, m1001):
    response = get(f"/CRM/Contact/M1001/{cid(2)}")
    assert response.status_code == 200
    assert response.json() == m1001.by_id[cid(2)]


def test_one_id_answers_the_xml_object_itself(get):
    listed = get(f"/CRM/Contact/M1001/{cid(1)},{cid(1)}").json()
    response = get(f"/CRM/Contact/M1001/{cid(1)}", headers={"Accept": "application/xml"})
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    root = SafeET.fromstring(response.content)
    assert root.tag == f"{CRM}CrmContact"
    assert root.get(f"{XSI}type") == f"Crm{listed[0]['type']}Contact"
    assert root.findtext(f"{CRM}Id") == cid(1)
    assert root.findtext(f"{CRM}Type") == listed[0]["type"]


def test_an_unknown_single_id_is_404(get):
    for accept in ("application/json", "application/xml"):
        response = get(f"/CRM/Contact/M1001/{missing_id(99999)}", headers={"Accept": accept})
        assert response.status_code == 404
        assert response.json() == {"message": f"Kontakten '{missing_id(99999)}' hittades inte."}


def test_single_as_list_answers_one_id_with_a_list(server, get):
    server.configure(single_as_list=True)
    assert [c["id"] for c in get(f"/CRM/Contact/M1001/{cid(1)}").json()] == [cid(1)]
    unknown = get(f"/CRM/Contact/M1001/{missing_id(99999)}")
    assert unknown.status_code == 200 and unknown.json() == []
    xml = get(f"/CRM/Contact/M1001/{cid(1)}", headers={"Accept": "text/xml"})
    assert SafeET.fromstring(xml.content).tag == f"{CRM}ArrayOfCrmContact"


def test_single_as_list_is_set_over_the_control_api(server, get):
    url = f"{server.base_url}/_sandbox/config"
    assert requests.get(url, timeout=TIMEOUT).json()["single_as_list"] is False
    response = requests.put(url, json={"single_as_list": True}, timeout=TIMEOUT)
    assert response.status_code == 200 and response.json()["single_as_list"] is True
    assert isinstance(get(f"/CRM/Contact/M1001/{cid(1)}").json(), list)
    refused = requests.put(url, json={"single_as_list": "yes"}, timeout=TIMEOUT)
    assert refused.status_code == 400 and "single_as_list" in refused.json()["message"]
    assert server.config.single_as_list is True


def test_one_type_endpoints_answer_one_id_with_a_list(get):
    response = get(f"/CRM/Contact/M1001/Person/{cid(1)}")
    assert isinstance(response.json(), list)


def test_one_id_in_another_letter_case_is_found(get):
    response = get(f"/CRM/Contact/M1001/{cid(1).lower()}")
    assert response.status_code == 200 and response.json()["id"] == cid(1)


# --- the generated data ---------------------------------------------------------------------------


def test_a_customer_has_thousands_of_interleaved_contacts(m1001):
    contacts = m1001.contacts
    assert len(contacts) >= 2000
    assert [c["id"] for c in contacts] == ids(*range(1, len(contacts) + 1))
    counts = Counter(c["type"] for c in contacts)
    assert 0.65 < counts["Person"] / len(contacts) < 0.85
    assert 0.12 < counts["Company"] / len(contacts) < 0.28
    assert 0.02 < counts["DeceasedEstate"] / len(contacts) < 0.09
    switches = sum(a["type"] != b["type"] for a, b in itertools.pairwise(contacts))
    assert switches > len(contacts) / 4  # interleaved, not grouped


def test_timestamps_have_seven_digits_and_the_swedish_offset(m1001):
    for contact in m1001.contacts:
        stamps = [contact["createdAt"], contact["changedAt"]]
        stamps += [contact.get("matchingChangedAt"), contact.get("gdprApprovalDate")]
        for stamp in filter(None, stamps):
            if stamp == EMPTY_DATE:  # a date never set, as .NET writes it
                continue
            assert TIMESTAMP.match(stamp), stamp
            moment = datetime.fromisoformat(stamp)
            assert moment.utcoffset() == moment.astimezone(STOCKHOLM).utcoffset()
        created = datetime.fromisoformat(contact["createdAt"])
        assert created <= datetime.fromisoformat(contact["changedAt"])
    offsets = {c["changedAt"][-6:] for c in m1001.contacts}
    assert offsets == {"+01:00", "+02:00"}


def test_swedish_numbers_are_valid(m1001):
    for contact in m1001.contacts:
        if contact["type"] in ("Company", "Association"):
            number = contact["corporateNumber"]
            if not contact["isForeignCorporateNumber"]:
                assert re.fullmatch(r"\d{6}-\d{4}", number), number
                assert luhn_ok(number.replace("-", "")), number
            continue
        foreign = contact.get("isForeignSocialSecurityNumber") or contact.get(
            "isForeignIdSocialSecurityNumber"
        )
        ssn = contact["socialSecurityNumber"]
        if foreign or ssn is None:
            continue
        match = re.fullmatch(r"(\d{2})?(\d{6})[-+](\d{4})", ssn)
        assert match, ssn
        assert luhn_ok(match[2] + match[3]), ssn
        if contact["type"] == "Person" and not contact["dateOfBirth"].startswith("0001-01-01"):
            birth = date.fromisoformat(contact["dateOfBirth"][:10])
            assert f"{birth:%y%m%d}" == match[2]
            if match[1]:
                assert f"{birth:%Y}"[:2] == match[1]


def test_values_respect_the_documented_limits(m1001):
    for contact in m1001.contacts:
        for key, limit in MAX_LENGTHS.items():
            assert len(contact.get(key) or "") <= limit, (key, contact[key])
        limit = 100 if contact["type"] in ("Company", "Association") else 30
        assert len(contact.get("name") or "") <= limit
        for phone in (contact["telephone"] or {}).values():
            assert phone is None or len(phone) <= 17
        if contact["address"]:
            address = contact["address"]
            assert len(address["streetAddress"]) <= 68 and len(address["city"]) <= 25
            assert re.fullmatch(r"\d{3} \d{2}", address["zipCode"])
            assert address["countryCode"] == "SE"
            if address["wgs84Coordinate"] and address["wgs84Coordinate"] != {
                "longitude": 0.0,
                "latitude": 0.0,
            }:  # 0/0: not geocoded
                assert 55.0 < address["wgs84Coordinate"]["latitude"] < 69.1
                assert 10.9 < address["wgs84Coordinate"]["longitude"] < 24.2
        if contact["type"] in ("Person", "Company"):
            assert 0 <= contact["leadScore"] <= 5
        if contact["type"] == "Person":
            wants = contact["wantsToBeMatched"]
            wants = MATCHING_NUMBERS.get(wants, wants)  # a name or its number
            assert wants in {"Yes", "No", "NotAsked"}
            if contact["matchingChangedAt"] != EMPTY_DATE:
                assert (contact["matchingChangedAt"] is None) == (wants == "NotAsked")
        assert contact["agentId"] is None or re.fullmatch(r"HAN[0-9A-F]{32}", contact["agentId"])


def test_edge_cases_are_present(m1001):
    contacts = m1001.contacts
    assert any(c["address"] is None for c in contacts)
    assert any(c["email"] is None for c in contacts)
    assert any(c["note"] is None for c in contacts)
    assert any(c.get("isForeignSocialSecurityNumber") for c in contacts)
    assert any(c.get("isForeignCorporateNumber") for c in contacts)
    assert any(c.get("isForeignIdSocialSecurityNumber") for c in contacts)
    names = " ".join(c.get("firstName") or c.get("name") for c in contacts)
    assert {"å", "ä", "ö", "é"} <= set(names)
    assert any(c["note"] and "<b>" in c["note"] and "&" in c["note"] for c in contacts)
    assert any(c["type"] == "DeceasedEstate" and c["name"].startswith("Dödsbo") for c in contacts)


def test_odd_shapes_sit_at_fixed_positions(m1001):
    """Positions 11 to 18 hold the odd shapes Vitec may send (connect-api.md, "More of the
    contract"); expectations written out by hand."""
    empty, numeric, association, second_only, zero, deceased, no_phone, long_name = (
        m1001.by_id[i] for i in ids(*range(11, 19))
    )
    assert empty["type"] == "Person"
    assert empty["gdprApprovalDate"] == "0001-01-01T00:00:00"
    assert empty["matchingChangedAt"] == "0001-01-01T00:00:00"
    assert empty["dateOfBirth"] == "0001-01-01T00:00:00+01:00"
    assert numeric["type"] == "Person" and numeric["wantsToBeMatched"] in (0, 1, 2)
    assert association["type"] == "Association" and association["name"]
    assert "firstName" not in association
    assert second_only["email"]["emailAddress"] is None
    assert second_only["email"]["emailAddress2"].endswith("@jobb.se")
    assert zero["address"]["wgs84Coordinate"] == {"longitude": 0.0, "latitude": 0.0}
    assert deceased["type"] == "Person" and deceased["isDeceased"] is True
    assert no_phone["type"] == "DeceasedEstate" and no_phone["telephone"] is None
    assert m1001.relations[no_phone["id"]]  # whom to call: its relations
    assert long_name["type"] == "Company" and len(long_name["name"]) == 100
    assert long_name["name"] == long_name["name"].strip()


def test_odd_shapes_turn_up_at_random_too(m1001):
    later = m1001.contacts[18:]
    assert any(c["type"] == "Association" for c in later)
    persons = [c for c in later if c["type"] == "Person"]
    assert any(isinstance(c["wantsToBeMatched"], int) for c in persons)
    assert any(c["gdprApprovalDate"] == "0001-01-01T00:00:00" for c in persons)
    assert any(c["isDeceased"] for c in persons)
    companies = [c for c in later if c["type"] == "Company"]
    assert any(len(c["name"]) > 50 for c in companies)


def test_date_of_birth_carries_the_stockholm_offset_of_that_day(m1001):
    persons = [c for c in m1001.contacts if c["type"] == "Person" and c["dateOfBirth"]]
    offsets = set()
    for person in persons:
        stamp = person["dateOfBirth"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00\+0[12]:00", stamp), stamp
        if not stamp.startswith("0001"):
            moment = datetime.fromisoformat(stamp)
            assert moment.utcoffset() == moment.replace(tzinfo=STOCKHOLM).utcoffset()
            offsets.add(stamp[-6:])
    assert offsets == {"+01:00", "+02:00"}  # summer time births too


def test_ids_have_vitecs_shape(m1001):
    assert all(re.fullmatch(r"ADR[0-9A-F]{32}", c["id"]) for c in m1001.contacts)
    assert len(m1001.by_id) == len(m1001.contacts)  # no two alike
    assert all(re.fullmatch(r"HAN[0-9A-F]{32}", u["userId"]) for u in m1001.users)
    other = customer_data("M1002", seed=1, count=2400)
    assert not set(other.by_id) & set(m1001.by_id)


def test_the_data_is_deterministic():
    first = generate_customer_data("M1001", seed=1, count=300)
    again = generate_customer_data("M1001", seed=1, count=300)
    other_seed = generate_customer_data("M1001", seed=2, count=300)
    other_customer = generate_customer_data("M1002", seed=1, count=300)
    dump = json.dumps(first.contacts, ensure_ascii=False)
    assert dump == json.dumps(again.contacts, ensure_ascii=False)
    assert dump != json.dumps(other_seed.contacts, ensure_ascii=False)

    def names(data):
        return [(c.get("firstName"), c.get("lastName"), c.get("name")) for c in data.contacts]

    assert names(first) != names(other_customer)
    assert len(set(names(first)) & set(names(other_customer))) < 30


def test_the_data_is_the_same_in_another_process():
    script = (
        "import hashlib, json\n"
        "from contacts.vitec.sandbox.data import generate_customer_data\n"
        "data = generate_customer_data('M1002', seed=7, count=200)\n"
        "print(hashlib.sha256(json.dumps(data.contacts).encode()).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    here = generate_customer_data("M1002", seed=7, count=200)
    assert result.stdout.strip() == hashlib.sha256(json.dumps(here.contacts).encode()).hexdigest()


def test_different_seeds_are_served(server, get):
    first = get(f"/CRM/Contact/M1001/{cid(1)}").json()
    server.configure(seed=2, contacts_per_customer=50)
    second = get(f"/CRM/Contact/M1001/{cid(1)}").json()
    assert first != second
    assert len(get("/CRM/Contact/M1001").json()["persons"]) < 50


# --- GET CRM/Contact/{customerId} -----------------------------------------------------------------


def test_the_id_list_groups_every_contact_by_type(get, m1001):
    body = get("/CRM/Contact/M1001").json()
    assert set(body) == {"persons", "companies", "deceasedEstates"}
    for key, kind in [
        ("persons", "Person"),
        ("companies", "Company"),
        ("deceasedEstates", "DeceasedEstate"),
    ]:
        expected = [
            {"id": c["id"], "changedAt": c["changedAt"], "customerId": "M1001"}
            for c in m1001.contacts
            # An Association (a type the contacts page does not document) is listed as a company.
            if c["type"] == kind or (kind == "Company" and c["type"] == "Association")
        ]
        assert body[key] == expected


FIRST_AGENT = customer_data("M1001", seed=1, count=2400).agent_ids[0]


def _listed(body: dict) -> set[str]:
    return {entry["id"] for group in body.values() for entry in group}


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"AgentId": FIRST_AGENT}, lambda c: c["agentId"] == FIRST_AGENT),
        ({"LeadScore": "5"}, lambda c: c.get("leadScore") == 5),
        ({"ChangedAtFrom": "2026-01-01"}, lambda c: c["changedAt"][:10] >= "2026-01-01"),
        ({"ChangedAtTo": "2016-12-31"}, lambda c: c["changedAt"][:10] <= "2016-12-31"),
        (
            {"CreatedAtFrom": "2020-01-01", "CreatedAtTo": "2020-06-30"},
            lambda c: "2020-01-01" <= c["createdAt"][:10] <= "2020-06-30",
        ),
        ({"changedatfrom": "2026-06-01T12:00:00"}, lambda c: c["changedAt"] >= "2026-06-01T12"),
    ],
)
def test_the_id_list_filters(get, m1001, params, keep):
    body = get("/CRM/Contact/M1001", params=params).json()
    expected = {c["id"] for c in m1001.contacts if keep(c)}
    assert expected and _listed(body) == expected


@pytest.mark.parametrize(
    "params", [{"ChangedAtFrom": "garbage"}, {"CreatedAtTo": "2026-13-01"}, {"LeadScore": "many"}]
)
def test_the_id_list_rejects_garbage_filters(get, params):
    response = get("/CRM/Contact/M1001", params=params)
    assert response.status_code == 400
    assert set(response.json()["modelState"]) == {next(iter(params))}


# --- Search ---------------------------------------------------------------------------------------


def test_search_finds_a_person_by_part_of_the_name(get, m1001):
    person = next(c for c in m1001.contacts if c["type"] == "Person" and len(c["lastName"]) >= 7)
    term = person["lastName"][1:6].upper()
    matches = get("/CRM/Contact/M1001/Search", params={"Term": term, "MaxSize": 1000}).json()[
        "matches"
    ]
    assert person["id"] in [m["id"] for m in matches]
    match = next(m for m in matches if m["id"] == person["id"])
    assert set(match) == {"id", "changedAt", "customerId", "type", "score"}
    assert match["type"] == "Person" and match["changedAt"] == person["changedAt"]


@pytest.mark.parametrize("field", ["socialSecurityNumber", "email", "cell"])
def test_search_by_number_or_email(get, m1001, field):
    person = next(
        c
        for c in m1001.contacts
        if c["type"] == "Person"
        and c["socialSecurityNumber"]
        and c["email"]
        and c["telephone"]["cell"]
    )
    term = {
        "socialSecurityNumber": person["socialSecurityNumber"],
        "email": person["email"]["emailAddress"],
        "cell": person["telephone"]["cell"],
    }[field]
    matches = get("/CRM/Contact/M1001/Search", params={"Term": term}).json()["matches"]
    assert matches[0]["id"] == person["id"] and matches[0]["score"] == 1.0


@pytest.mark.parametrize(("max_size", "expected"), [(None, 50), ("3", 3), ("1000", None)])
def test_search_max_size(get, max_size, expected):
    params = {"Term": "@gmail.com"}
    if max_size:
        params["MaxSize"] = max_size
    matches = get("/CRM/Contact/M1001/Search", params=params).json()["matches"]
    if expected is None:
        assert 50 < len(matches) <= 1000
    else:
        assert len(matches) == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "term"),
        ({"Term": "abcd"}, "term"),
        ({"Term": "   abcd   "}, "term"),
        ({"Term": "Andersson", "MaxSize": "1001"}, "maxSize"),
        ({"Term": "Andersson", "MaxSize": "0"}, "maxSize"),
        ({"Term": "Andersson", "MaxSize": "ten"}, "maxSize"),
    ],
)
def test_search_validation(get, params, field):
    response = get("/CRM/Contact/M1001/Search", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["message"] and field in body["modelState"]


# --- Categories -----------------------------------------------------------------------------------


def test_categories_are_exactly_those_on_contacts(get, m1001):
    body = get("/Category/GetCategories", params={"customerId": "M1001"}).json()
    assert set(body) == {"companyCategories", "personCategories"}
    assert 8 <= len(body["personCategories"]) <= 12 and 4 <= len(body["companyCategories"]) <= 8
    person_pool = {c["id"]: c for c in body["personCategories"]}
    company_pool = {c["id"]: c for c in body["companyCategories"]}
    used = set()
    for contact in m1001.contacts:
        pool = company_pool if contact["type"] == "Company" else person_pool
        assert len(contact["categories"]) <= 3
        for category in contact["categories"]:
            assert pool[category["id"]] == category
            used.add(category["id"])
    assert used == set(person_pool) | set(company_pool)
    assert any(c["readOnly"] for c in body["personCategories"])
    assert any(not c["readOnly"] for c in body["personCategories"])


def test_categories_need_a_customer_id(get):
    response = get("/Category/GetCategories")
    assert response.status_code == 400 and "customerId" in response.json()["modelState"]


def test_customers_get_different_data(get):
    first = get(f"/CRM/Contact/M1001/{','.join(ids(*range(1, 21)))}").json()
    second = get(f"/CRM/Contact/M1002/{','.join(ids(*range(1, 21), customer='M1002'))}").json()
    assert [c.get("lastName") or c["name"] for c in first] != [
        c.get("lastName") or c["name"] for c in second
    ]


# --- faults ---------------------------------------------------------------------------------------

STATUS_FAULTS = [
    # fault, status, content type prefix, body check, Retry-After expected
    ("500", 500, "application/json", lambda r: r.json()["message"], False),
    ("502", 502, "application/json", lambda r: r.json()["message"], False),
    ("503", 503, "application/json", lambda r: r.json()["message"], True),
    ("504", 504, "application/json", lambda r: r.json()["message"], False),
    ("429", 429, "application/json", lambda r: r.json()["message"], True),
    ("400", 400, "application/json", lambda r: r.json()["message"], False),
    ("400-empty", 400, None, lambda r: r.content == b"", False),
    ("404", 404, "application/json", lambda r: r.json()["message"], False),
    ("html", 200, "text/html", lambda r: r.text.startswith("<!DOCTYPE html>"), False),
    ("malformed", 200, "application/json", lambda r: r.content.startswith(b"[{"), False),
]


@pytest.mark.parametrize("trigger", ["config", "magic-id"])
@pytest.mark.parametrize(("fault", "status", "content_type", "body_ok", "retry"), STATUS_FAULTS)
def test_faults_answer_as_documented(
    server, get, trigger, fault, status, content_type, body_ok, retry
):
    server.configure(retry_after=7)
    if trigger == "config":
        server.configure(fault=fault)
        response = get(f"/CRM/Contact/M1001/{cid(1)}")
    else:
        response = get(f"/CRM/Contact/M1001/{cid(1)},FAULT-{fault.upper()},{cid(2)}")
    assert response.status_code == status
    assert response.headers.get("Content-Type", "").startswith(content_type or "")
    if content_type is None:
        assert "Content-Type" not in response.headers
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert body_ok(response)
    assert response.headers.get("Retry-After") == ("7" if retry else None)
    if fault == "malformed":
        with pytest.raises(ValueError):
            response.json()


def test_a_configured_fault_hits_every_endpoint(server, get):
    server.configure(fault="503")
    for path in [
        "/CRM/Contact/M1001",
        "/CRM/Contact/M1001/Search?Term=Andersson",
        "/Category/GetCategories?customerId=M1001",
    ]:
        assert get(path).status_code == 503
    assert get("/CRM/Contact/M1001", auth=None).status_code == 401  # auth is checked first


@pytest.mark.parametrize("trigger", ["config", "magic-id"])
def test_truncated_body_breaks_the_read(server, get, trigger):
    if trigger == "config":
        server.configure(fault="truncated", fault_count=1)
        path = f"/CRM/Contact/M1001/{cid(1)}"
    else:
        path = f"/CRM/Contact/M1001/{cid(1)},fault-truncated"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(path)
    assert get(f"/CRM/Contact/M1001/{cid(1)}").status_code == 200  # later calls are fine


def test_slow_body_trips_a_short_read_timeout(server, get):
    server.configure(fault="slow", slow_body_seconds=1.0)  # five chunks, 0.2 s apart
    started = time.monotonic()
    # Headers arrive at once, so requests reports the body's read timeout as a ConnectionError.
    with pytest.raises(requests.exceptions.ConnectionError, match="Read timed out"):
        get(f"/CRM/Contact/M1001/{cid(1)}", timeout=(2, 0.1))
    assert time.monotonic() - started < 0.9


def test_slow_body_arrives_whole_with_patience(server, get):
    expected = get(f"/CRM/Contact/M1001/{cid(1)},{cid(2)}").content
    server.configure(fault="slow", slow_body_seconds=0.4)
    started = time.monotonic()
    response = get(f"/CRM/Contact/M1001/{cid(1)},{cid(2)}")
    assert time.monotonic() - started >= 0.35
    assert response.status_code == 200 and response.content == expected


def test_hang_trips_the_read_timeout(server, get):
    server.configure(fault="hang")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(f"/CRM/Contact/M1001/{cid(1)}", timeout=(2, 0.2))
    assert time.monotonic() - started < 0.9
    settle(server)
    (record,) = server.stats.requests
    assert record.status == 0 and record.finished - record.started >= 0.9  # slow_body_seconds


def test_stop_wakes_a_hanging_request():
    outcome: list[object] = []
    with SandboxServer(SandboxConfig(fault="hang", slow_body_seconds=30)) as server:

        def call() -> None:
            try:
                outcome.append(
                    requests.get(f"{server.base_url}/CRM/Contact/M1001", auth=AUTH, timeout=10)
                )
            except requests.RequestException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=call)
        thread.start()
        deadline = time.monotonic() + 2
        while server.stats.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
    thread.join(timeout=5)
    assert time.monotonic() - started < 2
    assert outcome and isinstance(outcome[0], requests.ConnectionError)


def test_fault_count_applies_to_the_next_requests_only(server, get):
    server.configure(fault="503", fault_count=2)
    statuses = [get(f"/CRM/Contact/M1001/{cid(1)}").status_code for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    assert server.config.fault is None and server.config.fault_count is None


def test_a_magic_id_only_breaks_its_own_request(server, get):
    assert get(f"/CRM/Contact/M1001/{cid(1)},fault-500").status_code == 500
    assert get(f"/CRM/Contact/M1001/{cid(1)}").status_code == 200
    assert get(f"/CRM/Contact/M1001/{cid(1)},fault-unknown").json()[0]["id"] == cid(1)
    assert [r.status for r in contact_calls(server)] == [500, 200, 200]


@pytest.mark.parametrize(("fail_rate", "failures"), [(1.0, 10), (0.0, 0)])
def test_fail_rate(server, get, fail_rate, failures):
    server.configure(fail_rate=fail_rate)
    statuses = [get(f"/CRM/Contact/M1001/{cid(1)}").status_code for _ in range(10)]
    assert statuses.count(500) == failures and statuses.count(200) == 10 - failures


def test_fail_rate_is_deterministic_per_seed(server, get):
    def pattern() -> list[int]:
        # Re-seeds the fault randomness (and makes a small data set, quick to generate).
        server.configure(seed=3, fail_rate=0.5, contacts_per_customer=20)
        return [get("/CRM/Contact/M1001/x,y").status_code for _ in range(12)]

    first = pattern()
    assert first == pattern() and {500, 200} == set(first)


def test_latency_is_added(server, get):
    server.configure(latency_ms=150)
    started = time.monotonic()
    assert get(f"/CRM/Contact/M1001/{cid(1)}").status_code == 200
    assert time.monotonic() - started >= 0.15
    (record,) = server.stats.requests
    assert record.finished - record.started >= 0.15


def test_latency_applies_to_faults_too(server, get):
    server.configure(latency_ms=150, fault="500")
    started = time.monotonic()
    assert get(f"/CRM/Contact/M1001/{cid(1)}").status_code == 500
    assert time.monotonic() - started >= 0.15


def test_concurrent_requests_are_counted_in_flight(server):
    server.configure(latency_ms=100)
    statuses: list[int] = []

    def call() -> None:
        url = f"{server.base_url}/CRM/Contact/M1001/{cid(1)}"
        statuses.append(requests.get(url, auth=AUTH, timeout=TIMEOUT).status_code)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6
    assert server.stats.max_in_flight >= 2
    assert len(server.stats.requests) == 6 and server.stats.in_flight == 0


def test_records_describe_each_request(server, get):
    get(f"/CRM/Contact/M1001/{cid(2)},{cid(1)}", headers={"Accept": "text/xml"})
    get("/CRM/Contact/M1002")
    get("/CRM/Contact/M1001/Search", params={"Term": "Andersson"})
    get("/Category/GetCategories", params={"customerId": "M1001"})
    get("/nowhere")
    records = server.stats.requests
    assert [r.endpoint for r in records] == [
        "contacts",
        "contact-ids",
        "search",
        "categories",
        "other",
    ]
    assert [r.customer_id for r in records] == ["M1001", "M1002", "M1001", "M1001", None]
    assert records[0].contact_ids == (cid(2), cid(1))
    assert records[0].accept == "text/xml" and records[0].method == "GET"
    assert [r.status for r in records] == [200, 200, 200, 200, 404]
    assert all(r.started <= r.finished for r in records)


# --- control endpoints ----------------------------------------------------------------------------


def test_control_config_hides_passwords(server):
    body = requests.get(f"{server.base_url}/_sandbox/config", timeout=TIMEOUT).json()
    assert body["accounts"] == [{"username": "demo", "customers": ["M1001", "M1002"]}]
    assert "password" not in json.dumps(body)
    assert body["fault"] is None and body["latency_ms"] == 0


def test_control_config_can_be_changed(server, get):
    response = requests.put(
        f"{server.base_url}/_sandbox/config",
        json={"fault": "HTML", "fault_count": 1, "latency_ms": 5, "retry_after": 9},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert response.json()["fault"] == "html" and server.config.latency_ms == 5
    assert get(f"/CRM/Contact/M1001/{cid(1)}").headers["Content-Type"].startswith("text/html")
    assert get(f"/CRM/Contact/M1001/{cid(1)}").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"fault": "nope"},
        {"latency_ms": -1},
        {"latency_ms": True},
        {"latency_ms": 1.5},
        {"fail_rate": 1.5},
        {"fail_rate": "x"},
        {"fault_count": -1},
        {"retry_after": "soon"},
        {"slow_body_seconds": -0.1},
        {"seed": 2},  # not changeable over HTTP
        {"accounts": []},
        [1, 2],
        "not json",
    ],
)
def test_control_config_rejects_garbage(server, body):
    data = body if isinstance(body, str) else json.dumps(body)
    response = requests.put(f"{server.base_url}/_sandbox/config", data=data, timeout=TIMEOUT)
    assert response.status_code == 400 and response.json()["message"]
    assert server.config.fault is None and server.config.latency_ms == 0


def test_control_stats_and_reset(server, get):
    get(f"/CRM/Contact/M1001/{cid(1)}")
    requests.get(f"{server.base_url}/_sandbox/health", timeout=TIMEOUT)  # not counted
    stats = requests.get(f"{server.base_url}/_sandbox/stats", timeout=TIMEOUT).json()
    assert [r["contact_ids"] for r in stats["requests"]] == [[cid(1)]]
    assert stats["max_in_flight"] == 1
    reset = requests.post(f"{server.base_url}/_sandbox/stats/reset", timeout=TIMEOUT)
    assert reset.status_code == 200 and server.stats.requests == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/_sandbox/nothing", 404), ("POST", "/_sandbox/config", 405)],
)
def test_control_unknown(server, method, path, status):
    response = requests.request(method, server.base_url + path, timeout=TIMEOUT)
    assert response.status_code == status and response.json()["message"]


def test_python_configure_validates(server):
    with pytest.raises(ValueError, match="fault"):
        server.configure(fault="boom")
    with pytest.raises(ValueError, match="unknown"):
        server.configure(colour="blue")
    with pytest.raises(ValueError):
        SandboxConfig(fail_rate=2)
    assert set(FAULTS) >= {"500", "hang", "slow", "truncated"}


def test_context_manager_stops_the_server():
    with SandboxServer(SandboxConfig(contacts_per_customer=10)).start() as server:
        assert requests.get(f"{server.base_url}/_sandbox/health", timeout=TIMEOUT).ok
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.base_url}/_sandbox/health", timeout=TIMEOUT)


# --- the management command -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "VITEC_SANDBOX_ACCOUNTS"}


def _run_command(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "vitec_sandbox", *args],
        cwd=ROOT,
        env={**_clean_environ(), "DEBUG": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(process: subprocess.Popen, timeout: float = 15) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()))
    reader.start()
    reader.join(timeout)
    if not result:
        process.kill()
        pytest.fail(f"the command printed nothing: {process.stderr.read()}")
    return result[0].strip()


@pytest.mark.parametrize("with_accounts_file", [False, True])
def test_the_command_serves_until_stopped(tmp_path, with_accounts_file):
    port = _free_port()
    args = ["--port", str(port), "--latency-ms", "1", "--seed", "1"]
    auth = AUTH
    if with_accounts_file:
        accounts = tmp_path / "accounts.json"
        accounts.write_text(
            json.dumps([{"username": "alice", "password": "pa55-word", "customers": ["M2001"]}])
        )
        args += ["--accounts", str(accounts), "--single-as-list"]
        auth = ("alice", "pa55-word")
    process = _run_command(*args)
    try:
        line = _first_line(process)
        if with_accounts_file:
            assert line == (
                f"Vitec sandbox on http://127.0.0.1:{port} (accounts: alice; customers M2001)"
            )
            assert "pa55-word" not in line
        else:
            assert line == (
                f"Vitec sandbox on http://127.0.0.1:{port} (accounts: demo; customers M1001, M1002)"
            )
        customer = "M2001" if with_accounts_file else "M1001"
        url = f"http://127.0.0.1:{port}/CRM/Contact/{customer}/{cid(1, customer)}"
        response = requests.get(url, auth=auth, timeout=TIMEOUT)
        # One id: the contact itself, or (--single-as-list) a list of one.
        answer = response.json()[0] if with_accounts_file else response.json()
        assert response.status_code == 200 and answer["id"] == cid(1, customer)
        if with_accounts_file:
            assert requests.get(url, auth=AUTH, timeout=TIMEOUT).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
    assert "stopped" in process.stdout.read()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--host", "0.0.0.0"], {}, "loopback"),  # noqa: S104 - the point of the test
        (["--host", "example.com"], {}, "loopback"),
        (["--fail-rate", "1.5"], {}, "--fail-rate"),
        (["--latency-ms", "-5"], {}, "--latency-ms"),
        (["--fault", "boom"], {}, "--fault must be"),
        (["--fault-count", "-1"], {}, "--fault-count"),
        (["--accounts", "/nonexistent/accounts.json"], {}, "Cannot read"),
        ([], {"VITEC_SANDBOX_ACCOUNTS": "{not json"}, "VITEC_SANDBOX_ACCOUNTS"),
        ([], {"VITEC_SANDBOX_ACCOUNTS": "[]"}, "non-empty"),
        ([], {"VITEC_SANDBOX_ACCOUNTS": '[{"username": "a"}]'}, "lacks customers, password"),
        (
            [],
            {"VITEC_SANDBOX_ACCOUNTS": '[{"username": "a", "password": "b", "customers": "M1"}]'},
            "customers must be a list",
        ),
        (["--port", "70000"], {}, "--port"),
        (["--fail-rate", "abc"], {}, "--fail-rate"),  # not a number: argparse refuses it
    ],
)
def test_the_command_rejects_garbage(monkeypatch, args, env, message):
    monkeypatch.delenv("VITEC_SANDBOX_ACCOUNTS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("vitec_sandbox", *args)


def test_the_command_names_the_extra_when_faker_is_missing():
    script = (
        "import sys; sys.modules['faker'] = None\n"
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(['manage.py', 'vitec_sandbox', '--port', '0'])\n"
    )
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "crmviewer.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "pip install crmviewer[sandbox]" in result.stderr


def test_default_accounts():
    demo = Account("demo", "demo", frozenset({"M1001", "M1002"}))
    assert list(DEFAULT_ACCOUNTS) == [demo]


# --- GET CRM/Contact/{customerId}/{contactId}/ContactRelations ------------------------------------

RELATION_NAMES = {
    "EstateParty": 2,
    "CompanySignatory": 3,
    "CompanyContactPerson": 4,
    "PowerOfAttorney": 5,
    "Guardian": 6,
    "LimitedGuardian": 7,
    "Representative": 8,
    "ExecutorUnderTheWill": 9,
    "EstateAdministrator": 10,
    "Deceased": 100,
}


def relation_name(value) -> str:
    """A relation type as its name, whether Vitec sent the name or the number."""
    if isinstance(value, int):
        return {number: name for name, number in RELATION_NAMES.items()}[value]
    assert value in RELATION_NAMES
    return value


@pytest.fixture
def hand_relations(monkeypatch, m1001):
    """Relations written by hand: company 3 has person 1 as signatory and person 2 (as the
    number 4) as contact person; estate 5 has person 1 as a party."""
    person1, person2, company3, estate5 = (
        m1001.contacts[0],
        m1001.contacts[1],
        m1001.contacts[2],
        m1001.contacts[4],
    )
    p1, p2, c3, e5 = (c["id"] for c in (person1, person2, company3, estate5))
    relations = {
        c3: (
            {"relation": "CompanySignatory", "contactId": p1},
            {"relation": 4, "contactId": p2},
        ),
        e5: ({"relation": "EstateParty", "contactId": p1},),
    }
    reverse = {
        p1: (
            {"relation": "CompanySignatory", "contactId": c3},
            {"relation": "EstateParty", "contactId": e5},
        ),
        p2: ({"relation": 4, "contactId": c3},),
    }
    patched = dataclasses.replace(m1001, relations=relations, reverse_relations=reverse)
    from contacts.vitec.sandbox import server as server_module

    real = server_module.customer_data
    monkeypatch.setattr(
        server_module,
        "customer_data",
        lambda customer, **kw: patched if customer == "M1001" else real(customer, **kw),
    )
    return p1, p2, c3, e5


def test_relations_come_from_the_data(get, hand_relations):
    p1, p2, c3, e5 = hand_relations
    response = get(f"/CRM/Contact/M1001/{c3}/ContactRelations")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {
        "relations": [
            {"relation": "CompanySignatory", "contactId": p1},
            {"relation": 4, "contactId": p2},
        ],
        "reverseRelations": [],
    }
    # Any letter case, and the path's last segment in any case too.
    response = get(f"/CRM/Contact/M1001/{p1.lower()}/contactrelations")
    assert response.json() == {
        "relations": [],
        "reverseRelations": [
            {"relation": "CompanySignatory", "contactId": c3},
            {"relation": "EstateParty", "contactId": e5},
        ],
    }


def test_a_contact_without_relations_has_empty_lists(get, m1001, hand_relations):
    fourth = m1001.contacts[3]["id"]
    response = get(f"/CRM/Contact/M1001/{fourth}/ContactRelations")
    assert response.status_code == 200
    assert response.json() == {"relations": [], "reverseRelations": []}


def test_relations_of_an_unknown_contact_are_404(get):
    response = get("/CRM/Contact/M1001/NOPE-0000/ContactRelations")
    assert response.status_code == 404
    assert response.json() == {"message": "Kontakten 'NOPE-0000' hittades inte."}


def test_relations_are_json_even_when_xml_is_asked_for(get, hand_relations):
    _p1, _p2, c3, _e5 = hand_relations
    response = get(
        f"/CRM/Contact/M1001/{c3}/ContactRelations", headers={"Accept": "application/xml"}
    )
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert len(response.json()["relations"]) == 2


def test_relations_need_auth_and_access(server, get, m1001):
    first = m1001.contacts[0]["id"]
    assert get(f"/CRM/Contact/M1001/{first}/ContactRelations", auth=None).status_code == 401
    assert get(f"/CRM/Contact/M9999/{first}/ContactRelations").status_code == 403
    server.configure(fault="503", fault_count=1)
    assert get(f"/CRM/Contact/M1001/{first}/ContactRelations").status_code == 503
    assert get(f"/CRM/Contact/M1001/{first}/ContactRelations").status_code == 200
    records = [r for r in server.stats.requests if r.endpoint == "relations"]
    assert [r.status for r in records] == [401, 403, 503, 200]


def test_generated_relations_over_http(get, m1001):
    owner = next(iter(m1001.relations))
    body = get(f"/CRM/Contact/M1001/{owner}/ContactRelations").json()
    assert body["relations"] == [dict(r) for r in m1001.relations[owner]]
    assert body["reverseRelations"] == [dict(r) for r in m1001.reverse_relations.get(owner, ())]


def test_generated_relations_fit_the_contacts(m1001):
    by_id = m1001.by_id
    seen_types, numbers_seen = set(), False
    for owner, listed in m1001.relations.items():
        assert owner in by_id
        for relation in listed:
            name = relation_name(relation["relation"])
            numbers_seen |= isinstance(relation["relation"], int)
            seen_types.add(name)
            target = by_id[relation["contactId"]]  # same customer: a KeyError otherwise
            assert target["type"] == "Person"
            assert target["id"] != owner
            owner_type = by_id[owner]["type"]
            if name in ("EstateParty", "EstateAdministrator", "ExecutorUnderTheWill", "Deceased"):
                assert owner_type == "DeceasedEstate"
            elif name in ("CompanySignatory", "CompanyContactPerson"):
                assert owner_type != "Person" and owner_type != "DeceasedEstate"
            else:
                assert owner_type == "Person"
            assert target.get("isDeceased") is (name == "Deceased")
            # The reverse list of the target points back.
            assert {"relation": relation["relation"], "contactId": owner} in [
                dict(r) for r in m1001.reverse_relations[relation["contactId"]]
            ]
    assert seen_types == set(RELATION_NAMES)
    assert numbers_seen
    reverse_count = sum(len(v) for v in m1001.reverse_relations.values())
    assert reverse_count == sum(len(v) for v in m1001.relations.values())
    for contact in m1001.contacts:
        if contact["type"] == "DeceasedEstate":
            parties = [
                r
                for r in m1001.relations.get(contact["id"], ())
                if relation_name(r["relation"]) == "EstateParty"
            ]
            assert 1 <= len(parties) <= 4, contact["id"]


def test_generated_relations_are_deterministic():
    first = generate_customer_data("M1002", seed=7, count=300)
    again = generate_customer_data("M1002", seed=7, count=300)
    assert dict(first.relations) == dict(again.relations)
    assert first.users == again.users


# --- GET User/GetUser -----------------------------------------------------------------------------

USER_KEYS = {"userId", "userName", "title", "emailAddress", "cellPhone", "archived"}


def test_users_cover_every_agent_and_one_archived(get, m1001):
    response = get("/User/GetUser", params={"CustomerId": "M1001"})
    assert response.status_code == 200
    users = response.json()
    assert users == [dict(u) for u in m1001.users]
    assert all(set(user) == USER_KEYS for user in users)
    active = [u["userId"] for u in users if not u["archived"]]
    archived = [u["userId"] for u in users if u["archived"]]
    assert sorted(active) == sorted(m1001.agent_ids)
    assert len(archived) == 1 and archived[0] not in m1001.agent_ids
    agents_used = {c["agentId"] for c in m1001.contacts} - {None}
    assert agents_used <= set(active)
    for user in users:
        assert user["userName"].count(" ") >= 1 and "@" in user["emailAddress"]
        assert user["title"]


def test_users_filter_by_id_and_text(get, m1001):
    wanted = m1001.users[1]
    by_id = get(f"/User/GetUser?customerid=M1001&USERID={wanted['userId'].lower()}").json()
    assert by_id == [dict(wanted)]
    last_name = wanted["userName"].split(" ")[-1]
    found = get(
        "/User/GetUser", params={"CustomerId": "M1001", "SearchText": last_name.upper()}
    ).json()
    assert dict(wanted) in found
    assert all(
        last_name.casefold() in u["userName"].casefold()
        or last_name.casefold() in u["emailAddress"].casefold()
        or last_name.casefold() in u["title"].casefold()
        for u in found
    )
    assert get("/User/GetUser?CustomerId=M1001&UserId=NOBODY").json() == []


def test_users_need_a_customer_id_and_access(get):
    response = get("/User/GetUser")
    assert response.status_code == 400
    assert response.json() == {
        "message": "The request is invalid.",
        "modelState": {"customerId": ["Kund-id krävs"]},
    }
    assert get("/User/GetUser?CustomerId=M9999").status_code == 403
    assert get("/User/GetUser?CustomerId=M1001", auth=None).status_code == 401


# --- GET CRM/Contact/{customerId}/search/SocialNumber --------------------------------------------


def swedish_ten(number: str) -> str:
    return re.sub(r"\D", "", number)[-10:]


def test_social_number_matches_any_swedish_spelling(get, m1001):
    person = next(
        c
        for c in m1001.contacts
        if c["type"] == "Person"
        and not c["isForeignSocialSecurityNumber"]
        and c["socialSecurityNumber"]
        and len(re.sub(r"\D", "", c["socialSecurityNumber"])) == 12
        and "-" in c["socialSecurityNumber"]
    )
    number = person["socialSecurityNumber"]  # e.g. 19570314-1234
    long_digits = number.replace("-", "")
    ten = swedish_ten(number)
    expected = [
        {
            "id": c["id"],
            "changedAt": c["changedAt"],
            "customerId": "M1001",
            "contactClassTypes": [c["type"]],
        }
        for c in m1001.contacts
        if (c.get("socialSecurityNumber") or c.get("corporateNumber"))
        and not (
            c.get("isForeignSocialSecurityNumber")
            or c.get("isForeignIdSocialSecurityNumber")
            or c.get("isForeignCorporateNumber")
        )
        and swedish_ten(c.get("socialSecurityNumber") or c.get("corporateNumber")) == ten
    ]
    assert person["id"] in [m["id"] for m in expected]
    for asked in (long_digits, f"{ten[:6]}-{ten[6:]}", ten, number):
        response = get("/CRM/Contact/M1001/search/SocialNumber", params={"SocialNumber": asked})
        assert response.status_code == 200, asked
        assert response.json() == {"matches": expected}, asked


def test_social_number_matches_a_company_and_a_foreign_number(get, m1001):
    company = next(
        c for c in m1001.contacts if c["type"] == "Company" and not c["isForeignCorporateNumber"]
    )
    body = get(
        f"/CRM/Contact/M1001/search/socialnumber?socialnumber={company['corporateNumber']}"
    ).json()
    assert company["id"] in [m["id"] for m in body["matches"]]
    assert all(
        m["contactClassTypes"] == ["Company"] for m in body["matches"] if m["id"] == company["id"]
    )
    foreign = m1001.by_id[ids(7)[0]]  # the foreign company edge, e.g. "DK 12345678"
    compact = foreign["corporateNumber"].replace(" ", "")
    expected = [
        c["id"]
        for c in m1001.contacts
        if (c.get("corporateNumber") or "").replace(" ", "") == compact
    ]
    if 10 <= len(compact) <= 13:
        body = get(
            "/CRM/Contact/M1001/search/SocialNumber", params={"SocialNumber": compact}
        ).json()
        assert [m["id"] for m in body["matches"]] == expected
    foreign_person = m1001.by_id[ids(6)[0]]  # e.g. 140357-12345: not Swedish-shaped
    body = get(
        "/CRM/Contact/M1001/search/SocialNumber",
        params={"SocialNumber": foreign_person["socialSecurityNumber"]},
    ).json()
    assert foreign_person["id"] in [m["id"] for m in body["matches"]]
    assert get(
        "/CRM/Contact/M1001/search/SocialNumber", params={"SocialNumber": "000000-0000"}
    ).json() == {"matches": []}


@pytest.mark.parametrize("asked", ["", "123456789", "12345678901234", None])
def test_social_number_must_be_10_to_13_characters(get, asked):
    params = {} if asked is None else {"SocialNumber": asked}
    response = get("/CRM/Contact/M1001/search/SocialNumber", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "The request is invalid."
    assert body["modelState"] == {
        "socialNumber": ["Personnumret måste vara mellan 10 och 13 tecken"]
    }


def test_social_number_max_size(get, server):
    # Several contacts share the same foreign corporate number (drawn from a short list).
    asked = {"SocialNumber": "DK12345678"}
    everything = get("/CRM/Contact/M1001/search/SocialNumber", params=asked).json()["matches"]
    limited = get("/CRM/Contact/M1001/search/SocialNumber", params={**asked, "MaxSize": 1}).json()[
        "matches"
    ]
    assert limited == everything[:1]
    response = get("/CRM/Contact/M1001/search/SocialNumber", params={**asked, "MaxSize": 0})
    assert response.status_code == 400 and "maxSize" in response.json()["modelState"]
    assert get("/CRM/Contact/M9999/search/SocialNumber", params=asked).status_code == 403
    records = [r for r in server.stats.requests if r.endpoint == "social-number"]
    assert len(records) == 4


def test_xml_carries_every_odd_shape(get, m1001):
    odd = ids(*range(11, 19))
    response = get(f"/CRM/Contact/M1001/{','.join(odd)}", headers={"Accept": "application/xml"})
    assert response.status_code == 200
    root = SafeET.fromstring(response.content)
    elements = root.findall(f"{CRM}CrmContact")
    assert [e.findtext(f"{CRM}Id") for e in elements] == odd
    empty, numeric, association, second_only, zero, deceased, no_phone, long_name = elements
    assert empty.findtext(f"{CRM}GDPRApprovalDate") == "0001-01-01T00:00:00"
    assert empty.findtext(f"{CRM}DateOfBirth") == "0001-01-01T00:00:00+01:00"
    assert numeric.findtext(f"{CRM}WantsToBeMatched") in {"0", "1", "2"}
    # An Association has no derived contract: a plain CrmContact, its name among the members.
    assert f"{XSI}type" not in association.attrib
    assert association.findtext(f"{CRM}Type") == "Association"
    assert association.findtext(f"{CRM}Name") == m1001.by_id[odd[2]]["name"]
    email = second_only.find(f"{CRM}Email")
    assert email.find(f"{MODELS}EmailAddress").get(f"{XSI}nil") == "true"
    assert email.findtext(f"{MODELS}EmailAddress2").endswith("@jobb.se")
    coordinate = zero.find(f"{CRM}Address/{CRM}Wgs84Coordinate")
    assert coordinate.findtext(f"{CRM}Latitude") == "0.0"
    assert coordinate.findtext(f"{CRM}Longitude") == "0.0"
    assert deceased.findtext(f"{CRM}IsDeceased") == "true"
    assert no_phone.find(f"{CRM}Telephone").get(f"{XSI}nil") == "true"
    assert len(long_name.findtext(f"{CRM}Name")) == 100
    # The one-contact route: a CrmContact root, without i:type for the Association.
    single = get(f"/CRM/Contact/M1001/{odd[2]}", headers={"Accept": "application/xml"})
    single_root = SafeET.fromstring(single.content)
    assert single_root.tag == f"{CRM}CrmContact" and f"{XSI}type" not in single_root.attrib
    assert single_root.findtext(f"{CRM}Name") == m1001.by_id[odd[2]]["name"]


def test_the_one_type_endpoints_never_return_an_association(get, m1001):
    association = ids(13)[0]
    for segment in ("Person", "Company", "DeceasedEstate"):
        assert get(f"/CRM/Contact/M1001/{segment}/{association}").json() == []
    listed = get("/CRM/Contact/M1001").json()
    assert association in {entry["id"] for entry in listed["companies"]}


# --- contacts that change while the sandbox runs, and notifications -------------------------------

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from urllib.parse import parse_qs, urlsplit  # noqa: E402

from contacts.vitec.sandbox import UnknownContact  # noqa: E402


@pytest.fixture
def changing(server: SandboxServer) -> SandboxServer:
    """The module's sandbox with every contact change (and notification) forgotten around the
    test, so the generated data the other tests rely on is served again afterwards."""
    server.changes_reset()
    yield server
    server.configure(notify_url=None)
    server.changes_reset()


class Receiver:
    """A tiny webhook receiver on a free loopback port: records each POST, answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[dict] = []
        self.status = status
        self._condition = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver._condition:
                    receiver.received.append(
                        {
                            "path": self.path,
                            "content_type": self.headers.get("Content-Type", ""),
                            "body": json.loads(raw),
                        }
                    )
                    receiver._condition.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/vitec"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count: int, timeout: float = 5.0) -> list[dict]:
        with self._condition:
            self._condition.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def listed_ids(get, **params) -> dict[str, str]:
    """id -> changedAt of every contact in the id list (with the filters given)."""
    body = get("/CRM/Contact/M1001", params=params).json()
    return {item["id"]: item["changedAt"] for group in body.values() for item in group}


def search_ids(get, term: str) -> list[str]:
    response = get("/CRM/Contact/M1001/Search", params={"Term": term, "MaxSize": 1000})
    assert response.status_code == 200
    return [match["id"] for match in response.json()["matches"]]


def test_an_update_is_served_by_every_contact_route(changing, get, m1001):
    person = m1001.contacts[0]  # contact number 1 is always a person
    assert person["type"] == "Person"
    pid = person["id"]
    updated = changing.contact_update(
        "M1001", pid.lower(), {"firstName": "Zlatana", "email": {"emailAddress": "z@example.se"}}
    )
    assert updated["id"] == pid
    assert updated["firstName"] == "Zlatana"
    assert updated["lastName"] == person["lastName"]  # untouched fields stay
    # objects are merged key by key: the other e-mail fields stay as generated
    assert updated["email"] == {**person["email"], "emailAddress": "z@example.se"}
    assert TIMESTAMP.match(updated["changedAt"])
    assert updated["changedAt"] != person["changedAt"]
    assert updated["createdAt"] == person["createdAt"]
    assert person["firstName"] != "Zlatana"  # the generated data itself is never touched

    assert get(f"/CRM/Contact/M1001/{pid}").json() == updated
    two = get(f"/CRM/Contact/M1001/{pid},{ids(2)[0]}").json()
    assert two[0] == updated and two[1] == m1001.contacts[1]
    assert get(f"/CRM/Contact/M1001/Person/{pid},{ids(2)[0]}").json()[0] == updated
    xml = get(f"/CRM/Contact/M1001/{pid}", headers={"Accept": "application/xml"})
    root = SafeET.fromstring(xml.content)
    assert root.findtext(f"{CRM}FirstName") == "Zlatana"
    assert root.findtext(f"{CRM}ChangedAt") == updated["changedAt"]
    assert root.find(f"{CRM}Email").findtext(f"{MODELS}EmailAddress") == "z@example.se"
    assert search_ids(get, "Zlatana") == [pid]


def test_the_id_list_sees_the_new_changed_at(changing, get, m1001):
    pid = m1001.contacts[0]["id"]
    # Every generated contact changed before November 2026; an update is changed now.
    before = listed_ids(get, ChangedAtFrom="2026-11-02")
    updated = changing.contact_update("M1001", pid, {"note": "Ringde om visning"})
    changed_at = updated["changedAt"]
    after = listed_ids(get, ChangedAtFrom="2026-11-02")
    assert pid not in before
    assert after == {pid: changed_at}
    assert listed_ids(get, ChangedAtFrom=changed_at) == {pid: changed_at}  # inclusive
    moment = datetime.fromisoformat(changed_at)
    later = (moment.replace(microsecond=0)).isoformat()  # a second boundary: maybe before it
    just_after = moment.timestamp() + 0.001
    after_text = datetime.fromtimestamp(just_after, STOCKHOLM).isoformat()
    assert listed_ids(get, ChangedAtFrom=after_text) == {}
    assert pid in listed_ids(get, ChangedAtFrom=later)
    # the whole list still holds every contact once, the updated one with its new changedAt
    whole = listed_ids(get)
    assert len(whole) == len(m1001.contacts) and whole[pid] == changed_at


def test_changed_at_is_now_and_strictly_increasing(changing, m1001):
    pid = m1001.contacts[0]["id"]
    start = datetime.now(STOCKHOLM)
    stamps = [
        changing.contact_update("M1001", pid, {"note": str(n)})["changedAt"] for n in range(5)
    ]
    assert all(TIMESTAMP.match(stamp) for stamp in stamps)
    moments = [datetime.fromisoformat(stamp) for stamp in stamps]
    assert moments == sorted(set(moments))  # strictly increasing
    assert abs((moments[0] - start).total_seconds()) < 5


def test_a_new_contact_is_served_everywhere(changing, get):
    response = requests.put(
        f"{changing.base_url}/_sandbox/contacts/M1001/SANDBOX-NEW-1",
        json={
            "type": "Company",
            "name": "Kvarnbackens Testbolag AB",
            "corporateNumber": "556677-8899",
            "email": {"emailAddress": "info@kvarnbacken.example"},
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    contact = response.json()
    assert contact["id"] == "SANDBOX-NEW-1"
    assert contact["customerId"] == "M1001"
    assert contact["agentId"] is None
    assert TIMESTAMP.match(contact["changedAt"]) and contact["createdAt"] == contact["changedAt"]

    assert get("/CRM/Contact/M1001/sandbox-new-1").json() == contact  # any letter case
    assert get("/CRM/Contact/M1001/Company/SANDBOX-NEW-1").json() == [contact]
    assert get("/CRM/Contact/M1001/Person/SANDBOX-NEW-1").json() == []
    body = get("/CRM/Contact/M1001").json()
    assert body["companies"][-1] == {
        "id": "SANDBOX-NEW-1",
        "changedAt": contact["changedAt"],
        "customerId": "M1001",
    }
    assert search_ids(get, "Kvarnbackens") == ["SANDBOX-NEW-1"]
    found = get("/CRM/Contact/M1001/search/SocialNumber", params={"SocialNumber": "5566778899"})
    assert found.json()["matches"] == [
        {
            "id": "SANDBOX-NEW-1",
            "changedAt": contact["changedAt"],
            "customerId": "M1001",
            "contactClassTypes": ["Company"],
        }
    ]
    relations = get("/CRM/Contact/M1001/SANDBOX-NEW-1/ContactRelations").json()
    assert relations == {"relations": [], "reverseRelations": []}
    # another customer does not see it
    assert get("/CRM/Contact/M1002/SANDBOX-NEW-1").status_code == 404


def test_a_removed_contact_is_gone_everywhere(changing, get, m1001):
    # a company whose relations name a person: remove that person
    company_id, listed = next(
        (owner, relations)
        for owner, relations in m1001.relations.items()
        if m1001.by_id[owner]["type"] == "Company" and len(relations) >= 2
    )
    gone_id = listed[0]["contactId"]
    gone = m1001.by_id[gone_id]
    name = f"{gone['firstName']} {gone['lastName']}" if gone["type"] == "Person" else gone["name"]
    assert gone_id in search_ids(get, name)

    response = requests.delete(
        f"{changing.base_url}/_sandbox/contacts/M1001/{gone_id.lower()}", timeout=TIMEOUT
    )
    assert response.status_code == 200 and response.json() == {"status": "ok"}

    one = get(f"/CRM/Contact/M1001/{gone_id}")
    assert one.status_code == 404
    assert one.json() == {"message": f"Kontakten '{gone_id}' hittades inte."}
    assert get(f"/CRM/Contact/M1001/{gone_id},{company_id}").json() == [m1001.by_id[company_id]]
    assert gone_id not in listed_ids(get)
    assert len(listed_ids(get)) == len(m1001.contacts) - 1
    assert gone_id not in search_ids(get, name)
    number = gone.get("socialSecurityNumber") or gone.get("corporateNumber")
    if number and 10 <= len(number) <= 13:
        found = get("/CRM/Contact/M1001/search/SocialNumber", params={"SocialNumber": number})
        assert gone_id not in [m["id"] for m in found.json()["matches"]]
    assert get(f"/CRM/Contact/M1001/{gone_id}/ContactRelations").status_code == 404
    relations = get(f"/CRM/Contact/M1001/{company_id}/ContactRelations").json()["relations"]
    assert relations == [dict(r) for r in listed[1:] if r["contactId"] != gone_id]
    # removing it again: it is unknown now
    with pytest.raises(UnknownContact):
        changing.contact_remove("M1001", gone_id)


def test_a_merge_removes_the_sources_and_touches_the_target(changing, get, m1001):
    persons = [c for c in m1001.contacts if c["type"] == "Person"][:3]
    target, source1, source2 = (c["id"] for c in persons)
    response = requests.post(
        f"{changing.base_url}/_sandbox/contacts/M1001/merge",
        json={"target": target.lower(), "sources": [source1, source2.lower()]},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    merged = response.json()
    assert merged == {**persons[0], "changedAt": merged["changedAt"]}
    assert TIMESTAMP.match(merged["changedAt"]) and merged["changedAt"] != persons[0]["changedAt"]
    assert get(f"/CRM/Contact/M1001/{target},{source1},{source2}").json() == [merged]
    listed = listed_ids(get)
    assert listed[target] == merged["changedAt"]
    assert source1 not in listed and source2 not in listed
    assert get(f"/CRM/Contact/M1001/{source1}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("PUT", "/_sandbox/contacts/M1001/{p1}", b"{not json", 400, "JSON object"),
        ("PUT", "/_sandbox/contacts/M1001/{p1}", b"[1, 2]", 400, "JSON object"),
        ("PUT", "/_sandbox/contacts/M1001/{p1}", b"", 400, "JSON object"),
        ("PUT", "/_sandbox/contacts/M1001/NO-SUCH-CONTACT", b'{"note": "x"}', 404, "hittades"),
        ("PUT", "/_sandbox/contacts/M1001/NEW-2", b'{"type": "Robot"}', 400, "type must be"),
        ("PUT", "/_sandbox/contacts/M1001/{p1}", b'{"id": "OTHER"}', 400, "id cannot"),
        ("PUT", "/_sandbox/contacts/M1001/{p1}", b'{"email": "a@b.se"}', 400, "email must"),
        ("PUT", "/_sandbox/contacts/M1001/{p1}", b'{"createdAt": "igar"}', 400, "createdAt"),
        ("DELETE", "/_sandbox/contacts/M1001/NO-SUCH-CONTACT", b"", 404, "hittades"),
        (
            "POST",
            "/_sandbox/contacts/M1001/merge",
            b'{"target": "{p1}", "sources": ["NO-SUCH-CONTACT"]}',
            404,
            "NO-SUCH-CONTACT",
        ),
        ("POST", "/_sandbox/contacts/M1001/merge", b'{"target": "{p1}"}', 400, "sources"),
        (
            "POST",
            "/_sandbox/contacts/M1001/merge",
            b'{"target": "{p1}", "sources": []}',
            400,
            "at least one",
        ),
        (
            "POST",
            "/_sandbox/contacts/M1001/merge",
            b'{"target": "{p1}", "sources": ["{p1}"]}',
            400,
            "own sources",
        ),
        ("POST", "/_sandbox/contacts/M1001/merge", b"nope", 400, "JSON object"),
        ("GET", "/_sandbox/contacts/M1001/{p1}", b"", 405, "PUT, DELETE"),
        ("POST", "/_sandbox/contacts/M1001/{p1}", b"{}", 405, "PUT, DELETE"),
        ("PUT", "/_sandbox/contacts", b"{}", 405, "DELETE"),
        ("PUT", "/_sandbox/contacts/M1001", b"{}", 404, "No sandbox control endpoint"),
    ],
)
def test_the_control_api_refuses_garbage(changing, get, m1001, method, path, body, status, message):
    p1 = m1001.contacts[0]["id"]
    response = requests.request(
        method,
        changing.base_url + path.replace("{p1}", p1),
        data=body.replace(b"{p1}", p1.encode()),
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert message in response.json()["message"]
    # nothing changed
    assert get(f"/CRM/Contact/M1001/{p1}").json() == m1001.contacts[0]
    assert changing.notifications == []


def test_the_python_api_raises(changing, m1001):
    p1 = m1001.contacts[0]["id"]
    with pytest.raises(UnknownContact, match="NO-SUCH"):
        changing.contact_update("M1001", "NO-SUCH", {"note": "x"})
    with pytest.raises(UnknownContact):
        changing.contact_remove("M1001", "NO-SUCH")
    with pytest.raises(UnknownContact):
        changing.contacts_merge("M1001", "NO-SUCH", [p1])
    with pytest.raises(ValueError, match="sources"):
        changing.contacts_merge("M1001", p1, p1)
    with pytest.raises(ValueError, match="changes"):
        changing.contact_update("M1001", p1, ["note"])


def test_reset_serves_the_generated_data_again(changing, get, m1001):
    p1, p2 = ids(1, 2)
    changing.contact_update("M1001", p1, {"firstName": "Tillfällig"})
    changing.contact_remove("M1001", p2)
    changing.contact_update("M1001", "NEW-3", {"type": "Person", "firstName": "Ny"})
    response = requests.delete(f"{changing.base_url}/_sandbox/contacts", timeout=TIMEOUT)
    assert response.status_code == 200
    assert get(f"/CRM/Contact/M1001/{p1},{p2},NEW-3").json() == list(m1001.contacts[:2])
    assert changing.customer_view("M1001") is customer_data("M1001", seed=1, count=2400)


def test_the_merged_data_is_built_once_per_change(changing, m1001):
    base = customer_data("M1001", seed=1, count=2400)
    assert changing.customer_view("M1001") is base  # no changes: the generated data itself
    changing.contact_update("M1001", ids(1)[0], {"note": "a"})
    first = changing.customer_view("M1001")
    assert first is not base and changing.customer_view("M1001") is first  # cached
    assert changing.customer_view("M1002") is customer_data("M1002", seed=1, count=2400)
    changing.contact_update("M1001", ids(1)[0], {"note": "b"})
    second = changing.customer_view("M1001")
    assert second is not first and second.by_id[ids(1)[0]]["note"] == "b"
    assert second.contacts[1] is base.contacts[1]  # unchanged contacts are shared, not copied


def test_notifications_reach_the_receiver(changing, receiver, m1001):
    persons = [c for c in m1001.contacts if c["type"] == "Person"][:3]
    estate = next(c for c in m1001.contacts if c["type"] == "DeceasedEstate")
    response = requests.put(
        f"{changing.base_url}/_sandbox/config", json={"notify_url": receiver.url}, timeout=TIMEOUT
    )
    assert response.status_code == 200 and response.json()["notify_url"] == receiver.url

    changing.contact_update("M1001", persons[0]["id"], {"note": "Vill sälja i vår"})
    changing.contact_remove("M1001", estate["id"])
    changing.contacts_merge("M1001", persons[1]["id"], [persons[2]["id"]])
    got = receiver.wait(3)
    assert [item["body"] for item in got] == [
        {
            "name": "crmviewer",
            "type": "Contact",
            "subtype": "Person",
            "event": "Update",
            "id": persons[0]["id"],
            "customerId": "M1001",
            "chainId": None,
            "tenantId": None,
        },
        {
            "name": "crmviewer",
            "type": "Contact",
            "subtype": "Estate",
            "event": "Remove",
            "id": estate["id"],
            "customerId": "M1001",
            "chainId": None,
            "tenantId": None,
        },
        {
            "type": "Merge",
            "event": "Merge",
            "subtype": "Person",
            "id": persons[1]["id"],
            "destinationId": persons[1]["id"],
            "sourceIds": [persons[2]["id"]],
            "customerId": "M1001",
        },
    ]
    assert all(item["content_type"].startswith("application/json") for item in got)
    paths = [urlsplit(item["path"]) for item in got]
    assert all(path.path == "/hooks/vitec" for path in paths)
    assert parse_qs(paths[0].query) == {
        "name": ["crmviewer"],
        "type": ["Contact"],
        "subtype": ["Person"],
        "event": ["Update"],
        "id": [persons[0]["id"]],
        "customerId": ["M1001"],
    }
    assert parse_qs(paths[2].query) == {  # destinationId and sourceIds: in the body only
        "type": ["Merge"],
        "event": ["Merge"],
        "subtype": ["Person"],
        "id": [persons[1]["id"]],
        "customerId": ["M1001"],
    }
    records = changing.wait_notifications(3)
    assert [(r.status, r.error) for r in records] == [(200, None)] * 3
    assert [r.body for r in records] == [item["body"] for item in got]
    assert records[0].url == receiver.url + "?" + paths[0].query
    listed = requests.get(f"{changing.base_url}/_sandbox/notifications", timeout=TIMEOUT).json()
    assert [item["body"] for item in listed] == [item["body"] for item in got]
    changing.changes_reset()
    assert changing.notifications == []


def test_no_notify_url_sends_nothing(changing, receiver, m1001):
    assert changing.config.notify_url is None
    changing.contact_update("M1001", ids(1)[0], {"note": "tyst"})
    changing.contact_remove("M1001", ids(2)[0])
    time.sleep(0.3)
    assert receiver.received == []
    assert changing.notifications == []


def test_a_failing_receiver_never_blocks_or_raises(changing, m1001):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    changing.configure(notify_url=refused)
    started = time.monotonic()
    changing.contact_update("M1001", ids(1)[0], {"note": "x"})
    assert time.monotonic() - started < 1
    (record,) = changing.wait_notifications(1)
    assert record.status is None and record.error
    assert record.body["event"] == "Update"


def test_a_receiver_answering_500_is_recorded(changing, m1001):
    receiver = Receiver(status=500)
    try:
        changing.configure(notify_url=receiver.url + "?key=abc")
        changing.contact_update("M1001", ids(1)[0], {"note": "x"})
        (record,) = changing.wait_notifications(1)
        assert record.status == 500 and record.error is None
        (item,) = receiver.wait(1)
        assert parse_qs(urlsplit(item["path"]).query)["key"] == ["abc"]  # kept, then ours
    finally:
        receiver.close()


@pytest.mark.parametrize("url", ["ftp://example.se/hook", "not a url", 42, "http://h/#frag"])
def test_notify_url_must_be_http(changing, url):
    with pytest.raises(ValueError, match="notify_url"):
        changing.configure(notify_url=url)
    response = requests.put(
        f"{changing.base_url}/_sandbox/config", json={"notify_url": url}, timeout=TIMEOUT
    )
    assert response.status_code == 400 and "notify_url" in response.json()["message"]


def test_the_command_takes_a_notify_url(monkeypatch):
    monkeypatch.delenv("VITEC_SANDBOX_ACCOUNTS", raising=False)
    with pytest.raises(CommandError, match="--notify-url"):
        call_command("vitec_sandbox", "--notify-url", "ftp://example.se/hook")
