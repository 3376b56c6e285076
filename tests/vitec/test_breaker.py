"""The circuit breaker: fail fast for a customer after repeated failures, recover after a pause."""

from __future__ import annotations

import time

import pytest

from contacts.vitec.breaker import CircuitBreaker, MemoryStore
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
from contacts.vitec.retry import RetryPolicy
from tests.dashboard_fixtures import cid


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock) -> CircuitBreaker:
    return CircuitBreaker(store=MemoryStore(clock=clock), threshold=3, cooldown=30, clock=clock)


@pytest.mark.parametrize(
    ("error", "counts"),
    [
        (VitecConnectionError("refused"), True),
        (VitecTimeoutError("timeout"), True),
        (ServerError("500", status=500), True),
        (ServerError("503", status=503), True),
        (RateLimitedError("429", status=429), False),  # Vitec answered: about our pace
        (BadResponseError("not json"), True),
        (BadResponseError("Unexpected status 409", status=409), False),  # no 4xx ever counts
        (ValidationError("400", status=400), False),
        (AuthenticationError("401", status=401), False),
        (PermissionDeniedError("403", status=403), False),
        (NotFoundError("404", status=404), False),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, bool) else str(value),
)
def test_which_failures_open_the_breaker(breaker, error, counts):
    for _ in range(3):
        breaker.record("M1001", error)
    assert breaker.is_open("M1001") is counts


def test_it_opens_after_the_threshold_in_a_row_and_a_success_resets_the_count(breaker):
    error = ServerError("503", status=503)
    breaker.record("M1001", error)
    breaker.record("M1001", error)
    breaker.record("M1001", None)  # a success in between: not "in a row"
    breaker.record("M1001", error)
    breaker.record("M1001", error)
    assert not breaker.is_open("M1001")
    breaker.record("M1001", error)
    assert breaker.is_open("M1001")
    with pytest.raises(CircuitOpenError) as caught:
        breaker.before_call("M1001")
    assert caught.value.retryable is False
    assert caught.value.code == "circuit_open"


def test_customers_are_kept_apart(breaker):
    for _ in range(3):
        breaker.record("M1001", VitecTimeoutError("t"))
    assert breaker.is_open("M1001") and not breaker.is_open("M1002")
    breaker.before_call("M1002")  # does not raise


def test_after_the_cooldown_one_call_is_tried_and_a_failure_reopens_at_once(breaker, clock):
    for _ in range(3):
        breaker.record("M1001", VitecTimeoutError("t"))
    clock.now += 31
    assert not breaker.is_open("M1001")
    breaker.before_call("M1001")  # half open: this call may go through
    breaker.record("M1001", VitecTimeoutError("t"))
    assert breaker.is_open("M1001")  # one more failure was enough
    clock.now += 31
    breaker.record("M1001", None)
    breaker.record("M1001", VitecTimeoutError("t"))
    assert not breaker.is_open("M1001")  # the success closed it for good


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        CircuitBreaker(threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(cooldown=0)


# --- with the client over real HTTP --------------------------------------------------------------


def test_an_open_breaker_stops_the_calls_of_a_lookup(make_client, sandbox, sleeps):
    sandbox.configure(fault="500")
    breaker = CircuitBreaker(threshold=3, cooldown=60)
    client = make_client(breaker=breaker, retry=RetryPolicy(max_retries=0))
    ids = [cid(n) for n in range(1, 201)]  # 10 batches
    result = client.fetch_contacts("M1001", ids)
    calls = [r for r in sandbox.stats.requests if r.endpoint == "contacts"]
    assert len(calls) <= 3 + client.max_concurrency  # in flight when it opened, then none
    assert len(result.failed) == 10 and result.contacts == ()
    assert any(isinstance(batch.error, CircuitOpenError) for batch in result.failed)

    sandbox.stats.reset()
    started = time.monotonic()
    again = client.fetch_contacts("M1001", ids)
    assert sandbox.stats.requests == []  # failing fast: Vitec is not asked at all
    assert time.monotonic() - started < 0.5
    assert all(isinstance(batch.error, CircuitOpenError) for batch in again.failed)


def test_the_breaker_closes_again_when_vitec_answers(make_client, sandbox, sleeps):
    breaker = CircuitBreaker(threshold=2, cooldown=0.2)  # kept as 1 s: whole seconds
    client = make_client(breaker=breaker, retry=RetryPolicy(max_retries=0))
    sandbox.configure(fault="503", retry_after=0)
    for _ in range(2):
        with pytest.raises(ServerError):
            client.fetch_contact_batch("M1001", [cid(1)])
    with pytest.raises(CircuitOpenError):
        client.fetch_contact_batch("M1001", [cid(1)])
    sandbox.configure(fault=None)
    time.sleep(0.5)
    with pytest.raises(CircuitOpenError):  # 0.2 s was rounded up to a whole second
        client.fetch_contact_batch("M1001", [cid(1)])
    time.sleep(0.6)
    contacts = client.fetch_contact_batch("M1001", [cid(1)])
    assert [c.id for c in contacts] == [cid(1)]
    assert not breaker.is_open(client.breaker_key("M1001"))


@pytest.mark.parametrize(
    ("fault", "counts"),
    [
        ("500", True),
        ("502", True),
        ("503", True),
        ("504", True),
        ("429", False),
        ("truncated", True),
        ("malformed", True),
        ("html", True),
        ("hang", True),
        ("400", False),
        ("400-empty", False),
        ("404", False),
    ],
)
def test_which_faults_open_the_breaker_of_a_client(make_client, sandbox, fault, counts):
    """breaker.py: "connection errors, timeouts, 5xx and unreadable answers" count, also when
    the client finds out only after Vitec answered (a body it cannot read); a 4xx (429 too)
    never does. With a threshold of 1, one failed call decides."""
    sandbox.configure(fault=fault, retry_after=0, slow_body_seconds=0.4)
    breaker = CircuitBreaker(threshold=1, cooldown=60)
    client = make_client(breaker=breaker, retry=RetryPolicy(max_retries=0), timeout=0.2)
    ids = [cid(1), cid(2)]  # a 404 for one id is "not found", no failed call
    with pytest.raises(VitecError) as first:
        client.fetch_contact_batch("M1001", ids)
    assert not isinstance(first.value, CircuitOpenError)
    deadline = time.monotonic() + 5  # a "hang" goes on after the client gave up: wait for it
    while sandbox.stats.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    sandbox.stats.reset()
    if counts:
        with pytest.raises(CircuitOpenError):
            client.fetch_contact_batch("M1001", ids)
        assert sandbox.stats.requests == []
    else:
        with pytest.raises(type(first.value)):
            client.fetch_contact_batch("M1001", ids)
        assert len(sandbox.stats.requests) == 1


@pytest.mark.parametrize("where", ["refused_url", "blackhole_url"])
def test_an_unreachable_vitec_opens_the_breaker_of_a_client(make_client, request, where):
    breaker = CircuitBreaker(threshold=1, cooldown=60)
    client = make_client(
        base_url=request.getfixturevalue(where),
        breaker=breaker,
        retry=RetryPolicy(max_retries=0),
        timeout=0.2,
    )
    with pytest.raises(VitecConnectionError) as first:
        client.fetch_contact_batch("M1001", [cid(1)])
    assert not isinstance(first.value, CircuitOpenError)
    started = time.monotonic()
    with pytest.raises(CircuitOpenError):
        client.fetch_contact_batch("M1001", [cid(1)])
    assert time.monotonic() - started < 0.1  # no connect attempted


# --- the breaker judges calls, per credential, and says how long it pauses ----------------------


def test_an_open_breaker_says_how_many_seconds_the_pause_lasts(breaker, clock):
    for _ in range(3):
        breaker.record("M1001", VitecTimeoutError("t"))
    assert breaker.seconds_left("M1001") == 30
    with pytest.raises(CircuitOpenError) as opened:
        breaker.before_call("M1001")
    assert opened.value.seconds_left == 30
    clock.now += 12.5
    with pytest.raises(CircuitOpenError) as later:
        breaker.before_call("M1001")
    assert later.value.seconds_left == 18  # 17.5 s left, in whole seconds rounded up
    clock.now += 17.6
    assert breaker.seconds_left("M1001") is None
    breaker.before_call("M1001")  # closed: does not raise


def test_the_breaker_key_is_per_credential_and_holds_no_user_name(make_client):
    anna = make_client(username="anna-api")
    bo = make_client(username="bo-api")
    assert anna.breaker_key("M1001") != bo.breaker_key("M1001")
    assert anna.breaker_key("M1001") != anna.breaker_key("M1002")
    assert make_client(username="anna-api", base_url="http://other.test").breaker_key(
        "M1001"
    ) != anna.breaker_key("M1001")
    assert anna.breaker_key("M1001") == make_client(username="anna-api").breaker_key("M1001")
    assert "anna" not in anna.breaker_key("M1001")
    assert anna.breaker_key("M1001").startswith("M1001:")


def test_two_credentials_of_one_customer_have_separate_breakers(make_client, sandbox):
    """One credential's failed call opens its breaker; another API user of the same customer and
    base URL (sharing the breaker's store) is still let through to Vitec."""
    breaker = CircuitBreaker(threshold=1, cooldown=60)
    working = make_client(breaker=breaker, retry=RetryPolicy(max_retries=0))
    sandbox.configure(fault="500", fault_count=1)
    with pytest.raises(ServerError):
        working.fetch_contact_batch("M1001", [cid(1)])
    with pytest.raises(CircuitOpenError):
        working.fetch_contact_batch("M1001", [cid(1)])
    # Another user name for the same customer and base URL: its own breaker, still closed.
    other = make_client(username="demo2", breaker=breaker, retry=RetryPolicy(max_retries=0))
    assert not breaker.is_open(other.breaker_key("M1001"))
    with pytest.raises(VitecError) as refused:  # Vitec is asked (and refuses the unknown user)
        other.fetch_contact_batch("M1001", [cid(1)])
    assert not isinstance(refused.value, CircuitOpenError)
    assert breaker.is_open(working.breaker_key("M1001"))
    assert not breaker.is_open(other.breaker_key("M1001"))  # and its 401 did not count


def test_a_timeout_with_two_retries_counts_one_failure(make_client, sandbox, sleeps):
    breaker = CircuitBreaker(threshold=2, cooldown=60)
    client = make_client(breaker=breaker, retry=RetryPolicy(max_retries=2), timeout=0.2)
    sandbox.configure(fault="hang", slow_body_seconds=0.4)
    with pytest.raises(VitecTimeoutError) as first:
        client.fetch_contact_batch("M1001", [cid(1)])
    assert first.value.attempts == 3  # three attempts...
    assert not breaker.is_open(client.breaker_key("M1001"))  # ...one failed call: 1 < 2
    with pytest.raises(VitecTimeoutError):
        client.fetch_contact_batch("M1001", [cid(1)])
    assert breaker.is_open(client.breaker_key("M1001"))  # the second failed call opens it
    deadline = time.monotonic() + 5
    while sandbox.stats.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)


def test_4xx_answers_never_count_however_many(make_client, sandbox):
    breaker = CircuitBreaker(threshold=1, cooldown=60)
    client = make_client(breaker=breaker, retry=RetryPolicy(max_retries=2))
    for fault in ("400", "404", "429", "400", "404", "429"):
        sandbox.configure(fault=fault, retry_after=31)  # 429 over the cap: not retried
        with pytest.raises(VitecError) as refused:
            client.fetch_contact_batch("M1001", [cid(1), cid(2)])
        assert refused.value.status is not None and 400 <= refused.value.status < 500
    assert not breaker.is_open(client.breaker_key("M1001"))
    sandbox.configure(fault=None)
    assert [c.id for c in client.fetch_contact_batch("M1001", [cid(1)])] == [cid(1)]


def test_the_open_breaker_of_a_client_names_the_seconds_left(make_client, sandbox):
    breaker = CircuitBreaker(threshold=1, cooldown=45)
    client = make_client(breaker=breaker, retry=RetryPolicy(max_retries=0))
    sandbox.configure(fault="500")
    with pytest.raises(ServerError):
        client.fetch_contact_batch("M1001", [cid(1)])
    with pytest.raises(CircuitOpenError) as opened:
        client.fetch_contact_batch("M1001", [cid(1)])
    assert opened.value.seconds_left in (44, 45)
