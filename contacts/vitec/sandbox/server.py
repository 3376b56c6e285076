"""The Vitec Connect sandbox server: a local stand-in that speaks the documented contract over HTTP.

Built on http.server rather than Django because the contact-ids path segment must be read raw:
ids are split on literal commas *before* percent-decoding, so an id containing `%2C` or `%2F`
survives intact. Faults (error statuses, broken bodies, slow or hanging answers) can be switched on
for every request, for the next N requests, at random, or per request with a magic contact id.

Choices where Vitec documents nothing:
- Order of checks: unknown path 404, then non-GET 405, then Basic auth 401, then (GetCategories
  only) a missing customerId 400, then 403 for a customer outside the account, then any fault,
  then validation 400. Latency is slept before every Vitec API answer, whatever it is.
- XML (`Accept: application/xml` or `text/xml`) is served by the contact endpoints only; the id
  list, Search, search/SocialNumber, ContactRelations, GetCategories and GetUser always answer
  JSON, and errors are always JSON.
- GetCategories and GetUser answer a missing customer id with 400 (before the 403 check).
- `CRM/Contact/{customerId}/{contactId}/ContactRelations`: the contact id is matched without
  regard to letter case; an unknown contact is 404 with the one-contact route's message; a
  contact without relations has `[]` for both lists. A relation's type comes as its name or,
  now and then, as its number (both are Vitec's enum). Relations are read only from
  CustomerData.relations / reverse_relations.
- `search/SocialNumber`: the number must be 10 to 13 characters (400 otherwise). A Swedish-shaped
  number (10 or 12 digits, with or without `-`/`+`) matches on its last 10 digits, so century
  digits and separators do not matter; any other (foreign) number matches the stored number
  exactly once spaces are removed on both sides. MaxSize as in Search.
- GetUser: `UserId` matches without regard to letter case; `SearchText` is a case-insensitive
  substring of the user's name, title or e-mail address. Archived users are listed too.
- In the `?contactIds=` query form the value is decoded first and then split on commas (as ASP.NET
  binds a string), so there an encoded comma separates ids too; the path form keeps `%2C` inside.
- "hang" answers nothing: after `slow_body_seconds` (or at stop()) the connection is closed.
- A contacts path whose ids segment has no comma (`CRM/Contact/{customerId}/{contactId}`) takes
  Vitec's documented one-contact route: the answer is the contact itself, one object (in XML a
  `CrmContact` root), and 404 when there is none. Which route Vitec really picks is not
  documented, so `single_as_list` makes the sandbox answer such a path with a list instead. The
  single-type endpoints (`.../Person/{ids}`) always answer lists.
- Ids are matched without regard to letter case, as Vitec does; an answer carries each contact's
  own spelling of its id.
- Every faulted answer carries an `X-Sandbox-Fault` header naming the fault.
- A few contacts are of type `Association` (förening), which Vitec's notifications name but the
  contacts page does not document. The id list (`GET CRM/Contact/{customerId}`) has no group for
  it and lists it under `companies`; the list and one-contact routes answer it (in XML as a plain
  `CrmContact`, without `i:type`); the one-type routes (`.../Person/`, `.../Company/`,
  `.../DeceasedEstate/`) never return it; Search finds it by name.

Contacts that change while the sandbox runs (for sync tests and demos):
- Each server holds an overlay of changes per customer id (thread-safe): contacts updated or
  added, and contacts removed. Every Vitec endpoint serves the generated data (the module-level
  `customer_data`, looked up per request so tests may patch it) with the overlay on top: the
  contact routes (JSON and XML, list, one-id and one-type), the id list and its filters (which
  see the new `changedAt`), Search, search/SocialNumber and ContactRelations (a removed contact
  has no relations, 404 there, and is left out of every other contact's relations). A customer
  without changes is served the generated data itself; with changes, a merged copy
  (`SandboxServer.customer_view`) is built once per change and cached. A changed contact keeps
  its place in the id list and in Search ties; an added one comes last.
- Python API (ids match without regard to letter case, and raise UnknownContact, a LookupError,
  for an unknown contact and ValueError for bad input):
  `contact_update(customer_id, contact_id, changes) -> contact`: merges camelCase fields into
  the contact (objects such as `email` key by key, anything else replaced; `id` and
  `customerId` cannot change) or, for an unknown id and `changes` with a "type", adds it
  (createdAt defaults to now, agentId to null); `changedAt` becomes now (real time, Vitec's
  seven fractional digits and Stockholm offset, strictly increasing from call to call).
  `contact_remove(customer_id, contact_id)`. `contacts_merge(customer_id, target_id,
  source_ids) -> target`: the sources are removed (their relations go with them) and the
  target's `changedAt` becomes now. `changes_reset()` forgets every change and notification.
- Control API (no auth, JSON bodies and answers, errors `{"message": ...}`):
  `PUT /_sandbox/contacts/{customerId}/{contactId}` with the changes -> 200 and the contact;
  `DELETE /_sandbox/contacts/{customerId}/{contactId}` -> 200 `{"status": "ok"}`;
  `POST /_sandbox/contacts/{customerId}/merge` with `{"target": id, "sources": [ids]}` -> 200
  and the target; `DELETE /_sandbox/contacts` resets every change; `GET /_sandbox/notifications`
  lists the notifications sent. 400 for a body that is no JSON object or bad changes, 404 for
  an unknown contact (or an unknown target or source of a merge).
- Notifications: when the runtime setting `notify_url` (`PUT /_sandbox/config`,
  `--notify-url`) is set, every change above POSTs Vitec's notification JSON there, from one
  background thread (never blocking the change; in order; timeout 2 s; failures logged, never
  raised). Update/Remove: `{"name": "crmviewer", "type": "Contact", "subtype": "Person" |
  "Company" | "Estate" | "Association", "event": "Update" | "Remove", "id", "customerId",
  "chainId": null, "tenantId": null}`; merge: `{"type": "Merge", "event": "Merge", "subtype"
  (the target's, "Person" for a person), "id": target, "destinationId": target, "sourceIds",
  "customerId"}`. The same parameters go in the query string too, as Vitec does, except
  `destinationId` and `sourceIds`; null values are left out there. Each one sent is recorded
  (`SandboxServer.notifications`: url with query, body, the receiver's status or the error);
  `changes_reset` clears them and drops any not yet sent.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hmac
import json
import logging
import math
import queue
import random
import re
import socket
import socketserver
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import unquote, unquote_plus, urlencode, urlsplit

from contacts.vitec.sandbox.data import (
    STOCKHOLM,
    CustomerData,
    apply_changes,
    customer_data,
    format_timestamp,
)
from contacts.vitec.sandbox.xml import contact_to_xml, contacts_to_xml

__all__ = [
    "DEFAULT_ACCOUNTS",
    "FAULTS",
    "NOTIFICATION_NAME",
    "RUNTIME_FIELDS",
    "Account",
    "NotificationRecord",
    "RequestRecord",
    "SandboxConfig",
    "SandboxServer",
    "SandboxStats",
    "UnknownContact",
    "parse_accounts",
]

logger = logging.getLogger(__name__)

FAULTS = (
    "500",
    "502",
    "503",
    "504",
    "429",
    "400",
    "400-empty",
    "404",
    "malformed",
    "truncated",
    "html",
    "slow",
    "hang",
)
# Config fields that may change while the server runs (PUT /_sandbox/config).
RUNTIME_FIELDS = (
    "latency_ms",
    "fail_rate",
    "fault",
    "fault_count",
    "retry_after",
    "slow_body_seconds",
    "single_as_list",
    "notify_url",
)

MAX_IDS_PER_CALL = 20
MAX_ID_LENGTH = 40
MAX_SEARCH_SIZE = 1000
DEFAULT_SEARCH_SIZE = 50
MIN_TERM_LENGTH = 5
MIN_SOCIAL_NUMBER_LENGTH = 10
MAX_SOCIAL_NUMBER_LENGTH = 13
MAGIC_FAULT_PREFIX = "fault-"

JSON_TYPE = "application/json; charset=utf-8"
REALM = 'Basic realm="Vitec Connect sandbox"'
DENIED = "Authorization has been denied for this request."
INVALID = "The request is invalid."

_TYPE_SEGMENTS = {"person": "Person", "company": "Company", "deceasedestate": "DeceasedEstate"}
_FAULT_STATUS = {
    "500": (500, "An error has occurred."),
    "502": (502, "Bad Gateway: the upstream server sent an invalid response."),
    "503": (503, "The service is temporarily unavailable. Please try again later."),
    "504": (504, "Gateway Timeout: the upstream server did not answer in time."),
    "429": (429, "Too many requests. Please try again later."),
    "400": (400, INVALID),
    "404": (404, "No HTTP resource was found that matches the request URI."),
}
_MALFORMED_BODY = b'[{"id": "sandbox-malformed", "type": "Person", "firstName": "Anna", '
_HTML_BODY = (
    b"<!DOCTYPE html>\n<html><head><title>Runtime Error</title></head>\n"
    b"<body><h1>Server Error in '/' Application.</h1>\n"
    b"<p>An application error occurred on the server. (Vitec Connect sandbox: html fault)</p>\n"
    b"</body></html>\n"
)
_MAX_REQUEST_BODY = 1_000_000

# Notifications (webhooks): the subscription name in every body, Vitec's subtype per contact
# type, and how long a receiver may take (Vitec's own limit).
NOTIFICATION_NAME = "crmviewer"
NOTIFY_TIMEOUT = 2.0
_SUBTYPES = {
    "Person": "Person",
    "Company": "Company",
    "DeceasedEstate": "Estate",
    "Association": "Association",
}
_NOT_IN_QUERY = frozenset({"destinationId", "sourceIds"})
_NON_ASCII_BYTE = re.compile(rb"[\x80-\xff]")


# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """A Basic-auth user of the sandbox and the customer ids its password covers."""

    username: str
    password: str
    customers: frozenset[str]

    def __post_init__(self) -> None:
        # The fields come from JSON (--accounts) too, so the values are checked as what they
        # may be at run time, whatever the annotations promise; customers may be any iterable.
        username: object = self.username
        password: object = self.password
        customers: object = self.customers
        if not isinstance(username, str) or not username or ":" in username:
            raise ValueError("an account username must be a non-empty string without ':'")
        if not isinstance(password, str) or not password:
            raise ValueError(f"account {self.username!r}: the password must be a non-empty string")
        if isinstance(customers, str) or not isinstance(customers, Iterable):
            raise ValueError(f"account {self.username!r}: customers must be a list of customer ids")
        customer_ids = frozenset(customers)
        if not customer_ids or not all(
            isinstance(c, str) and 0 < len(c) <= MAX_ID_LENGTH and c.strip() == c
            for c in customer_ids
        ):
            raise ValueError(
                f"account {self.username!r}: customers must be a non-empty list of customer ids "
                f"(non-empty strings of at most {MAX_ID_LENGTH} characters)"
            )
        object.__setattr__(self, "customers", customer_ids)


DEFAULT_ACCOUNTS = (Account("demo", "demo", frozenset({"M1001", "M1002"})),)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _validated(name: str, value: Any) -> Any:
    """Check one config value; return it normalised or raise ValueError with a clear message."""
    if name == "latency_ms":
        if not _is_int(value) or not 0 <= value <= 600_000:
            raise ValueError("latency_ms must be an integer between 0 and 600000")
        return value
    if name == "fail_rate":
        if not _is_number(value) or not 0 <= value <= 1:
            raise ValueError("fail_rate must be a number between 0 and 1")
        return float(value)
    if name == "seed":
        if not _is_int(value):
            raise ValueError("seed must be an integer")
        return value
    if name == "accounts":
        if isinstance(value, Account) or not isinstance(value, Iterable):
            raise ValueError("accounts must be a sequence of Account")
        accounts = tuple(value)
        if not all(isinstance(a, Account) for a in accounts):
            raise ValueError("accounts must be a sequence of Account")
        names = [a.username for a in accounts]
        if len(set(names)) != len(names):
            raise ValueError("account usernames must be unique")
        return accounts
    if name == "contacts_per_customer":
        if not _is_int(value) or not 1 <= value <= 99_999:
            raise ValueError("contacts_per_customer must be an integer between 1 and 99999")
        return value
    if name == "fault":
        if value is None:
            return None
        if not isinstance(value, str) or value.lower() not in FAULTS:
            raise ValueError(f"fault must be null or one of: {', '.join(FAULTS)} (got {value!r})")
        return value.lower()
    if name == "fault_count":
        if value is not None and (not _is_int(value) or value < 0):
            raise ValueError("fault_count must be null or an integer >= 0")
        return value
    if name == "retry_after":
        if not _is_int(value) or not 0 <= value <= 86_400:
            raise ValueError("retry_after must be an integer number of seconds between 0 and 86400")
        return value
    if name == "single_as_list":
        if not isinstance(value, bool):
            raise ValueError("single_as_list must be true or false")
        return value
    if name == "slow_body_seconds":
        if not _is_number(value) or not 0 <= value <= 3600:
            raise ValueError("slow_body_seconds must be a number of seconds between 0 and 3600")
        return float(value)
    if name == "notify_url":
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("notify_url must be null or an http(s) URL")
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in {"http", "https"} or not parts.netloc or parts.fragment:
            raise ValueError(
                f"notify_url must be null or an http(s) URL without a #fragment (got {value!r})"
            )
        return value.strip()
    raise ValueError(f"unknown sandbox setting {name!r}")


@dataclass
class SandboxConfig:
    latency_ms: int = 0  # added before every answer
    fail_rate: float = 0.0  # probability (0..1) that a request answers 500
    seed: int = 1  # data and fault randomness are deterministic per seed
    accounts: tuple[Account, ...] = DEFAULT_ACCOUNTS
    contacts_per_customer: int = 2400
    fault: str | None = None  # None or one of FAULTS: applied to every matching request
    fault_count: int | None = None  # None = always; N = only the next N requests, then off
    retry_after: int = 2  # seconds sent in Retry-After with the 429/503 faults
    slow_body_seconds: float = 5.0  # how long "slow" trickles the body (and "hang" waits)
    # A one-id path (no comma) answers a list, as the list route does, instead of the object.
    single_as_list: bool = False
    # Where each change made through the sandbox (contact_update and friends) is notified, as
    # Vitec's webhooks do; None sends nothing.
    notify_url: str | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, _validated(f.name, getattr(self, f.name)))

    def public_dict(self) -> dict[str, Any]:
        """The config as JSON-ready data, without passwords."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "accounts"}
        data["accounts"] = [
            {"username": a.username, "customers": sorted(a.customers)} for a in self.accounts
        ]
        return data


def parse_accounts(text: str) -> tuple[Account, ...]:
    """Accounts from JSON `[{"username": ..., "password": ..., "customers": ["M1001"]}]`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc})") from exc
    if not isinstance(data, list) or not data:
        raise ValueError(
            'expected a non-empty JSON list like [{"username": ..., '
            '"password": ..., "customers": ["M1001"]}]'
        )
    accounts = []
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise ValueError(f"account #{index} is not a JSON object")
        missing = {"username", "password", "customers"} - item.keys()
        if missing:
            raise ValueError(f"account #{index} lacks {', '.join(sorted(missing))}")
        if not isinstance(item["customers"], list):
            raise ValueError(f"account #{index}: customers must be a list of customer ids")
        try:
            customers = frozenset(item["customers"])  # a TypeError if an id is unhashable
            accounts.append(Account(item["username"], item["password"], customers))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"account #{index}: {exc}") from exc
    return _validated("accounts", accounts)


# -- statistics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRecord:
    method: str
    raw_path: str
    # "contacts", "contact-ids", "search", "social-number", "relations", "categories", "users"
    # or "other"
    endpoint: str
    customer_id: str | None
    contact_ids: tuple[str, ...]  # the decoded ids of a contacts call, as asked
    status: int  # 0 when no answer was sent (the "hang" fault)
    accept: str
    started: float  # time.monotonic()
    finished: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "raw_path": self.raw_path,
            "endpoint": self.endpoint,
            "customer_id": self.customer_id,
            "contact_ids": list(self.contact_ids),
            "status": self.status,
            "accept": self.accept,
            "started": self.started,
            "finished": self.finished,
        }


class SandboxStats:
    """Thread-safe record of the Vitec API requests (control paths are not counted)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._in_flight = 0
        self._max_in_flight = 0

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._max_in_flight

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._max_in_flight = self._in_flight

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": [r.to_dict() for r in self._requests],
                "max_in_flight": self._max_in_flight,
            }

    def _begin(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _end(self, record: RequestRecord) -> None:
        with self._lock:
            self._in_flight -= 1
            self._requests.append(record)


# -- the server ------------------------------------------------------------------------------


class _Answer(NamedTuple):
    status: int
    body: bytes
    content_type: str | None = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()


def _json(status: int, payload: Any, *headers: tuple[str, str]) -> _Answer:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _Answer(status, body, JSON_TYPE, tuple(headers))


def _message(status: int, message: str, *headers: tuple[str, str]) -> _Answer:
    return _json(status, {"message": message}, *headers)


def _invalid(field_name: str, *errors: str) -> _Answer:
    return _json(400, {"message": INVALID, "modelState": {field_name: list(errors)}})


@dataclass
class _Call:
    """What the handler learned about one Vitec API request (feeds the RequestRecord)."""

    endpoint: str = "other"
    customer_id: str | None = None
    contact_ids: tuple[str, ...] = ()
    contact_type: str | None = None  # the single-type endpoints
    single: bool = False  # the one-contact route: one id, no comma in its path segment
    query: dict[str, list[str]] = field(default_factory=dict)


class UnknownContact(LookupError):
    """A contact the sandbox does not have (never had, or removed or merged away)."""

    def __init__(self, customer_id: str, contact_id: str) -> None:
        self.customer_id = customer_id
        self.contact_id = contact_id
        super().__init__(f"Kontakten '{contact_id}' hittades inte.")

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class NotificationRecord:
    """One notification the sandbox sent: where (query string included), what, and how it went:
    the receiver's status, or the error (timeout, refused connection) when there was none."""

    url: str
    body: dict[str, Any]
    status: int | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "body": self.body, "status": self.status, "error": self.error}


@dataclass
class _Overlay:
    """The changes to one customer's contacts, keyed by contact id casefolded."""

    changed: dict[str, dict[str, Any]] = field(default_factory=dict)  # updated or added
    removed: set[str] = field(default_factory=set)
    version: int = 0


def _check_id(label: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise ValueError(f"{label} must be a string of 1 to {MAX_ID_LENGTH} characters")
    return value


def _deep_merge(target: dict[str, Any], changes: Mapping[str, Any]) -> None:
    """Merge `changes` into `target`: objects key by key (so `{"email": {"emailAddress": x}}`
    keeps the other e-mail fields), anything else (lists too) replaced."""
    for key, value in changes.items():
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _deep_merge(current, value)
        else:
            target[key] = copy.deepcopy(value)


def _check_contact(contact: Mapping[str, Any]) -> None:
    """Raise ValueError unless the endpoints can serve the contact."""
    if contact.get("type") not in _SUBTYPES:
        raise ValueError(f"type must be one of: {', '.join(_SUBTYPES)}")
    for key in ("createdAt", "changedAt"):
        value = contact.get(key)
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None:
            raise ValueError(f"{key} must be an ISO 8601 timestamp (got {value!r})")
    for key in ("agentId", "socialSecurityNumber", "corporateNumber"):
        if not isinstance(contact.get(key), str | None):
            raise ValueError(f"{key} must be a string or null")
    for key in ("email", "telephone", "address"):
        value = contact.get(key)
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"{key} must be an object or null")
        strings = all(isinstance(v, str | None) for v in (value or {}).values())
        if key != "address" and not strings:
            raise ValueError(f"the values of {key} must be strings or null")


def _post_json(url: str, body: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """POST `body` as JSON (no proxy, NOTIFY_TIMEOUT); the receiver's status, or the error."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    # notify_url is checked to be http(s) (_validated), so no file: or custom scheme gets here.
    request = urllib.request.Request(  # noqa: S310
        url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "VitecConnectSandbox/1.0",
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=NOTIFY_TIMEOUT) as response:
            response.read()
            return response.status, None
    except urllib.error.HTTPError as exc:
        with contextlib.suppress(OSError):
            exc.read()
        exc.close()
        return exc.code, None
    except (OSError, ValueError) as exc:  # URLError, timeouts and refused connections
        reason = getattr(exc, "reason", None)
        return None, f"{type(exc).__name__}: {reason if reason is not None else exc}"


class SandboxServer:
    """A Vitec Connect stand-in on a loopback port. Binds in __init__; `start()` serves."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config if config is not None else SandboxConfig()
        self.stats = SandboxStats()
        self.log = log
        self._lock = threading.RLock()
        self._random = random.Random(self.config.seed)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self._serving = False
        self._closed = False
        server_class = _Server6 if ":" in host else _Server
        self._httpd = server_class((host, port), _Handler)
        self._httpd.sandbox = self
        bound_port = self._httpd.server_address[1]
        url_host = f"[{host}]" if ":" in host else host
        self.host = host
        self.port = bound_port
        self.base_url = f"http://{url_host}:{bound_port}"
        # Contacts changed while the sandbox runs (see customer_view) and their notifications.
        self._changes_lock = threading.RLock()
        self._build_lock = threading.Lock()
        self._overlays: dict[str, _Overlay] = {}
        self._merged: dict[str, tuple[CustomerData, int, CustomerData]] = {}
        self._last_ticks = 0
        self._notify_condition = threading.Condition()
        self._notifications: list[NotificationRecord] = []
        self._notify_generation = 0
        self._notify_queue: queue.Queue[tuple[int, str, dict[str, Any]] | None] = queue.Queue()
        self._notify_thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> SandboxServer:
        """Serve in a daemon thread; returns self."""
        if self._thread is None:
            self._serving = True
            self._thread = threading.Thread(
                target=self._serve, name=f"vitec-sandbox-{self.port}", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() or KeyboardInterrupt."""
        self._serving = True
        self._serve()

    def _serve(self) -> None:
        try:
            self._httpd.serve_forever(poll_interval=0.1)
        finally:
            self._serving = False

    def stop(self) -> None:
        """Stop serving, wake any slow/hanging answer, close every connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        if self._serving:
            self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        self._notify_queue.put(None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # configuration

    def configure(self, **changes: Any) -> None:
        """Validated partial update of the config (all or nothing); raises ValueError."""
        with self._lock:
            validated = {name: _validated(name, value) for name, value in changes.items()}
            for name, value in validated.items():
                setattr(self.config, name, value)
            if "seed" in validated:
                self._random.seed(validated["seed"])

    def config_snapshot(self) -> SandboxConfig:
        with self._lock:
            return copy.copy(self.config)

    # contacts that change while the sandbox runs

    def customer_view(self, customer_id: str, config: SandboxConfig | None = None) -> CustomerData:
        """The customer's data as every endpoint serves it: the generated data (the module's
        `customer_data`) with this server's changes on top. Without changes it is the generated
        data itself; with changes, a merged copy rebuilt only when the changes or the base data
        (seed, count) change."""
        config = config if config is not None else self.config_snapshot()
        base = customer_data(customer_id, seed=config.seed, count=config.contacts_per_customer)
        cached = self._cached_view(customer_id, base)
        if cached is not None:
            return cached
        # One build at a time (requests arriving meanwhile wait and then find it cached), and
        # outside _changes_lock, so changes and other customers' requests go on meanwhile.
        with self._build_lock:
            with self._changes_lock:
                cached = self._cached_view(customer_id, base)
                if cached is not None:
                    return cached
                overlay = self._overlays[customer_id]
                version = overlay.version
                changed, removed = dict(overlay.changed), set(overlay.removed)
            merged = apply_changes(base, changed, removed)
            with self._changes_lock:
                now = self._overlays.get(customer_id)
                if now is not None and now.version == version:
                    self._merged[customer_id] = (base, version, merged)
        return merged

    def _cached_view(self, customer_id: str, base: CustomerData) -> CustomerData | None:
        """`base` when the customer has no changes, the merged data when it is cached, else
        None (a build is due)."""
        with self._changes_lock:
            overlay = self._overlays.get(customer_id)
            if overlay is None or not (overlay.changed or overlay.removed):
                return base
            cached = self._merged.get(customer_id)
            if cached is not None and cached[0] is base and cached[1] == overlay.version:
                return cached[2]
            return None

    def contact_update(
        self, customer_id: str, contact_id: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Merge `changes` (camelCase fields, objects merged key by key) into the contact, or add
        a contact when there is none and `changes` is a whole contact with a "type"; changedAt
        becomes now. Notifies an Update. Returns (a copy of) the contact as it is now served.

        Raises UnknownContact for an unknown id without "type", ValueError for bad changes."""
        _check_id("customer id", customer_id)
        _check_id("contact id", contact_id)
        if not isinstance(changes, Mapping):
            raise ValueError("changes must be an object of contact fields")
        folded = contact_id.casefold()
        given_id = changes.get("id", contact_id)
        if not isinstance(given_id, str) or given_id.casefold() != folded:
            raise ValueError(f"id cannot be changed (the contact is {contact_id!r})")
        if "customerId" in changes and changes["customerId"] != customer_id:
            raise ValueError(f"customerId cannot be changed (the customer is {customer_id!r})")
        base = self._base(customer_id)
        with self._changes_lock:
            current = self._current(customer_id, folded, base)
            if current is None:
                if "type" not in changes:
                    raise UnknownContact(customer_id, contact_id)
                contact: dict[str, Any] = {"id": given_id, "type": None, "customerId": None}
                contact.update(copy.deepcopy(dict(changes)))
                contact["id"] = given_id
                contact["customerId"] = customer_id
                contact.setdefault("agentId", None)
            else:
                contact = copy.deepcopy(current)
                _deep_merge(contact, {k: v for k, v in changes.items() if k != "id"})
            now = self._timestamp()
            contact.setdefault("createdAt", now)
            contact["changedAt"] = now
            _check_contact(contact)
            overlay = self._overlays.setdefault(customer_id, _Overlay())
            overlay.removed.discard(folded)
            overlay.changed[folded] = contact
            overlay.version += 1
            self._notify(self._contact_notification("Update", customer_id, contact))
            return copy.deepcopy(contact)

    def contact_remove(self, customer_id: str, contact_id: str) -> None:
        """Remove the contact (gone from every endpoint and from others' relations); notifies
        a Remove. Raises UnknownContact when there is no such contact."""
        _check_id("customer id", customer_id)
        _check_id("contact id", contact_id)
        folded = contact_id.casefold()
        base = self._base(customer_id)
        with self._changes_lock:
            current = self._current(customer_id, folded, base)
            if current is None:
                raise UnknownContact(customer_id, contact_id)
            overlay = self._overlays.setdefault(customer_id, _Overlay())
            overlay.changed.pop(folded, None)
            overlay.removed.add(folded)
            overlay.version += 1
            self._notify(self._contact_notification("Remove", customer_id, current))

    def contacts_merge(
        self, customer_id: str, target_id: str, source_ids: Iterable[str]
    ) -> dict[str, Any]:
        """Merge the sources into the target, as Vitec does: the sources are removed, the
        target's changedAt becomes now. Notifies one Merge. Returns (a copy of) the target.

        Raises UnknownContact if any of them is unknown, ValueError for no sources or a
        target among its sources."""
        _check_id("customer id", customer_id)
        _check_id("target", target_id)
        if isinstance(source_ids, str) or not isinstance(source_ids, Iterable):
            raise ValueError("sources must be a list of contact ids")
        sources = list(source_ids)
        for source_id in sources:
            _check_id("every source", source_id)
        if not sources:
            raise ValueError("sources must name at least one contact")
        target_folded = target_id.casefold()
        if any(source.casefold() == target_folded for source in sources):
            raise ValueError("the target cannot be one of its own sources")
        base = self._base(customer_id)
        with self._changes_lock:
            target = self._current(customer_id, target_folded, base)
            if target is None:
                raise UnknownContact(customer_id, target_id)
            found: dict[str, dict[str, Any]] = {}
            for source_id in sources:
                source = self._current(customer_id, source_id.casefold(), base)
                if source is None:
                    raise UnknownContact(customer_id, source_id)
                found.setdefault(source_id.casefold(), source)
            contact = copy.deepcopy(target)
            contact["changedAt"] = self._timestamp()
            overlay = self._overlays.setdefault(customer_id, _Overlay())
            for folded in found:
                overlay.changed.pop(folded, None)
                overlay.removed.add(folded)
            overlay.changed[target_folded] = contact
            overlay.version += 1
            self._notify(
                {
                    "type": "Merge",
                    "event": "Merge",
                    "subtype": _SUBTYPES[contact["type"]],
                    "id": contact["id"],
                    "destinationId": contact["id"],
                    "sourceIds": [source["id"] for source in found.values()],
                    "customerId": customer_id,
                }
            )
            return copy.deepcopy(contact)

    def changes_reset(self) -> None:
        """Forget every change (the generated data is served again) and every notification;
        notifications not yet sent are dropped."""
        with self._changes_lock:
            self._overlays.clear()
            self._merged.clear()
        with self._notify_condition:
            self._notify_generation += 1
            self._notifications.clear()

    @property
    def notifications(self) -> list[NotificationRecord]:
        """The notifications sent since the last changes_reset, oldest first."""
        with self._notify_condition:
            return list(self._notifications)

    def wait_notifications(self, count: int, timeout: float = 5.0) -> list[NotificationRecord]:
        """Wait until at least `count` notifications were sent (or `timeout` passed); the list."""
        with self._notify_condition:
            self._notify_condition.wait_for(lambda: len(self._notifications) >= count, timeout)
            return list(self._notifications)

    def _base(self, customer_id: str) -> CustomerData:
        config = self.config_snapshot()
        return customer_data(customer_id, seed=config.seed, count=config.contacts_per_customer)

    def _current(self, customer_id: str, folded: str, base: CustomerData) -> dict[str, Any] | None:
        """The contact as served now (call with _changes_lock held)."""
        overlay = self._overlays.get(customer_id)
        if overlay is not None:
            if folded in overlay.changed:
                return overlay.changed[folded]
            if folded in overlay.removed:
                return None
        return base.by_folded_id.get(folded)

    def _timestamp(self) -> str:
        """Now in Vitec's format, strictly later than any timestamp handed out before."""
        with self._changes_lock:
            ticks = max(time.time_ns() // 100, self._last_ticks + 1)
            self._last_ticks = ticks
        return format_timestamp(ticks)

    @staticmethod
    def _contact_notification(
        event: str, customer_id: str, contact: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            "name": NOTIFICATION_NAME,
            "type": "Contact",
            "subtype": _SUBTYPES.get(contact.get("type", ""), "Person"),
            "event": event,
            "id": contact["id"],
            "customerId": customer_id,
            "chainId": None,
            "tenantId": None,
        }

    def _notify(self, body: dict[str, Any]) -> None:
        """Queue a notification to notify_url (if set); a background thread sends it."""
        with self._lock:
            url = self.config.notify_url
        if not url or self._closed:
            return
        query = urlencode(
            [
                (key, value if isinstance(value, str) else json.dumps(value))
                for key, value in body.items()
                if key not in _NOT_IN_QUERY and value is not None
            ]
        )
        target = f"{url}{'&' if urlsplit(url).query else '?'}{query}"
        with self._notify_condition:
            generation = self._notify_generation
            if self._notify_thread is None:
                self._notify_thread = threading.Thread(
                    target=self._notify_worker,
                    name=f"vitec-sandbox-notify-{self.port}",
                    daemon=True,
                )
                self._notify_thread.start()
        self._notify_queue.put((generation, target, body))

    def _notify_worker(self) -> None:
        while True:
            item = self._notify_queue.get()
            if item is None:
                return
            generation, url, body = item
            with self._notify_condition:
                if generation != self._notify_generation:
                    continue
            status, error = _post_json(url, body)
            if error is not None or status is None or not 200 <= status < 300:
                message = f"notification to {url} failed: {error or f'status {status}'}"
                logger.warning("Vitec sandbox: %s", message)
                if self.log is not None:
                    self.log(message)
            with self._notify_condition:
                if generation == self._notify_generation:
                    self._notifications.append(NotificationRecord(url, body, status, error))
                    self._notify_condition.notify_all()

    # internals used by the handler

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True if it is stopping."""
        if seconds <= 0:
            return self._stopping.is_set()
        return self._stopping.wait(seconds)

    def _take_fault(self, contact_ids: tuple[str, ...]) -> str | None:
        """The fault for this request: a magic id, else the configured fault, else fail_rate.

        A magic id is `fault-<fault>` in any letter case, optionally with a `.<tag>` after it
        (`fault-500.b`): ids that differ only in case are one id, so a tag tells two apart."""
        for contact_id in contact_ids:
            lowered = contact_id.lower()
            name = lowered[len(MAGIC_FAULT_PREFIX) :].partition(".")[0]
            if lowered.startswith(MAGIC_FAULT_PREFIX) and name in FAULTS:
                return name
        with self._lock:
            config = self.config
            if config.fault is not None:
                if config.fault_count is None:
                    return config.fault
                if config.fault_count > 0:
                    fault = config.fault
                    config.fault_count -= 1
                    if config.fault_count == 0:
                        config.fault, config.fault_count = None, None
                    return fault
                config.fault, config.fault_count = None, None
            if config.fail_rate > 0 and self._random.random() < config.fail_rate:
                return "500"
        return None

    def _authenticate(self, header: str | None) -> Account | None:
        if not header:
            return None
        scheme, _, encoded = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            raw = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            decoded = raw.decode("latin-1")
        username, colon, password = decoded.partition(":")
        if not colon:
            return None
        with self._lock:
            accounts = self.config.accounts
        for account in accounts:
            if account.username == username:
                matches = hmac.compare_digest(account.password.encode(), password.encode())
                return account if matches else None
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    sandbox: SandboxServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call socket.getfqdn(), a reverse DNS lookup: skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "VitecConnectSandbox/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    server: _Server
    raw_requestline: bytes  # set by handle_one_request; typeshed does not declare it
    _record: Callable[[int], None] | None = None

    # plumbing

    def version_string(self) -> str:
        return self.server_version

    def parse_request(self) -> bool:
        # Percent-encode raw non-ASCII bytes in the request line: http.server decodes it as
        # Latin-1 and splits on any whitespace, so UTF-8 such as "Å" (0xC3 0x85 = NEL) would
        # break the line apart. Encoded, it decodes back to the same UTF-8 text.
        self.raw_requestline = _NON_ASCII_BYTE.sub(
            lambda m: b"%%%02X" % m[0][0], self.raw_requestline
        )
        return super().parse_request()

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.sandbox._lock:
            self.server.sandbox._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.sandbox._lock:
                self.server.sandbox._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        log = self.server.sandbox.log
        if log is not None:
            log(f"{self.address_string()} - {format % args}")

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        raw_path = self.path  # non-ASCII bytes arrive percent-encoded (see parse_request)
        body = self._read_body()
        if body is None:
            self._send(_message(413, "Request body too large."), close=True)
            return
        path = raw_path.partition("?")[0].partition("#")[0]
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            self._send(self._control(path, body))
        else:
            self._vitec(raw_path)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            return b""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > _MAX_REQUEST_BODY:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _head(
        self,
        answer: _Answer,
        *,
        length: int,
        close: bool = False,
        extra: Iterable[tuple[str, str]] = (),
    ) -> bytes:
        """Status line and headers, built by hand so that a whole answer goes out in one write
        (no Nagle/delayed-ACK stalls between headers and body)."""
        reason = self.responses.get(answer.status, ("",))[0]
        lines = [
            f"{self.protocol_version} {answer.status} {reason}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
        ]
        if answer.content_type:
            lines.append(f"Content-Type: {answer.content_type}")
        lines.append(f"Content-Length: {length}")
        lines.extend(f"{name}: {value}" for name, value in (*answer.headers, *extra))
        if close:
            lines.append("Connection: close")
            self.close_connection = True
        self.log_request(answer.status)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _answered(self, status: int) -> None:
        """Record a Vitec API request before its last byte goes out, so a client that has
        read the answer always finds it in the statistics."""
        if self._record is not None:
            self._record(status)

    def _send(self, answer: _Answer, *, close: bool = False) -> int:
        data = self._head(answer, length=len(answer.body), close=close)
        if self.command != "HEAD":
            data += answer.body
        self._answered(answer.status)
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        return answer.status

    # control endpoints (no auth, not counted)

    def _control(self, path: str, body: bytes) -> _Answer:
        sandbox = self.server.sandbox
        routes: dict[str, tuple[str, ...]] = {
            "/_sandbox/health": ("GET",),
            "/_sandbox/config": ("GET", "PUT"),
            "/_sandbox/stats": ("GET",),
            "/_sandbox/stats/reset": ("POST",),
        }
        path = path.rstrip("/")
        if path == "/_sandbox/contacts" or path.startswith("/_sandbox/contacts/"):
            return self._control_contacts(path, body)
        if path == "/_sandbox/notifications":
            if self.command != "GET":
                return _message(405, f"Use GET on {path}.", ("Allow", "GET"))
            return _json(200, [record.to_dict() for record in sandbox.notifications])
        if path not in routes:
            return _message(404, f"No sandbox control endpoint at {path!r}.")
        if self.command not in routes[path]:
            allowed = ", ".join(routes[path])
            return _message(405, f"Use {allowed} on {path}.", ("Allow", allowed))
        if path == "/_sandbox/health":
            return _json(200, {"status": "ok"})
        if path == "/_sandbox/stats":
            return _json(200, sandbox.stats.as_dict())
        if path == "/_sandbox/stats/reset":
            sandbox.stats.reset()
            return _json(200, {"status": "ok"})
        if self.command == "PUT":
            try:
                changes = json.loads(body.decode("utf-8") or "null")
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return _message(400, f"The body must be a JSON object ({exc}).")
            if not isinstance(changes, dict):
                return _message(400, "The body must be a JSON object of settings to change.")
            unknown = sorted(set(changes) - set(RUNTIME_FIELDS))
            if unknown:
                return _message(
                    400,
                    f"Cannot change {', '.join(unknown)} at run time; "
                    f"settable: {', '.join(RUNTIME_FIELDS)}.",
                )
            try:
                sandbox.configure(**changes)
            except ValueError as exc:
                return _message(400, str(exc))
        return _json(200, sandbox.config_snapshot().public_dict())

    def _control_contacts(self, path: str, body: bytes) -> _Answer:
        """PUT/DELETE /_sandbox/contacts/{customerId}/{contactId}, POST .../{customerId}/merge,
        DELETE /_sandbox/contacts (forget every change)."""
        sandbox = self.server.sandbox
        segments = [unquote(segment) for segment in path.split("/")[3:]]
        if not segments:
            if self.command != "DELETE":
                return _message(405, f"Use DELETE on {path}.", ("Allow", "DELETE"))
            sandbox.changes_reset()
            return _json(200, {"status": "ok"})
        if len(segments) != 2:
            return _message(
                404,
                f"No sandbox control endpoint at {path!r}: use /_sandbox/contacts/"
                "{customerId}/{contactId} or /_sandbox/contacts/{customerId}/merge.",
            )
        customer_id, contact_id = segments
        merge = contact_id.lower() == "merge" and self.command == "POST"
        allowed: tuple[str, ...] = ("POST",) if contact_id.lower() == "merge" else ()
        allowed += ("PUT", "DELETE")
        if not merge and self.command not in ("PUT", "DELETE"):
            names = ", ".join(allowed)
            return _message(405, f"Use {names} on {path}.", ("Allow", names))
        payload: Any = None
        if self.command != "DELETE":
            try:
                payload = json.loads(body.decode("utf-8") or "null")
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return _message(400, f"The body must be a JSON object ({exc}).")
            if not isinstance(payload, dict):
                return _message(400, "The body must be a JSON object.")
        try:
            if merge:
                unknown = sorted(set(payload) - {"target", "sources"})
                if unknown or "target" not in payload or "sources" not in payload:
                    return _message(
                        400, 'The body must be {"target": contact id, "sources": [contact ids]}.'
                    )
                if not isinstance(payload["sources"], list):
                    return _message(400, "sources must be a list of contact ids.")
                merged = sandbox.contacts_merge(customer_id, payload["target"], payload["sources"])
                return _json(200, merged)
            if self.command == "PUT":
                return _json(200, sandbox.contact_update(customer_id, contact_id, payload))
            sandbox.contact_remove(customer_id, contact_id)
            return _json(200, {"status": "ok"})
        except UnknownContact as exc:
            return _message(404, str(exc))
        except ValueError as exc:
            return _message(400, str(exc))

    # the Vitec API

    def _vitec(self, raw_path: str) -> None:
        sandbox = self.server.sandbox
        started = time.monotonic()
        sandbox.stats._begin()
        call = _Call()
        recorded = False

        def record(status: int) -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            sandbox.stats._end(
                RequestRecord(
                    method=self.command,
                    raw_path=raw_path,
                    endpoint=call.endpoint,
                    customer_id=call.customer_id,
                    contact_ids=call.contact_ids,
                    status=status,
                    accept=self.headers.get("Accept", ""),
                    started=started,
                    finished=time.monotonic(),
                )
            )

        self._record = record
        status = 0
        try:
            status = self._vitec_answer(raw_path, call)
        finally:
            self._record = None
            record(status)

    def _vitec_answer(self, raw_path: str, call: _Call) -> int:
        """Route, check access, pick a fault, answer; returns the status sent (0 if none)."""
        sandbox = self.server.sandbox
        config = sandbox.config_snapshot()
        routed = _route(raw_path, call)
        if sandbox._wait(config.latency_ms / 1000):
            return self._send(_message(503, "The sandbox is shutting down."), close=True)
        if not routed:
            return self._send(
                _message(
                    404, f"No HTTP resource was found that matches the request URI '{raw_path}'."
                )
            )
        if self.command != "GET":
            return self._send(
                _message(
                    405,
                    f"The requested resource does not support http method '{self.command}'.",
                    ("Allow", "GET"),
                )
            )
        account = sandbox._authenticate(self.headers.get("Authorization"))
        if account is None:
            return self._send(_message(401, DENIED, ("WWW-Authenticate", REALM)))
        if call.endpoint in ("categories", "users") and not call.customer_id:
            return self._send(_invalid("customerId", "Kund-id krävs"))
        if call.customer_id not in account.customers:
            return self._send(
                _message(
                    403,
                    f"Access denied: the user '{account.username}' has no access to "
                    f"customer id '{call.customer_id}'.",
                )
            )
        fault = sandbox._take_fault(call.contact_ids)
        if fault is not None:
            faulted = self._fault_answer(fault, config)
            if faulted is not None:
                return self._send(faulted)
        answer = _answer(call, config, self.headers.get("Accept", ""), sandbox)
        if fault == "truncated":
            return self._send_truncated(answer)
        if fault == "slow":
            return self._send_slowly(answer, config.slow_body_seconds)
        if fault == "hang":
            sandbox._wait(config.slow_body_seconds)
            self.close_connection = True  # never answer: the client sees a timeout or EOF
            return 0
        return self._send(answer)

    def _fault_answer(self, fault: str, config: SandboxConfig) -> _Answer | None:
        """The answer replacing the real one, or None for faults in how the body is delivered."""
        header = ("X-Sandbox-Fault", fault)
        if fault in _FAULT_STATUS:
            status, message = _FAULT_STATUS[fault]
            retry = (("Retry-After", str(config.retry_after)),) if fault in {"429", "503"} else ()
            return _message(status, message, header, *retry)
        if fault == "400-empty":
            return _Answer(400, b"", None, (header,))
        if fault == "malformed":
            return _Answer(200, _MALFORMED_BODY, JSON_TYPE, (header,))
        if fault == "html":
            return _Answer(200, _HTML_BODY, "text/html; charset=utf-8", (header,))
        return None

    def _send_truncated(self, answer: _Answer) -> int:
        """Promise the whole body plus more, send half of it, then close the connection."""
        promised = len(answer.body) + 512
        head = self._head(answer, length=promised, extra=[("X-Sandbox-Fault", "truncated")])
        self.close_connection = True
        self._answered(answer.status)
        with contextlib.suppress(OSError):
            self.wfile.write(head + answer.body[: max(1, len(answer.body) // 2)])
            self.wfile.flush()
        return answer.status

    def _send_slowly(self, answer: _Answer, seconds: float) -> int:
        """Correct headers at once, then the body in a few chunks spread over `seconds`."""
        sandbox = self.server.sandbox
        body = answer.body
        step = max(1, math.ceil(len(body) / 5))
        chunks = [body[i : i + step] for i in range(0, len(body), step)]
        gap = seconds / max(1, len(chunks))
        try:
            self.wfile.write(
                self._head(answer, length=len(body), extra=[("X-Sandbox-Fault", "slow")])
            )
            self.wfile.flush()
            for index, chunk in enumerate(chunks):
                if sandbox._wait(gap):
                    self.close_connection = True
                    break
                if index == len(chunks) - 1:
                    self._answered(answer.status)
                self.wfile.write(chunk)
                self.wfile.flush()
        except OSError:
            self.close_connection = True
        return answer.status


# -- routing and answers ---------------------------------------------------------------------


def _route(raw_path: str, call: _Call) -> bool:
    """Fill `call` from the raw request target; False when no Vitec endpoint matches."""
    path, _, query_string = raw_path.partition("?")
    query_string = query_string.partition("#")[0]
    call.query = _parse_query(query_string)
    segments = path.split("/")[1:]
    if len(segments) > 1 and segments[-1] == "":
        segments.pop()
    lowered = [s.lower() for s in segments]
    if lowered == ["category", "getcategories"]:
        call.endpoint = "categories"
        values = call.query.get("customerid")
        call.customer_id = unquote_plus(values[0]) if values else None
        return True
    if lowered == ["user", "getuser"]:
        call.endpoint = "users"
        values = call.query.get("customerid")
        call.customer_id = unquote_plus(values[0]) if values else None
        return True
    if len(segments) < 3 or lowered[:2] != ["crm", "contact"]:
        return False
    call.customer_id = unquote(segments[2])
    rest, rest_lowered = segments[3:], lowered[3:]
    if not rest:
        call.endpoint = "contact-ids"
        return True
    if rest_lowered == ["search"]:
        call.endpoint = "search"
        return True
    if rest_lowered == ["search", "socialnumber"]:
        call.endpoint = "social-number"
        return True
    if rest_lowered[0] in _TYPE_SEGMENTS and len(rest) <= 2:
        call.endpoint = "contacts"
        call.contact_type = _TYPE_SEGMENTS[rest_lowered[0]]
        if len(rest) == 2:
            call.contact_ids = _split_ids(rest[1])
        else:
            # In the query form (as ASP.NET binds it) the value is decoded first, then split:
            # an encoded comma separates ids here too. Ids containing commas need the path form.
            raw_values = call.query.get("contactids", [])
            call.contact_ids = tuple(
                contact_id for value in raw_values for contact_id in unquote_plus(value).split(",")
            )
        return True
    if len(rest) == 1:
        call.endpoint = "contacts"
        call.contact_ids = _split_ids(rest[0])
        call.single = "," not in rest[0]
        return True
    if len(rest) == 2 and rest_lowered[1] == "contactrelations":
        call.endpoint = "relations"
        call.contact_ids = (unquote(rest[0]),)
        return True
    return False


def _split_ids(raw_segment: str) -> tuple[str, ...]:
    """Split on literal commas first, then percent-decode each id (so `%2C` stays inside)."""
    return tuple(unquote(piece) for piece in raw_segment.split(","))


def _parse_query(query_string: str) -> dict[str, list[str]]:
    """Lower-cased keys -> raw (still encoded) values; keys are case-insensitive in ASP.NET."""
    query: dict[str, list[str]] = {}
    for pair in query_string.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        query.setdefault(unquote_plus(key).lower(), []).append(value)
    return query


def _query_value(call: _Call, key: str) -> str | None:
    values = call.query.get(key)
    return unquote_plus(values[-1]) if values else None


def _answer(call: _Call, config: SandboxConfig, accept: str, sandbox: SandboxServer) -> _Answer:
    if call.customer_id is None:  # the handler checks access before it gets here
        raise ValueError("no customer id")
    data = sandbox.customer_view(call.customer_id, config)
    if call.endpoint == "contacts":
        return _contacts_answer(call, data, accept, single_as_list=config.single_as_list)
    if call.endpoint == "contact-ids":
        return _contact_ids_answer(call, data)
    if call.endpoint == "search":
        return _search_answer(call, data)
    if call.endpoint == "social-number":
        return _social_number_answer(call, data)
    if call.endpoint == "relations":
        return _relations_answer(call, data)
    if call.endpoint == "users":
        return _users_answer(call, data)
    return _json(
        200,
        {
            "companyCategories": list(data.company_categories),
            "personCategories": list(data.person_categories),
        },
    )


def _xml_type(accept: str) -> str | None:
    """The XML media type to answer with, if Accept prefers XML over JSON."""
    best_xml: tuple[float, str] | None = None
    json_q = 0.0
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        media = media.lower()
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media in {"application/xml", "text/xml"} and (best_xml is None or q > best_xml[0]):
            best_xml = (q, media)
        elif media in {"application/json", "text/json"}:
            json_q = max(json_q, q)
    if best_xml is not None and best_xml[0] > 0 and best_xml[0] >= json_q:
        return best_xml[1]
    return None


def _contacts_answer(
    call: _Call, data: CustomerData, accept: str, *, single_as_list: bool = False
) -> _Answer:
    ids = call.contact_ids
    if not ids:
        return _invalid("contactIds", "Kontaktidn krävs")
    errors = []
    if len(ids) > MAX_IDS_PER_CALL:
        errors.append(f"Max {MAX_IDS_PER_CALL} kontakter per anrop")
    if any(contact_id == "" for contact_id in ids):
        errors.append("Kontaktid får inte vara tomt")
    if any(len(contact_id) > MAX_ID_LENGTH for contact_id in ids):
        errors.append(f"Kontaktid måste vara mellan 0 och {MAX_ID_LENGTH} tecken")
    if errors:
        return _invalid("contactIds", *errors)
    found: dict[str, dict[str, Any]] = {}  # duplicates (in any case) answered once, as asked
    for contact_id in ids:
        contact = data.by_folded_id.get(contact_id.casefold())
        if contact is not None and call.contact_type in (None, contact["type"]):
            found.setdefault(contact["id"], contact)
    xml_type = _xml_type(accept)
    if call.single and not single_as_list:
        if not found:
            return _message(404, f"Kontakten '{ids[0]}' hittades inte.")
        (contact,) = found.values()
        if xml_type:
            return _Answer(200, contact_to_xml(contact), f"{xml_type}; charset=utf-8")
        return _json(200, contact)
    if xml_type:
        body = contacts_to_xml(found.values(), contact_type=call.contact_type)
        return _Answer(200, body, f"{xml_type}; charset=utf-8")
    return _json(200, list(found.values()))


_DATE_FILTERS = {
    "createdatfrom": ("CreatedAtFrom", "createdAt", False),
    "createdatto": ("CreatedAtTo", "createdAt", True),
    "changedatfrom": ("ChangedAtFrom", "changedAt", False),
    "changedatto": ("ChangedAtTo", "changedAt", True),
}


def _parse_bound(text: str, *, upper: bool) -> tuple[datetime, bool]:
    """A filter bound -> (aware datetime, inclusive). A bare date To-bound covers the whole day."""
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        if upper:
            return datetime.combine(day + timedelta(days=1), dt_time(), STOCKHOLM), False
        return datetime.combine(day, dt_time(), STOCKHOLM), True
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=STOCKHOLM)
    return moment, True


def _date_check(
    attribute: str, bound: datetime, *, upper: bool, inclusive: bool
) -> Callable[[Mapping[str, Any]], bool]:
    def check(contact: Mapping[str, Any]) -> bool:
        moment = datetime.fromisoformat(contact[attribute])
        if upper:
            return moment <= bound if inclusive else moment < bound
        return moment >= bound

    return check


def _contact_ids_answer(call: _Call, data: CustomerData) -> _Answer:
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    for key, (label, attribute, upper) in _DATE_FILTERS.items():
        value = _query_value(call, key)
        if value is None or value == "":
            continue
        try:
            bound, inclusive = _parse_bound(value, upper=upper)
        except ValueError:
            return _invalid(label, f"Värdet '{value}' är inte ett giltigt datum.")

        checks.append(_date_check(attribute, bound, upper=upper, inclusive=inclusive))
    agent = _query_value(call, "agentid")
    if agent:
        checks.append(lambda contact: contact["agentId"] == agent)
    lead_score = _query_value(call, "leadscore")
    if lead_score:
        try:
            wanted = int(lead_score)
        except ValueError:
            return _invalid("LeadScore", f"Värdet '{lead_score}' är inte ett giltigt heltal.")
        checks.append(lambda contact: contact.get("leadScore") == wanted)
    groups: dict[str, list[dict[str, str]]] = {
        "persons": [],
        "companies": [],
        "deceasedEstates": [],
    }
    group_of = {
        "Person": "persons",
        "Company": "companies",
        "DeceasedEstate": "deceasedEstates",
        "Association": "companies",  # no group of its own: listed with the companies
    }
    for contact in data.contacts:
        if all(check(contact) for check in checks):
            groups[group_of[contact["type"]]].append(
                {
                    "id": contact["id"],
                    "changedAt": contact["changedAt"],
                    "customerId": contact["customerId"],
                }
            )
    return _json(200, groups)


def _search_answer(call: _Call, data: CustomerData) -> _Answer:
    term = _query_value(call, "term")
    if term is None or len(term.strip()) < MIN_TERM_LENGTH:
        return _invalid("term", f"Söktermen måste vara minst {MIN_TERM_LENGTH} tecken")
    max_size = _max_size(call)
    if isinstance(max_size, _Answer):
        return max_size
    needle = term.strip().casefold()
    digits = "".join(c for c in needle if c.isdigit())
    digit_search = len(digits) >= MIN_TERM_LENGTH and all(c.isdigit() or c in " -+" for c in needle)
    if digit_search and needle.startswith("+46"):
        digits = "0" + digits[2:]
    scored = []
    for index, contact in enumerate(data.contacts):
        score = _score(needle, data.search_texts[index])
        if digit_search:
            score = max(score, _score(digits, data.search_digits[index]))
        if score > 0:
            scored.append((-score, index, contact))
    scored.sort(key=lambda item: (item[0], item[1]))
    matches = [
        {
            "id": contact["id"],
            "changedAt": contact["changedAt"],
            "customerId": contact["customerId"],
            "type": contact["type"],
            "score": -negative,
        }
        for negative, _index, contact in scored[:max_size]
    ]
    return _json(200, {"matches": matches})


def _score(needle: str, haystack: Iterable[str]) -> float:
    """1.0 for a whole-field match, 0.8 when a field or one of its words starts with the term,
    0.4 for any other substring."""
    best = 0.0
    for text in haystack:
        if text == needle:
            return 1.0
        position = text.find(needle)
        while position >= 0 and best < 0.8:
            word_start = position == 0 or not text[position - 1].isalnum()
            best = max(best, 0.8 if word_start else 0.4)
            position = text.find(needle, position + 1)
    return best


def _max_size(call: _Call) -> int | _Answer:
    """MaxSize of a search: default 50, 1 to 1,000, else a 400 answer."""
    max_size_text = _query_value(call, "maxsize")
    max_size = DEFAULT_SEARCH_SIZE
    if max_size_text not in (None, ""):
        try:
            max_size = int(max_size_text)
        except ValueError:
            max_size = -1
        if not 1 <= max_size <= MAX_SEARCH_SIZE:
            return _invalid(
                "maxSize", f"MaxSize måste vara ett heltal mellan 1 och {MAX_SEARCH_SIZE}"
            )
    return max_size


_SWEDISH_NUMBER = re.compile(r"^(?:\d{6}|\d{8})[-+]?\d{4}$")


def _number_keys(number: str | None, *, foreign: bool = False) -> frozenset[str]:
    """What a personnummer/organisationsnummer is matched on: a Swedish-shaped number by its
    last 10 digits (century and separator do not matter), any other by its text without spaces."""
    if not number:
        return frozenset()
    compact = "".join(number.split())
    keys = {f"exact:{compact.casefold()}"}
    if not foreign and _SWEDISH_NUMBER.match(compact):
        keys.add(f"se:{''.join(c for c in compact if c.isdigit())[-10:]}")
    return frozenset(keys)


def _social_number_answer(call: _Call, data: CustomerData) -> _Answer:
    number = (_query_value(call, "socialnumber") or "").strip()
    if not MIN_SOCIAL_NUMBER_LENGTH <= len(number) <= MAX_SOCIAL_NUMBER_LENGTH:
        return _invalid(
            "socialNumber",
            f"Personnumret måste vara mellan {MIN_SOCIAL_NUMBER_LENGTH} och "
            f"{MAX_SOCIAL_NUMBER_LENGTH} tecken",
        )
    max_size = _max_size(call)
    if isinstance(max_size, _Answer):
        return max_size
    wanted = _number_keys(number)
    matches = []
    for contact in data.contacts:
        stored = contact.get("socialSecurityNumber") or contact.get("corporateNumber")
        foreign = bool(
            contact.get("isForeignSocialSecurityNumber")
            or contact.get("isForeignIdSocialSecurityNumber")
            or contact.get("isForeignCorporateNumber")
        )
        if wanted & _number_keys(stored, foreign=foreign):
            matches.append(
                {
                    "id": contact["id"],
                    "changedAt": contact["changedAt"],
                    "customerId": contact["customerId"],
                    "contactClassTypes": [contact["type"]],
                }
            )
            if len(matches) >= max_size:
                break
    return _json(200, {"matches": matches})


def _relations_answer(call: _Call, data: CustomerData) -> _Answer:
    (contact_id,) = call.contact_ids
    if not contact_id or len(contact_id) > MAX_ID_LENGTH:
        return _invalid("contactId", f"Kontaktid måste vara mellan 1 och {MAX_ID_LENGTH} tecken")
    contact = data.by_folded_id.get(contact_id.casefold())
    if contact is None:
        return _message(404, f"Kontakten '{contact_id}' hittades inte.")
    return _json(
        200,
        {
            "relations": list(data.relations.get(contact["id"], ())),
            "reverseRelations": list(data.reverse_relations.get(contact["id"], ())),
        },
    )


def _users_answer(call: _Call, data: CustomerData) -> _Answer:
    user_id = _query_value(call, "userid")
    search_text = (_query_value(call, "searchtext") or "").strip().casefold()
    users = []
    for user in data.users:
        if user_id and user["userId"].casefold() != user_id.strip().casefold():
            continue
        if search_text and not any(
            search_text in (user.get(key) or "").casefold()
            for key in ("userName", "title", "emailAddress")
        ):
            continue
        users.append(user)
    return _json(200, users)
