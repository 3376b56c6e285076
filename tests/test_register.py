"""The office register (issue 11): syncs over real HTTP against the sandbox, and the list page
served from the register.

Expectations come from the sandbox's own records (tests/oracle.py) or are written by hand. The
whole customer is synced once per test that needs it (M1002: the sandbox's second office).
"""

from __future__ import annotations

import pytest
from django.utils import translation

from contacts.models import AuditEvent, RegisterContact, RegisterSync, VitecCredential
from contacts.services import sync
from contacts.services.ordering import fold, swedish_sort_key
from contacts.services.register_store import contact_of
from tests import oracle
from tests.dashboard_fixtures import make_credential

CUSTOMER = "M1002"
LOOKUP = "/contacts/"

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def test_the_first_sync_stores_every_contact_and_no_personnummer_in_clear(synced):
    records = oracle.records(CUSTOMER)
    rows = {row.contact_id: row for row in RegisterContact.objects.filter(customer_id=CUSTOMER)}
    assert set(rows) == set(records)
    state = RegisterSync.objects.get(customer_id=CUSTOMER)
    assert state.status == "done" and state.ready and state.total == len(records)
    assert synced.standing == VitecCredential.Standing.ACCEPTED
    for contact_id, record in list(records.items())[:300]:
        row = rows[contact_id]
        assert row.name == oracle.name(record)
        number = oracle.personnummer(record)
        assert contact_of(row).id == contact_id
        if number:
            # Only sealed: not in the stored contact, not in any searched column.
            digits = oracle.digits(number)
            assert digits not in str(row.data) and digits not in row.search_text
            assert number not in row.personnummer_sealed
            assert getattr(contact_of(row), "social_security_number", None) == number


def test_an_incremental_sync_fetches_only_what_changed(synced, vitec):
    first, second = list(oracle.records(CUSTOMER))[:2]
    vitec.contact_update(CUSTOMER, first, {"lastName": "Åberg-Östlund"})
    vitec.contact_remove(CUSTOMER, second)
    vitec.stats.reset()
    report = sync.sync_customer(CUSTOMER)
    assert report.mode == "incremental" and report.fetched == 1
    assert len(vitec.stats.requests) <= 3  # the listing since the last sync, one batch
    row = RegisterContact.objects.get(customer_id=CUSTOMER, contact_id=first)
    assert "aberg-ostlund" in row.search_text
    # A removal is not in a changed-since listing: the full reconcile drops it.
    assert RegisterContact.objects.filter(contact_id=second).exists()
    full = sync.sync_customer(CUSTOMER, full=True)
    assert full.deleted == 1 and not RegisterContact.objects.filter(contact_id=second).exists()


def test_an_interrupted_sync_keeps_its_progress(office, vitec, monkeypatch):
    stored: list[int] = []
    real = sync.store_contacts

    def store_then_crash(customer_id, contacts):
        if len(stored) == 2:
            raise RuntimeError("the worker was stopped")
        stored.append(real(customer_id, contacts))
        return stored[-1]

    monkeypatch.setattr(sync, "store_contacts", store_then_crash)
    with pytest.raises(RuntimeError):
        sync.sync_customer(CUSTOMER)
    kept = RegisterContact.objects.filter(customer_id=CUSTOMER).count()
    assert kept == sum(stored) == 2 * sync.chunk_ids()
    monkeypatch.setattr(sync, "store_contacts", real)
    report = sync.sync_customer(CUSTOMER)
    assert report.fetched == len(oracle.records(CUSTOMER)) - kept  # only what was missing


def test_one_sync_per_customer_at_a_time(office):
    RegisterSync.objects.create(customer_id=CUSTOMER)
    assert sync._lease_take(CUSTOMER, "another-server:1")
    report = sync.sync_customer(CUSTOMER)
    assert report.skipped and "another sync" in report.summary()
    assert not RegisterContact.objects.filter(customer_id=CUSTOMER).exists()


def test_a_refused_credential_is_skipped_for_the_next(broker, vitec, django_user_model):
    colleague = django_user_model.objects.create_user("colleague", password="x-Secret-123")
    wrong = make_credential(broker, customer_id=CUSTOMER, password="wrong")
    right = make_credential(colleague, customer_id=CUSTOMER)
    report = sync.sync_customer(CUSTOMER)
    assert report.error == ""
    wrong.refresh_from_db()
    right.refresh_from_db()
    assert wrong.standing == VitecCredential.Standing.REFUSED
    assert right.standing == VitecCredential.Standing.ACCEPTED


def test_swedish_order_and_folding():
    names = ["Öberg", "Zetterlund", "Åkesson", "Andersson", "Ängström", "Ericsson"]
    expected = ["Andersson", "Ericsson", "Zetterlund", "Åkesson", "Ängström", "Öberg"]
    assert sorted(names, key=swedish_sort_key) == expected
    assert fold("Öberg-Ähman  i Göteborg") == "oberg-ahman i goteborg"


def test_the_list_page_browses_and_searches_the_register(synced, en_client):
    records = oracle.records(CUSTOMER)
    person = next(r for r in records.values() if r["type"] == "Person" and r.get("lastName"))
    with translation.override("en"):
        page = en_client.get(LOOKUP, {"credential": synced.pk}).content.decode()
    assert f"{len(records)} contacts" in page
    term = fold(person["lastName"]).split(" ")[0]
    response = en_client.get(LOOKUP, {"credential": synced.pk, "q": term})
    body = response.content.decode()
    assert oracle.name(person) in body
    event = AuditEvent.objects.filter(action="register_view").latest("pk")
    assert event.details["filters"]["q"] == term


def test_a_personnummer_search_finds_the_one_contact_and_is_not_stored(synced, en_client):
    records = oracle.records(CUSTOMER)
    person = next(r for r in records.values() if oracle.swedish_personnummer(r))
    number = oracle.digits(oracle.personnummer(person))
    response = en_client.get(LOOKUP, {"credential": synced.pk, "q": number})
    body = response.content.decode()
    assert "1 contact" in body and oracle.name(person) in body
    event = AuditEvent.objects.filter(action="register_view").latest("pk")
    assert number[-10:] not in str(event.details)
