"""The pages around the office register: a contact's page read from it, the lookup page while the
register is being built (its progress, and Vitec's own search meanwhile), and the admin's view
of each customer's syncs.

Expectations come from the sandbox's records (tests/oracle.py) or are written by hand.
"""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from urllib.parse import parse_qs

import pytest
from django.urls import reverse
from django.utils.html import escape

from contacts.models import AuditEvent, RegisterContact, RegisterSync, VitecCredential
from contacts.services import lookup as lookup_service
from contacts.services import sync
from tests import oracle
from tests.dashboard_fixtures import contact_calls

CUSTOMER = "M1002"
LOOKUP = "/contacts/"

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def _person(customer: str = CUSTOMER) -> oracle.Record:
    return next(
        r
        for r in oracle.records(customer).values()
        if r["type"] == "Person" and r.get("lastName") and oracle.email(r)
    )


def test_a_contacts_page_is_read_from_the_register_without_fetching_it(synced, en_client, vitec):
    person = _person()
    vitec.stats.reset()
    page = en_client.get(f"/contacts/{person['id']}/", {"credential": synced.pk})
    body = page.content.decode()
    assert page.status_code == 200 and oracle.name(person) in body
    assert oracle.email(person) in body
    assert contact_calls(vitec) == []  # relations and the broker's name may still be asked
    event = AuditEvent.objects.filter(action="contact_view").latest("pk")
    assert event.contact_ids == [person["id"]]


def test_a_contact_the_register_lacks_is_fetched_from_vitec(synced, en_client, vitec):
    person = _person()
    RegisterContact.objects.filter(contact_id=person["id"]).delete()
    vitec.stats.reset()
    page = en_client.get(f"/contacts/{person['id'].lower()}/", {"credential": synced.pk})
    assert oracle.name(person) in page.content.decode()
    assert len(contact_calls(vitec)) == 1


def test_while_the_register_is_built_the_lookup_page_shows_its_progress(office, en_client):
    records = list(oracle.records(CUSTOMER))
    stored = lookup_service.contacts_lookup(credential=office, ids=records[:30]).result.contacts
    sync.store_contacts(CUSTOMER, stored)
    RegisterSync.objects.create(customer_id=CUSTOMER, status="running", total=len(records))
    body = en_client.get(LOOKUP, {"credential": office.pk}).content.decode()
    assert "The office register for this customer is being built" in body
    assert f"30 of {len(records)} contacts fetched from Vitec." in body
    assert 'name="ids"' in body and 'id="vitec-search"' in body  # lookups and search meanwhile


def test_before_the_register_vitecs_search_finds_contacts(office, en_client, vitec):
    person = _person()
    short = en_client.get(LOOKUP, {"credential": office.pk, "q": "abcd"}).content.decode()
    assert "Vitec searches for at least 5 characters" in short
    assert not [r for r in vitec.stats.requests if r.endpoint == "search"]
    body = en_client.get(LOOKUP, {"credential": office.pk, "q": oracle.email(person)})
    assert oracle.name(person) in body.content.decode()
    event = AuditEvent.objects.filter(action="lookup").latest("pk")
    assert person["id"] in event.contact_ids

    # The broker switches to Swedish on the results: the same page comes back, Vitec is not asked.
    vitec.stats.reset()
    switched = en_client.post(
        "/i18n/setlang/", {"language": "sv", "next": body.wsgi_request.get_full_path()}
    )
    again = en_client.get(switched["Location"]).content.decode()
    assert oracle.name(person) in again and "Sök i Vitec" in again
    assert vitec.stats.requests == []


def test_a_refused_credential_is_told_why_the_register_is_closed(synced, en_client):
    VitecCredential.objects.filter(pk=synced.pk).update(standing="refused")
    body = en_client.get(LOOKUP, {"credential": synced.pk}).content.decode()
    assert "Vitec refused the stored password for this customer" in body
    assert 'id="register-filters"' not in body


def test_the_admin_lists_each_customers_sync_and_queues_one(synced, admin_client):
    changelist = reverse("admin:contacts_registersync_changelist")
    english = {"Accept-Language": "en"}
    body = admin_client.get(changelist, headers=english).content.decode()
    total = len(oracle.records(CUSTOMER))
    assert CUSTOMER in body and str(total) in body and "Synced" in body
    state = RegisterSync.objects.get(customer_id=CUSTOMER)
    response = admin_client.post(
        changelist,
        {"action": "action_sync_now", "_selected_action": [state.pk]},
        headers=english,
        follow=True,
    )
    assert "1 sync queued." in response.content.decode()
    state.refresh_from_db()
    assert state.requested_at is not None


def test_the_csv_holds_exactly_the_filtered_register_every_page(synced, en_client, vitec):
    companies = {i for i, r in oracle.records(CUSTOMER).items() if r["type"] == "Company"}
    assert len(companies) > 50  # more than one page
    params = {"credential": synced.pk, "type": "Company"}
    page = en_client.get(LOOKUP, params).content.decode()
    vitec.stats.reset()
    response = en_client.post(reverse("contacts:export_csv"), {**params, "delimiter": "comma"})
    body = b"".join(response.streaming_content).decode("utf-8").removeprefix("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(body, newline="")))
    ids = [row[header.index("Contact id")] for row in rows]
    assert set(ids) == companies and len(ids) == len(companies)
    first_page = [oracle.name(oracle.records(CUSTOMER)[i]) for i in ids[:50]]
    positions = [page.index(f">{escape(name)}<") for name in first_page]
    assert positions == sorted(positions)  # the file's order is the page's
    assert vitec.stats.requests == []  # from the register: nothing asked of Vitec


def test_a_category_tag_filters_the_register_by_its_category(synced, en_client):
    page = en_client.get(LOOKUP, {"credential": synced.pk, "type": "Person"}).content.decode()
    link = re.search(r'<a class="tag" href="\?([^"]+)"', page)
    assert link is not None
    params = {k: v[-1] for k, v in parse_qs(unescape(link.group(1))).items()}
    assert params["type"] == "Person"  # the other filters are kept
    in_category = [
        r
        for r in oracle.records(CUSTOMER).values()
        if r["type"] == "Person" and params["category"] in oracle.category_ids(r)
    ]
    body = en_client.get(LOOKUP, params).content.decode()
    assert f"{len(in_category)} contacts" in body
