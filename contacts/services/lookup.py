"""Looking contacts up: the Vitec client of each credential (reused across requests, with its
circuit breaker), the contact ids a broker typed, and the per-credential cache of what Vitec sent
(sealed: crmviewer/sealing.py)."""

from __future__ import annotations

import contextvars
import functools
import hashlib
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.utils import timezone
from django.utils.crypto import salted_hmac

import crmviewer
from crmviewer.cache import FailoverStore
from crmviewer.sealing import MISSING, UnsealedMemo, seal, unseal

from ..models import VitecCredential
from ..vitec.breaker import CircuitBreaker, MemoryStore
from ..vitec.client import VitecClient
from ..vitec.errors import AuthenticationError, PermissionDeniedError, VitecError
from ..vitec.ids import MAX_IDS_PER_CALL, LookupResult, id_key, is_valid_id, unique_ids
from ..vitec.limiter import InFlightLimit
from ..vitec.models import Categories, Contact, CrmContact
from ..vitec.retry import RetryPolicy
from .messages import broker_message

MAX_LOOKUP_IDS = 1000
CACHE_PREFIX = "crmviewer:v1"
USER_AGENT = f"crmviewer/{crmviewer.__version__} (+python-requests/{requests.__version__})"
_ID_SEPARATORS = re.compile(r"[\s,;]+")

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
    client = VitecClient(
        base_url=settings.VITEC_BASE_URL,
        username=credential.api_username,
        password=credential.get_password(),
        timeout=settings.VITEC_TIMEOUT,
        max_concurrency=settings.VITEC_MAX_CONCURRENCY,
        retry=RetryPolicy(max_retries=settings.VITEC_MAX_RETRIES),
        breaker=CircuitBreaker(
            store=_breaker_store,
            threshold=settings.VITEC_BREAKER_FAILURES,
            cooldown=settings.VITEC_BREAKER_SECONDS,
            prefix=f"{CACHE_PREFIX}:vitec-breaker",
        ),
        limit=InFlightLimit(
            _breaker_store,
            limit=settings.VITEC_CUSTOMER_MAX_IN_FLIGHT,
            # An attempt lasts at most its connect and read timeouts: a slot a dead process
            # held frees itself after that.
            lease=2 * settings.VITEC_TIMEOUT + 5,
            # Long enough for a burst of lookups to be served in turn (30 brokers' 150 calls at
            # 2 s each through 20 slots take 15 s), short of a page's time limit.
            wait=3 * settings.VITEC_TIMEOUT,
            prefix=f"{CACHE_PREFIX}:vitec-slots",
        ),
        user_agent=USER_AGENT,
    )
    with _clients_lock:
        _clients[key] = client
        while len(_clients) > _MAX_CLIENTS:
            _, old = _clients.popitem(last=False)
            old.close()
    return client


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


_NOT_FOUND = "__not_found__"
_SEALED = "contacts"  # crmviewer.sealing purpose of everything cached here


def _cache_key(credential: VitecCredential, kind: str, value: str = "") -> str:
    """Whose entry it is (user, credential, customer) and an HMAC of the contact id (keyed with
    SECRET_KEY): a key name neither holds an id nor lets anyone confirm a guessed one. Ids
    differing only in letter case are one contact (Vitec matches them so): one entry."""
    owner = f"user:{credential.user_id}:cred:{credential.pk}:{credential.customer_id}"
    return f"{CACHE_PREFIX}:{owner}:{kind}:{_key_digest(settings.SECRET_KEY, id_key(value))}"


@functools.lru_cache(maxsize=20_000)  # a page of 100 ids asks for the same 100 digests again
def _key_digest(secret: str, value: str) -> str:
    return salted_hmac(
        "crmviewer.contacts.cache-key", value, secret=secret, algorithm="sha256"
    ).hexdigest()[:40]


# Everything cached here is immutable (frozen dataclasses, tuples, strings): a page that shows
# the same cached contacts again takes them from this process's memory, not decrypted again.
_unsealed = UnsealedMemo(size=2000)


def _cache_read(keys: Sequence[str], *, seconds: int | None = None) -> dict[str, object]:
    """The entries under `keys` that unseal (crmviewer/sealing.py) and are at most `seconds` old
    (default VITEC_CACHE_SECONDS); anything else is a miss."""
    return _unsealed_values(cache.get_many(list(keys)), seconds=seconds)


def _unsealed_values(tokens: dict[str, object], *, seconds: int | None = None) -> dict[str, object]:
    max_age = max(1, settings.VITEC_CACHE_SECONDS if seconds is None else seconds)
    values = {
        key: _unsealed.unseal(token, purpose=_SEALED, key=key, max_age=max_age)
        for key, token in tokens.items()
    }
    return {key: value for key, value in values.items() if value is not MISSING}


def _fingerprint(tokens: dict[str, object]) -> str:
    """What identifies the cached values read: a digest of their keys and sealed tokens. The
    same fingerprint again means the very same values (a contact fetched anew is sealed anew)."""
    digest = hashlib.blake2b(digest_size=20)
    for key in sorted(tokens):
        token = tokens[key]
        digest.update(key.encode())
        digest.update(token if isinstance(token, bytes) else b"")
    return digest.hexdigest()


def _cache_write(values: dict[str, object], *, seconds: int | None = None) -> None:
    """Seal and store the values for `seconds` (default VITEC_CACHE_SECONDS)."""
    sealed = {key: seal(value, purpose=_SEALED, key=key) for key, value in values.items()}
    if sealed:
        cache.set_many(sealed, settings.VITEC_CACHE_SECONDS if seconds is None else seconds)


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
    categories: Categories | None = None
    categories_error: VitecError | None = None
    # When everything came from the cache: what identifies those cached values (_fingerprint),
    # so that what is made of them can be cached beside them. "" when anything came from Vitec.
    fingerprint: str = ""


def contacts_lookup(
    *, credential: VitecCredential, ids: Sequence[str], refresh: bool = False
) -> Lookup:
    """Contacts for the ids, from the cache where possible, the rest from Vitec in batches.

    Cached per credential (never shared between credentials or users) for VITEC_CACHE_SECONDS.
    `refresh` skips the cache and stores what Vitec answers now. Failed batches are not cached.
    """
    started = _lookup_start(credential, ids, refresh=refresh)
    if not started.to_fetch:
        return _lookup_finish(credential, started)
    return _lookup_finish(credential, started, *_fetch(credential, started))


def lookup_rounds(ids: int) -> int:
    """In how many rounds of calls Vitec is asked for `ids` contacts: 20 a call,
    VITEC_MAX_CONCURRENCY calls at once."""
    per_round = MAX_IDS_PER_CALL * max(1, settings.VITEC_MAX_CONCURRENCY)
    return -(-ids // per_round)


@dataclass(frozen=True, slots=True)
class Arrived:
    """Contacts of a lookup as they come (contacts_lookup_stream)."""

    contacts: tuple[Contact, ...]  # those the cache holds (first), or those of one answer
    remaining: int  # ids still being asked of Vitec


def contacts_lookup_stream(
    *, credential: VitecCredential, ids: Sequence[str]
) -> Generator[Arrived, None, Lookup]:
    """contacts_lookup, told as it goes: first what the cache holds and how many ids are left
    to ask Vitec for, then the contacts of each answer as it arrives; the Lookup when all is in.

    Vitec is asked in a thread of its own while this generator waits for its answers: the
    caller (a streamed page) writes out each arrival. The cache and the database are used
    from the caller's thread only."""
    started = _lookup_start(credential, ids, refresh=False)
    if started.to_fetch:
        client_for_credential(credential)  # a password that does not decrypt fails here, early
    yield Arrived(contacts=started.cached_contacts, remaining=len(started.missing))
    if not started.to_fetch:
        return _lookup_finish(credential, started)
    arrivals: queue.SimpleQueue[tuple[Sequence[str], list[Contact]] | None] = queue.SimpleQueue()
    done: list[tuple[LookupResult, Categories | None, VitecError | None]] = []
    failed: list[BaseException] = []

    def fetch() -> None:
        try:
            done.append(_fetch(credential, started, arrived=lambda b, c: arrivals.put((b, c))))
        except BaseException as exc:  # raised again below, in the caller's thread
            failed.append(exc)
        finally:
            arrivals.put(None)

    fetcher = threading.Thread(
        target=contextvars.copy_context().run, args=(fetch,), name="vitec-lookup", daemon=True
    )
    _release_database_connections()  # this thread, too, waits on Vitec now
    fetcher.start()
    remaining = len(started.missing)
    stored: set[str] = set()
    finished = False
    while not finished:
        # Every answer in by now, as one step: answers that arrive together are shown together.
        answers = [arrivals.get()]
        while not arrivals.empty():
            answers.append(arrivals.get())
        finished = answers[-1] is None  # the fetcher's last word, after its last answer
        came = [answer for answer in answers if answer is not None]
        if not came:
            break
        remaining -= sum(len(batch) for batch, _ in came)
        contacts = [contact for _, batch_contacts in came for contact in batch_contacts]
        yield Arrived(contacts=tuple(contacts), remaining=max(0, remaining))
        # Cached while the next answers are awaited, not all at the end.
        fresh: dict[str, object] = {_cache_key(credential, "contact", c.id): c for c in contacts}
        _cache_write(fresh)
        stored.update(fresh)
    fetcher.join()
    if failed:
        raise failed[0]
    return _lookup_finish(credential, started, *done[0], stored=stored)


@dataclass(frozen=True, slots=True)
class _Started:
    """A lookup's first step: what the cache holds, and what is still to be asked of Vitec."""

    ids: list[str]
    keys: dict[str, str]  # the cache key of each id
    categories_key: str
    tokens: dict[str, object]  # what the cache held under those keys, sealed
    hits: dict[str, object]  # by id: the cached contact, or _NOT_FOUND
    missing: list[str]
    categories: object  # cached Categories, or None

    @property
    def to_fetch(self) -> bool:
        return bool(self.missing) or self.categories is None

    @property
    def cached_contacts(self) -> tuple[Contact, ...]:
        return tuple(value for value in self.hits.values() if isinstance(value, CrmContact))


def _lookup_start(credential: VitecCredential, ids: Sequence[str], *, refresh: bool) -> _Started:
    ids = unique_ids(ids)  # ids differing only in letter case are one: the first spelling kept
    keys = {contact_id: _cache_key(credential, "contact", contact_id) for contact_id in ids}
    categories_key = _cache_key(credential, "categories")
    tokens = {} if refresh else cache.get_many([*keys.values(), categories_key])
    cached = _unsealed_values(tokens)
    hits = {contact_id: cached[key] for contact_id, key in keys.items() if key in cached}
    return _Started(
        ids=ids,
        keys=keys,
        categories_key=categories_key,
        tokens=tokens,
        hits=hits,
        missing=[contact_id for contact_id in ids if contact_id not in hits],
        categories=cached.get(categories_key),
    )


def _lookup_finish(
    credential: VitecCredential,
    started: _Started,
    fetched: LookupResult | None = None,
    fresh: Categories | None = None,
    categories_error: VitecError | None = None,
    *,
    stored: set[str] | frozenset[str] = frozenset(),
) -> Lookup:
    """What was fetched stored in the cache (but the keys `stored` already), what Vitec said of
    the credential, and the Lookup of cached and fetched contacts together, in the order asked."""
    categories = started.categories
    if fetched is None:
        fetched = LookupResult()
    else:
        if fresh is not None:
            categories = fresh
            _cache_write({started.categories_key: fresh})
        # _cache_key is the same for the id as asked and for Vitec's spelling of it.
        to_store: dict[str, object] = {
            key: c
            for c in fetched.contacts
            if (key := _cache_key(credential, "contact", c.id)) not in stored
        }
        to_store.update({started.keys[i]: _NOT_FOUND for i in fetched.not_found})
        _cache_write(to_store)
        _standing_from(credential, fetched)

    hits = started.hits
    # By id_key: the contacts keep Vitec's spelling of their ids, the ids are as asked.
    found: dict[str, Contact] = {
        id_key(contact_id): value
        for contact_id, value in hits.items()
        if isinstance(value, CrmContact)
    }
    found.update({id_key(c.id): c for c in fetched.contacts})
    not_found = {id_key(contact_id) for contact_id, value in hits.items() if value == _NOT_FOUND}
    not_found.update(id_key(contact_id) for contact_id in fetched.not_found)
    ids = started.ids
    result = LookupResult(
        requested=tuple(ids),
        contacts=tuple(found[id_key(i)] for i in ids if id_key(i) in found),
        not_found=tuple(i for i in ids if id_key(i) in not_found),
        failed=fetched.failed,
        invalid=fetched.invalid,
        calls=fetched.calls,
    )
    return Lookup(
        result=result,
        categories=categories if isinstance(categories, Categories) else None,
        categories_error=categories_error,
        fingerprint="" if started.to_fetch else _fingerprint(started.tokens),
    )


def fragment_key(*, credential: VitecCredential, lookup: Lookup, parts: Sequence[str]) -> str:
    """The cache key of markup made of the lookup's cached values and of `parts` (whatever else
    it shows: the page's address, the language, the columns), or "" when it is not to be cached
    (something came from Vitec just now)."""
    if not lookup.fingerprint:
        return ""
    digest = hashlib.blake2b("\0".join((lookup.fingerprint, *parts)).encode(), digest_size=20)
    return _cache_key(credential, "html", digest.hexdigest())


class _Fragments:
    """Markup this process cached lately (fragment_cached), at most `max_bytes` of it, the least
    recently used dropped first: a page asked again and again (a broker's bookmark, a busy
    office) is neither fetched from the shared cache nor decrypted again. Its key names the
    values it was made of, so it is never stale; it expires with the shared copy."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, html: str, seconds: int) -> None:
        if len(html) > self._max_bytes // 4:
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = (time.monotonic() + seconds, html)
            self._bytes += len(html)
            while self._bytes > self._max_bytes:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        _, html = self._entries.pop(key)
        self._bytes -= len(html)


_fragments = _Fragments(max_bytes=8 * 1024 * 1024)


def fragment_cached(key: str, build: Callable[[], str]) -> str:
    """The markup cached under `key` (fragment_key, plus the fragment's name), else `build()`
    cached there: in the shared cache, sealed like the values it shows and for as long, and in
    this process's memory (_Fragments)."""
    if not key:
        return build()
    seconds = max(1, settings.VITEC_CACHE_SECONDS)
    html = _fragments.get(key)
    if html is not None:
        return html
    cached = unseal(cache.get(key), purpose=_SEALED, key=key, max_age=seconds)
    if isinstance(cached, str):
        _fragments.put(key, cached, seconds)
        return cached
    html = build()
    _cache_write({key: html})
    _fragments.put(key, html, seconds)
    return html


def contacts_cached(*, credential: VitecCredential, ids: Sequence[str]) -> dict[str, Contact]:
    """The contacts of `ids` the credential's cache holds, by id as asked; never a Vitec call."""
    keys = {contact_id: _cache_key(credential, "contact", contact_id) for contact_id in ids}
    cached = _cache_read(list(keys.values()))
    return {
        contact_id: value
        for contact_id, key in keys.items()
        if isinstance(value := cached.get(key), CrmContact)
    }


def _fetch(
    credential: VitecCredential,
    started: _Started,
    *,
    arrived: Callable[[Sequence[str], list[Contact]], None] | None = None,
) -> tuple[LookupResult, Categories | None, VitecError | None]:
    """The missing contacts from Vitec (each batch told to `arrived` as it is done), and its
    category names when they are not cached: fetched beside the batches, so a cold page waits
    for one round."""
    client = client_for_credential(credential)
    _release_database_connections()  # the calls below may take seconds
    fetched, categories, error = LookupResult(), None, None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vitec-categories") as pool:
        # In a copy of this context, so that its log lines keep the request id.
        run = contextvars.copy_context().run
        future = (
            pool.submit(run, client.fetch_categories, credential.customer_id)
            if started.categories is None
            else None
        )
        if started.missing:
            fetched = client.fetch_contacts(
                credential.customer_id, started.missing, arrived=arrived
            )
        if future is not None:
            try:
                categories = future.result()
            except VitecError as exc:
                error = exc
    return fetched, categories, error


def contact_get(
    *, credential: VitecCredential, contact_id: str, refresh: bool = False
) -> tuple[Contact | None, Lookup]:
    lookup = contacts_lookup(credential=credential, ids=[contact_id], refresh=refresh)
    contact = lookup.result.contacts[0] if lookup.result.contacts else None
    return contact, lookup


def standing_record(credential: VitecCredential, standing: str) -> None:
    """Remember what Vitec last said of the credential (accepted or refused)."""
    if credential.standing != standing or credential.standing_at is None:
        credential.standing, credential.standing_at = standing, timezone.now()
        VitecCredential.objects.filter(pk=credential.pk).update(
            standing=standing, standing_at=credential.standing_at
        )


def _standing_from(credential: VitecCredential, fetched: LookupResult) -> None:
    refused = any(
        isinstance(batch.error, AuthenticationError | PermissionDeniedError)
        for batch in fetched.failed
    )
    if refused:
        standing_record(credential, VitecCredential.Standing.REFUSED)
    elif fetched.contacts or fetched.not_found:
        standing_record(credential, VitecCredential.Standing.ACCEPTED)


MIN_SEARCH_TERM = 5  # Vitec's Search takes terms of at least five characters
SEARCH_MAX = 200


def contacts_search(*, credential: VitecCredential, term: str) -> tuple[tuple[str, ...], str]:
    """The ids Vitec's own search finds for the term (best first, at most SEARCH_MAX), and the
    broker's message when the search failed ("" when it did not). A search that succeeded is
    cached like the contacts (its key an HMAC of the term), so the same page again (another
    page of it, the language changed) asks Vitec nothing."""
    term = " ".join(term.split())  # the term Vitec is asked for is the one cached
    key = _cache_key(credential, "search", term.casefold())
    cached = _cache_read([key]).get(key)
    if isinstance(cached, tuple):
        return cached, ""
    try:
        refs = client_for_credential(credential).search_contacts(
            credential.customer_id, term, max_size=SEARCH_MAX
        )
    except VitecError as error:
        return (), broker_message(error)
    found = tuple(unique_ids(ref.id for ref in refs))
    _cache_write({key: found})
    return found, ""
