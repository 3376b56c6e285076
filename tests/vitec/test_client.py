"""The Vitec client over real HTTP against the sandbox: batching, order, encoding, faults."""

from __future__ import annotations

import math
import random
import time

import pytest

from contacts.services.lookup import USER_AGENT
from contacts.vitec.client import VitecClient
from contacts.vitec.errors import (
    AuthenticationError,
    BadResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ValidationError,
    VitecConnectionError,
    VitecTimeoutError,
)
from contacts.vitec.ids import MAX_IDS_PER_CALL, batched, encode_ids, unique_ids
from contacts.vitec.models import (
    ContactType,
    CrmCompanyContact,
    CrmContact,
    CrmDeceasedEstateContact,
    CrmPersonContact,
)
from contacts.vitec.retry import RetryPolicy
from tests import oracle
from tests.dashboard_fixtures import cid, ids_range, missing_id

pytestmark = pytest.mark.integration


def known_ids(count: int, customer: str = "M1001") -> list[str]:
    return ids_range(1, count, customer)


def contact_calls(sandbox) -> list:
    return [r for r in sandbox.stats.requests if r.endpoint == "contacts"]


# --- pure helpers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contact_id", "encoded"),
    [
        (cid(1), cid(1)),
        ("a/b", "a%2Fb"),
        ("a,b", "a%2Cb"),
        ("a?b", "a%3Fb"),
        ("a#b", "a%23b"),
        ("100%", "100%25"),
        ("a b", "a%20b"),
        ("../../admin", "..%2F..%2Fadmin"),
        ("Åsa-ö", "%C3%85sa-%C3%B6"),
        ("x;y=z&w", "x%3By%3Dz%26w"),
        (".", "%2E"),  # left bare, HTTP libraries would resolve it as a dot-segment
        ("..", "%2E%2E"),
        ("a.b", "a.b"),
    ],
)
def test_each_id_is_one_percent_encoded_path_segment(contact_id, encoded):
    assert encode_ids([contact_id]) == encoded
    assert encode_ids([contact_id, "B"]) == f"{encoded},B"


@pytest.mark.parametrize(
    ("count", "sizes"),
    [
        (0, []),
        (1, [1]),
        (19, [19]),
        (20, [20]),
        (21, [20, 1]),
        (41, [20, 20, 1]),
        (1000, [20] * 50),
    ],
)
def test_batches_hold_at_most_twenty_ids(count, sizes):
    ids = [str(n) for n in range(count)]
    batches = batched(ids)
    assert [len(b) for b in batches] == sizes
    assert [i for b in batches for i in b] == ids


def test_unique_ids_keeps_first_occurrence_order():
    assert unique_ids(["c", "a", "c", "b", "a"]) == ["c", "a", "b"]


def test_repr_never_shows_the_password():
    client = VitecClient(base_url="http://127.0.0.1:9", username="u", password="s3cret-pw")
    assert "s3cret-pw" not in repr(client)
    client.close()


# --- lookups over HTTP ---------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 19, 20, 21, 41, 1000])
def test_lookup_batches_over_http_and_keeps_order(make_client, sandbox, count):
    ids = known_ids(count)
    random.Random(count).shuffle(ids)
    result = make_client().fetch_contacts("M1001", ids)
    assert [c.id for c in result.contacts] == ids
    assert result.not_found == () and result.failed == ()
    calls = contact_calls(sandbox)
    assert len(calls) == math.ceil(count / MAX_IDS_PER_CALL) == result.calls
    assert all(1 <= len(call.contact_ids) <= MAX_IDS_PER_CALL for call in calls)
    assert sorted(i for call in calls for i in call.contact_ids) == sorted(ids)


def test_duplicates_are_asked_once_and_answered_once(make_client, sandbox):
    ids = [cid(3), cid(1), cid(3), cid(2), cid(1)]
    result = make_client().fetch_contacts("M1001", ids)
    assert result.requested == (cid(3), cid(1), cid(2))
    assert [c.id for c in result.contacts] == list(result.requested)
    assert [call.contact_ids for call in contact_calls(sandbox)] == [result.requested]


def test_unknown_ids_are_reported_not_found(make_client):
    ids = [cid(1), "NOPE-1", cid(2), cid(1, "M1002")]
    result = make_client().fetch_contacts("M1001", ids)
    assert [c.id for c in result.contacts] == [cid(1), cid(2)]
    assert result.not_found == ("NOPE-1", cid(1, "M1002"))


def test_ids_vitec_would_reject_are_never_sent(make_client, sandbox):
    too_long = "x" * 41
    result = make_client().fetch_contacts("M1001", ["", too_long, ".", "..", cid(1)])
    assert result.invalid == ("", too_long, ".", "..")
    assert [c.id for c in result.contacts] == [cid(1)]
    assert [call.contact_ids for call in contact_calls(sandbox)] == [(cid(1),)]


@pytest.mark.parametrize(
    "odd_id", ["a/b", "a,b", "a?b=c", "a#b", "100%", "%2F", "a b", "Åsa ö", "../x", "日本"]
)
def test_odd_ids_reach_vitec_exactly_as_written(make_client, sandbox, odd_id):
    result = make_client().fetch_contacts("M1001", [odd_id, cid(1)])
    (call,) = contact_calls(sandbox)
    assert call.contact_ids == (odd_id, cid(1))
    assert call.raw_path.startswith("/CRM/Contact/M1001/")
    assert call.raw_path.count("/") == 4  # no id added a path segment
    assert "?" not in call.raw_path and "#" not in call.raw_path
    assert result.not_found == (odd_id,)


def test_every_type_parses_from_the_sandbox(make_client):
    result = make_client().fetch_contacts("M1001", known_ids(200))
    by_type = {type(c) for c in result.contacts}
    # Among the first 200: the three documented types and one Association (position 13), a
    # type the client does not know, read as the base contact with its name.
    assert by_type == {CrmContact, CrmPersonContact, CrmCompanyContact, CrmDeceasedEstateContact}
    (other,) = [c for c in result.contacts if type(c) is CrmContact]
    assert other.id == cid(13)
    assert other.display_name == oracle.records()[cid(13)]["name"]
    person = next(c for c in result.contacts if isinstance(c, CrmPersonContact))
    assert person.customer_id == "M1001"
    assert person.display_name and person.created_at.tzinfo is not None


def test_xml_answers_parse_to_the_same_models(make_client):
    ids = known_ids(60)
    from_json = make_client().fetch_contacts("M1001", ids)
    from_xml = make_client(response_format="xml").fetch_contacts("M1001", ids)
    assert from_xml.contacts == from_json.contacts


def test_headers_on_every_call(make_client, sandbox):
    make_client().fetch_contacts("M1001", [cid(1)])
    (call,) = contact_calls(sandbox)
    assert call.accept == "application/json"


def test_user_agent_names_the_project():
    assert USER_AGENT.startswith("crmviewer/")


@pytest.mark.parametrize("contact_type", list(ContactType))
def test_one_type_endpoint_returns_only_that_type(make_client, contact_type):
    contacts = make_client().fetch_contact_batch("M1001", known_ids(20), contact_type=contact_type)
    assert contacts and {c.type for c in contacts} == {contact_type}


def test_a_batch_call_refuses_more_than_twenty_ids(make_client):
    with pytest.raises(ValueError, match="1 to 20"):
        make_client().fetch_contact_batch("M1001", known_ids(21))


def test_concurrency_is_bounded(make_client, sandbox):
    sandbox.configure(latency_ms=30)
    result = make_client(max_concurrency=3).fetch_contacts("M1001", known_ids(400))
    assert len(result.contacts) == 400
    assert 2 <= sandbox.stats.max_in_flight <= 3


def test_a_thousand_ids_in_fifty_calls_with_bounded_concurrency(make_client, sandbox):
    sandbox.configure(latency_ms=20)
    ids = known_ids(1000)
    random.Random(1).shuffle(ids)
    result = make_client(max_concurrency=4).fetch_contacts("M1001", ids)
    assert [c.id for c in result.contacts] == ids
    calls = contact_calls(sandbox)
    assert len(calls) == 50 and all(len(call.contact_ids) <= 20 for call in calls)
    assert sandbox.stats.max_in_flight == 4


def test_concurrent_batches_are_faster_than_sequential(make_client, sandbox):
    sandbox.configure(latency_ms=100)
    started = time.monotonic()
    make_client(max_concurrency=4).fetch_contacts("M1001", known_ids(160))  # 8 calls
    elapsed = time.monotonic() - started
    assert elapsed < 8 * 0.1  # sequential would take at least 0.8 s
    assert sandbox.stats.max_in_flight == 4


# --- the other endpoints --------------------------------------------------------------------------


def test_list_contact_ids(make_client):
    index = make_client().list_contact_ids("M1001")
    assert len(index.all_ids) >= 2000
    assert index.persons and index.companies and index.deceased_estates
    assert cid(1) in index.all_ids


def test_search_finds_a_contact_by_its_name(make_client):
    person = next(
        c
        for c in make_client().fetch_contacts("M1001", known_ids(40)).contacts
        if isinstance(c, CrmPersonContact) and c.last_name and len(c.last_name) >= 5
    )
    matches = make_client().search_contacts("M1001", person.last_name, max_size=1000)
    assert person.id in [m.id for m in matches]


def test_search_with_a_short_term_is_a_validation_error(make_client):
    with pytest.raises(ValidationError) as caught:
        make_client().search_contacts("M1001", "abc")
    assert caught.value.status == 400


def test_categories_match_those_on_contacts(make_client):
    categories = make_client().fetch_categories("M1001")
    listed = {c.id for c in categories.all}
    on_contacts = {
        cat.id
        for c in make_client().fetch_contacts("M1001", known_ids(300)).contacts
        for cat in c.categories
    }
    assert on_contacts and on_contacts <= listed
    assert any(c.read_only for c in categories.all)


# --- errors and faults ---------------------------------------------------------------------------


def test_wrong_password_is_an_authentication_error_not_retried(make_client, sandbox, sleeps):
    result = make_client(password="wrong").fetch_contacts("M1001", [cid(1)])
    (failed,) = result.failed
    assert isinstance(failed.error, AuthenticationError)
    assert failed.ids == (cid(1),)
    assert len(contact_calls(sandbox)) == 1 and sleeps.waits == []


def test_a_customer_outside_the_account_is_a_permission_error(make_client):
    with pytest.raises(PermissionDeniedError) as caught:
        make_client().fetch_contact_batch("M9999", [missing_id(1)])
    assert caught.value.status == 403
    assert "M9999" in caught.value.request.url and "demo" not in caught.value.request.url


@pytest.mark.parametrize(
    ("fault", "error_type", "attempts"),
    [
        ("500", ServerError, 1),
        ("502", ServerError, 3),
        ("503", ServerError, 3),
        ("504", ServerError, 3),
        ("429", RateLimitedError, 3),
        ("400", ValidationError, 1),
        ("400-empty", ValidationError, 1),
        ("404", NotFoundError, 1),
        ("malformed", BadResponseError, 1),
        ("truncated", BadResponseError, 1),
        ("html", BadResponseError, 1),
    ],
)
def test_each_fault_becomes_its_error(make_client, sandbox, fault, error_type, attempts):
    # Two ids: a 404 for one id is "not found" (test_a_404_for_one_id_is_not_found).
    sandbox.configure(fault=fault, retry_after=0)
    with pytest.raises(error_type) as caught:
        make_client().fetch_contact_batch("M1001", [cid(1), cid(2)])
    assert caught.value.attempts == attempts
    assert len(contact_calls(sandbox)) == attempts


def test_a_transient_fault_is_cured_by_retrying(make_client, sandbox, sleeps):
    sandbox.configure(fault="503", fault_count=2, retry_after=0)
    contacts = make_client().fetch_contact_batch("M1001", [cid(1)])
    assert [c.id for c in contacts] == [cid(1)]
    assert len(contact_calls(sandbox)) == 3
    assert sleeps.waits == [0.0, 0.0]  # Retry-After: 0 honoured instead of the backoff


def test_retry_after_from_a_429_is_waited_out(make_client, sandbox, sleeps):
    sandbox.configure(fault="429", fault_count=1, retry_after=7)
    contacts = make_client().fetch_contact_batch("M1001", [cid(1)])
    assert len(contacts) == 1
    assert sleeps.waits == [7.0]


def test_a_retry_after_beyond_the_cap_is_not_waited_out(make_client, sandbox, sleeps):
    sandbox.configure(fault="429", retry_after=120)
    with pytest.raises(RateLimitedError) as caught:
        make_client().fetch_contact_batch("M1001", [cid(1)])
    assert caught.value.retry_after == 120.0
    assert sleeps.waits == [] and len(contact_calls(sandbox)) == 1


def test_backoff_waits_when_no_retry_after_is_given(make_client, sandbox, sleeps):
    sandbox.configure(fault="502", fault_count=2)
    make_client().fetch_contact_batch("M1001", [cid(1)])
    assert sleeps.waits == [0.5, 1.0]  # jitter pinned to its maximum by the fixture


def test_one_failing_batch_keeps_the_others(make_client, sandbox):
    ids = known_ids(60)
    ids[25] = "fault-500"  # lands in the second batch of three
    result = make_client().fetch_contacts("M1001", ids)
    (failed,) = result.failed
    assert isinstance(failed.error, ServerError)
    assert failed.ids == tuple(ids[20:40])
    assert [c.id for c in result.contacts] == ids[:20] + ids[40:]
    assert result.not_found == ()


def test_connection_refused_is_a_connection_error(make_client, sleeps):
    import socket

    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(base_url=f"http://127.0.0.1:{port}")
    result = client.fetch_contacts("M1001", [cid(1)])
    (failed,) = result.failed
    assert type(failed.error) is VitecConnectionError
    assert failed.error.attempts == 3 and len(sleeps.waits) == 2


def test_a_connect_that_never_completes_times_out(make_client, blackhole_url, sleeps):
    client = make_client(base_url=blackhole_url, timeout=0.3, retry=RetryPolicy(max_retries=1))
    started = time.monotonic()
    with pytest.raises(VitecTimeoutError) as caught:
        client.fetch_contact_batch("M1001", [cid(1)])
    elapsed = time.monotonic() - started
    assert caught.value.attempts == 2 and len(sleeps.waits) == 1  # retried, as timeouts are
    assert elapsed < 2 * 0.3 + 1.0  # two attempts of at most the timeout each, plus slack


@pytest.mark.parametrize("fault", ["hang", "slow"])
def test_a_silent_or_trickling_answer_times_out(make_client, sandbox, fault):
    # "slow" sends its body in five chunks 0.2 s apart, each within the 0.3 s read timeout: only
    # the overall deadline of an attempt stops it. "hang" sends nothing for that second.
    sandbox.configure(fault=fault, slow_body_seconds=1.0)
    client = make_client(timeout=0.3, retry=RetryPolicy(max_retries=1))
    started = time.monotonic()
    with pytest.raises(VitecTimeoutError) as caught:
        client.fetch_contact_batch("M1001", [cid(1)])
    elapsed = time.monotonic() - started
    assert caught.value.attempts == 2
    # Two attempts of at most the timeout each (and one chunk's gap, as the deadline is checked
    # when a chunk arrives), plus slack.
    assert elapsed < 2 * (0.3 + 0.2) + 0.3


def test_a_password_outside_latin_1_is_sent_as_utf_8():
    from contacts.vitec.sandbox import Account, SandboxConfig, SandboxServer

    account = Account("mäklare", "lösen€ord", frozenset({"M1001"}))
    with SandboxServer(SandboxConfig(accounts=(account,))).start() as server:
        client = VitecClient(base_url=server.base_url, username="mäklare", password="lösen€ord")
        contacts = client.fetch_contact_batch("M1001", [cid(1)])
        client.close()
    assert [c.id for c in contacts] == [cid(1)]
