"""Unit tests of the Vitec error hierarchy: status mapping, message extraction, broker messages."""

from __future__ import annotations

import json

import pytest

from contacts.vitec.errors import (
    AuthenticationError,
    BadResponseError,
    FailedRequest,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ValidationError,
    VitecConnectionError,
    VitecError,
    VitecTimeoutError,
    error_for_status,
    vitec_message_from_body,
)

REQUEST = FailedRequest(
    method="GET", url="https://connect.maklare.vitec.net/CRM/Contact/M30011/P-1%2C2,P-3"
)
PASSWORD = "hunter2-Sup3rHemligt!"  # given to nothing below; must never show up anywhere

ALL_CLASSES = [
    VitecError,
    AuthenticationError,
    PermissionDeniedError,
    ValidationError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    VitecConnectionError,
    VitecTimeoutError,
    BadResponseError,
]

# --- status -> error ------------------------------------------------------------------------------

STATUSES = [
    # (status, class, retryable)
    (400, ValidationError, False),
    (401, AuthenticationError, False),
    (403, PermissionDeniedError, False),
    (404, NotFoundError, False),
    (429, RateLimitedError, True),
    (500, ServerError, False),
    (502, ServerError, True),
    (503, ServerError, True),
    (504, ServerError, True),
    (418, BadResponseError, False),
]


@pytest.mark.parametrize(("status", "cls", "retryable"), STATUSES)
def test_error_for_status(status, cls, retryable) -> None:
    error = error_for_status(status, request=REQUEST)
    assert type(error) is cls
    assert isinstance(error, VitecError)
    assert error.status == status
    assert error.retryable is retryable
    assert error.request == REQUEST
    assert error.retry_after is None
    assert error.vitec_message is None


@pytest.mark.parametrize(("status", "cls", "retryable"), STATUSES)
def test_error_for_status_carries_retry_after(status, cls, retryable) -> None:
    error = error_for_status(status, retry_after=7.5)
    assert error.retry_after == 7.5


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (VitecConnectionError("refused"), True),
        (VitecTimeoutError("read timed out"), True),
        (VitecError("x"), False),
        (BadResponseError("not JSON"), False),
        (AuthenticationError("401"), False),
        (PermissionDeniedError("403"), False),
        (ValidationError("400"), False),
        (NotFoundError("404"), False),
        (RateLimitedError("429"), True),
        (ServerError("no status"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_retryable_without_status(error, retryable) -> None:
    assert error.retryable is retryable


def test_timeout_is_a_connection_error() -> None:
    assert issubclass(VitecTimeoutError, VitecConnectionError)


# --- Vitec's message from the error body ----------------------------------------------------------

MODEL_STATE_BODY = json.dumps(
    {
        "message": "The request is invalid.",
        "modelState": {"contactIds": ["Contact id too long", "Too many contact ids"]},
    }
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"message": "Kontakten finns inte"}', "Kontakten finns inte"),
        ('{"Message": "Kontakten finns inte"}', "Kontakten finns inte"),
        (b'{"message": "Kontakten finns inte"}', "Kontakten finns inte"),
        ('{"message": "  padded  "}', "padded"),
        ('{"message": "X", "Message": "X"}', "X"),
        ('"Ett fel uppstod"', "Ett fel uppstod"),
        ('["Fel ett", "Fel tv\\u00e5"]', "Fel ett Fel två"),
        ("", None),
        (b"", None),
        (None, None),
        ("<html><body><h1>Server Error</h1></body></html>", None),
        ("Internal Server Error", None),
        (b"\x89PNG\r\n\x1a\n", None),
        ("{}", None),
        ("[]", None),
        ("null", None),
        ("42", None),
        ('{"message": ""}', None),
        ('{"message": null}', None),
        ('{"unrelated": "field"}', None),
        ('{"message": 500}', None),
        pytest.param("[" * 100_000, None, id="deeply-nested-json"),  # must not crash either
    ],
    ids=lambda v: repr(v)[:40],
)
def test_vitec_message_from_body(body, expected) -> None:
    assert vitec_message_from_body(body) == expected


@pytest.mark.parametrize(
    "body", [MODEL_STATE_BODY, MODEL_STATE_BODY.encode()], ids=["str", "bytes"]
)
def test_vitec_message_from_aspnet_model_state_keeps_all_texts(body) -> None:
    message = vitec_message_from_body(body)
    assert message is not None
    for text in ("The request is invalid.", "Contact id too long", "Too many contact ids"):
        assert text in message


def test_vitec_message_from_problem_details_errors() -> None:
    body = json.dumps(
        {
            "title": "One or more validation errors occurred.",
            "errors": {"Term": ["Term must be at least 5 characters."]},
        }
    )
    message = vitec_message_from_body(body)
    assert "One or more validation errors occurred." in message
    assert "Term must be at least 5 characters." in message


def test_vitec_message_from_invalid_utf8_bytes() -> None:
    body = '{"message": "Kontakten är låst"}'.encode("latin-1")  # not UTF-8
    message = vitec_message_from_body(body)
    assert isinstance(message, str)
    assert message.startswith("Kontakten ")
    assert "st" in message


def test_vitec_message_from_invalid_utf8_non_json() -> None:
    assert vitec_message_from_body(b"\xff\xfe\xfa garbage") is None


def test_huge_message_is_cut_to_500_characters() -> None:
    body = json.dumps({"message": "å" * 5_000})
    message = vitec_message_from_body(body)
    assert message == "å" * 500
    assert len(vitec_message_from_body(json.dumps(["x" * 300, "y" * 300]))) == 500


def test_error_for_status_reads_the_body() -> None:
    error = error_for_status(403, body=b'{"message": "Ingen beh\\u00f6righet till M30011"}')
    assert error.vitec_message == "Ingen behörighet till M30011"


# --- messages for logs and for brokers ------------------------------------------------------------


@pytest.mark.parametrize(("status", "cls", "retryable"), STATUSES)
def test_str_has_status_request_and_vitec_message(status, cls, retryable) -> None:
    error = error_for_status(status, body='{"message": "Vitecs egen text"}', request=REQUEST)
    text = str(error)
    assert str(status) in text
    assert "GET https://connect.maklare.vitec.net/CRM/Contact/M30011/P-1%2C2,P-3" in text
    assert "Vitecs egen text" in text
    assert PASSWORD not in text
    assert PASSWORD not in repr(error)


def test_str_of_connection_error_without_status() -> None:
    error = VitecConnectionError("Connection refused", request=REQUEST)
    text = str(error)
    assert "Connection refused" in text
    assert "GET https://connect.maklare.vitec.net/CRM/Contact/M30011/P-1%2C2,P-3" in text
    assert "status" not in text
    assert PASSWORD not in text


def test_default_detail_is_the_class_name() -> None:
    assert str(NotFoundError()) == "NotFoundError"


def test_every_kind_of_failure_has_a_code_of_its_own() -> None:
    codes = [cls.code for cls in ALL_CLASSES]
    assert len(set(codes)) == len(ALL_CLASSES)
    assert all(code and code.isascii() and code == code.lower() for code in codes)
