"""One-id calls and ids in any letter case (issue 10, items 1 and 2).

Vitec documents `GET CRM/Contact/{customerId}/{contactId}` as a route of its own that answers
one object, on the same URL template as the list: a one-id call reads both shapes, and a 404
for one id means "not found". Vitec matches ids without regard to letter case, and so does the
client. The sandbox answers a one-id path with the object itself; `single_as_list` makes it
answer a list, so each test here runs against both.
"""

from __future__ import annotations

import json

import pytest
from defusedxml import ElementTree

from contacts.vitec.breaker import CircuitBreaker
from contacts.vitec.client import _Answer
from contacts.vitec.errors import BadResponseError, NotFoundError, ServerError
from contacts.vitec.models import CrmCompanyContact, CrmPersonContact
from contacts.vitec.parsing import parse_contacts, xml_to_data
from contacts.vitec.retry import RetryPolicy
from tests.dashboard_fixtures import cid, missing_id

pytestmark = pytest.mark.integration

PERSON = {
    "id": "ADR3ADC7B7B0A9447CA97FCAB43E36B582C",
    "type": "Person",
    "customerId": "M30011",
    "firstName": "Anna",
    "lastName": "Berg",
    "telephone": {"cell": "070-111 22 33"},
    "changedAt": "2026-10-04T13:51:27.3562702+02:00",
}
XML_PERSON = b"""<CrmContact i:type="CrmPersonContact"
    xmlns:i="http://www.w3.org/2001/XMLSchema-instance"
    xmlns="http://schemas.datacontract.org/2004/07/Vitec.Housing.Connect.Api.Models.Contact.Crm">
  <CustomerId>M30011</CustomerId>
  <Id>ADR3ADC7B7B0A9447CA97FCAB43E36B582C</Id>
  <Note i:nil="true"/>
  <Type>Person</Type>
  <FirstName>Anna</FirstName>
  <LastName>Berg</LastName>
</CrmContact>"""


def contact_calls(sandbox) -> list:
    return [r for r in sandbox.stats.requests if r.endpoint == "contacts"]


@pytest.fixture(params=[False, True], ids=["object", "list"])
def shaped(request, sandbox):
    """The sandbox answering a one-id path with the object itself, or (switched) with a list."""
    sandbox.configure(single_as_list=request.param)
    return sandbox


# --- parsing: hand-written payloads --------------------------------------------------------------


def test_a_single_object_parses_for_a_one_id_call():
    (person,) = parse_contacts(PERSON, single=True)
    assert isinstance(person, CrmPersonContact)
    assert person.id == "ADR3ADC7B7B0A9447CA97FCAB43E36B582C"
    assert (person.first_name, person.last_name, person.customer_id) == ("Anna", "Berg", "M30011")
    assert person.telephone is not None and person.telephone.cell == "070-111 22 33"
    company = {"Id": "ADRC0FFEE", "Type": 1, "Name": "Berg AB", "CorporateNumber": "5560360793"}
    (parsed,) = parse_contacts(company, single=True)
    assert isinstance(parsed, CrmCompanyContact) and parsed.name == "Berg AB"


def test_a_list_still_parses_for_a_one_id_call():
    assert [c.id for c in parse_contacts([PERSON], single=True)] == [PERSON["id"]]
    assert parse_contacts([], single=True) == []


@pytest.mark.parametrize(
    "payload", [{"message": "An error has occurred."}, {}, {"id": None}, "x", 1, None]
)
def test_an_object_that_is_no_contact_is_no_answer(payload):
    assert parse_contacts(payload, single=True) is None


def test_an_object_where_many_ids_were_asked_is_no_answer():
    assert parse_contacts(PERSON) is None


def test_the_xml_single_object_form_parses():
    (person,) = parse_contacts(xml_to_data(ElementTree.fromstring(XML_PERSON)), single=True)
    assert isinstance(person, CrmPersonContact)
    assert (person.id, person.first_name, person.note) == (PERSON["id"], "Anna", None)


# --- the client against both shapes --------------------------------------------------------------


@pytest.mark.parametrize("response_format", ["json", "xml"])
def test_a_one_id_lookup_finds_the_contact(make_client, shaped, response_format):
    client = make_client(response_format=response_format)
    result = client.fetch_contacts("M1001", [cid(1)])
    assert [c.id for c in result.contacts] == [cid(1)]
    assert result.not_found == () and result.failed == ()
    assert [c.id for c in client.fetch_contact_batch("M1001", [cid(2)])] == [cid(2)]
    assert [r.status for r in contact_calls(shaped)] == [200, 200]


def test_the_sandbox_answers_each_shape(make_client, shaped):
    """What the client read above really was an object, or a list."""
    client = make_client()
    answer = client.session.get(f"{shaped.base_url}/CRM/Contact/M1001/{cid(1)}", timeout=5)
    assert isinstance(answer.json(), list) is shaped.config.single_as_list


def test_an_unknown_single_id_is_not_found_and_not_counted(make_client, shaped):
    breaker = CircuitBreaker(threshold=1, cooldown=60)
    client = make_client(breaker=breaker, retry=RetryPolicy(max_retries=0))
    for _ in range(3):
        result = client.fetch_contacts("M1001", [missing_id(99999)])
        assert result.contacts == () and result.failed == ()
        assert result.not_found == (missing_id(99999),)
        assert client.fetch_contact_batch("M1001", [missing_id(99998)]) == []
    assert not breaker.is_open(client.breaker_key("M1001"))
    assert breaker.store.get(f"{breaker.prefix}:fails:{client.breaker_key('M1001')}") is None
    expected = 200 if shaped.config.single_as_list else 404
    assert {r.status for r in contact_calls(shaped)} == {expected}
    assert len(contact_calls(shaped)) == 6  # a 404 is never retried
    assert client.fetch_contacts("M1001", [cid(1)]).contacts  # Vitec still answers


def test_a_404_for_one_id_is_not_found_but_for_many_a_failure(make_client, sandbox):
    """Whatever the 404 says: for one id it is the documented "no such contact"."""
    breaker = CircuitBreaker(threshold=1, cooldown=60)
    client = make_client(breaker=breaker, retry=RetryPolicy(max_retries=0))
    sandbox.configure(fault="404")
    result = client.fetch_contacts("M1001", [cid(1)])
    assert (result.contacts, result.failed, result.not_found) == ((), (), (cid(1),))
    result = client.fetch_contacts("M1001", [cid(1), cid(2)])
    (failed,) = result.failed
    assert isinstance(failed.error, NotFoundError)
    assert failed.ids == (cid(1), cid(2)) and result.not_found == ()
    with pytest.raises(NotFoundError):
        client.fetch_contact_batch("M1001", [cid(1), cid(2)])
    assert not breaker.is_open(client.breaker_key("M1001"))


def test_other_failures_of_a_one_id_call_stay_failures(make_client, sandbox):
    sandbox.configure(fault="500")
    result = make_client().fetch_contacts("M1001", [cid(1)])
    (failed,) = result.failed
    assert isinstance(failed.error, ServerError) and result.not_found == ()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(json.dumps(PERSON).encode(), "application/json; charset=utf-8"), (XML_PERSON, "text/xml")],
)
def test_hand_written_single_objects_through_the_client(make_client, body, content_type):
    """A one-id call reads Vitec's object (JSON or XML); for several ids the list route must
    answer a list, and an object there is an answer the client cannot read."""
    client = make_client(retry=RetryPolicy(max_retries=0))
    answer = _Answer(body=body, content_type=content_type)
    client._attempt = lambda url, failed: answer  # Vitec's own shapes, written by hand
    (person,) = client.fetch_contact_batch("M1001", [PERSON["id"].lower()])
    assert person.id == PERSON["id"] and person.first_name == "Anna"
    result = client.fetch_contacts("M1001", [PERSON["id"].lower()])
    assert [c.id for c in result.contacts] == [PERSON["id"]] and result.not_found == ()
    with pytest.raises(BadResponseError):
        client.fetch_contact_batch("M1001", [PERSON["id"], "ADR0"])


# --- ids in any letter case --------------------------------------------------------------------


def test_ids_in_any_letter_case_find_their_contacts(make_client, shaped):
    result = make_client().fetch_contacts(
        "M1001", [cid(1).lower(), cid(2), missing_id(99999).lower()]
    )
    # The contacts keep Vitec's spelling; not_found names the id as asked.
    assert [c.id for c in result.contacts] == [cid(1), cid(2)]
    assert result.not_found == (missing_id(99999).lower(),)
    assert result.requested == (cid(1).lower(), cid(2), missing_id(99999).lower())
    single = make_client().fetch_contacts("M1001", [cid(3).lower()])
    assert [c.id for c in single.contacts] == [cid(3)] and single.not_found == ()


def test_ids_differing_only_in_case_are_asked_once(make_client, sandbox):
    result = make_client().fetch_contacts(
        "M1001", [cid(1).lower(), cid(1), cid(2), cid(2).lower(), cid(1)]
    )
    assert result.requested == (cid(1).lower(), cid(2))
    assert [c.id for c in result.contacts] == [cid(1), cid(2)]
    (call,) = contact_calls(sandbox)
    assert call.contact_ids == (cid(1).lower(), cid(2))
