"""One-id lookups and ids in any letter case, through the pages (issue 10, items 1 and 2).

The sandbox answers a one-id path with the contact itself, as Vitec documents; switched
(`single_as_list`) it answers a list. Every page here works against both.
"""

from __future__ import annotations

import re

import pytest

from contacts import services
from contacts.vitec.sandbox import SandboxServer
from tests.dashboard_fixtures import cid, contact_calls, ids_sent, missing_id

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

LOOKUP = "/contacts/"
_ROW = re.compile(r'<th scope="row"><a href="/contacts/([^/"]+)/\?customer=(\w+)&amp;[^"]*">')


def text(response) -> str:
    return response.content.decode()


def row_ids(response) -> list[str]:
    return [m.group(1) for m in _ROW.finditer(text(response))]


@pytest.fixture(params=[False, True], ids=["object", "list"])
def shaped(request, vitec: SandboxServer) -> SandboxServer:
    vitec.configure(single_as_list=request.param)
    return vitec


def test_the_detail_page_shows_a_contact(en_client, credential, shaped):
    response = en_client.get(f"/contacts/{cid(1)}/", {"credential": credential.pk})
    assert response.status_code == 200
    page = text(response)
    assert "<h1>Contact not found</h1>" not in page
    assert "could not be fetched" not in page and 'role="alert"' not in page
    assert cid(1) in page
    call, *_people = contact_calls(shaped)  # then the people around it, in one batch
    assert call.contact_ids == (cid(1),) and call.status == 200


def test_a_one_id_lookup_lists_the_contact(en_client, credential, shaped):
    response = en_client.get(LOOKUP, {"credential": credential.pk, "ids": cid(2)})
    assert response.status_code == 200
    assert row_ids(response) == [cid(2)]


def test_an_unknown_single_id_is_not_found_and_not_counted(settings, en_client, credential, shaped):
    settings.VITEC_BREAKER_FAILURES = 1  # one counted failure would open the breaker
    for number in (99991, 99992, 99993):
        response = en_client.get(f"/contacts/{missing_id(number)}/", {"credential": credential.pk})
        assert response.status_code == 404
        page = text(response)
        assert "<h1>Contact not found</h1>" in page
        assert "Vitec has no contact with the id" in page
        assert 'role="alert"' not in page  # no failure to report
    listed = en_client.get(LOOKUP, {"credential": credential.pk, "ids": missing_id(99994)})
    page = text(listed)
    assert "1 id was not found in Vitec:" in page and "could not be fetched" not in page
    # The breaker stayed closed: the next contact is fetched from Vitec, not failed fast.
    response = en_client.get(f"/contacts/{cid(3)}/", {"credential": credential.pk})
    assert response.status_code == 200 and 'role="alert"' not in text(response)
    expected = 200 if shaped.config.single_as_list else 404
    assert [r.status for r in contact_calls(shaped)] == [expected] * 4 + [200]


def test_a_lower_case_id_opens_the_contact(en_client, credential, shaped):
    response = en_client.get(f"/contacts/{cid(4).lower()}/", {"credential": credential.pk})
    assert response.status_code == 200
    assert "<h1>Contact not found</h1>" not in text(response)


def test_ids_differing_only_in_case_are_looked_up_once_and_cached_once(credential, vitec):
    lookup = services.contacts_lookup(
        credential=credential, ids=[cid(1).lower(), cid(1), cid(2), cid(2).lower()]
    )
    assert lookup.result.requested == (cid(1).lower(), cid(2))
    assert [c.id for c in lookup.result.contacts] == [cid(1), cid(2)]
    assert ids_sent(vitec) == [cid(1).lower(), cid(2)]
    # The cache holds one entry per contact, whatever the case it is asked in next.
    vitec.stats.reset()
    again = services.contacts_lookup(
        credential=credential, ids=[cid(1), cid(2).lower(), missing_id(99999)]
    )
    assert [c.id for c in again.result.contacts] == [cid(1), cid(2)]
    assert ids_sent(vitec) == [missing_id(99999)]
    third = services.contacts_lookup(credential=credential, ids=[missing_id(99999).lower()])
    assert third.result.not_found == (missing_id(99999).lower(),) and third.result.contacts == ()
    assert ids_sent(vitec) == [missing_id(99999)]  # "not found" was cached too
