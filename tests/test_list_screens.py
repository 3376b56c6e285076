"""The list's screens around the contacts: the broker's choice of columns, the contacts they
opened lately, the SMS links beside mobile numbers, the cache of Vitec's search, and the hint on
the register page that unknown ids may be another customer's.

Over Django's test client against the real sandbox over HTTP. Expected values are written by
hand or read from the sandbox's own records (tests/oracle.py, the `reference` fixture).
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.core.cache import cache
from django.test import Client

from contacts.models import BrokerPreference, RegisterContact
from contacts.services import list_columns_save
from contacts.vitec.errors import ServerError
from tests import oracle
from tests.dashboard_fixtures import (
    BROKER_MESSAGES_EN,
    DEFAULT_LIST_HEADERS,
    cid,
    contact_calls,
    escaped,
    list_cell,
    make_credential,
    missing_id,
)

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

LOOKUP = "/contacts/"
COLUMNS = "/contacts/columns/"

DEFAULT_HEADERS = list(DEFAULT_LIST_HEADERS)
DEFAULT_KEYS = ["name", "type", "phone", "email", "city", "categories", "gdpr", "changed"]

_TABLE = re.compile(r'<table class="contacts">(.*?)</table>', re.S)
_HEADER = re.compile(r'<th scope="col"[^>]*>(.*?)</th>', re.S)
_ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
# A row's cells: the name (a <th>), then a <td> per column with its class and label.
_CELL = re.compile(r'<th scope="row">|<td class="col-([\w-]+)[^"]*" data-label="([^"]*)">')
_RECENT = re.compile(r'<ul class="recent">(.*?)</ul>', re.S)
_RECENT_ITEM = re.compile(r'<li><a href="/contacts/([^/"]+)/\?customer=(\w+)">(.*?)</a></li>')


def text(response) -> str:
    return response.content.decode()


def _table(page: str) -> str:
    match = _TABLE.search(page)
    assert match, "the page has no contacts table"
    return match.group(1)


def headers(page: str) -> list[str]:
    """The list's header cells as the broker reads them (sort links and arrows dropped)."""
    thead = _table(page).split("</thead>")[0]
    shown = [unescape(re.sub(r"<[^>]+>", "", h)) for h in _HEADER.findall(thead)]
    return [h.replace("▲", "").replace("▼", "").strip() for h in shown]


def row_cells(page: str) -> list[list[tuple[str, str]]]:
    """Each row's cells as (column key, label); the name cell is ("name", "")."""
    tbody = _table(page).split("<tbody>")[1]
    return [
        [(key or "name", unescape(label)) for key, label in _CELL.findall(row)]
        for row in _ROW.findall(tbody)
    ]


def recent(page: str) -> list[tuple[str, str, str]]:
    """The "Recently viewed" links: (contact id, customer, the name shown)."""
    match = _RECENT.search(page)
    if match is None:
        return []
    return [(i, c, unescape(n)) for i, c, n in _RECENT_ITEM.findall(match.group(1))]


def list_page(client: Client, customer: str = "M1001", **params) -> str:
    response = client.get(LOOKUP, {"customer": customer, **params})
    assert response.status_code == 200
    return text(response)


def lookup_page(client: Client, ids: list[str], customer: str = "M1001") -> str:
    return list_page(client, customer, ids=",".join(ids))


def open_contact(client: Client, contact_id: str, customer: str = "M1001") -> int:
    return client.get(f"/contacts/{contact_id}/", {"customer": customer}).status_code


def logged_in(user) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(user)
    return client


# Hand-picked contacts of M1001 (their phones read from the sandbox's records, checked below).
MOBILE_FIRST = 22  # Björn Karlsson: cell +46 73 947 36 25, home 08-134 50 42
STOCKHOLM_LINE = 86  # Fastighets AB Rask: switchboard 08-640 52 63
GOTHENBURG_LINE = 61  # Gabriella Larsson: 031-68 98 29
THREE = [cid(MOBILE_FIRST), cid(STOCKHOLM_LINE), cid(GOTHENBURG_LINE)]


# --- the column chooser ---------------------------------------------------------------------------


def test_a_new_broker_sees_the_default_columns_in_order(en_client, broker):
    page = lookup_page(en_client, THREE)
    assert headers(page) == DEFAULT_HEADERS
    cells = row_cells(page)
    assert len(cells) == 3
    expected = [("name", ""), *zip(DEFAULT_KEYS[1:], DEFAULT_HEADERS[1:], strict=True)]
    assert all(row == expected for row in cells)
    assert not BrokerPreference.objects.filter(user=broker).exists()  # nothing stored yet


def test_a_choice_sets_the_headers_and_cells_for_that_broker_only(
    en_client, broker, other_broker, reference
):
    # Chosen out of the list's order: shown in the list's order, the name first.
    response = en_client.post(
        COLUMNS, {"columns": ["changed", "city", "id_number", "lead_score"], "next": LOOKUP}
    )
    assert response.status_code == 302
    page = lookup_page(en_client, THREE)
    assert headers(page) == ["Name", "Org./personnummer", "City", "Lead score", "Changed"]
    expected = [
        ("name", ""),
        ("id_number", "Org./personnummer"),
        ("city", "City"),
        ("lead_score", "Lead score"),
        ("changed", "Changed"),
    ]
    assert row_cells(page) == [expected] * 3
    gothenburg = reference[cid(GOTHENBURG_LINE)]
    assert list_cell("city", "City", escaped(oracle.city(gothenburg))) in page
    assert 'class="col-phone' not in page and 'class="col-email' not in page
    assert BrokerPreference.objects.get(user=broker).columns == [
        "name",
        "id_number",
        "city",
        "lead_score",
        "changed",
    ]

    # Another broker of the same office still sees the default.
    make_credential(other_broker, customer_id="M1001")
    assert headers(lookup_page(logged_in(other_broker), THREE)) == DEFAULT_HEADERS


def test_reset_restores_the_default_and_stores_it_as_the_default(en_client, broker):
    en_client.post(COLUMNS, {"columns": ["city"]})
    assert headers(lookup_page(en_client, THREE)) == ["Name", "City"]
    en_client.post(COLUMNS, {"reset": "1", "columns": ["city"]})
    assert headers(lookup_page(en_client, THREE)) == DEFAULT_HEADERS
    # Stored as "the default" (empty), so that a later change of the default reaches the broker.
    assert BrokerPreference.objects.get(user=broker).columns == []


def test_ticking_exactly_the_default_columns_is_stored_as_the_default(en_client, broker):
    en_client.post(COLUMNS, {"columns": DEFAULT_KEYS[1:]})
    assert BrokerPreference.objects.get(user=broker).columns == []
    assert headers(lookup_page(en_client, THREE)) == DEFAULT_HEADERS


def test_unknown_keys_are_dropped_and_the_name_cannot_be_removed(en_client, broker):
    # "personnummer" and "id" are columns of the export only: never the list's, so never shown
    # (the full personnummer in particular).
    chosen = ["bogus", "personnummer", "id", "phone_e164", "<script>", "email"]
    en_client.post(COLUMNS, {"columns": chosen})
    page = lookup_page(en_client, THREE)
    assert headers(page) == ["Name", "E-mail"]
    assert row_cells(page) == [[("name", ""), ("email", "E-mail")]] * 3
    assert "col-personnummer" not in page and "col-bogus" not in page
    assert BrokerPreference.objects.get(user=broker).columns == ["name", "email"]


def test_an_empty_choice_keeps_the_name(en_client, broker):
    # Stored directly: nothing but the name.
    list_columns_save(broker, [])
    page = lookup_page(en_client, THREE)
    assert headers(page) == ["Name"]
    assert row_cells(page) == [[("name", "")]] * 3
    # Through the form (the name's box is disabled, so nothing at all is sent): the default.
    en_client.post(COLUMNS, {"next": LOOKUP})
    assert headers(lookup_page(en_client, THREE)) == DEFAULT_HEADERS


def test_next_on_the_list_page_is_followed(en_client):
    back = f"{LOOKUP}?customer=M1001&ids={cid(1)}%2C{cid(2)}&sort=-city"
    response = en_client.post(COLUMNS, {"columns": ["city"], "next": back})
    assert response.status_code == 302
    assert response["Location"] == back


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/",
        "https://evil.example/contacts/",
        "/admin/",
        f"/contacts/export.csv?customer=M1001&ids={cid(1)}",
        f"/contacts/{cid(1)}/?customer=M1001",
        "",
    ],
)
def test_next_anywhere_else_goes_to_the_list(en_client, broker, next_url):
    response = en_client.post(COLUMNS, {"columns": ["city"], "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == LOOKUP
    assert BrokerPreference.objects.get(user=broker).columns == ["name", "city"]  # still saved


def test_the_column_endpoint_takes_posts_only(en_client, broker):
    response = en_client.get(COLUMNS, {"columns": ["city"]})
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert not BrokerPreference.objects.filter(user=broker).exists()


def test_a_logged_out_visitor_is_sent_to_the_login_page(client, broker, credential):
    response = client.post(COLUMNS, {"columns": ["city"]})
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={COLUMNS}"
    assert not BrokerPreference.objects.exists()


def test_the_choice_applies_on_the_register_page(synced, en_client):
    en_client.post(COLUMNS, {"columns": ["type", "city", "advertising"]})
    page = list_page(en_client, "M1002")
    assert 'id="register-filters"' in page  # the register page, not the lookup page
    assert headers(page) == ["Name", "Type", "City", "Advertising"]
    cells = row_cells(page)
    assert len(cells) == 50  # a full first page
    expected = [("name", ""), ("type", "Type"), ("city", "City"), ("advertising", "Advertising")]
    assert all(row == expected for row in cells)


# --- recently viewed ------------------------------------------------------------------------------


def test_recently_viewed_lists_opened_contacts_newest_first_each_once(en_client, reference, vitec):
    first, second, third = cid(5), cid(11), cid(40)
    # The second contact opened again, its id typed in lower case: still the same contact.
    for contact_id in (first, second, third, second.lower()):
        assert open_contact(en_client, contact_id) == 200
    assert open_contact(en_client, missing_id(77)) == 404  # not found: not listed

    vitec.stats.reset()
    page = list_page(en_client)
    assert contact_calls(vitec) == []  # the names come from the cache, not from Vitec
    shown = [(i.upper(), customer, name) for i, customer, name in recent(page)]
    assert shown == [
        (second, "M1001", oracle.name(reference[second])),
        (third, "M1001", oracle.name(reference[third])),
        (first, "M1001", oracle.name(reference[first])),
    ]
    assert '<h2 id="recent-heading">Recently viewed</h2>' in page


def test_recently_viewed_never_asks_vitec_for_a_name(en_client, vitec):
    """Without the cache (expired) and without a register, a contact is shown by its id: the
    list page does not fetch it for its name."""
    first, second = cid(9), cid(15)
    for contact_id in (first, second):
        assert open_contact(en_client, contact_id) == 200
    cache.clear()
    vitec.stats.reset()
    page = list_page(en_client)
    assert contact_calls(vitec) == []
    assert recent(page) == [
        (second, "M1001", f'<span class="ids">{second}</span>'),
        (first, "M1001", f'<span class="ids">{first}</span>'),
    ]


def test_recently_viewed_shows_at_most_eight(en_client, reference, vitec):
    opened = [cid(n) for n in range(1, 11)]
    for contact_id in opened:
        assert open_contact(en_client, contact_id) == 200
    vitec.stats.reset()
    shown = recent(list_page(en_client))
    assert contact_calls(vitec) == []
    newest_first = opened[::-1][:8]
    assert shown == [(i, "M1001", oracle.name(reference[i])) for i in newest_first]


def test_recently_viewed_leaves_out_other_users_and_other_customers(
    en_client, broker, other_broker, reference
):
    mine, theirs, elsewhere = cid(6), cid(8), cid(3, "M1002")
    colleague = logged_in(other_broker)
    make_credential(other_broker, customer_id="M1001")
    make_credential(broker, customer_id="M1002")
    assert open_contact(colleague, theirs) == 200
    assert open_contact(en_client, mine) == 200
    assert open_contact(en_client, elsewhere, "M1002") == 200

    assert recent(list_page(en_client)) == [(mine, "M1001", oracle.name(reference[mine]))]
    # The other customer's list has its own, and the colleague theirs.
    assert recent(list_page(en_client, "M1002")) == [
        (elsewhere, "M1002", oracle.name(reference[elsewhere]))
    ]
    assert recent(list_page(colleague)) == [(theirs, "M1001", oracle.name(reference[theirs]))]


def test_a_broker_who_opened_nothing_sees_no_recent_section(en_client):
    assert 'id="recent-heading"' not in list_page(en_client)


def test_recently_viewed_on_the_register_page_is_named_from_the_register(
    synced, en_client, reference, vitec
):
    persons = [
        i for i, r in oracle.records("M1002").items() if r["type"] == "Person" and r["lastName"]
    ][:3]
    for contact_id in persons:
        assert open_contact(en_client, contact_id, "M1002") == 200
    # The register's name is the one shown (hand-written here, so it can come from nowhere else)
    # and a contact neither the register nor the cache knows is shown by its id.
    RegisterContact.objects.filter(customer_id="M1002", contact_id=persons[1]).update(
        name="Namn ur registret"
    )
    RegisterContact.objects.filter(customer_id="M1002", contact_id=persons[0]).delete()

    vitec.stats.reset()
    page = list_page(en_client, "M1002")
    assert 'id="register-filters"' in page
    assert contact_calls(vitec) == []
    assert recent(page) == [
        (persons[2], "M1002", oracle.name(reference[persons[2]])),
        (persons[1], "M1002", "Namn ur registret"),
        (persons[0], "M1002", f'<span class="ids">{persons[0]}</span>'),
    ]


# --- SMS links ------------------------------------------------------------------------------------


def test_the_hand_picked_numbers_are_those_of_the_sandbox(reference):
    """The numbers the SMS tests below expect, as the sandbox's records hold them."""
    assert oracle.phones(reference[cid(MOBILE_FIRST)]) == ["+46 73 947 36 25", "08-134 50 42"]
    assert oracle.phones(reference[cid(STOCKHOLM_LINE)]) == ["08-640 52 63"]
    assert oracle.phones(reference[cid(GOTHENBURG_LINE)]) == ["031-68 98 29"]


def test_the_list_has_an_sms_link_beside_a_mobile_number_only(en_client):
    page = lookup_page(en_client, THREE)
    mobile = (
        '<a href="tel:+46739473625">073-947 36 25</a> <a href="sms:+46739473625" class="sms" '
        'aria-label="Text 073-947 36 25">SMS</a>'
    )
    assert list_cell("phone", "Phone", mobile, nowrap=True) in page
    stockholm = '<a href="tel:+4686405263">08-640 52 63</a>'
    assert list_cell("phone", "Phone", stockholm, nowrap=True) in page
    gothenburg = '<a href="tel:+4631689829">031-68 98 29</a>'
    assert list_cell("phone", "Phone", gothenburg, nowrap=True) in page
    assert re.findall(r'href="(sms:[^"]*)"', page) == ["sms:+46739473625"]


def test_the_contact_page_has_an_sms_link_for_the_mobile_number_only(en_client):
    page = text(en_client.get(f"/contacts/{cid(MOBILE_FIRST)}/", {"customer": "M1001"}))
    assert (
        '<a href="sms:+46739473625" class="sms-link" aria-label="Text 073-947 36 25">SMS</a>'
        in page
    )
    assert '<a href="tel:+4681345042">08-134 50 42</a>' in page  # the landline, without one
    assert re.findall(r'href="(sms:[^"]*)"', page) == ["sms:+46739473625"]
    landline = text(en_client.get(f"/contacts/{cid(STOCKHOLM_LINE)}/", {"customer": "M1001"}))
    assert '<a href="tel:+4686405263">08-640 52 63</a>' in landline
    assert "sms:" not in landline and "sms-link" not in landline


# --- the cache of Vitec's search ------------------------------------------------------------------


def _searches(vitec) -> list:
    return [r for r in vitec.stats.requests if r.endpoint == "search"]


def test_the_same_search_again_asks_vitec_nothing(en_client, reference, vitec):
    person = reference[cid(MOBILE_FIRST)]
    term = oracle.email(person)
    assert term and len(term) >= 5
    first = list_page(en_client, q=term)
    assert escaped(oracle.name(person)) in first
    assert len(_searches(vitec)) == 1

    vitec.stats.reset()
    again = list_page(en_client, q=f"  {term.upper()}  ")
    assert escaped(oracle.name(person)) in again
    assert _searches(vitec) == []

    # Words spaced differently are the same term; another term is asked for.
    name = oracle.name(person)
    list_page(en_client, q=name)
    assert len(_searches(vitec)) == 1
    vitec.stats.reset()
    spaced = list_page(en_client, q="  " + "   ".join(name.casefold().split()) + " ")
    assert escaped(name) in spaced
    assert _searches(vitec) == []


def test_a_failed_search_is_asked_again_on_the_next_page(en_client, reference, vitec):
    person = reference[cid(MOBILE_FIRST)]
    term = oracle.email(person)
    vitec.configure(fault="500", fault_count=1)
    failed = list_page(en_client, q=term)
    assert escaped(BROKER_MESSAGES_EN[ServerError]) in failed
    assert escaped(oracle.name(person)) not in failed
    assert len(_searches(vitec)) == 1

    vitec.stats.reset()
    retried = list_page(en_client, q=term)
    assert len(_searches(vitec)) == 1  # asked again, not answered from a cached failure
    assert escaped(oracle.name(person)) in retried
    assert escaped(BROKER_MESSAGES_EN[ServerError]) not in retried


# --- the register page's hint for unknown ids -----------------------------------------------------


def test_unknown_ids_on_the_register_page_hint_at_another_customer(synced, broker, vitec):
    client = logged_in(broker)  # the broker has the M1002 credential only
    unknown = [missing_id(401), missing_id(402)]
    known = cid(7, "M1002")
    params = {"ids": ",".join([known, *unknown])}
    hint = (
        'These ids may belong to another customer: <a href="#id_customer">switch customer</a> '
        "and look them up again."
    )
    alone = list_page(client, "M1002", **params)
    assert "2 ids were not found in Vitec:" in alone
    assert "may belong to another customer" not in alone

    make_credential(broker, customer_id="M1001")
    two = list_page(client, "M1002", **params)
    assert "2 ids were not found in Vitec:" in two
    assert hint in two

    one_unknown = list_page(client, "M1002", ids=f"{known},{missing_id(403)}")
    assert "1 id was not found in Vitec:" in one_unknown
    assert (
        'This id may belong to another customer: <a href="#id_customer">switch customer</a> '
        "and look it up again."
    ) in one_unknown
