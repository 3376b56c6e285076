"""The people around a contact on its page (issue 10, item 5): relations and reverse relations
in the broker's words, the related contacts' names, types and phones from one batched lookup,
the broker's name from GetUser, each cached, and no failure of theirs ever breaking the page.

`served` adds the hand-written contacts, relations and users below to customer M1001's sandbox
data, so that everything is fetched over real HTTP; every expectation is written out by hand.
"""

from __future__ import annotations

import re
import time
from html import unescape

import pytest
from django.test import Client

from contacts.models import AuditEvent
from contacts.services.lookup import contacts_lookup
from contacts.services.relations import USERS_CACHE_SECONDS, agent_get, relations_get
from tests.dashboard_fixtures import serve_for_m1001

COMPANY = "ADRC0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C0"
ESTATE = "ADRE5E5E5E5E5E5E5E5E5E5E5E5E5E5E5E5"
ANNA = "ADRA0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0"
GRETA = "ADR6E6E6E6E6E6E6E6E6E6E6E6E6E6E6E6E"
LONER = "ADR10101010101010101010101010101010"
WARD = "ADR7A7A7A7A7A7A7A7A7A7A7A7A7A7A7A7A"
BROKEN = "fault-500.guardian"  # the sandbox answers 500 to any call asking for this id
MISSING = "ADR00000000000000000000000000000000"  # named by a relation, unknown to Vitec
AGENT = "HANE99C53F2DE4F489AB1E464D0F9AFFACD"
STRANGER = "HAN0000000000000000000000000000000A"  # an agent id GetUser does not list
DASH = "\u2013"  # what a page writes for a missing value

CONTACTS = {
    COMPANY: {
        "id": COMPANY,
        "type": "Company",
        "customerId": "M1001",
        "agentId": AGENT,
        "name": "Bolaget AB",
        "telephone": {"switch": "031-12 34 56", "other": None},
    },
    ESTATE: {
        "id": ESTATE,
        "type": "DeceasedEstate",
        "customerId": "M1001",
        "agentId": STRANGER,
        "name": "Dödsbo efter Greta Berg",
        "telephone": None,
    },
    ANNA: {
        "id": ANNA,
        "type": "Person",
        "customerId": "M1001",
        "agentId": AGENT,
        "firstName": "Anna",
        "lastName": "Berg",
        "telephone": {"home": None, "work": None, "cell": "0701112233", "other": None},
    },
    GRETA: {
        "id": GRETA,
        "type": "Person",
        "customerId": "M1001",
        "firstName": "Greta",
        "lastName": "Berg",
        "isDeceased": True,
    },
    LONER: {"id": LONER, "type": "Person", "customerId": "M1001", "firstName": "Ensam"},
    WARD: {"id": WARD, "type": "Person", "customerId": "M1001", "firstName": "Omyndig"},
}
RELATIONS = {
    COMPANY: (
        {"relation": "CompanySignatory", "contactId": ANNA},
        {"relation": "Trustee", "contactId": MISSING},  # a type this version does not know
    ),
    ESTATE: (
        {"relation": 2, "contactId": ANNA},  # EstateParty, as a number
        {"relation": "Deceased", "contactId": GRETA},
        {"relation": "EstateAdministrator", "contactId": ANNA.lower()},  # the same person again
    ),
    WARD: ({"relation": "Guardian", "contactId": BROKEN}, {"relation": 7, "contactId": ANNA}),
}
REVERSE_RELATIONS = {
    ANNA: (
        {"relation": "EstateParty", "contactId": ESTATE},
        {"relation": 3, "contactId": COMPANY},
    ),
    GRETA: ({"relation": 100, "contactId": ESTATE},),
}
USERS = (
    {
        "userId": AGENT,
        "userName": "Maria Mäklare",
        "title": "Fastighetsmäklare",
        "emailAddress": "maria@maklarbyran.se",
        "cellPhone": "070-123 45 67",
        "archived": False,
    },
)


@pytest.fixture
def served(monkeypatch, vitec):
    """The sandbox answers with the contacts, relations and users above (customer M1001)."""

    serve_for_m1001(
        monkeypatch,
        CONTACTS,
        lambda data: {
            "relations": RELATIONS,
            "reverse_relations": REVERSE_RELATIONS,
            "users": USERS,
        },
    )
    return vitec


@pytest.fixture
def sv_client(broker, credential) -> Client:
    """A test client logged in as the broker, in Swedish (the site's default language)."""
    client = Client()
    client.force_login(broker)
    return client


def detail(client: Client, credential, contact_id: str) -> str:
    response = client.get(f"/contacts/{contact_id}/", {"credential": credential.pk})
    assert response.status_code == 200
    return response.content.decode()


def section(html: str) -> str:
    match = re.search(r'<section class="card people".*?</section>', html, re.S)
    assert match, "no section of people around the contact"
    return match.group(0)


def cells(fragment: str) -> str:
    """A fragment's text with links kept as [text](href), whitespace squeezed."""
    linked = re.sub(r'<a href="([^"]*)">(.*?)</a>', r"[\2](\1)", fragment, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", "", linked)).split())


def people(html: str) -> list[tuple[str, ...]]:
    """The rows of the people table, each as its cells' text."""
    rows = re.findall(r"<tr>(.*?)</tr>", section(html).split("<tbody>")[1], re.S)
    return [
        tuple(cells(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S)) for r in rows
    ]


def calls(sandbox, endpoint: str) -> list:
    return [r for r in sandbox.stats.requests if r.endpoint == endpoint]


def link(contact_id: str, credential) -> str:
    return f"/contacts/{contact_id}/?customer={credential.customer_id}"


# --- the section on the page ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("contact_id", "expected"),
    [
        (
            COMPANY,
            [
                (
                    "Firmatecknare",
                    "[Anna Berg]({ANNA})",
                    "Person",
                    "[070-111 22 33](tel:+46701112233)",
                ),
                ("Trustee", f"[{MISSING}]({{MISSING}}) (finns inte i Vitec)", DASH, DASH),
            ],
        ),
        (
            ESTATE,
            [
                (
                    "Dödsbodelägare",
                    "[Anna Berg]({ANNA})",
                    "Person",
                    "[070-111 22 33](tel:+46701112233)",
                ),
                ("Avliden", "[Greta Berg]({GRETA})", "Person", DASH),
                (
                    "Boutredningsman",
                    "[Anna Berg]({anna})",
                    "Person",
                    "[070-111 22 33](tel:+46701112233)",
                ),
            ],
        ),
        (
            ANNA,
            [
                ("Dödsbodelägare i", "[Dödsbo efter Greta Berg]({ESTATE})", "Dödsbo", DASH),
                (
                    "Firmatecknare för",
                    "[Bolaget AB]({COMPANY})",
                    "Företag",
                    "[031-12 34 56](tel:+4631123456)",
                ),
            ],
        ),
        (GRETA, [("Avliden i", "[Dödsbo efter Greta Berg]({ESTATE})", "Dödsbo", DASH)]),
    ],
)
def test_the_people_around_a_contact_in_swedish(
    sv_client, credential, served, contact_id, expected
):
    html = detail(sv_client, credential, contact_id)
    assert '<h2 id="people-heading">Personer runt kontakten</h2>' in html
    links = {
        "ANNA": link(ANNA, credential),
        "anna": link(ANNA.lower(), credential),
        "GRETA": link(GRETA, credential),
        "ESTATE": link(ESTATE, credential),
        "COMPANY": link(COMPANY, credential),
        "MISSING": link(MISSING, credential),
    }
    assert people(html) == [tuple(cell.format(**links) for cell in row) for row in expected]


@pytest.mark.django_db
def test_a_contact_without_people_says_so(en_client, credential, served):
    html = section(detail(en_client, credential, LONER))
    assert "Vitec names nobody around this contact." in html
    assert "<table" not in html


# --- how it is fetched ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_people_are_named_by_one_batched_lookup(en_client, credential, served):
    detail(en_client, credential, ESTATE)
    (relations,) = calls(served, "relations")
    assert relations.contact_ids == (ESTATE,)
    # The estate itself, then its three relations' two people in one call (Anna asked once).
    assert [r.contact_ids for r in calls(served, "contacts")] == [(ESTATE,), (ANNA, GRETA)]


@pytest.mark.django_db
def test_a_second_view_is_served_from_the_cache(en_client, credential, served):
    first = detail(en_client, credential, COMPANY)
    served.stats.reset()
    second = detail(en_client, credential, COMPANY)
    assert served.stats.requests == []  # no contact, relations, names or users call
    assert people(second) == people(first)
    assert "Bolaget AB" in second


@pytest.mark.django_db
def test_people_whose_lookup_failed_are_shown_by_id(en_client, credential, served):
    html = detail(en_client, credential, WARD)
    assert (
        "Some of them could not be fetched and are shown by id. "
        "Vitec had an internal error. Try again in a while."
    ) in cells(section(html))
    assert people(html) == [
        ("Guardian", f"[{BROKEN}]({link(BROKEN, credential)})", DASH, DASH),
        ("Limited guardian", f"[{ANNA}]({link(ANNA, credential)})", DASH, DASH),
    ]


# --- the broker -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("contact_id", "shown"),
    [
        (COMPANY, f'<dd>Maria Mäklare <span class="muted ids">({AGENT})</span></dd>'),
        (ESTATE, f"<dd>{STRANGER}</dd>"),  # GetUser does not know the id: the id itself
    ],
)
def test_the_broker_is_shown_by_name(en_client, credential, served, contact_id, shown):
    html = detail(en_client, credential, contact_id)
    assert f"<dt>Broker</dt>{shown}" in html


@pytest.mark.django_db
def test_the_users_are_asked_for_once_an_hour(credential, served, monkeypatch):
    now = time.time()
    for elapsed, asked in [
        (0, 1),
        (60, 1),
        (USERS_CACHE_SECONDS - 60, 1),
        (USERS_CACHE_SECONDS + 60, 2),
    ]:
        monkeypatch.setattr(time, "time", lambda elapsed=elapsed: now + elapsed)
        agent = agent_get(credential=credential, agent_id=AGENT.lower())
        assert agent is not None and agent.display_name == "Maria Mäklare"
        assert len(calls(served, "users")) == asked, elapsed


@pytest.mark.django_db
def test_a_failing_user_list_shows_the_broker_by_id(en_client, credential, served):
    # Everything else is in the cache already: the page's one call is GetUser, and it fails.
    contacts_lookup(credential=credential, ids=[COMPANY, ANNA, MISSING])
    relations_get(credential=credential, contact_id=COMPANY)
    served.configure(fault="500")
    served.stats.reset()
    html = detail(en_client, credential, COMPANY)
    assert [(r.endpoint, r.status) for r in served.stats.requests] == [("users", 500)]
    assert f"<dt>Broker</dt><dd>{AGENT}</dd>" in html
    assert people(html)[0][:2] == ("Company signatory", f"[Anna Berg]({link(ANNA, credential)})")
    # A failure is not cached: once GetUser answers, the name is shown.
    served.configure(fault=None)
    assert "<dt>Broker</dt><dd>Maria Mäklare" in detail(en_client, credential, COMPANY)


# --- failures -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_failing_relations_call_still_shows_the_contact(en_client, credential, served):
    contacts_lookup(credential=credential, ids=[COMPANY])  # the contact itself is in the cache
    served.configure(fault="503")
    html = detail(en_client, credential, COMPANY)
    assert "<h1>Bolaget AB" in html
    assert cells(section(html)) == (
        "People around this contact The people around this contact could not be fetched. "
        "Vitec had an internal error. Try again in a while."
    )
    # The failure is not cached: the next view lists the people.
    served.configure(fault=None)
    assert people(detail(en_client, credential, COMPANY))[0][0] == "Company signatory"


@pytest.mark.django_db
def test_the_people_shown_are_in_the_audit_trail(en_client, credential, served):
    detail(en_client, credential, ESTATE)
    event = AuditEvent.objects.get(action=AuditEvent.Action.CONTACT_VIEW)
    assert event.contact_ids == [ESTATE]
    assert event.details == {"related_ids": [ANNA, GRETA]}
