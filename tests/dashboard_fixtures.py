"""Fixtures and helpers shared by the dashboard tests (services, views, CSV export).

Import what a test module needs by name; pytest then finds the fixtures in that module.
Expected contact data comes from the sandbox's own generated records (`reference`, read with the
accessors of tests/oracle.py), never through the client, parsers or services under test.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import translation
from django.utils.html import escape

from contacts.models import VitecCredential
from contacts.services import sync
from contacts.vitec import errors
from contacts.vitec.sandbox import SandboxServer
from tests import oracle
from tests.oracle import Record

# The list's columns a new broker sees, in order, as their English headers (written by hand).
DEFAULT_LIST_HEADERS = (
    "Name",
    "Type",
    "Phone",
    "E-mail",
    "City",
    "Categories",
    "GDPR informed",
    "Changed",
)


def list_cell(key: str, label: str, inner: str, *, nowrap: bool = False) -> str:
    """A cell of the contacts list as the page writes it: its column's class, and its header as
    the label a phone's card shows beside the value."""
    classes = f"col-{key} nowrap" if nowrap else f"col-{key}"
    return f'<td class="{classes}" data-label="{label}">{inner}</td>'


def list_email(address: str) -> str:
    """An e-mail link of the list: the escaped address, free to wrap after the @ and before
    each dot (<wbr>), never inside a word."""
    shown = escape(address).replace("@", "@<wbr>").replace(".", "<wbr>.")
    return f'<a href="mailto:{escape(address)}">{shown}</a>'


def copy_button(text: str, what: str) -> str:
    """The button beside a value on a contact's page that copies it (shown by static/js/app.js)."""
    return (
        f'<button type="button" class="copy secondary" data-copy="{escape(text)}" '
        f'data-copied="Copied" aria-label="Copy {what}" hidden>Copy</button>'
    )


def all_columns(user) -> None:
    """The broker shows every column of the list, not only the default ones."""
    from contacts.services import HTML_COLUMNS, list_columns_save

    list_columns_save(user, [c.key for c in HTML_COLUMNS])


def cid(n: int, customer: str = "M1001") -> str:
    """The sandbox contact id number n (1-based) of a customer: `ADR` + 32 hex digits."""
    return oracle.contact_id(n, customer)


def missing_id(n: int) -> str:
    """A well-formed contact id (`ADR` + 32 upper-case hex digits) that is not in the sandbox:
    the generated ids are SHA-256 digests, these are small numbers padded with zeros."""
    return f"ADR{n:032X}"


def serve_for_m1001(
    monkeypatch,
    contacts: Mapping[str, Record] | None = None,
    fields: Callable[[Any], Mapping[str, Any]] | None = None,
) -> None:
    """The sandbox answers for customer M1001 with these hand-written contacts (by id, matched in
    any letter case, as Vitec does) added to its data, and the CustomerData fields `fields`
    gives for that data replaced (relations, users...), over HTTP like any other."""
    from contacts.vitec.sandbox import server as sandbox_module
    from contacts.vitec.sandbox.data import customer_data

    extra = dict(contacts or {})

    def with_payloads(customer_id: str, **kwargs):
        data = customer_data(customer_id, **kwargs)
        if customer_id != "M1001":
            return data
        return dataclasses.replace(
            data,
            by_id={**data.by_id, **extra},
            by_folded_id={**data.by_folded_id, **{k.casefold(): v for k, v in extra.items()}},
            **(fields(data) if fields else {}),
        )

    monkeypatch.setattr(sandbox_module, "customer_data", with_payloads)


def ids_range(first: int, last: int, customer: str = "M1001") -> list[str]:
    return [cid(n, customer) for n in range(first, last + 1)]


def make_credential(
    user,
    *,
    customer_id: str = "M1001",
    api_username: str = "demo",
    password: str = "demo",  # noqa: S107 (the sandbox's public demo account)
    label: str = "",
) -> VitecCredential:
    credential = VitecCredential(
        user=user, customer_id=customer_id, api_username=api_username, label=label
    )
    credential.set_password(password)
    credential.save()
    return credential


def escaped(text: str) -> str:
    """Text as Django's autoescape writes it into HTML."""
    return str(escape(text))


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """The local-memory cache is process wide: every test starts and ends with it empty."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def vitec(settings, sandbox: SandboxServer) -> SandboxServer:
    """Django pointed at the sandbox, with fast failures (no retries, short timeout)."""
    settings.VITEC_BASE_URL = sandbox.base_url
    settings.VITEC_MAX_RETRIES = 0
    settings.VITEC_TIMEOUT = 5.0
    settings.VITEC_CACHE_SECONDS = 300
    settings.VITEC_MAX_CONCURRENCY = 4
    return sandbox


@pytest.fixture(scope="session")
def reference() -> dict[str, Record]:
    """Every contact of M1001 and M1002, by id, as the sandbox generates it."""
    return {**oracle.records("M1001"), **oracle.records("M1002")}


@pytest.fixture
def broker(django_user_model):
    return django_user_model.objects.create_user(username="broker", password=None)  # no hashing


@pytest.fixture
def other_broker(django_user_model):
    return django_user_model.objects.create_user(username="other", password=None)


@pytest.fixture
def office(broker, vitec) -> VitecCredential:
    """The broker's credential for the sandbox's second office (M1002), its register not synced."""
    return make_credential(broker, customer_id="M1002")


@pytest.fixture
def synced(office) -> VitecCredential:
    """`office` with its register synced in full from the sandbox (about 1.5 s)."""
    report = sync.sync_customer(office.customer_id)
    assert report.error == "" and not report.failed_ids
    office.refresh_from_db()
    return office


@pytest.fixture
def credential(broker, vitec) -> VitecCredential:
    return make_credential(broker, customer_id="M1001", label="Kontoret")


@pytest.fixture
def en_client(broker, credential) -> Client:
    """A test client logged in as the broker, asking for English."""
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(broker)
    return client


def contact_calls(sandbox: SandboxServer) -> list:
    return [r for r in sandbox.stats.requests if r.endpoint == "contacts"]


def ids_sent(sandbox: SandboxServer) -> list[str]:
    return [i for r in contact_calls(sandbox) for i in r.contact_ids]


def credential_form(user, *, password: str, **overrides) -> dict[str, object]:
    """POST data of the credential admin's add/change form; None drops a field."""
    data = {
        "user": user.pk,
        "label": "Kontoret",
        "customer_id": "M1001",
        "api_username": "demo",
        "password": password,
        "is_active": "on",
        "_save": "Save",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def english_messages(settings):
    """Messages asserted in English, whatever translations exist (and users hash fast)."""
    settings.LANGUAGE_CODE = "en"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with translation.override("en"):
        yield


# What a broker reads for each kind of Vitec failure, in English, written out by hand
# (contacts/services/messages.py chooses them; tests/test_messages.py checks the Swedish too).
BROKER_MESSAGES_EN: dict[type, str] = {
    errors.VitecError: "Vitec could not be reached right now. Try again in a while.",
    errors.AuthenticationError: (
        "Vitec did not accept the stored API user name or password. Ask your administrator "
        "to check the credential."
    ),
    errors.PermissionDeniedError: (
        "The stored credential has no access to this customer in Vitec. Ask your administrator."
    ),
    errors.ValidationError: "Vitec rejected the request as invalid.",
    errors.NotFoundError: "Vitec did not find what was asked for.",
    errors.RateLimitedError: "Vitec asks us to slow down. Wait a moment and try again.",
    errors.ServerError: "Vitec had an internal error. Try again in a while.",
    errors.VitecConnectionError: "Vitec could not be reached. Check the connection and try again.",
    errors.VitecTimeoutError: "Vitec did not answer in time. Try again in a while.",
    errors.CircuitOpenError: (
        "Vitec has not been answering for this customer, so crmviewer pauses its calls for a "
        "short while. Try again in a minute."
    ),
    errors.BadResponseError: "Vitec sent an answer that could not be read. Try again in a while.",
    errors.VitecBusyError: (
        "Many of your office's requests are waiting on Vitec right now, so some contacts were "
        "not asked for. Try again in a moment."
    ),
}


# An open breaker names how long its pause still lasts ("... pauses its calls for 2 seconds. Try
# again after that."): a page is checked for the words before the number.
CIRCUIT_OPEN_LEAD_EN = (
    "Vitec has not been answering for this customer, so crmviewer pauses its calls for"
)


def broker_message_en(error_class: type, vitec_message: str | None = None) -> str:
    """The English message of an error class as autoescape writes it into a page (for an open
    breaker, its words before the pause's length). Vitec's own text is never part of it: a page
    shows it apart (vitec_said_en)."""
    if error_class is errors.CircuitOpenError:
        return escaped(CIRCUIT_OPEN_LEAD_EN)
    return escaped(BROKER_MESSAGES_EN[error_class])


def vitec_said_en(vitec_message: str) -> str:
    """The line of the lookup page's notice with Vitec's own text, as autoescape writes it."""
    return f'<p class="vitec-text">Vitec said: <q>{escaped(vitec_message)}</q></p>'


def page_html(response) -> str:
    """A page's HTML as the broker has it in the end. A long cold lookup is streamed as Vitec
    answers (tests/test_streamed_lookup.py): read to its end (once: kept on the response), and
    without the rows shown while they arrived, which the page hides once the whole view has come.
    Any other page comes at once."""
    if not getattr(response, "streaming", False):
        return response.content.decode()
    if not hasattr(response, "whole_page"):
        html = b"".join(response.streaming_content).decode()
        response.whole_page = _ARRIVING.sub("", html)
    return response.whole_page


_ARRIVING = re.compile(r'<section class="arriving card".*?<div class="arrived" hidden></div>', re.S)
