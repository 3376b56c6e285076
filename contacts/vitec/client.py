"""HTTP transport for Vitec Connect: one session per credential, timeouts, retries, batching.

This is the only module that speaks HTTP to Vitec. It turns answers into the typed models of
`contacts.vitec.models` and every failure into an error of `contacts.vitec.errors`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from .breaker import CircuitBreaker, breaker_name
from .errors import (
    BadResponseError,
    FailedRequest,
    NotFoundError,
    ValidationError,
    VitecConnectionError,
    VitecError,
    VitecTimeoutError,
    error_for_status,
)
from .ids import (
    MAX_IDS_PER_CALL,
    FailedBatch,
    LookupResult,
    SplitBudget,
    batched,
    encode_ids,
    encode_path_segment,
    id_key,
    is_valid_id,
    merge_outcomes,
    unique_ids,
)
from .limiter import InFlightLimit
from .models import (
    Categories,
    Contact,
    ContactIndex,
    ContactRef,
    ContactRelations,
    ContactType,
    VitecUser,
)
from .parsing import (
    parse_category_lists,
    parse_contact_index,
    parse_contact_relations,
    parse_contacts,
    parse_search,
    parse_users,
    xml_to_data,
)
from .retry import RetryPolicy, parse_retry_after

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 20 * 1024 * 1024  # 20 ids never take this much; anything bigger is not Vitec
# The app names itself and its version (contacts/services/lookup.py); this is the default.
USER_AGENT = f"crmviewer-vitec-client (+python-requests/{requests.__version__})"

# The body broke off before its promised length, or could not be decoded. The urllib3 ones come
# from reading the raw stream ourselves (see _read_body), where requests does not translate them.
_CUT_SHORT = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.DecodeError,
)
_TIMED_OUT = (requests.Timeout, urllib3.exceptions.TimeoutError)


# Extra calls one lookup may spend splitting batches Vitec refused with a 400 (see _batch_outcome):
# enough for a few refused ids in each of several batches.
SPLIT_CALLS_PER_LOOKUP = 100


def _parse_single_answer(value: Any) -> list[Contact] | None:
    return parse_contacts(value, single=True)


@dataclass(frozen=True, slots=True)
class _Answer:
    body: bytes
    content_type: str


class VitecClient:
    """A client for one Vitec Connect credential (user name and password).

    Thread-safe for the concurrent batches it runs itself; create one per credential and reuse it,
    so that its HTTP connections are reused too.
    """

    def __init__(
        self,
        *,
        base_url: str,
        username: str,
        password: str,
        timeout: float = 10.0,
        max_concurrency: int = 4,
        retry: RetryPolicy | None = None,
        response_format: str = "json",
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        breaker: CircuitBreaker | None = None,
        limit: InFlightLimit | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        if response_format not in ("json", "xml"):
            raise ValueError("response_format must be 'json' or 'xml'")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self.retry = retry or RetryPolicy()
        self.response_format = response_format
        self._sleep = sleep
        self._rand = rand
        self.breaker = breaker
        self.limit = limit  # calls in flight per customer, across every client sharing its store
        self.username = username
        self.session = requests.Session()
        # As bytes: requests would encode str as Latin-1 and fail on e.g. "€" in a password.
        self.session.auth = requests.auth.HTTPBasicAuth(username.encode(), password.encode())
        self.session.trust_env = False  # no proxy or .netrc can replace our credential
        accept = "application/xml" if response_format == "xml" else "application/json"
        self.session.headers.update({"Accept": accept, "User-Agent": user_agent})
        # One connection per concurrent batch, plus one for a call made beside them (categories).
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=max_concurrency + 1, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> VitecClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never shows the password
        return f"<VitecClient {self.base_url} user={self.username!r}>"

    def breaker_key(self, customer_id: str) -> str:
        """The name of this credential's breaker for the customer (no user name in clear)."""
        return breaker_name(self.base_url, customer_id, self.username)

    # --- endpoints -------------------------------------------------------------------------------

    def fetch_contacts(
        self,
        customer_id: str,
        ids: Iterable[str],
        *,
        arrived: Callable[[Sequence[str], list[Contact]], None] | None = None,
    ) -> LookupResult:
        """Any number of contacts: de-duplicated, in batches of 20 fetched concurrently.

        Ids are matched without regard to letter case (ids differing only in case are asked
        once): the contacts keep Vitec's spelling of their ids, `not_found` names ids as asked.

        Never raises for a failed batch: the result keeps what worked, names what was not found
        and carries each failed batch with its error. A batch Vitec refuses with a 400 is split
        until the refused ids are found (_batch_outcome): only they are named as failed.

        `arrived(batch, contacts)`, when given, is called as each batch is done (in the thread
        that fetched it), with the contacts of that batch that were asked for.
        """
        requested = unique_ids(ids)
        valid = [contact_id for contact_id in requested if is_valid_id(contact_id)]
        invalid = tuple(contact_id for contact_id in requested if not is_valid_id(contact_id))
        batches = batched(valid)
        spare = self.max_concurrency - min(self.max_concurrency, max(1, len(batches)))
        budget = SplitBudget(SPLIT_CALLS_PER_LOOKUP, spare_workers=spare)

        def outcome(batch: Sequence[str]) -> tuple[list[Contact], list[FailedBatch], int]:
            done = self._batch_outcome(customer_id, batch, budget)
            if arrived is not None:
                wanted = {id_key(contact_id) for contact_id in batch}
                arrived(batch, [c for c in done[0] if id_key(c.id) in wanted])
            return done

        if len(batches) <= 1:
            outcomes = [outcome(batch) for batch in batches]
        else:
            workers = min(self.max_concurrency, len(batches))
            # Each batch runs in a copy of this thread's context, so that its log lines carry the
            # request id (crmviewer.logging): concurrent.futures does not pass contextvars on.
            contexts = [contextvars.copy_context() for _ in batches]
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vitec") as pool:
                outcomes = list(
                    pool.map(lambda context, batch: context.run(outcome, batch), contexts, batches)
                )
        return merge_outcomes(requested, invalid, batches, outcomes)

    def fetch_contact_batch(
        self, customer_id: str, ids: Sequence[str], *, contact_type: ContactType | None = None
    ) -> list[Contact]:
        """One call of at most 20 ids; raises a VitecError when it fails.

        A call for one id reads both of Vitec's shapes (one object, or a list), and a 404 for it
        means "no such contact" (an empty list), not a failure (see _fetch_batch)."""
        contacts, _ = self._fetch_batch(customer_id, ids, contact_type=contact_type)
        return contacts

    def list_contact_ids(
        self, customer_id: str, *, changed_from: datetime | None = None
    ) -> ContactIndex:
        """Every contact id of the customer with its `changedAt`; with `changed_from`, only those
        changed since then (Vitec's `ChangedAtFrom`, sent as the timestamp with its offset)."""
        path = f"CRM/Contact/{encode_path_segment(customer_id)}"
        if changed_from is not None:
            path += "?" + urlencode({"ChangedAtFrom": changed_from.isoformat(timespec="seconds")})
        index, _ = self._get(path, customer_id=customer_id, parse=parse_contact_index)
        return index

    def search_contacts(
        self, customer_id: str, term: str, *, max_size: int = 50
    ) -> list[ContactRef]:
        query = urlencode({"Term": term, "MaxSize": max_size})
        path = f"CRM/Contact/{encode_path_segment(customer_id)}/Search?{query}"
        matches, _ = self._get(path, customer_id=customer_id, parse=parse_search)
        return matches

    def fetch_categories(self, customer_id: str) -> Categories:
        path = f"Category/GetCategories?{urlencode({'customerId': customer_id})}"
        categories, _ = self._get(path, customer_id=customer_id, parse=parse_category_lists)
        return categories

    def fetch_relations(self, customer_id: str, contact_id: str) -> ContactRelations:
        """The people around one contact, and the contacts it is one of the people around.

        Raises NotFoundError when Vitec answers 404 (no such contact): unlike the contacts
        route, where "not found" is a normal answer for some of the ids asked, here the caller
        decides what an unknown contact means. A 404 never counts for the breaker.
        """
        if not is_valid_id(contact_id):
            raise ValueError(f"not a contact id: {contact_id!r}")
        path = (
            f"CRM/Contact/{encode_path_segment(customer_id)}/"
            f"{encode_path_segment(contact_id)}/ContactRelations"
        )
        relations, _ = self._get(path, customer_id=customer_id, parse=parse_contact_relations)
        return relations

    def fetch_users(self, customer_id: str) -> list[VitecUser]:
        """The office's public users (brokers): what turns a contact's agent id into a name."""
        path = f"User/GetUser?{urlencode({'CustomerId': customer_id})}"
        users, _ = self._get(path, customer_id=customer_id, parse=parse_users)
        return users

    # --- internals -------------------------------------------------------------------------------

    def _batch_outcome(
        self, customer_id: str, batch: Sequence[str], budget: SplitBudget
    ) -> tuple[list[Contact], list[FailedBatch], int]:
        """The contacts of one batch, its failed parts and the HTTP attempts made.

        A batch of several ids refused with a 400 is split in halves, each half a call of its
        own, until the refused ids are alone: every other contact still arrives and a failure
        names only the ids that caused it. One refused id among n costs at most
        2 * ceil(log2 n) extra calls; `budget` caps the extra calls of a whole lookup (Vitec
        refusing every call, whatever its ids, must not turn into hundreds of calls) and lends
        the workers the batches leave free, so that two halves go side by side while no more
        than max_concurrency calls are ever in flight.
        """
        try:
            contacts, calls = self._fetch_batch(customer_id, batch)
        except ValidationError as error:
            if len(batch) < 2 or not budget.take(2):
                return [], [FailedBatch(ids=tuple(batch), error=error)], error.attempts
            middle = len(batch) // 2
            first, second = batch[:middle], batch[middle:]
            if budget.borrow_worker():  # side by side, within max_concurrency
                try:
                    with ThreadPoolExecutor(1, thread_name_prefix="vitec-split") as pool:
                        run = contextvars.copy_context().run
                        future = pool.submit(run, self._batch_outcome, customer_id, first, budget)
                        later = self._batch_outcome(customer_id, second, budget)
                        earlier = future.result()
                finally:
                    budget.return_worker()
            else:  # one after the other, in this batch's worker
                earlier = self._batch_outcome(customer_id, first, budget)
                later = self._batch_outcome(customer_id, second, budget)
            return (
                earlier[0] + later[0],
                earlier[1] + later[1],
                error.attempts + earlier[2] + later[2],
            )
        except VitecError as error:
            return [], [FailedBatch(ids=tuple(batch), error=error)], error.attempts
        return contacts, [], calls

    def _fetch_batch(
        self, customer_id: str, ids: Sequence[str], *, contact_type: ContactType | None = None
    ) -> tuple[list[Contact], int]:
        if not 0 < len(ids) <= MAX_IDS_PER_CALL:
            raise ValueError(f"a call takes 1 to {MAX_IDS_PER_CALL} ids, not {len(ids)}")
        path = f"CRM/Contact/{encode_path_segment(customer_id)}/"
        if contact_type is not None:
            path += f"{ContactType(contact_type).value}/"
        if len(ids) > 1:
            return self._get(path + encode_ids(ids), customer_id=customer_id, parse=parse_contacts)
        # One id: Vitec documents `CRM/Contact/{customerId}/{contactId}` as a route of its own,
        # on the same URL template, that answers the contact itself (one object) and 404 when
        # there is none. Which route a segment without a comma takes is not documented: read
        # both shapes, and take a 404 as "not found" (a 4xx never counts for the breaker).
        try:
            return self._get(
                path + encode_ids(ids), customer_id=customer_id, parse=_parse_single_answer
            )
        except NotFoundError as error:
            return [], error.attempts

    def _get[T](
        self, path: str, *, customer_id: str, parse: Callable[[Any], T | None]
    ) -> tuple[T, int]:
        """GET with retries, parsed by `parse` (None: not the expected shape); with the number
        of attempts made. Raises the mapped VitecError.

        An answer that cannot be read counts as a failed call, like an error status: for the
        retry policy and for the circuit breaker, which makes a customer whose calls keep
        failing fail fast instead.
        """
        url = f"{self.base_url}/{path}"
        failed = FailedRequest(method="GET", url=url)
        breaker_key = self.breaker_key(customer_id)
        retries_done = 0
        while True:
            try:
                if self.breaker is not None:
                    self.breaker.before_call(breaker_key)
                with self.limit.slot(customer_id) if self.limit else nullcontext():
                    answer = self._attempt(url, failed)
                parsed = parse(self._decode(answer))
                if parsed is None:
                    raise BadResponseError("The answer does not have the expected shape")
            except VitecError as error:
                wait = self.retry.delay(retries_done=retries_done, error=error, rand=self._rand)
                if wait is None:
                    error.attempts = retries_done + 1
                    error.request = error.request or failed
                    # The breaker judges the call, once, after its retries: not each attempt.
                    if self.breaker is not None:
                        self.breaker.record(breaker_key, error)
                    raise
                logger.warning("Vitec call failed, retrying in %.2fs: %s", wait, error)
                self._sleep(wait)
                retries_done += 1
            else:
                if self.breaker is not None:
                    self.breaker.record(breaker_key, None)
                return parsed, retries_done + 1

    def _attempt(self, url: str, failed: FailedRequest) -> _Answer:
        started = time.monotonic()
        try:
            with self.session.get(url, timeout=(self.timeout, self.timeout), stream=True) as resp:
                body = self._read_body(resp, started, failed)
                status = resp.status_code
                headers = resp.headers
        except _TIMED_OUT as exc:
            raise VitecTimeoutError(f"Timed out: {type(exc).__name__}", request=failed) from exc
        except _CUT_SHORT as exc:
            detail = f"Answer cut short: {type(exc).__name__}"
            raise BadResponseError(detail, request=failed) from exc
        except requests.RequestException as exc:
            raise VitecConnectionError(f"{type(exc).__name__}", request=failed) from exc
        elapsed_ms = (time.monotonic() - started) * 1000
        level = logging.DEBUG if 200 <= status < 300 else logging.WARNING
        logger.log(level, "Vitec GET %s -> %s in %.0f ms", url, status, elapsed_ms)
        if 200 <= status < 300:
            return _Answer(body=body, content_type=headers.get("Content-Type", ""))
        retry_after = parse_retry_after(headers.get("Retry-After"))
        raise error_for_status(status, body=body, request=failed, retry_after=retry_after)

    def _read_body(self, resp: requests.Response, started: float, failed: FailedRequest) -> bytes:
        """The whole body, within `timeout` for the attempt overall and MAX_BODY_BYTES.

        requests' read timeout applies to each socket read, so a body trickled byte by byte
        could hold a page for ever; read1() hands back whatever arrived, and the deadline is
        checked between reads.
        """
        chunks: list[bytes] = []
        size = 0
        while chunk := resp.raw.read1(64 * 1024, decode_content=True):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BadResponseError(f"Answer over {MAX_BODY_BYTES} bytes", request=failed)
            if time.monotonic() - started > self.timeout:
                raise requests.Timeout("Answer not received within the timeout")
            chunks.append(chunk)
        return b"".join(chunks)

    def _decode(self, answer: _Answer) -> Any:
        content_type = answer.content_type.split(";")[0].strip().lower()
        if content_type.endswith("xml") or (
            not content_type and answer.body.lstrip().startswith(b"<")
        ):
            try:
                return xml_to_data(ElementTree.fromstring(answer.body))
            except (ElementTree.ParseError, DefusedXmlException) as exc:
                raise BadResponseError(f"Unreadable XML: {exc}") from exc
        if content_type and "json" not in content_type:
            raise BadResponseError(f"Unexpected content type {content_type!r}")
        try:
            return json.loads(answer.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadResponseError(f"Unreadable JSON: {exc}") from exc
