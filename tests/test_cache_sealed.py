"""Redis holds no readable personal data and no session key: every key and raw value (contacts,
sessions, a cached page's markup) is read back with redis-py after real pages were served, and
searched for what must not be there.

Also: cached values survive a rotation of CREDENTIAL_KEYS (new key first, old kept), and whatever
else sits under a cache key (garbage, an old plain pickle, a pickle that would run code, another
entry's sealed value) is a miss and never a 500. Expected contacts come from the sandbox's own
records (the `reference` fixture, tests/oracle.py).
"""

from __future__ import annotations

import hashlib
import pickle
import re

import pytest
from cryptography.fernet import Fernet
from django.test import Client
from django.urls import reverse

from contacts.vitec.parsing import parse_contact
from crmviewer.sealing import MISSING, seal, unseal
from tests import oracle
from tests.dashboard_fixtures import (
    cid,
    contact_calls,
    escaped,
    ids_range,
    ids_sent,
    make_credential,
    missing_id,
    page_html,
)
from tests.oracle import Record
from tests.redis_fixtures import log_in

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

LOGIN = reverse("login")
LOOKUP = reverse("contacts:lookup")
_DIGITS = re.compile(r"\D")


def logged_in(user) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    log_in(client, user)
    return client


def readable(contact: Record) -> set[str]:
    """What a reader of Redis must not find about a contact: its id, name, personnummer (as given
    and as digits), phone numbers (as given and as digits) and e-mail addresses."""
    found = {contact["id"], oracle.name(contact), *oracle.emails(contact)}
    for number in (oracle.personnummer(contact), *oracle.phones(contact)):
        if number:
            found |= {number, oracle.digits(number)}
    return {text for text in found if len(text) >= 6}  # long enough not to occur by chance


def test_redis_holds_no_readable_contact_data_nor_session_key(
    redis_cache,
    login_broker,
    credential,
    vitec,
    reference,
):
    client = logged_in(login_broker)
    ids = ids_range(1, 150)  # more than a URL carries: the list is kept in the database
    unknown = missing_id(99999)
    response = client.post(LOOKUP, {"credential": credential.pk, "ids": "\n".join([*ids, unknown])})
    assert response.status_code == 302 and "list=" in response.url
    page = client.get(response.url)
    assert page.status_code == 200
    assert escaped(oracle.name(reference[ids[0]])) in page_html(page)
    detail = client.get(reverse("contacts:detail", args=[ids[1]]), {"credential": credential.pk})
    assert escaped(oracle.name(reference[ids[1]])) in detail.content.decode()
    # The cache is in use: the same page again asks Vitec nothing.
    vitec.stats.reset()
    assert client.get(response.url).status_code == 200
    assert contact_calls(vitec) == []

    items = redis_cache.dump()
    keys = b"\n".join(key for key, _ in items)
    values = b"\n".join(value for _, value in items)
    assert len(items) >= len(ids) + 3  # contacts, the unknown id, categories, the session
    session_key = client.cookies["sessionid"].value
    forbidden = {session_key, unknown}
    for contact_id in ids:
        forbidden |= readable(reference[contact_id])
        # Nor an unkeyed hash of the id, which anyone could compute for a guessed id.
        forbidden.add(hashlib.sha256(contact_id.encode()).hexdigest()[:40])
    for text in forbidden:
        raw = text.encode()
        assert raw not in keys, f"{text!r} in a key name"
        assert raw not in values, f"{text!r} in a value"
    assert b"contacts.vitec.models" not in values  # no pickled contact either


def test_cached_contacts_still_read_after_a_key_rotation(
    redis_cache,
    broker,
    vitec,
    reference,
    settings,
):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIAL_KEYS = [old]
    credential = make_credential(broker)
    client = Client()
    client.force_login(broker)
    params = {"credential": credential.pk, "ids": ",".join(ids_range(1, 30))}
    assert client.get(LOOKUP, params).status_code == 200

    settings.CREDENTIAL_KEYS = [new, old]  # README: the new key first, the old one kept
    vitec.stats.reset()
    page = client.get(LOOKUP, params)
    assert page.status_code == 200
    assert escaped(oracle.name(reference[cid(30)])) in page.content.decode()
    assert vitec.stats.requests == []  # sealed with the old key, read with [new, old]

    # Unit level: the first key seals, every key unseals, an unknown key does not.
    settings.CREDENTIAL_KEYS = [old]
    token = seal(["Anna"], purpose="contacts", key="k")
    settings.CREDENTIAL_KEYS = [new, old]
    assert unseal(token, purpose="contacts", key="k") == ["Anna"]
    assert unseal(seal(["Anna"], purpose="contacts", key="k"), purpose="contacts", key="k") == [
        "Anna"
    ]
    settings.CREDENTIAL_KEYS = [new]
    assert unseal(token, purpose="contacts", key="k") is MISSING
    # Bound to its purpose and key: a value never reads as another one.
    settings.CREDENTIAL_KEYS = [new, old]
    assert unseal(token, purpose="sessions", key="k") is MISSING
    assert unseal(token, purpose="contacts", key="other") is MISSING


tripped: list[str] = []


def _tripwire(*args) -> str:
    tripped.append("ran")
    return "pwned"


class RunsCode:
    """A pickle that calls _tripwire when loaded: what a writer to Redis could plant."""

    def __reduce__(self):
        return (_tripwire, ())


def test_anything_else_under_a_cache_key_is_a_miss_never_a_500(
    redis_cache,
    broker,
    credential,
    vitec,
    reference,
):
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(broker)
    ids = ids_range(1, 4)
    params = {"credential": credential.pk, "ids": ",".join(ids)}
    assert client.get(LOOKUP, params).status_code == 200
    raw = redis_cache.client()
    contact_keys = sorted(key for key, _ in redis_cache.dump() if b":contact:" in key)
    assert len(contact_keys) == len(ids)
    first_value = raw.get(contact_keys[0])
    planted = [
        b"\x00not a pickle at all",
        pickle.dumps(parse_contact(reference[ids[0]])),  # what the cache held before sealing
        pickle.dumps(RunsCode()),
        first_value,  # a sealed value moved to another contact's key
    ]
    for key, value in zip(contact_keys[1:], planted[1:], strict=True):
        raw.set(key, value)
    raw.set(contact_keys[0], planted[0])
    for key in (key for key, _ in redis_cache.dump() if b":session:" in key):
        raw.set(key, b"\x80\x05garbage")  # the session: read from the database instead

    vitec.stats.reset()
    page = client.get(LOOKUP, params)
    assert page.status_code == 200  # still logged in, no 500
    text = page.content.decode()
    for contact_id in ids:
        assert escaped(oracle.name(reference[contact_id])) in text
    assert sorted(ids_sent(vitec)) == sorted(ids)  # every planted entry was a miss: asked again
    assert tripped == []
    # ... and Vitec's answers replaced them: the next page comes from the cache.
    vitec.stats.reset()
    assert client.get(LOOKUP, params).status_code == 200
    assert contact_calls(vitec) == []
