"""The people around a contact and the office's users (issue 10, item 5): ContactRelations and
GetUser parsed from every shape Vitec may send, and fetched over real HTTP from the sandbox with
hand-written payloads (`served`), through the client's one request path (retries, errors)."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree

from contacts.vitec.errors import NotFoundError
from contacts.vitec.models import ContactRelation, ContactRelations, RelationType, VitecUser
from contacts.vitec.parsing import (
    parse_contact_relations,
    parse_relation_type,
    parse_users,
    xml_to_data,
)
from tests.dashboard_fixtures import serve_for_m1001

COMPANY = "ADRC0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C0"
SIGNATORY = "ADR5151515151515151515151515151515A"
LAWYER = "ADR1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A"
AGENT = "HANE99C53F2DE4F489AB1E464D0F9AFFACD"


# --- parsing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("EstateParty", RelationType.ESTATE_PARTY),
        ("companySignatory", RelationType.COMPANY_SIGNATORY),  # names in any letter case
        (2, RelationType.ESTATE_PARTY),
        (3, RelationType.COMPANY_SIGNATORY),
        (4, RelationType.COMPANY_CONTACT_PERSON),
        (5, RelationType.POWER_OF_ATTORNEY),
        (6, RelationType.GUARDIAN),
        (7, RelationType.LIMITED_GUARDIAN),
        (8, RelationType.REPRESENTATIVE),
        ("9", RelationType.EXECUTOR_UNDER_THE_WILL),  # a number as text (XML)
        (10, RelationType.ESTATE_ADMINISTRATOR),
        (100, RelationType.DECEASED),
        # Unknown values are kept as Vitec wrote them, never a crash.
        ("Trustee", "Trustee"),
        (42, "42"),
        (1, "1"),
        (None, ""),
        ({"name": "EstateParty"}, ""),
    ],
)
def test_relation_types_from_names_numbers_and_unknown_values(value, expected):
    parsed = parse_relation_type(value)
    assert parsed == expected
    assert isinstance(parsed, RelationType) == isinstance(expected, RelationType)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            {
                "relations": [{"relation": "CompanySignatory", "contactId": SIGNATORY}],
                "reverseRelations": [{"relation": 5, "contactId": LAWYER}],
            },
            ContactRelations(
                relations=(ContactRelation(RelationType.COMPANY_SIGNATORY, SIGNATORY),),
                reverse_relations=(ContactRelation(RelationType.POWER_OF_ATTORNEY, LAWYER),),
            ),
        ),
        ({}, ContactRelations()),
        ({"relations": None, "reverseRelations": None}, ContactRelations()),
        # One object instead of a list of one; keys in XML's PascalCase.
        (
            {"Relations": {"Relation": "Guardian", "ContactId": LAWYER}},
            ContactRelations(relations=(ContactRelation(RelationType.GUARDIAN, LAWYER),)),
        ),
        # Entries that name nobody, or are no objects at all, are left out.
        (
            {
                "relations": [
                    {"relation": "Guardian"},
                    {"relation": "Guardian", "contactId": None},
                    {"relation": "Guardian", "contactId": "  "},
                    "ADR00",
                    None,
                    {"relation": None, "contactId": SIGNATORY},
                ],
                "reverseRelations": "none",
            },
            ContactRelations(relations=(ContactRelation("", SIGNATORY),)),
        ),
        ([], None),
        (None, None),
        ("relations", None),
    ],
)
def test_contact_relations_from_odd_shapes(answer, expected):
    assert parse_contact_relations(answer) == expected


def test_contact_relations_from_xml():
    body = b"""<ContactRelations xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
      <Relations>
        <ContactRelation><ContactId>ADR5151515151515151515151515151515A</ContactId>
          <Relation>CompanySignatory</Relation></ContactRelation>
      </Relations>
      <ReverseRelations i:nil="true"/>
    </ContactRelations>"""
    parsed = parse_contact_relations(xml_to_data(ElementTree.fromstring(body)))
    assert parsed == ContactRelations(
        relations=(ContactRelation(RelationType.COMPANY_SIGNATORY, SIGNATORY),)
    )


USER = {
    "userId": AGENT,
    "userName": "Maria Mäklare",
    "title": "Fastighetsmäklare",
    "emailAddress": "maria@maklarbyran.se",
    "cellPhone": "070-123 45 67",
    "archived": False,
}
MARIA = VitecUser(
    user_id=AGENT,
    name="Maria Mäklare",
    title="Fastighetsmäklare",
    email="maria@maklarbyran.se",
    cell_phone="070-123 45 67",
    archived=False,
)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ([USER], [MARIA]),
        (USER, [MARIA]),  # one user on its own, not in a list
        (
            [{"userId": "HAN1", "userName": None, "archived": "true"}, {"userName": "No id"}, 7],
            [VitecUser(user_id="HAN1", archived=True)],
        ),
        ({"userName": "No id"}, []),
        ([], []),
        (None, None),
        ("users", None),
    ],
)
def test_users_from_odd_shapes(answer, expected):
    assert parse_users(answer) == expected


# --- over HTTP ------------------------------------------------------------------------------------


@pytest.fixture
def served(monkeypatch, sandbox):
    """Customer M1001's sandbox data with the relations and users above, and its company."""

    company = {"id": COMPANY, "type": "Company", "customerId": "M1001", "name": "Bolaget AB"}
    serve_for_m1001(
        monkeypatch,
        {COMPANY: company},
        lambda data: {
            "relations": {
                **data.relations,
                COMPANY: (
                    {"relation": "CompanySignatory", "contactId": SIGNATORY},
                    {"relation": 8, "contactId": LAWYER},
                    {"relation": "Trustee", "contactId": LAWYER},
                ),
            },
            "reverse_relations": {
                **data.reverse_relations,
                COMPANY: ({"relation": 100, "contactId": SIGNATORY},),
            },
            "users": (USER, {**USER, "userId": "HAN2", "userName": "Per", "archived": True}),
        },
    )
    return sandbox


def test_relations_are_fetched_typed(make_client, served):
    relations = make_client().fetch_relations("M1001", COMPANY.lower())
    assert relations == ContactRelations(
        relations=(
            ContactRelation(RelationType.COMPANY_SIGNATORY, SIGNATORY),
            ContactRelation(RelationType.REPRESENTATIVE, LAWYER),
            ContactRelation("Trustee", LAWYER),
        ),
        reverse_relations=(ContactRelation(RelationType.DECEASED, SIGNATORY),),
    )
    (call,) = served.stats.requests
    assert call.raw_path == f"/CRM/Contact/M1001/{COMPANY.lower()}/ContactRelations"


def test_relations_of_an_unknown_contact_raise_not_found(make_client, served):
    with pytest.raises(NotFoundError) as raised:
        make_client().fetch_relations("M1001", "ADR00000000000000000000000000000000")
    assert raised.value.status == 404
    assert raised.value.attempts == 1  # a 404 is never retried


def test_an_id_that_would_change_the_path_is_encoded(make_client, served):
    with pytest.raises(NotFoundError):
        make_client().fetch_relations("M1001", "../M1002")
    (call,) = served.stats.requests
    assert call.raw_path == "/CRM/Contact/M1001/..%2FM1002/ContactRelations"


def test_users_are_fetched_typed_with_the_customer_in_the_query(make_client, served):
    users = make_client().fetch_users("M1001")
    assert users == [
        MARIA,
        VitecUser(user_id="HAN2", name="Per", **_rest_of_maria(), archived=True),
    ]
    (call,) = served.stats.requests
    assert call.raw_path == "/User/GetUser?CustomerId=M1001"


def _rest_of_maria() -> dict[str, str]:
    return {"title": MARIA.title, "email": MARIA.email, "cell_phone": MARIA.cell_phone}


@pytest.mark.parametrize("fetch", ["relations", "users"])
def test_both_calls_retry_like_every_other(make_client, served, sleeps, fetch):
    """Through the client's one request path: a 503 with Retry-After is waited out and
    retried, and the second answer is read."""
    served.configure(fault="503", fault_count=1, retry_after=3)
    client = make_client()
    result = (
        client.fetch_relations("M1001", COMPANY)
        if fetch == "relations"
        else client.fetch_users("M1001")
    )
    assert result  # the answer of the second attempt
    assert sleeps.waits == [3.0]
    assert [r.status for r in served.stats.requests] == [503, 200]
