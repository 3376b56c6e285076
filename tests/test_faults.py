"""Every Vitec fault tried on purpose, through the broker's pages, over real HTTP to the sandbox.

The client's own tests (tests/vitec/test_client.py) turn each fault kind below into its error
class. Here each of the three pages that call Vitec (the lookup page, the detail page and the CSV
export) meets every fault family once, a family being an error class (the broker's message is
one per class); the kinds of a family take turns across the pages, so that every kind still
reaches a page. For each the broker gets the page (200), or the documented answer (the CSV
redirects back to the page with a message, never a partial file), with the English broker
message of the error class, no traceback text, and in bounded time: with VITEC_TIMEOUT=0.5 and
VITEC_MAX_RETRIES=1 a hanging Vitec costs at most VITEC_TIMEOUT x (retries + 1) plus a small
slack.

Then one failing batch among many, and the circuit breaker through the pages: it opens after
repeated failures, fails fast without calling Vitec, recovers after its cooldown, and one
customer's breaker never affects another's (which failures count: tests/vitec/test_breaker.py);
the open breaker's notice names its pause in seconds. Last, one id Vitec refuses among twenty:
the other nineteen rows arrive, only that id is named, and Vitec's own text stands apart from the
broker's words, escaped (the split itself: tests/vitec/test_refused_ids.py).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from contacts.vitec.errors import (
    AuthenticationError,
    BadResponseError,
    CircuitOpenError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ValidationError,
    VitecConnectionError,
    VitecError,
    VitecTimeoutError,
)
from contacts.vitec.sandbox import SandboxServer
from contacts.vitec.sandbox.data import customer_data
from tests.dashboard_fixtures import (
    broker_message_en,
    contact_calls,
    escaped,
    ids_range,
    make_credential,
    vitec_said_en,
)

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

LOOKUP = "/contacts/"
EXPORT = "/contacts/export.csv"

TIMEOUT = 0.5  # VITEC_TIMEOUT for the whole table
RETRIES = 1  # VITEC_MAX_RETRIES for the whole table
# The slack covers the one backoff wait between the two attempts (RetryPolicy's default
# backoff_base is 0.5 s, jittered, so at most 0.5 s), the "slow" fault's last gap before the
# overall deadline is checked, and rendering the page.
SLACK = 1.0
BOUND = TIMEOUT * (RETRIES + 1) + SLACK
TRACEBACK_MARKERS = ("Traceback", "Exception", "Error at /")
CSV_NOT_MADE = (
    "The CSV was not made: some contacts could not be fetched from Vitec. Try again in a while."
)
SANDBOX_INVALID = "The request is invalid."  # the message of the sandbox's "400" fault


@pytest.fixture(scope="module", autouse=True)
def warm_sandbox(sandbox_server: SandboxServer) -> None:
    """Generate the sandbox's data up front: the first answer for a customer otherwise takes
    about as long as the 0.5 s timeout used here, and would time out for the wrong reason."""
    config = sandbox_server.config_snapshot()
    for customer in ("M1001", "M1002"):
        customer_data(customer, seed=config.seed, count=config.contacts_per_customer)


def text(response) -> str:
    return response.content.decode()


def breaker_seconds(seconds: float) -> float:
    """The cooldown the breaker really keeps: whole seconds, rounded up (as Redis and memcached
    hold timeouts in whole seconds, the breaker rounds them itself)."""
    return float(math.ceil(seconds))


def broker_message(error_class: type[VitecError], vitec_message: str | None = None) -> str:
    """The English broker message of an error class, as autoescape writes it into the page."""
    return broker_message_en(error_class, vitec_message)


def assert_no_traceback(page: str) -> None:
    for marker in TRACEBACK_MARKERS:
        assert marker not in page, f"{marker!r} shown to the broker"


def drain(sandbox: SandboxServer, limit: float = 5.0) -> None:
    """Wait until the sandbox has finished every request (a "hang" or "slow" answer goes on
    after the client gave up), so its statistics are complete and no late record spills into
    the next test."""
    deadline = time.monotonic() + limit
    while sandbox.stats.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sandbox.stats.in_flight == 0, "the sandbox is still answering"


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


# --- the fault table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One way Vitec can fail, and what the broker must see."""

    name: str
    error: type[VitecError]
    sandbox: dict[str, Any] = field(default_factory=dict)  # SandboxServer.configure(**)
    password: str = "demo"
    customer: str = "M1001"
    base_url: str = ""  # "refused" or "blackhole": the fixture of that name
    vitec_message: str | None = None  # shown by ValidationError after its own message
    attempts: int | None = None  # HTTP attempts per call the sandbox must see (None: not checked)
    max_seconds: float = BOUND

    def __str__(self) -> str:
        return self.name


FAULTS = [
    Fault("401-wrong-password", AuthenticationError, password="not-the-password", attempts=1),
    Fault("403-customer-not-covered", PermissionDeniedError, customer="M9999", attempts=1),
    Fault(
        "400-with-body",
        ValidationError,
        {"fault": "400"},
        vitec_message=SANDBOX_INVALID,
        attempts=1,
    ),
    Fault("400-empty-body", ValidationError, {"fault": "400-empty"}, attempts=1),
    Fault("404", NotFoundError, {"fault": "404"}, attempts=1),
    # Retry-After over the 30 s cap: not waited out, the broker is told at once.
    Fault(
        "429-retry-after-over-cap",
        RateLimitedError,
        {"fault": "429", "retry_after": 31},
        attempts=1,
        max_seconds=SLACK,
    ),
    Fault("500", ServerError, {"fault": "500"}, attempts=1),
    Fault("503", ServerError, {"fault": "503", "retry_after": 0}, attempts=RETRIES + 1),
    Fault("connection-refused", VitecConnectionError, base_url="refused"),
    Fault("connect-timeout", VitecTimeoutError, base_url="blackhole"),
    Fault(
        "read-timeout-hang",
        VitecTimeoutError,
        {"fault": "hang", "slow_body_seconds": TIMEOUT + 0.2},
        attempts=RETRIES + 1,
    ),
    # Each chunk arrives well within the read timeout; only the overall deadline stops it.
    Fault(
        "slow-trickled-body",
        VitecTimeoutError,
        {"fault": "slow", "slow_body_seconds": 0.9},
        attempts=RETRIES + 1,
    ),
    Fault("malformed-json", BadResponseError, {"fault": "malformed"}, attempts=1),
    Fault("truncated-body", BadResponseError, {"fault": "truncated"}, attempts=1),
    Fault("html-instead-of-json", BadResponseError, {"fault": "html"}, attempts=1),
]


@pytest.fixture
def faulty(settings, vitec: SandboxServer) -> Iterator[SandboxServer]:
    """Short timeouts, one retry, and a breaker that never opens (it has its own tests below)."""
    settings.VITEC_TIMEOUT = TIMEOUT
    settings.VITEC_MAX_RETRIES = RETRIES
    settings.VITEC_BREAKER_FAILURES = 10_000
    yield vitec
    drain(vitec)


@pytest.fixture
def fault_setup(request, settings, faulty: SandboxServer, broker, credential):
    """Apply a Fault: returns (credential, ids) for the broker's request."""

    def apply(fault: Fault):
        used = credential
        if fault.customer != credential.customer_id:
            used = make_credential(broker, customer_id=fault.customer)
        if fault.password != "demo":
            used.set_password(fault.password)
            used.save()
        if fault.base_url:
            settings.VITEC_BASE_URL = request.getfixturevalue(f"{fault.base_url}_url")
        if fault.sandbox:
            faulty.configure(**fault.sandbox)
        return used, ids_range(1, 3, fault.customer)

    return apply


def check_attempts(sandbox: SandboxServer, fault: Fault, ids: list[str]) -> None:
    if fault.attempts is None:
        return
    drain(sandbox)
    calls = [r for r in contact_calls(sandbox) if list(r.contact_ids) == ids]
    assert len(calls) == fault.attempts, [(r.raw_path, r.status) for r in calls]


# Each page meets every error class once; a class with several kinds gives each page another one.
PAGE_FAULTS = {
    "lookup": [
        "401-wrong-password",
        "403-customer-not-covered",
        "400-with-body",
        "404",
        "429-retry-after-over-cap",
        "503",
        "connection-refused",
        "read-timeout-hang",
        "malformed-json",
    ],
    "detail": [
        "401-wrong-password",
        "403-customer-not-covered",
        "400-empty-body",
        # No "404": for one id it means "no such contact" (test_detail_page_of_a_404_is_not_found)
        "429-retry-after-over-cap",
        "500",
        "connection-refused",
        "connect-timeout",
        "truncated-body",
    ],
    "csv": [
        "401-wrong-password",
        "403-customer-not-covered",
        "400-with-body",
        "404",
        "429-retry-after-over-cap",
        "503",
        "connection-refused",
        "slow-trickled-body",
        "html-instead-of-json",
    ],
}
BY_NAME = {fault.name: fault for fault in FAULTS}


def page_faults(page: str) -> list[Fault]:
    return [BY_NAME[name] for name in PAGE_FAULTS[page]]


def test_every_page_meets_every_error_class_and_every_fault_reaches_a_page():
    """The table above keeps what the cross product of faults and pages proved. The detail
    page asks for one id, where Vitec's 404 is no error but "not found"."""
    classes = {fault.error for fault in FAULTS}
    for page in PAGE_FAULTS:
        expected = classes - {NotFoundError} if page == "detail" else classes
        assert sorted(f.error.__name__ for f in page_faults(page)) == sorted(
            c.__name__ for c in expected
        ), page
    assert {name for names in PAGE_FAULTS.values() for name in names} == set(BY_NAME)


@pytest.mark.parametrize("fault", page_faults("lookup"), ids=str)
def test_lookup_page_survives(en_client, faulty, fault_setup, fault: Fault):
    credential, ids = fault_setup(fault)
    response, seconds = timed(
        lambda: en_client.get(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids)})
    )
    assert response.status_code == 200
    page = text(response)
    assert broker_message(fault.error, fault.vitec_message) in page
    if fault.vitec_message:  # Vitec's own words on a line of their own, not mid-sentence
        assert vitec_said_en(fault.vitec_message) in page
        assert f"{broker_message(fault.error)} (" not in page
    assert 'class="notice error" role="alert"' in page
    assert "3 contacts could not be fetched:" in page
    assert ", ".join(ids) in page  # the failed ids are named
    assert '<th scope="row">' not in page  # and no row is invented
    assert "Category names could not be fetched" in page  # that call failed the same way
    assert_no_traceback(page)
    assert seconds < fault.max_seconds, f"{fault}: the page took {seconds:.2f} s"
    check_attempts(faulty, fault, ids)


@pytest.mark.parametrize("fault", page_faults("detail"), ids=str)
def test_detail_page_survives(en_client, faulty, fault_setup, fault: Fault):
    credential, ids = fault_setup(fault)
    response, seconds = timed(
        lambda: en_client.get(f"/contacts/{ids[0]}/", {"credential": credential.pk})
    )
    # views._contact_page: 404 only when Vitec answered and has no such contact; a failed
    # call is the page with the failure.
    assert response.status_code == 200
    page = text(response)
    assert f"<h1>Contact {ids[0]}</h1>" in page
    assert broker_message(fault.error, fault.vitec_message) in page
    assert 'class="notice error" role="alert"' in page
    assert_no_traceback(page)
    assert seconds < fault.max_seconds, f"{fault}: the page took {seconds:.2f} s"
    check_attempts(faulty, fault, ids[:1])


def test_detail_page_of_a_404_is_not_found(en_client, faulty, fault_setup):
    """Vitec documents `CRM/Contact/{customerId}/{contactId}` as answering one object: a 404
    for one id means "no such contact", the page's own 404, not a failed call."""
    fault = BY_NAME["404"]
    credential, ids = fault_setup(fault)
    response = en_client.get(f"/contacts/{ids[0]}/", {"credential": credential.pk})
    assert response.status_code == 404
    page = text(response)
    assert "<h1>Contact not found</h1>" in page
    assert "Vitec has no contact with the id" in page
    assert 'class="notice error" role="alert"' not in page
    assert_no_traceback(page)
    check_attempts(faulty, fault, ids[:1])


@pytest.mark.parametrize("fault", page_faults("csv"), ids=str)
def test_csv_export_redirects_back_with_a_message(en_client, faulty, fault_setup, fault: Fault):
    credential, ids = fault_setup(fault)
    params = {"credential": credential.pk, "ids": ",".join(ids)}
    response, seconds = timed(lambda: en_client.get(EXPORT, params))
    # views.export_csv: with failed batches no file at all, back to the page with a message.
    assert response.status_code == 302
    assert not response.streaming
    assert "Content-Disposition" not in response
    assert not response.get("Content-Type", "").startswith("text/csv")
    assert urlsplit(response["Location"]).path == LOOKUP
    assert seconds < fault.max_seconds, f"{fault}: the export took {seconds:.2f} s"
    check_attempts(faulty, fault, ids)

    page_response = en_client.get(response["Location"])  # the fault is still on
    assert page_response.status_code == 200
    page = text(page_response)
    assert escaped(CSV_NOT_MADE) in page
    assert broker_message(fault.error, fault.vitec_message) in page
    assert ", ".join(ids) in page
    assert_no_traceback(page)


# --- 429: a short Retry-After is honoured by the retry ----------------------------------------


def test_429_with_a_short_retry_after_is_waited_out_and_retried(en_client, credential, faulty):
    # The first call for the contacts and the first for the category names get 429 with
    # Retry-After: 1; the retries, a second later, are answered.
    faulty.configure(fault="429", fault_count=2, retry_after=1)
    ids = ids_range(1, 3)
    response, seconds = timed(
        lambda: en_client.get(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids)})
    )
    assert response.status_code == 200
    page = text(response)
    assert "could not be fetched" not in page
    assert broker_message(RateLimitedError) not in page
    for contact_id in ids:
        assert f'<th scope="row"><a href="/contacts/{contact_id}/' in page
    calls = contact_calls(faulty)
    assert [r.status for r in calls] == [429, 200]
    waited = calls[1].started - calls[0].finished
    assert waited >= 0.95, f"Retry-After: 1 honoured with a wait of only {waited:.2f} s"
    assert 1.0 <= seconds < 1.0 + BOUND


# --- one failing batch among many -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault_id", "error_class"),
    [
        ("fault-500", ServerError),  # fast: then the CSV of the same view is refused too
        ("fault-hang", VitecTimeoutError),  # the page waits for the hanging call only
    ],
)
def test_one_failing_batch_among_many(en_client, credential, faulty, fault_id, error_class):
    faulty.configure(slow_body_seconds=TIMEOUT + 0.2)  # how long "hang" holds its connection
    ids = [*ids_range(1, 30), fault_id, *ids_range(31, 50)]  # 51 ids: 3 calls, 1 page
    params = {"credential": credential.pk, "ids": ",".join(ids)}
    response, seconds = timed(lambda: en_client.get(LOOKUP, params))
    assert response.status_code == 200
    assert seconds < BOUND, f"the page took {seconds:.2f} s"
    drain(faulty)
    (failed_call, *_) = [r for r in contact_calls(faulty) if fault_id in r.contact_ids]
    failed = list(failed_call.contact_ids)
    assert len(failed) == 20
    shown = [i for i in ids if i not in failed]
    page = text(response)
    rows = re.findall(r'<th scope="row"><a href="/contacts/([^/"]+)/', page)
    assert rows == shown  # every other row is there, in the order asked
    assert re.search(rf'<h2 id="results-heading">\s*{len(shown)} contacts\s*</h2>', page)
    assert "20 contacts could not be fetched:" in page
    assert broker_message(error_class) in page
    assert ", ".join(failed) in page  # the failed ids are named
    assert "Category names could not be fetched" not in page  # that call worked
    assert_no_traceback(page)

    if fault_id == "fault-hang":
        return  # the CSV's refusal is the same for every fault: checked with the fast one
    # The CSV of the same view is refused whole rather than silently missing those 20 rows.
    export = en_client.get(EXPORT, params)
    assert export.status_code == 302
    assert "Content-Disposition" not in export
    assert escaped(CSV_NOT_MADE) in text(en_client.get(export["Location"]))


# --- the circuit breaker ----------------------------------------------------------------------


def _lookup(client: Client, credential, ids) -> tuple[Any, float]:
    return timed(lambda: client.get(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids)}))


def _rows(response) -> int:
    return text(response).count('<th scope="row">')


def test_the_breaker_opens_fails_fast_recovers_and_is_per_customer(
    en_client, broker, credential, settings, vitec
):
    cooldown = breaker_seconds(0.3)  # 1 s: the failing pages are fast (500) and count at once
    settings.VITEC_MAX_RETRIES = 0
    settings.VITEC_BREAKER_FAILURES = 3
    settings.VITEC_BREAKER_SECONDS = cooldown
    other = make_credential(broker, customer_id="M1002", label="Annat kontor")
    ids = ids_range(1, 3)
    other_ids = ids_range(1, 3, "M1002")
    vitec.configure(fault="500")

    # Two failing pages: the contacts and the category call of each fail, 4 failures >= 3.
    for _ in range(2):
        response, _ = _lookup(en_client, credential, ids)
        assert response.status_code == 200
        assert broker_message(ServerError) in text(response)
    opened = time.monotonic()
    vitec.stats.reset()

    # Open: the next page answers at once, says so, and asks Vitec nothing.
    response, seconds = _lookup(en_client, credential, ids)
    assert response.status_code == 200
    page = text(response)
    assert broker_message(CircuitOpenError) in page
    assert "pauses its calls for 1 second. Try again after that." in page  # the pause named
    assert broker_message(ServerError) not in page
    assert ", ".join(ids) in page
    assert_no_traceback(page)
    assert seconds < 0.5, f"the open circuit took {seconds:.2f} s"
    # The detail page and the CSV fail fast the same way.
    detail = en_client.get(f"/contacts/{ids[0]}/", {"credential": credential.pk})
    assert detail.status_code == 200
    assert broker_message(CircuitOpenError) in text(detail)
    export = en_client.get(EXPORT, {"credential": credential.pk, "ids": ",".join(ids)})
    assert export.status_code == 302
    assert "Content-Disposition" not in export
    assert vitec.stats.requests == []

    # Vitec is back. Another customer (M1002) was never affected: its page works at once...
    vitec.configure(fault=None)
    response, _ = _lookup(en_client, other, other_ids)
    assert response.status_code == 200
    assert _rows(response) == 3
    assert broker_message(CircuitOpenError) not in text(response)
    assert {r.customer_id for r in vitec.stats.requests} == {"M1002"}
    # ...while M1001 still fails fast until its cooldown is over.
    vitec.stats.reset()
    response, seconds = _lookup(en_client, credential, ids)
    assert time.monotonic() - opened < cooldown, "too slow to see the breaker still open"
    assert broker_message(CircuitOpenError) in text(response)
    assert vitec.stats.requests == []

    # After the cooldown the page works again...
    time.sleep(max(0.0, cooldown - (time.monotonic() - opened)) + 0.1)
    response, _ = _lookup(en_client, credential, ids)
    assert response.status_code == 200
    page = text(response)
    assert _rows(response) == 3
    assert "could not be fetched" not in page
    assert broker_message(CircuitOpenError) not in page
    assert {r.customer_id for r in vitec.stats.requests} == {"M1001"}
    # ...and the breaker is closed again: the next pages call Vitec (for contacts not cached).
    vitec.stats.reset()
    response, _ = _lookup(en_client, credential, ids_range(4, 6))
    assert _rows(response) == 3
    assert len(contact_calls(vitec)) == 1


# --- a refused id among many: only it is named, Vitec's words apart --------------------------


def test_one_refused_id_among_twenty_the_page_shows_the_other_nineteen(
    en_client, credential, vitec
):
    ids = [*ids_range(1, 12), "fault-400", *ids_range(13, 19)]
    response = en_client.get(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids)})
    assert response.status_code == 200
    page = text(response)
    rows = re.findall(r'<th scope="row"><a href="/contacts/([^/"]+)/', page)
    assert rows == ids_range(1, 19)
    assert "1 contact could not be fetched:" in page
    assert re.search(r'<p class="ids">fault-400</p>', page)  # named alone
    assert broker_message(ValidationError) in page
    assert vitec_said_en(SANDBOX_INVALID) in page
    calls = contact_calls(vitec)
    assert len(calls) <= 1 + 2 * math.ceil(math.log2(20))
    assert all((r.status == 400) == ("fault-400" in r.contact_ids) for r in calls)


def test_vitecs_text_stays_apart_from_the_swedish_words(broker, credential, vitec):
    client = Client(headers={"Accept-Language": "sv"})
    client.force_login(broker)
    ids = [*ids_range(1, 3), "fault-400"]
    page = text(client.get(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids)}))
    assert escaped("1 kontakt kunde inte hämtas: Vitec avvisade förfrågan som ogiltig.") in page
    assert f'<p class="vitec-text">Vitec svarade: <q>{escaped(SANDBOX_INVALID)}</q></p>' in page
    assert escaped(f"ogiltig. ({SANDBOX_INVALID})") not in page


def test_vitecs_text_is_escaped(en_client, credential, vitec, monkeypatch):
    from contacts.vitec.sandbox import server as sandbox_server_module

    hostile = '<script>alert("x")</script> Kontakt-id & mer'
    monkeypatch.setitem(sandbox_server_module._FAULT_STATUS, "400", (400, hostile))
    ids = [*ids_range(1, 3), "fault-400"]
    page = text(en_client.get(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids)}))
    assert "<script>alert" not in page
    assert vitec_said_en(hostile) in page


def test_the_contact_page_of_a_refused_id_shows_vitecs_text_apart(en_client, credential, vitec):
    page = text(en_client.get("/contacts/fault-400/", {"credential": credential.pk}))
    assert "<p>Vitec rejected the request as invalid.</p>" in page
    assert f'<p class="vitec-text">Vitec said: <q>{escaped(SANDBOX_INVALID)}</q></p>' in page
