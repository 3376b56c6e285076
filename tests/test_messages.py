"""What a broker reads when a Vitec call failed (contacts/services/messages.py): one message per
kind of failure, in English and Swedish; Vitec's own text about a refused request kept apart;
an open breaker naming its pause in seconds. Expectations are written out by hand
(tests/dashboard_fixtures.py)."""

from __future__ import annotations

import pytest
from django.utils.translation import override

from contacts.services import broker_message
from contacts.services.messages import vitec_text
from contacts.vitec import errors
from tests.dashboard_fixtures import BROKER_MESSAGES_EN

VITEC_TEXT = "Kontakt-id är för långt"


@pytest.mark.parametrize("cls", list(BROKER_MESSAGES_EN), ids=lambda c: c.__name__)
def test_each_kind_of_failure_in_english(cls) -> None:
    with override("en"):
        assert broker_message(cls("detail", status=500)) == BROKER_MESSAGES_EN[cls]


def test_every_error_class_has_its_message() -> None:
    def subclasses(cls: type) -> set[type]:
        return {cls} | {s for sub in cls.__subclasses__() for s in subclasses(sub)}

    assert subclasses(errors.VitecError) == set(BROKER_MESSAGES_EN)


@pytest.mark.parametrize(
    ("cls", "swedish"),
    [
        (errors.ServerError, "Ett internt fel uppstod hos Vitec. Försök igen om en stund."),
        (
            errors.AuthenticationError,
            "Vitec godkände inte det sparade API-användarnamnet eller lösenordet. Be din "
            "administratör kontrollera inloggningsuppgifterna.",
        ),
    ],
)
def test_swedish_by_default(cls, swedish) -> None:
    with override("sv"):
        assert broker_message(cls("detail")) == swedish


def test_a_refused_request_keeps_vitecs_own_text_apart() -> None:
    error = errors.error_for_status(400, body=f'{{"message": "{VITEC_TEXT}"}}')
    with override("en"):
        assert broker_message(error) == "Vitec rejected the request as invalid."
    assert vitec_text(error) == VITEC_TEXT
    without_text = errors.error_for_status(400, body="<html>Bad Request</html>")
    with override("en"):
        assert broker_message(without_text) == "Vitec rejected the request as invalid."
    assert vitec_text(without_text) == ""


@pytest.mark.parametrize(
    ("seconds", "english", "swedish"),
    [
        (
            30,
            "Vitec has not been answering for this customer, so crmviewer pauses its calls for "
            "30 seconds. Try again after that.",
            "Vitec har inte svarat för den här kunden, så crmviewer pausar anropen i 30 sekunder. "
            "Försök igen efter det.",
        ),
        (
            1,
            "Vitec has not been answering for this customer, so crmviewer pauses its calls for "
            "1 second. Try again after that.",
            "Vitec har inte svarat för den här kunden, så crmviewer pausar anropen i 1 sekund. "
            "Försök igen efter det.",
        ),
    ],
)
def test_an_open_breaker_names_the_pause_in_seconds(seconds, english, swedish) -> None:
    error = errors.CircuitOpenError("open", seconds_left=seconds)
    with override("en"):
        assert broker_message(error) == english
    with override("sv"):
        assert broker_message(error) == swedish


def test_other_failures_never_show_vitecs_text() -> None:
    error = errors.error_for_status(500, body='{"message": "Stack trace: password=hemligt"}')
    with override("en"):
        assert broker_message(error) == BROKER_MESSAGES_EN[errors.ServerError]
    assert vitec_text(error) == ""
