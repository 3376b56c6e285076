"""A cached lookup page is cheap: its table and filters are rendered once and cached beside the
contacts they show (contacts/templatetags/sealed_cache.py), and cached contacts are unsealed once
a process (crmviewer.sealing.UnsealedMemo). What must never happen: a page showing what its data
no longer says, or another view's, column choice's or language's markup.

Expected names come from the sandbox's own records (tests/oracle.py) or are written here.
"""

from __future__ import annotations

import re
import time
from html import unescape

import pytest
from cryptography.fernet import Fernet
from django.test import Client
from django.urls import reverse

from contacts import services
from contacts.services import presentation
from crmviewer import sealing
from crmviewer.sealing import MISSING, UnsealedMemo, seal
from tests import oracle
from tests.dashboard_fixtures import contact_calls, ids_range, make_credential

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

LOOKUP = reverse("contacts:lookup")
_ROW_NAME = re.compile(r'<th scope="row"><a href="[^"]*">(.*?)</a>')


def names(response) -> list[str]:
    return [unescape(name) for name in _ROW_NAME.findall(response.content.decode())]


def headers(html: str) -> list[str]:
    """The table's column headers (a sortable one's text is in its link)."""
    found = re.findall(r'<th scope="col"[^>]*>(?:<a [^>]*>)?([^<]+)', html)
    return [header.strip() for header in found]


@pytest.fixture
def rows_built(monkeypatch) -> list[int]:
    """How many table rows were built, page by page (the real contact_row, counted)."""
    built: list[int] = []
    real = presentation.contact_row

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "contact_row", counting)
    return built


def test_a_cached_page_is_rendered_once_and_follows_its_data(
    en_client, credential, vitec, reference, rows_built
):
    ids = ids_range(1, 30)
    params = {"customer": credential.customer_id, "ids": ",".join(ids), "sort": "name"}
    cold = en_client.get(LOOKUP, params)  # from Vitec: nothing cached to key the markup by
    assert len(rows_built) == 30
    first = en_client.get(LOOKUP, params)  # from the cache: rendered, and cached
    assert len(rows_built) == 60
    vitec.stats.reset()
    again = en_client.get(LOOKUP, params)
    assert len(rows_built) == 60  # no row built: the table came from the cache
    assert contact_calls(vitec) == []
    assert names(cold) == names(first) == names(again)
    assert sorted(names(again)) == sorted(oracle.name(reference[i]) for i in ids)

    # Vitec's data changes and the broker refreshes: the page shows the new name at once.
    person = next(i for i in ids if reference[i]["type"] == "Person")
    vitec.contact_update(credential.customer_id, person, {"lastName": "Åkerlundh-Testsson"})
    assert "Åkerlundh-Testsson" not in " ".join(names(en_client.get(LOOKUP, params)))
    refresh = en_client.post(LOOKUP, {**params, "refresh": "1"})
    assert refresh.status_code == 302
    after = en_client.get(refresh["Location"])
    assert any("Åkerlundh-Testsson" in name for name in names(after))
    assert len(names(after)) == 30


def test_the_cached_markup_is_the_views_own(en_client, broker, credential, vitec, reference):
    ids = ids_range(1, 60)
    params = {"customer": credential.customer_id, "ids": ",".join(ids)}
    for _ in range(2):  # the second of each is served from the cached markup
        page_one = en_client.get(LOOKUP, params)
        page_two = en_client.get(LOOKUP, {**params, "page": "2"})
        persons = en_client.get(LOOKUP, {**params, "type": "Person"})
    assert len(names(page_one)) == 50 and len(names(page_two)) == 10
    assert set(names(page_one)).isdisjoint(names(page_two))
    expected_persons = {oracle.name(reference[i]) for i in ids if reference[i]["type"] == "Person"}
    assert set(names(persons)) == expected_persons

    # Another language: the same view's headers in Swedish, not the English markup cached above.
    swedish = Client(headers={"Accept-Language": "sv"})
    swedish.force_login(broker)
    for _ in range(2):
        sv = swedish.get(LOOKUP, params).content.decode()
    assert "Telefon" in headers(sv) and "Phone" not in headers(sv)
    assert 'id="filter-type"' in sv and "Alla typer" in sv

    # Another column choice: the table has the new column at once.
    saved = en_client.post(reverse("contacts:columns"), {"columns": ["name", "lead_score"]})
    assert saved.status_code == 302
    narrow = en_client.get(LOOKUP, params).content.decode()
    assert headers(narrow) == ["Name", "Lead score"]


def test_another_broker_never_gets_the_cached_markup(en_client, credential, vitec, other_broker):
    ids = ids_range(1, 10)
    params = {"customer": credential.customer_id, "ids": ",".join(ids)}
    en_client.get(LOOKUP, params)
    assert len(names(en_client.get(LOOKUP, params))) == 10  # cached for the first broker
    make_credential(other_broker, customer_id="M1002")  # no credential for M1001
    other = Client(headers={"Accept-Language": "en"})
    other.force_login(other_broker)
    response = other.get(LOOKUP, params)
    assert response.status_code == 404
    assert names(response) == []


# --- unsealed once a process ----------------------------------------------------------------------


@pytest.fixture
def counted_decrypts(monkeypatch) -> list[bytes]:
    """Every token Fernet decrypts (the real decryption, counted)."""
    decrypted: list[bytes] = []
    real = sealing.MultiFernet.decrypt

    def counting(self, token, ttl=None):
        decrypted.append(token)
        return real(self, token, ttl)

    monkeypatch.setattr(sealing.MultiFernet, "decrypt", counting)
    return decrypted


def test_a_token_is_unsealed_once_while_it_is_valid(settings, counted_decrypts, monkeypatch):
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    memo = UnsealedMemo(size=2)
    value = ("Anna Andersson", "19121212-1212")
    token = seal(value, purpose="contacts", key="k1")
    first = memo.unseal(token, purpose="contacts", key="k1", max_age=60)
    second = memo.unseal(token, purpose="contacts", key="k1", max_age=60)
    assert first == value and second is first
    assert counted_decrypts == [token]

    # Bound as unseal is: another key, another purpose, a tampered token read nothing.
    assert memo.unseal(token, purpose="contacts", key="k2", max_age=60) is MISSING
    assert memo.unseal(token, purpose="sessions", key="k1", max_age=60) is MISSING
    assert memo.unseal(token[:-2] + b"AA", purpose="contacts", key="k1") is MISSING
    assert memo.unseal("not bytes", purpose="contacts", key="k1") is MISSING

    # Older than max_age: missing, remembered or not (the clock moved 61 s on).
    later = time.time() + 61
    monkeypatch.setattr(sealing.time, "time", lambda: later)
    assert memo.unseal(token, purpose="contacts", key="k1", max_age=60) is MISSING


def test_new_keys_unseal_anew_and_old_values_are_forgotten(settings, counted_decrypts):
    old = Fernet.generate_key().decode()
    settings.CREDENTIAL_KEYS = [old]
    memo = UnsealedMemo(size=2)
    tokens = [seal(n, purpose="contacts", key=f"k{n}") for n in range(3)]
    for n, token in enumerate(tokens):
        assert memo.unseal(token, purpose="contacts", key=f"k{n}") == n
    assert memo.unseal(tokens[2], purpose="contacts", key="k2") == 2
    assert len(counted_decrypts) == 3  # the last one was remembered
    assert memo.unseal(tokens[0], purpose="contacts", key="k0") == 0
    assert len(counted_decrypts) == 4  # the first was dropped: two are kept

    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]  # the old key removed
    assert memo.unseal(tokens[2], purpose="contacts", key="k2") is MISSING
