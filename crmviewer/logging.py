"""Keeps secrets out of logs and error reports: passwords, Authorization headers, Fernet tokens.

`RedactSecretsFilter` sits on every logging handler (settings.LOGGING); the exception reporter
filter (settings.DEFAULT_EXCEPTION_REPORTER_FILTER) does the same for 500 reports.
Also: the request id on every log record (`RequestIdFilter`) and the JSON log format.
"""

from __future__ import annotations

import logging
import re
from collections.abc import ItemsView, Mapping
from contextvars import ContextVar
from types import FrameType
from typing import TYPE_CHECKING, Any

from django.utils.datastructures import MultiValueDict
from django.views.debug import SafeExceptionReporterFilter
from pythonjsonlogger import json as jsonlogger
from pythonjsonlogger.core import RESERVED_ATTRS

if TYPE_CHECKING:
    from django.http import HttpRequest

REDACTED = "[REDACTED]"

# The value of an Authorization header in any spelling a log line may carry it:
# "Authorization: Basic ...", "'Authorization': 'Bearer ...'", "HTTP_AUTHORIZATION=...".
_AUTHORIZATION = re.compile(
    r"""(?P<key>authorization['"]?\s*[:=]\s*b?['"]?)"""
    r"""(?P<scheme>[A-Za-z]+\s+)?(?P<value>[^\s'",;}]+)""",
    re.IGNORECASE,
)
# A credential after its scheme, wherever it appears on its own.
_SCHEME_CREDENTIAL = re.compile(r"\b(?P<scheme>Basic|Bearer|Digest)\s+[A-Za-z0-9+/=._~-]{8,}")
# key=value and key: value pairs whose key names a secret; the value quoted or bare.
_SECRET_PAIR = re.compile(
    r"""(?P<key>[\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key)[\w-]*['"]?\s*[:=]\s*)"""
    r"""(?:b?(?P<quote>['"])(?P<quoted>.*?)(?P=quote)|(?P<bare>[^\s&'",;)}\]]+))""",
    re.IGNORECASE,
)
# requests' auth=(user, password) tuple, in a repr.
_AUTH_TUPLE = re.compile(r"""(?P<key>\bauth['"]?\s*[:=]\s*)\([^()]*\)""", re.IGNORECASE)
# A Fernet token (what CREDENTIAL_KEYS make of a stored password): version byte 0x80, base64.
_FERNET_TOKEN = re.compile(r"gAAAAA[A-Za-z0-9_-]{20,}={0,2}")
# user:password@ in a URL.
_URL_PASSWORD = re.compile(r"(?P<start>://[^/\s:@]+:)[^/\s@]+(?P<end>@)")


def _authorization(match: re.Match[str]) -> str:
    return f"{match['key']}{match['scheme'] or ''}{REDACTED}"


def _secret_pair(match: re.Match[str]) -> str:
    if match["quote"]:
        return f"{match['key']}{match['quote']}{REDACTED}{match['quote']}"
    return f"{match['key']}{REDACTED}"


def redact(text: str) -> str:
    """The text with every secret-looking value replaced by [REDACTED]."""
    text = _AUTHORIZATION.sub(_authorization, text)
    text = _SCHEME_CREDENTIAL.sub(lambda m: f"{m['scheme']} {REDACTED}", text)
    text = _SECRET_PAIR.sub(_secret_pair, text)
    text = _AUTH_TUPLE.sub(lambda m: f"{m['key']}({REDACTED})", text)
    text = _FERNET_TOKEN.sub(REDACTED, text)
    return _URL_PASSWORD.sub(lambda m: f"{m['start']}{REDACTED}{m['end']}", text)


_TRACEBACK_FORMATTER = logging.Formatter()


class RedactSecretsFilter(logging.Filter):
    """Redacts the message (its arguments merged in), the traceback and the stack of a record.

    The record is changed in place, so handlers after this one see the redacted text too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: else the handler prints msg and args raw
            message = f"{record.msg} {record.args!r}"
            record.msg, record.args = message, None
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACK_FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, and also: POST parameters and traceback variables with secret-looking
    names, header mappings (an Authorization header deep inside requests or urllib3) and secrets
    in strings.

    Like Django's, it is active only when DEBUG is off.
    """

    def cleanse_special_types(self, request: HttpRequest | None, value: Any) -> Any:
        value = super().cleanse_special_types(request, value)
        if not self.is_active(request) or isinstance(value, MultiValueDict):
            return value
        if isinstance(value, Mapping):
            try:
                return {key: self.cleanse_setting(key, item) for key, item in value.items()}
            except Exception:  # a mapping that cannot be read cannot be shown safely either
                return self.cleansed_substitute
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, bytes):
            return redact(value.decode("utf-8", "replace"))
        return value

    def get_post_parameters(self, request: HttpRequest | None) -> dict[str, Any]:
        parameters = super().get_post_parameters(request)
        if not self.is_active(request) or not parameters:
            return parameters
        cleansed = parameters.copy()
        for name in cleansed:
            if self.hidden_settings.search(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(
        self, request: HttpRequest | None, tb_frame: FrameType
    ) -> ItemsView[str, Any]:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        if not self.is_active(request):
            return variables
        return {
            name: self.cleansed_substitute if self.hidden_settings.search(name) else value
            for name, value in variables
        }.items()


# --- The request id on every log record ---------------------------------------------------------

# The id of the request being handled in this thread (or task); "-" outside a request.
# RequestIdMiddleware sets it; threads a request starts get it by running in a copy of the
# context (contextvars.copy_context().run), since concurrent.futures does not pass it on.
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# The attribute RequestIdMiddleware sets on the request it handles (HttpRequest declares none).
REQUEST_ID_ATTRIBUTE = "request_id"

# gunicorn logs its access line after the request's context has been left; the id is then in the
# response headers that its record carries as arguments.
_GUNICORN_RESPONSE_ID = "{x-request-id}o"


class RequestIdFilter(logging.Filter):
    """Sets `request_id` on every record: the id of the request it was logged in, or "-".

    Django logs "Not Found: /path" (django.request) after the middleware has returned and the
    context has been reset; that record carries the request itself as `record.request`, and
    RequestIdMiddleware left the id on it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None):
            return True
        request_id = request_id_var.get()
        if request_id == "-":
            # Not every `request` extra is an HttpRequest (runserver's is a socket): a str only.
            given = getattr(getattr(record, "request", None), REQUEST_ID_ATTRIBUTE, None)
            request_id = given if isinstance(given, str) and given else "-"
        if request_id == "-" and isinstance(record.args, Mapping):
            request_id = str(record.args.get(_GUNICORN_RESPONSE_ID) or "-")
        record.request_id = request_id
        return True


class JsonFormatter(jsonlogger.JsonFormatter):
    """One JSON object per line (python-json-logger), kept as free of secrets as the plain lines.

    python-json-logger formats the traceback itself, from the exception rather than from the
    text RedactSecretsFilter cleaned, and writes a record's extra attributes as they are: every
    text value is redacted here. Django's `request` extra is left out: its repr holds the query
    string, where contact ids are.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request"])
        super().__init__(*args, **kwargs)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {
            key: redact(value) if isinstance(value, str) else value
            for key, value in super().process_log_record(log_data).items()
        }
