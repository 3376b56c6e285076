"""Use cases of the dashboard: look contacts up, filter, sort and export them, test credentials.

Views call only into this module. It owns the one definition of "the current view"
(`ContactQuery` -> `ContactView`) that the HTML page and the CSV export share, the per-credential
cache, and the Vitec clients (one per credential, reused across requests).
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import re
import threading
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from crmviewer.cache import FailoverStore
from crmviewer.sealing import MISSING, seal, unseal

from .audit import Actor, audit_record, audit_required
from .crypto import CredentialDecryptionError
from .models import AuditEvent, VitecCredential
from .vitec.breaker import MemoryStore
from .vitec.client import LookupResult, VitecClient, is_valid_id, unique_ids
from .vitec.errors import VitecError
from .vitec.models import (
    Categories,
    Category,
    Contact,
    ContactType,
    CrmCompanyContact,
    CrmDeceasedEstateContact,
    CrmPersonContact,
)

logger = logging.getLogger(__name__)

MAX_LOOKUP_IDS = 1000
PAGE_SIZE = 50
CACHE_PREFIX = "crmviewer:v1"
_ID_SEPARATORS = re.compile(r"[\s,;]+")
_PHONE = re.compile(r"\A\+?[0-9][0-9 ()-]*\Z")  # digits, spaces, dashes, parentheses only


# --- credentials ---------------------------------------------------------------------------------


def credentials_for_user(*, user) -> QuerySet[VitecCredential]:
    """The active credentials a user may browse with (never another user's)."""
    return VitecCredential.objects.filter(user=user, is_active=True).order_by("label", "pk")


def credential_for_user(*, user, credential_id: int | str | None) -> VitecCredential | None:
    """The user's credential with that id, their first one when no id is given, else None.

    An id that belongs to another user, is inactive or is garbage gives None: the caller answers
    404, so nobody can probe for other users' credentials.
    """
    credentials = credentials_for_user(user=user)
    if credential_id in (None, ""):
        return credentials.first()
    try:
        return credentials.get(pk=int(credential_id))
    except (ValueError, TypeError, VitecCredential.DoesNotExist):
        return None


_clients: OrderedDict[tuple[int, str], VitecClient] = OrderedDict()
_clients_lock = threading.Lock()
_MAX_CLIENTS = 64
# The circuit breaker's state: in the cache, so every app server fails fast together; while the
# cache is down, in this process's memory, so the breaker still opens (per process).
_breaker_store = FailoverStore(shared=cache, local=MemoryStore())


def client_for_credential(credential: VitecCredential) -> VitecClient:
    """A Vitec client for the credential, reused while the stored password stays the same.

    This is the only place a stored password is decrypted for use.
    """
    login = f"{credential.api_username}\0{credential.password_encrypted}\0{settings.VITEC_BASE_URL}"
    key = (credential.pk, hashlib.sha256(login.encode()).hexdigest())
    with _clients_lock:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
            return client
    client = VitecClient.from_settings(
        username=credential.api_username,
        password=credential.get_password(),
        breaker_store=_breaker_store,
    )
    with _clients_lock:
        _clients[key] = client
        while len(_clients) > _MAX_CLIENTS:
            _, old = _clients.popitem(last=False)
            old.close()
    return client


@dataclass(frozen=True, slots=True)
class ConnectionTest:
    ok: bool
    message: str


def credential_test_connection(*, credential: VitecCredential, actor=None) -> ConnectionTest:
    """Call Vitec with the stored credential, record the outcome on it and in the audit trail
    (as done by `actor`, the user who asked for the test)."""
    try:
        client = client_for_credential(credential)
        categories = client.fetch_categories(credential.customer_id)
    except CredentialDecryptionError as exc:
        outcome = ConnectionTest(ok=False, message=str(exc))
    except VitecError as exc:
        outcome = ConnectionTest(ok=False, message=f"{exc.broker_message} [{exc.status or '-'}]")
    else:
        count = len(categories.all)
        message = _("Connected: Vitec lists %(count)d categories.") % {"count": count}
        outcome = ConnectionTest(ok=True, message=str(message))
    credential.last_error = "" if outcome.ok else outcome.message
    if outcome.ok:
        credential.last_verified_at = timezone.now()
    credential.save(update_fields=["last_error", "last_verified_at", "updated_at"])
    audit_record(
        action=AuditEvent.Action.CONNECTION_TEST,
        user=actor,
        credential=credential,
        details={"ok": outcome.ok, "message": outcome.message},
    )
    return outcome


# --- ids ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedIds:
    ids: tuple[str, ...]  # de-duplicated, in the order given
    too_long: tuple[str, ...] = ()
    unsafe: tuple[str, ...] = ()  # with characters no contact id has (/ ? # % or control chars)
    too_many: bool = False


_UNSAFE_ID = re.compile(r"[/?#%\\\x00-\x1f\x7f-\x9f]")


def ids_parse(text: str) -> ParsedIds:
    """Contact ids from what a broker typed or pasted: separated by commas, spaces or new lines."""
    pieces = unique_ids(piece for piece in _ID_SEPARATORS.split(text or "") if piece)
    # Unsafe: characters no contact id has, or only dots (a path's "." and ".." segments).
    unsafe = tuple(p for p in pieces if _UNSAFE_ID.search(p) or not p.strip("."))
    too_long = tuple(piece for piece in pieces if piece not in unsafe and not is_valid_id(piece))
    ids = tuple(piece for piece in pieces if piece not in unsafe and piece not in too_long)
    return ParsedIds(
        ids=ids[:MAX_LOOKUP_IDS],
        too_long=too_long,
        unsafe=unsafe,
        too_many=len(ids) > MAX_LOOKUP_IDS,
    )


# --- lookup with the per-credential cache ---------------------------------------------------


_NOT_FOUND = "__not_found__"
_SEALED = "contacts"  # crmviewer.sealing purpose of everything cached here


def _cache_key(credential: VitecCredential, kind: str, value: str = "") -> str:
    """Whose entry it is (user, credential, customer) and an HMAC of the contact id (keyed with
    SECRET_KEY): a key name neither holds an id nor lets anyone confirm a guessed one."""
    digest = salted_hmac("crmviewer.contacts.cache-key", value, algorithm="sha256").hexdigest()
    owner = f"user:{credential.user_id}:cred:{credential.pk}:{credential.customer_id}"
    return f"{CACHE_PREFIX}:{owner}:{kind}:{digest[:40]}"


def _cache_read(keys: Sequence[str]) -> dict[str, object]:
    """The entries under `keys` that unseal (crmviewer/sealing.py); anything else is a miss."""
    max_age = max(1, settings.VITEC_CACHE_SECONDS)
    tokens = cache.get_many(list(keys))
    values = {
        key: unseal(token, purpose=_SEALED, key=key, max_age=max_age)
        for key, token in tokens.items()
    }
    return {key: value for key, value in values.items() if value is not MISSING}


def _cache_write(values: dict[str, object]) -> None:
    sealed = {key: seal(value, purpose=_SEALED, key=key) for key, value in values.items()}
    if sealed:
        cache.set_many(sealed, settings.VITEC_CACHE_SECONDS)


def _release_database_connections() -> None:
    """Close this thread's database connections before waiting on Vitec (Django opens them again
    at the next query): a burst of slow lookups then holds no idle PostgreSQL connections. Not
    inside a transaction, which a close would end."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


@dataclass(frozen=True, slots=True)
class Lookup:
    result: LookupResult
    from_cache: int = 0  # how many of the ids were answered from the cache
    categories: Categories | None = None
    categories_error: VitecError | None = None


def contacts_lookup(
    *, credential: VitecCredential, ids: Sequence[str], refresh: bool = False
) -> Lookup:
    """Contacts for the ids, from the cache where possible, the rest from Vitec in batches.

    Cached per credential (never shared between credentials or users) for VITEC_CACHE_SECONDS.
    `refresh` skips the cache and stores what Vitec answers now. Failed batches are not cached.
    """
    ids = unique_ids(ids)
    keys = {contact_id: _cache_key(credential, "contact", contact_id) for contact_id in ids}
    categories_key = _cache_key(credential, "categories")
    cached = {} if refresh else _cache_read([*keys.values(), categories_key])
    hits = {contact_id: cached[key] for contact_id, key in keys.items() if key in cached}
    missing = [contact_id for contact_id in ids if contact_id not in hits]

    categories: Categories | None = cached.get(categories_key)  # type: ignore[assignment]
    categories_error: VitecError | None = None

    fetched = LookupResult()
    if missing or categories is None:
        client = client_for_credential(credential)
        _release_database_connections()  # the calls below may take seconds
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vitec-categories") as pool:
            # Category names are fetched beside the batches, so a cold page waits for one round;
            # in a copy of this context, so that its log lines keep the request id.
            future = (
                pool.submit(
                    contextvars.copy_context().run, client.fetch_categories, credential.customer_id
                )
                if categories is None
                else None
            )
            if missing:
                fetched = client.fetch_contacts(credential.customer_id, missing)
            if future is not None:
                try:
                    categories = future.result()
                    _cache_write({categories_key: categories})
                except VitecError as exc:
                    categories_error = exc
        to_store: dict[str, object] = {keys[c.id]: c for c in fetched.contacts}
        to_store.update({keys[contact_id]: _NOT_FOUND for contact_id in fetched.not_found})
        _cache_write(to_store)

    found = {contact_id: value for contact_id, value in hits.items() if value != _NOT_FOUND}
    found.update({c.id: c for c in fetched.contacts})
    not_found = {contact_id for contact_id, value in hits.items() if value == _NOT_FOUND}
    not_found.update(fetched.not_found)
    result = LookupResult(
        requested=tuple(ids),
        contacts=tuple(found[i] for i in ids if i in found),
        not_found=tuple(i for i in ids if i in not_found),
        failed=fetched.failed,
        invalid=fetched.invalid,
        calls=fetched.calls,
    )
    return Lookup(
        result=result,
        from_cache=len(hits),
        categories=categories,
        categories_error=categories_error,
    )


def contact_get(
    *, credential: VitecCredential, contact_id: str, refresh: bool = False
) -> tuple[Contact | None, Lookup]:
    lookup = contacts_lookup(credential=credential, ids=[contact_id], refresh=refresh)
    contact = lookup.result.contacts[0] if lookup.result.contacts else None
    return contact, lookup


# --- presenting a contact -------------------------------------------------------------------------

TYPE_LABELS = {
    ContactType.PERSON: _("Person"),
    ContactType.COMPANY: _("Company"),
    ContactType.DECEASED_ESTATE: _("Deceased estate"),
}
_DIGITS = re.compile(r"\d")


def type_label(contact: Contact) -> str:
    label = TYPE_LABELS.get(contact.type)  # type: ignore[call-overload]
    return str(label) if label else str(contact.type)


def personnummer_mask(number: str | None) -> str:
    """`YYMMDD-****`: the date of birth stays visible, the last four digits never do."""
    if not number:
        return ""
    digits = "".join(_DIGITS.findall(number))
    if len(digits) == 12:
        return f"{digits[2:8]}-****"
    if len(digits) == 10:
        return f"{digits[:6]}-****"
    return "****"  # a foreign or odd number: hide it whole


def social_security_number(contact: Contact) -> str | None:
    if isinstance(contact, CrmPersonContact | CrmDeceasedEstateContact):
        return contact.social_security_number
    return None


def id_number_display(contact: Contact, *, reveal: bool = False) -> str:
    """Organisationsnummer for companies; personnummer masked unless `reveal`."""
    if isinstance(contact, CrmCompanyContact):
        return contact.corporate_number or ""
    number = social_security_number(contact)
    if reveal:
        return number or ""
    return personnummer_mask(number)


def lead_score(contact: Contact) -> int | None:
    return getattr(contact, "lead_score", None)


def gdpr_date(contact: Contact) -> date | None:
    value = getattr(contact, "gdpr_approval_date", None)
    return timezone.localdate(value) if isinstance(value, datetime) else None


def city(contact: Contact) -> str:
    return (contact.address.city or "") if contact.address else ""


def email(contact: Contact) -> str:
    return contact.email.email_address or "" if contact.email else ""


def phone_digits(number: str) -> str:
    """A phone number as national digits: "+46 70 123 45 67" and "070-123 45 67" alike."""
    digits = "".join(_DIGITS.findall(number))
    if number.strip().startswith("+46"):
        return "0" + digits[2:]
    if digits.startswith("0046"):
        return "0" + digits[4:]
    return digits


def search_text(contact: Contact) -> str:
    """What the text filter looks through: name, e-mail, phone and city."""
    phones = [n for _, n in getattr(getattr(contact, "telephone", None), "numbers", [])]
    emails = contact.email.addresses if contact.email else []
    parts = [contact.display_name, *emails, *phones, city(contact)]
    digit_forms = [form for p in phones for form in ("".join(_DIGITS.findall(p)), phone_digits(p))]
    return " ".join([*parts, *digit_forms]).casefold()


PHONE_LABELS = {
    "cell": _("Mobile"),
    "home": _("Home"),
    "work": _("Work"),
    "switch": _("Switchboard"),
    "other": _("Other"),
}


@dataclass(frozen=True, slots=True)
class Phone:
    label: str
    number: str
    href: str  # tel: link with the number's digits (and a leading +)


def contact_phones(contact: Contact) -> list[Phone]:
    numbers = getattr(getattr(contact, "telephone", None), "numbers", [])
    return [
        Phone(
            label=str(PHONE_LABELS.get(kind, kind)),
            number=number,
            href="tel:"
            + ("+" if number.strip().startswith("+") else "")
            + "".join(_DIGITS.findall(number)),
        )
        for kind, number in numbers
    ]


@dataclass(frozen=True, slots=True)
class ContactRow:
    """One line of the results table, computed once from the typed contact."""

    contact: Contact
    name: str
    type_label: str
    id_number: str
    phone: Phone | None
    email: str
    city: str
    categories: tuple[Category, ...]
    lead_score: int | None
    advertising_enabled: bool | None
    gdpr_informed: date | None
    changed_at: datetime | None


def contact_row(contact: Contact, names: dict[str, str], *, reveal: bool = False) -> ContactRow:
    """The row; the personnummer masked unless `reveal` (the broker asked, and it is audited)."""
    phones = contact_phones(contact)
    return ContactRow(
        contact=contact,
        name=contact.display_name,
        type_label=type_label(contact),
        id_number=id_number_display(contact, reveal=reveal),
        phone=phones[0] if phones else None,
        email=email(contact),
        city=city(contact),
        categories=tuple(
            Category(id=c.id, name=names.get(c.id, c.name or c.id), read_only=c.read_only)
            for c in contact.categories
        ),
        lead_score=lead_score(contact),
        advertising_enabled=contact.advertising_enabled,
        gdpr_informed=gdpr_date(contact),
        changed_at=contact.changed_at,
    )


# --- the current view: filters, sorting, counts ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter of the list, declared once; the page and the CSV both apply it."""

    param: str
    label: object
    matches: Callable[[Contact, str], bool]


def _type_matches(contact: Contact, value: str) -> bool:
    return contact.type == value


def _category_matches(contact: Contact, value: str) -> bool:
    return any(category.id == value for category in contact.categories)


def _text_matches(contact: Contact, value: str) -> bool:
    needle = value.casefold().strip()
    haystack = search_text(contact)
    if needle in haystack:
        return True
    # A phone number typed another way ("0701234567" for "070-123 45 67") matches by its digits.
    digits = phone_digits(needle)
    return bool(_PHONE.match(needle)) and len(digits) >= 3 and digits in haystack


FILTERS: tuple[Filter, ...] = (
    Filter("type", _("Type"), _type_matches),
    Filter("category", _("Category"), _category_matches),
    Filter("q", _("Text"), _text_matches),
)


def _text_key(value: str | None) -> str | None:
    return value.casefold() if value else None


def _time_key(value: datetime | date | None) -> float | None:
    """Datetimes by the instant (offsets differ across DST), dates by the day."""
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value.toordinal()) if isinstance(value, date) else None


@dataclass(frozen=True, slots=True)
class SortColumn:
    key: str
    label: object
    value: Callable[[Contact], object]  # None when the contact has no value: sorted last


SORT_COLUMNS: dict[str, SortColumn] = {
    column.key: column
    for column in (
        SortColumn("name", _("Name"), lambda c: _text_key(c.display_name)),
        SortColumn("type", _("Type"), lambda c: _text_key(type_label(c))),
        SortColumn("phone", _("Phone"), lambda c: _text_key(c.primary_phone)),
        SortColumn("email", _("E-mail"), lambda c: _text_key(email(c))),
        SortColumn("city", _("City"), lambda c: _text_key(city(c))),
        SortColumn("lead_score", _("Lead score"), lead_score),
        SortColumn("gdpr", _("GDPR informed"), lambda c: _time_key(gdpr_date(c))),
        SortColumn("changed", _("Changed"), lambda c: _time_key(c.changed_at)),
    )
}


@dataclass(frozen=True, slots=True)
class ContactQuery:
    """Everything that defines the current view, as read from the query string or form."""

    ids: tuple[str, ...] = ()
    type: str = ""
    category: str = ""
    q: str = ""
    sort: str = ""  # a SORT_COLUMNS key, "-key" for descending, "" for the order asked
    page: int = 1

    def filter_values(self) -> dict[str, str]:
        return {f.param: getattr(self, f.param) for f in FILTERS if getattr(self, f.param)}


@dataclass(frozen=True, slots=True)
class CategoryCount:
    category: Category
    count: int


@dataclass(frozen=True, slots=True)
class ContactView:
    query: ContactQuery
    lookup: Lookup
    rows: tuple[Contact, ...]  # filtered and sorted: every page of it
    type_counts: tuple[tuple[str, str, int], ...]  # (type, label, count) over the lookup
    category_counts: tuple[CategoryCount, ...]
    category_names: dict[str, str] = field(default_factory=dict)
    ignored_category: str = ""

    @property
    def result(self) -> LookupResult:
        return self.lookup.result

    @property
    def failures(self) -> list[Failure]:
        """Failed batches grouped by what went wrong, so 50 alike failures make one notice."""
        groups: dict[str, list[str]] = {}
        for batch in self.result.failed:
            groups.setdefault(batch.error.broker_message, []).extend(batch.ids)
        return [Failure(message=message, ids=tuple(ids)) for message, ids in groups.items()]


@dataclass(frozen=True, slots=True)
class Failure:
    message: str
    ids: tuple[str, ...]


def contacts_sort(contacts: Iterable[Contact], sort: str) -> list[Contact]:
    """Sorted by a SORT_COLUMNS key ("-key" descending); contacts without a value come last
    either way, and equal values keep the order asked (the sort is stable)."""
    rows = list(contacts)
    column = SORT_COLUMNS.get(sort.removeprefix("-"))
    if column is None:
        return rows
    keyed = [(column.value(contact), contact) for contact in rows]
    present = [(key, contact) for key, contact in keyed if key is not None]
    missing = [contact for key, contact in keyed if key is None]
    present.sort(key=lambda pair: pair[0], reverse=sort.startswith("-"))  # type: ignore[arg-type,return-value]
    return [contact for _, contact in present] + missing


def contacts_filter(contacts: Iterable[Contact], query: ContactQuery) -> list[Contact]:
    values = query.filter_values()
    active = [(f, values[f.param]) for f in FILTERS if f.param in values]
    return [c for c in contacts if all(f.matches(c, value) for f, value in active)]


def category_names(lookup: Lookup) -> dict[str, str]:
    """Category names by id: from GetCategories, then from the contacts themselves."""
    names: dict[str, str] = {}
    if lookup.categories is not None:
        names.update({c.id: c.name or c.id for c in lookup.categories.all})
    for contact in lookup.result.contacts:
        for category in contact.categories:
            names.setdefault(category.id, category.name or category.id)
    return names


def contacts_view(
    *, credential: VitecCredential, query: ContactQuery, refresh: bool = False
) -> ContactView:
    """The current view: lookup, then the declared filters, then the sort."""
    lookup = contacts_lookup(credential=credential, ids=query.ids, refresh=refresh)
    contacts = lookup.result.contacts
    names = category_names(lookup)
    ignored_category = query.category if query.category and query.category not in names else ""
    if ignored_category:  # a category these contacts cannot have: ignore it, say so
        query = replace(query, category="")
    rows = contacts_sort(contacts_filter(contacts, query), query.sort)
    type_counter = Counter(c.type for c in contacts)
    type_counts = tuple(
        (str(t), str(label), type_counter.get(t, 0)) for t, label in TYPE_LABELS.items()
    )
    read_only = {c.id: c.read_only for c in lookup.categories.all} if lookup.categories else {}
    category_counter = Counter(cat.id for c in contacts for cat in c.categories)
    category_counts = tuple(
        CategoryCount(
            Category(id=cid, name=names.get(cid, cid), read_only=read_only.get(cid, False)), n
        )
        for cid, n in sorted(category_counter.items(), key=lambda item: names.get(item[0], ""))
    )
    return ContactView(
        query=query,
        lookup=lookup,
        rows=tuple(rows),
        type_counts=type_counts,
        category_counts=category_counts,
        category_names=names,
        ignored_category=ignored_category,
    )


# --- access to personal data: no trace, no data ----------------------------------------------
#
# Every way personal data leaves (the list page, a contact's page, a reveal, an export) goes
# through one of these three. Each records its audit event before it hands anything back, and
# raises AuditUnavailable (from contacts.audit) when the event cannot be stored: the caller then
# shows a message and no data.


def _filters(query: ContactQuery) -> dict[str, str]:
    """The filters and sort of a view as the audit trail keeps them."""
    return {"type": query.type, "category": query.category, "q": query.q, "sort": query.sort}


def contacts_page(*, credential: VitecCredential, query: ContactQuery, actor: Actor) -> ContactView:
    """The current view for the list page, its lookup recorded."""
    view = contacts_view(credential=credential, query=query)
    audit_required(
        action=AuditEvent.Action.LOOKUP,
        actor=actor,
        credential=credential,
        contact_ids=query.ids,
        row_count=len(view.rows),
        details={"filters": _filters(query), "page": query.page},
    )
    return view


@dataclass(frozen=True, slots=True)
class ContactShown:
    contact: Contact | None  # None: Vitec has no such contact, or its call failed
    lookup: Lookup
    revealed: bool  # the full personnummer is shown (asked for, and there is one)
    has_number: bool  # a Person or DeceasedEstate with a personnummer to reveal


def contact_show(
    *, credential: VitecCredential, contact_id: str, reveal: bool, actor: Actor
) -> ContactShown:
    """One contact for its page, the view (or the reveal of the personnummer) recorded."""
    contact, lookup = contact_get(credential=credential, contact_id=contact_id)
    has_number = contact is not None and bool(social_security_number(contact))
    revealed = reveal and has_number
    audit_required(
        action=AuditEvent.Action.PERSONNUMMER_REVEAL
        if revealed
        else AuditEvent.Action.CONTACT_VIEW,
        actor=actor,
        credential=credential,
        contact_ids=[contact_id],
        row_count=1 if contact else 0,
    )
    return ContactShown(contact=contact, lookup=lookup, revealed=revealed, has_number=has_number)


class ExportIncomplete(Exception):
    """Some contacts of the view could not be fetched: no file, rather than one that lacks rows."""


def contacts_export(
    *,
    credential: VitecCredential,
    query: ContactQuery,
    include_personnummer: bool,
    actor: Actor,
) -> Iterator[list[str]]:
    """The rows of the current view's file (header first, every page), the export recorded.

    Raises ExportIncomplete when a batch failed, AuditUnavailable when the export cannot be
    recorded; in either case before anything is handed back.
    """
    view = contacts_view(credential=credential, query=query)
    if view.failures:
        raise ExportIncomplete
    audit_required(
        action=AuditEvent.Action.CSV_EXPORT,
        actor=actor,
        credential=credential,
        contact_ids=query.ids,
        row_count=len(view.rows),  # every row of the view is exported
        details={"filters": _filters(query), "include_personnummer": include_personnummer},
    )
    return contacts_export_rows(view=view, include_personnummer=include_personnummer)


# --- CSV export -----------------------------------------------------------------------------------

# OWASP "CSV injection": a cell whose first character is one of these may run as a formula in a
# spreadsheet, and so may one that starts with a control character. The full-width and small
# forms (U+FF1D, U+FF0B, U+FF0D, U+FF20, U+FE66, U+FE62, U+FE63, U+FE6B) count too: spreadsheets
# read them as the ASCII ones (their NFKC form), and so does the minus sign U+2212.
_FORMULA_CHARACTERS = frozenset("=+-@\u2212")


def _is_formula_character(char: str) -> bool:
    return char in _FORMULA_CHARACTERS or unicodedata.normalize("NFKC", char) in _FORMULA_CHARACTERS


def _is_invisible(char: str) -> bool:
    """Spaces of every kind, line breaks, control and format characters (zero-width space, BOM)."""
    return char.isspace() or unicodedata.category(char) in {"Zs", "Zl", "Zp", "Cc", "Cf"}


def formula_risk(text: str) -> bool:
    """Whether a spreadsheet might run the text as a formula.

    True for a text that starts with a control character (tab, CR, LF...), or whose first
    visible character, after any spaces and invisible characters, starts a formula. A phone
    number ("+46 70 123 45 67": digits, spaces, dashes and parentheses only) holds no function,
    reference or command and stays readable.
    """
    if not text or _PHONE.match(text):
        return False
    if unicodedata.category(text[0]) == "Cc":
        return True
    for char in text:
        if not _is_invisible(char):
            return _is_formula_character(char)
    return False


def csv_cell(value: object) -> str:
    """A value as a CSV cell that no spreadsheet will run as a formula (a leading `'`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = str(_("Yes") if value else _("No"))
    elif isinstance(value, datetime):
        text = timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    else:
        text = str(value)
    return "'" + text if formula_risk(text) else text


@dataclass(frozen=True, slots=True)
class CsvColumn:
    header: object
    value: Callable[[Contact, dict[str, str]], object]


def _categories_text(contact: Contact, names: dict[str, str]) -> str:
    return ", ".join(names.get(c.id, c.name or c.id) for c in contact.categories)


CSV_COLUMNS: tuple[CsvColumn, ...] = (
    CsvColumn(_("Contact id"), lambda c, n: c.id),
    CsvColumn(_("Name"), lambda c, n: c.display_name),
    CsvColumn(_("Type"), lambda c, n: type_label(c)),
    CsvColumn(_("Organisationsnummer / personnummer"), lambda c, n: id_number_display(c)),
    CsvColumn(_("Phone"), lambda c, n: c.primary_phone),
    CsvColumn(_("E-mail"), lambda c, n: email(c)),
    CsvColumn(_("Street address"), lambda c, n: c.address.street_address if c.address else ""),
    CsvColumn(_("Zip code"), lambda c, n: c.address.zip_code if c.address else ""),
    CsvColumn(_("City"), lambda c, n: city(c)),
    CsvColumn(_("Categories"), _categories_text),
    CsvColumn(_("Lead score"), lambda c, n: lead_score(c)),
    CsvColumn(_("Advertising allowed"), lambda c, n: c.advertising_enabled),
    CsvColumn(_("GDPR informed"), lambda c, n: gdpr_date(c)),
    CsvColumn(_("Changed"), lambda c, n: c.changed_at),
)
PERSONNUMMER_COLUMN = CsvColumn(_("Personnummer"), lambda c, n: social_security_number(c) or "")


def contacts_export_rows(
    *, view: ContactView, include_personnummer: bool = False
) -> Iterator[list[str]]:
    """The header, then one row per contact of the view (every page), as CSV-safe cells."""
    columns = [*CSV_COLUMNS, PERSONNUMMER_COLUMN] if include_personnummer else list(CSV_COLUMNS)
    yield [csv_cell(str(column.header)) for column in columns]
    for contact in view.rows:
        yield [csv_cell(column.value(contact, view.category_names)) for column in columns]
