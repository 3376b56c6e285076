"""Contact ids as Vitec takes them: at most 20 a call, each one path segment; and what a lookup of
many ids gave back."""

from __future__ import annotations

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


def unique_ids(ids: Iterable[str]) -> list[str]:
    """Ids without duplicates, first occurrence kept, order kept."""
    return list(dict.fromkeys(ids))


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
