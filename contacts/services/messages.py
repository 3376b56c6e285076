"""What a broker reads when a Vitec call failed: one message per kind of failure (the error's
`code`, contacts/vitec/errors.py), in the active language. Vitec's own text, when it sent one,
stays apart from these words (`vitec_text`)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..vitec.errors import VitecError

MESSAGES: dict[str, Promise] = {
    "unavailable": _("Vitec could not be reached right now. Try again in a while."),
    "authentication": _(
        "Vitec did not accept the stored API user name or password. Ask your administrator "
        "to check the credential."
    ),
    "permission_denied": _(
        "The stored credential has no access to this customer in Vitec. Ask your administrator."
    ),
    "invalid_request": _("Vitec rejected the request as invalid."),
    "not_found": _("Vitec did not find what was asked for."),
    "rate_limited": _("Vitec asks us to slow down. Wait a moment and try again."),
    "server_error": _("Vitec had an internal error. Try again in a while."),
    "connection": _("Vitec could not be reached. Check the connection and try again."),
    "timeout": _("Vitec did not answer in time. Try again in a while."),
    "circuit_open": _(
        "Vitec has not been answering for this customer, so crmviewer pauses its calls for a "
        "short while. Try again in a minute."
    ),
    "bad_response": _("Vitec sent an answer that could not be read. Try again in a while."),
    "busy": _(
        "Many of your office's requests are waiting on Vitec right now, so some contacts were "
        "not asked for. Try again in a moment."
    ),
}


def broker_message(error: VitecError) -> str:
    """The broker's words for the error, in the active language: never Vitec's own text, which
    `vitec_text` gives apart. A paused credential names how long the pause still lasts."""
    seconds = getattr(error, "seconds_left", None)
    if error.code == "circuit_open" and seconds:
        return ngettext(
            "Vitec has not been answering for this customer, so crmviewer pauses its calls for "
            "%(seconds)d second. Try again after that.",
            "Vitec has not been answering for this customer, so crmviewer pauses its calls for "
            "%(seconds)d seconds. Try again after that.",
            seconds,
        ) % {"seconds": seconds}
    return str(MESSAGES.get(error.code, MESSAGES["unavailable"]))


def vitec_text(error: VitecError) -> str:
    """Vitec's own text about a refused request (it names what Vitec did not accept), to be
    shown apart from the broker's words; "" for any other failure, whose text may hold
    internals (a stack trace, a server name)."""
    if error.code == "invalid_request" and error.vitec_message:
        return error.vitec_message
    return ""
