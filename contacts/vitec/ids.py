"""Contact ids as Vitec takes them: at most 20 a call, each one path segment; and what a lookup of
many ids gave back."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from .errors import VitecError
from .models import Contact

MAX_IDS_PER_CALL = 20  # Vitec's documented limit for CRM/Contact/{customerId}/{contactIds}
MAX_ID_LENGTH = 40  # "Kontaktid måste vara mellan 0 och 40 tecken"


@dataclass(frozen=True, slots=True)
class FailedBatch:
    ids: tuple[str, ...]
    error: VitecError


@dataclass(frozen=True, slots=True)
class LookupResult:
    """What a lookup of many ids gave: what worked is kept even when some batches failed."""

    requested: tuple[str, ...] = ()  # de-duplicated, in the order asked
    contacts: tuple[Contact, ...] = ()  # in the order asked
    not_found: tuple[str, ...] = ()  # asked for, answered, but not returned by Vitec
    failed: tuple[FailedBatch, ...] = ()  # batches whose call failed, with the error
    invalid: tuple[str, ...] = ()  # ids Vitec would reject (empty, too long): never sent
    calls: int = 0  # HTTP attempts made, retries included


def id_key(contact_id: str) -> str:
    """What an id is matched by: Vitec matches ids without regard to letter case, and brokers
    paste them in lower case too (real ids are `ADR` + 32 upper-case hex digits)."""
    return contact_id.casefold()


def unique_ids(ids: Iterable[str]) -> list[str]:
    """Ids without duplicates (ids differing only in letter case are one), the first spelling
    kept, order kept."""
    unique: dict[str, str] = {}
    for contact_id in ids:
        unique.setdefault(id_key(contact_id), contact_id)
    return list(unique.values())


def batched(ids: Sequence[str], size: int = MAX_IDS_PER_CALL) -> list[tuple[str, ...]]:
    return [tuple(ids[start : start + size]) for start in range(0, len(ids), size)]


def encode_path_segment(value: str) -> str:
    """Percent-encode everything but unreserved characters, so a value can never alter the path.

    "." and ".." are encoded too: left as they are, HTTP libraries resolve them as dot-segments
    ("/CRM/Contact/M1/.." becomes "/CRM/Contact/").
    """
    if value.strip(".") == "":
        return value.replace(".", "%2E")
    return quote(value, safe="")


def encode_ids(ids: Iterable[str]) -> str:
    """The `{contactIds}` segment: each id encoded on its own, joined by literal commas."""
    return ",".join(encode_path_segment(contact_id) for contact_id in ids)


def is_valid_id(contact_id: str) -> bool:
    """What Vitec can take as a contact id: 1 to 40 characters, not just dots."""
    return 0 < len(contact_id) <= MAX_ID_LENGTH and contact_id.strip(".") != ""


class SplitBudget:
    """What a lookup may still spend to find refused ids, shared by its batches: extra calls,
    and spare workers (max_concurrency less the batches' own) to run two halves side by side."""

    def __init__(self, calls: int, spare_workers: int = 0) -> None:
        self._left = calls
        self._spare = spare_workers
        self._lock = threading.Lock()

    def take(self, calls: int) -> bool:
        with self._lock:
            if self._left < calls:
                return False
            self._left -= calls
            return True

    def borrow_worker(self) -> bool:
        with self._lock:
            if self._spare < 1:
                return False
            self._spare -= 1
            return True

    def return_worker(self) -> None:
        with self._lock:
            self._spare += 1


def merge_outcomes(
    requested: list[str],
    invalid: tuple[str, ...],
    batches: list[tuple[str, ...]],
    outcomes: list[tuple[list[Contact], list[FailedBatch], int]],
) -> LookupResult:
    """One result from the batches' outcomes (contacts, failed parts, calls made), in the order
    asked. Contacts are keyed by the id as asked and keep Vitec's spelling of it: Vitec matches
    ids without regard to letter case, and so does this; what was not asked for is never shown."""
    found: dict[str, Contact] = {}
    failed: list[FailedBatch] = []
    calls = 0
    for batch, (contacts, batch_failed, batch_calls) in zip(batches, outcomes, strict=True):
        calls += batch_calls
        failed += batch_failed
        wanted = {id_key(contact_id): contact_id for contact_id in batch}
        for contact in contacts:
            asked = wanted.get(id_key(contact.id))
            if asked is not None:
                found.setdefault(asked, contact)
    failed_ids = {contact_id for part in failed for contact_id in part.ids}
    asked_valid = [i for i in requested if i not in invalid]
    return LookupResult(
        requested=tuple(requested),
        contacts=tuple(found[i] for i in requested if i in found),
        not_found=tuple(i for i in asked_valid if i not in found and i not in failed_ids),
        failed=tuple(failed),
        invalid=invalid,
        calls=calls,
    )
