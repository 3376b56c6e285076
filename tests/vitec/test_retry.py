"""The retry policy on its own: which errors are retried, how long the waits are, the caps."""

import pytest

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
    error_for_status,
)
from contacts.vitec.retry import RetryPolicy, parse_retry_after

POLICY = RetryPolicy(max_retries=5, backoff_base=0.5, backoff_cap=4.0, retry_after_cap=30.0)


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (VitecConnectionError("refused"), True),
        (VitecTimeoutError("read timeout"), True),
        (error_for_status(502), True),
        (error_for_status(503), True),
        (error_for_status(504), True),
        (error_for_status(429), True),
        (error_for_status(500), False),
        (error_for_status(501), False),
        (error_for_status(400), False),
        (error_for_status(401), False),
        (error_for_status(403), False),
        (error_for_status(404), False),
        (BadResponseError("not json"), False),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, bool) else str(value),
)
def test_only_errors_a_retry_can_cure_are_retried(error, retried):
    delay = POLICY.delay(retries_done=0, error=error, rand=lambda: 1.0)
    assert (delay is not None) is retried


@pytest.mark.parametrize(
    "cls", [AuthenticationError, PermissionDeniedError, ValidationError, NotFoundError]
)
def test_client_errors_are_never_retried_even_with_retry_after(cls):
    error = cls("no", retry_after=1)
    assert POLICY.delay(retries_done=0, error=error) is None


@pytest.mark.parametrize(
    ("retries_done", "expected_ceiling"),
    [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0)],  # 0.5 * 2**n, capped at 4
)
def test_backoff_grows_exponentially_and_is_capped(retries_done, expected_ceiling):
    error = VitecConnectionError("refused")
    assert (
        POLICY.delay(retries_done=retries_done, error=error, rand=lambda: 1.0) == expected_ceiling
    )
    assert POLICY.delay(retries_done=retries_done, error=error, rand=lambda: 0.25) == (
        expected_ceiling * 0.25
    )


def test_jitter_spreads_waits_within_the_ceiling():
    import random

    rng = random.Random(7)
    waits = [
        POLICY.delay(retries_done=2, error=error_for_status(503), rand=rng.random)
        for _ in range(200)
    ]
    assert all(0 <= wait <= 2.0 for wait in waits)
    assert len({round(wait, 3) for wait in waits}) > 50  # really jittered, not one fixed value


def test_retry_budget_is_bounded():
    error = error_for_status(503)
    assert POLICY.delay(retries_done=4, error=error) is not None
    assert POLICY.delay(retries_done=5, error=error) is None
    assert RetryPolicy(max_retries=0).delay(retries_done=0, error=error) is None


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(0, 0.0), (3, 3.0), (30, 30.0), (31, None), (3600, None)],
)
def test_retry_after_is_honoured_up_to_its_cap(retry_after, expected):
    for status in (429, 503):
        error = error_for_status(status, retry_after=retry_after)
        assert POLICY.delay(retries_done=0, error=error, rand=lambda: 0.0) == expected


def test_rate_limited_without_retry_after_falls_back_to_backoff():
    error = error_for_status(429)
    assert isinstance(error, RateLimitedError)
    assert POLICY.delay(retries_done=1, error=error, rand=lambda: 1.0) == 1.0


def test_a_server_error_class_for_every_5xx():
    assert isinstance(error_for_status(599), ServerError)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        (" 12 ", 12.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("-3", None),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),  # relative to the pinned "now" below
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # a date in the past means "now"
    ],
)
def test_retry_after_header_parsing(header, expected):
    from datetime import UTC, datetime

    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected
