"""Keeping an office's register in step with Vitec.

A sync lists the customer's contact ids with their `changedAt` (`GET CRM/Contact/{customerId}`),
fetches the contacts whose `changedAt` differs from the register's (new ones included) in chunks
of batches, and stores each chunk in its own transaction: an interrupted sync keeps what it
stored, and the next run fetches only what is still missing or stale. A full listing also drops
the register's contacts Vitec no longer lists (deleted, or merged into another).

Later syncs list only what changed since the last one began (`ChangedAtFrom`, a margin earlier),
and list everything again at least every REGISTER_RECONCILE_HOURS, so deletions are noticed.

One sync per customer at a time, across processes and servers: a lease on the customer's
RegisterSync row, taken and renewed by a conditional UPDATE (`_lease_take`).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ..crypto import CredentialDecryptionError
from ..models import (
    RegisterCategory,
    RegisterContact,
    RegisterRefresh,
    RegisterSync,
    VitecCredential,
)
from ..vitec.client import VitecClient
from ..vitec.errors import AuthenticationError, PermissionDeniedError, VitecError
from ..vitec.ids import MAX_IDS_PER_CALL, LookupResult, id_key
from ..vitec.models import Contact
from .lookup import client_for_credential, standing_record
from .messages import broker_message
from .register_store import categories_for, row_for

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # renewed after every chunk; a crashed sync frees the customer then
CHUNK_ROUNDS = 3  # a chunk is this many rounds of concurrent calls (see chunk_ids)
MARGIN = timedelta(minutes=10)  # ChangedAtFrom starts this long before the last sync began
STALE_CHUNK = 500  # listed ids whose changedAt is read from the register per query (_stale)


class SyncUnavailable(Exception):
    """No active credential for the customer that Vitec accepts."""


@dataclass
class SyncReport:
    customer_id: str
    mode: str = ""  # "full" or "incremental"; "" when skipped
    skipped: bool = False  # another sync of the customer was running
    listed: int = 0
    fetched: int = 0
    changed: int = 0
    deleted: int = 0
    failed_ids: list[str] = field(default_factory=list)
    error: str = ""
    calls: int = 0

    def summary(self) -> str:
        if self.skipped:
            return f"{self.customer_id}: skipped, another sync of this customer is running"
        text = (
            f"{self.customer_id}: {self.mode} sync, {self.listed} listed, {self.fetched} fetched, "
            f"{self.changed} changed, {self.deleted} deleted, {len(self.failed_ids)} failed"
        )
        return f"{text}; error: {self.error}" if self.error else text


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _state(customer_id: str) -> RegisterSync:
    try:
        return RegisterSync.objects.get_or_create(customer_id=customer_id)[0]
    except IntegrityError:  # created by another process at the same moment
        return RegisterSync.objects.get(customer_id=customer_id)


def _lease_take(customer_id: str, owner: str) -> bool:
    """Take (or renew) the customer's sync lease; False while another owner holds it."""
    now = timezone.now()
    free = Q(locked_until__isnull=True) | Q(locked_until__lt=now) | Q(locked_by=owner)
    taken = RegisterSync.objects.filter(free, customer_id=customer_id).update(
        locked_by=owner, locked_until=now + LEASE
    )
    return taken == 1


def _lease_release(customer_id: str, owner: str) -> None:
    RegisterSync.objects.filter(customer_id=customer_id, locked_by=owner).update(
        locked_by="", locked_until=None
    )


def credentials_to_try(customer_id: str) -> list[VitecCredential]:
    """The customer's active credentials, those Vitec accepted first, refused ones last."""
    rank: dict[str, int] = {
        VitecCredential.Standing.ACCEPTED: 0,
        VitecCredential.Standing.UNTRIED: 1,
        VitecCredential.Standing.REFUSED: 2,
    }
    credentials = VitecCredential.objects.filter(customer_id=customer_id, is_active=True)
    return sorted(credentials, key=lambda c: (rank.get(c.standing, 1), c.pk))


def _with_accepted_credential(
    customer_id: str, changed_from: datetime | None
) -> tuple[VitecClient, list[tuple[str, datetime | None]]]:
    """A client for the first credential Vitec accepts, and the id listing it gave."""
    refused: list[str] = []
    for credential in credentials_to_try(customer_id):
        try:
            client = client_for_credential(credential)
            index = client.list_contact_ids(customer_id, changed_from=changed_from)
        except CredentialDecryptionError:
            refused.append(credential.display_label)
            continue
        except (AuthenticationError, PermissionDeniedError):
            standing_record(credential, VitecCredential.Standing.REFUSED)
            refused.append(credential.display_label)
            continue
        standing_record(credential, VitecCredential.Standing.ACCEPTED)
        refs = (*index.persons, *index.companies, *index.deceased_estates)
        return client, [(ref.id, ref.changed_at) for ref in refs]
    if refused:
        raise SyncUnavailable(
            f"Vitec refused every active credential for {customer_id} ({len(refused)})."
        )
    raise SyncUnavailable(f"No active credential for {customer_id}.")


def _stale(customer_id: str, listed: Sequence[tuple[str, datetime | None]]) -> list[str]:
    """The listed ids whose contact the register lacks or holds at another `changedAt`.

    Reads the register's `changedAt` of the listed ids only, STALE_CHUNK at a time: never the
    whole office (an incremental sync lists a few ids)."""
    stale = []
    for start in range(0, len(listed), STALE_CHUNK):
        chunk = listed[start : start + STALE_CHUNK]
        held = dict(
            RegisterContact.objects.filter(
                customer_id=customer_id, id_key__in=[id_key(contact_id) for contact_id, _ in chunk]
            ).values_list("id_key", "changed_at")
        )
        for contact_id, changed_at in chunk:
            key = id_key(contact_id)
            if key not in held or changed_at is None or held[key] != changed_at:
                stale.append(contact_id)
    return stale


def store_contacts(customer_id: str, contacts: Iterable[Contact]) -> int:
    """Insert or replace these contacts' rows (one transaction); how many were stored."""
    now = timezone.now()
    rows = {}
    for contact in contacts:
        rows[id_key(contact.id)] = (
            row_for(contact, customer_id=customer_id, synced_at=now),
            contact,
        )
    if not rows:
        return 0
    with transaction.atomic():
        RegisterContact.objects.filter(customer_id=customer_id, id_key__in=list(rows)).delete()
        RegisterContact.objects.bulk_create([row for row, _ in rows.values()])
        RegisterCategory.objects.bulk_create(
            [tag for row, contact in rows.values() for tag in categories_for(row, contact)]
        )
    return len(rows)


def remove_contacts(customer_id: str, ids: Iterable[str]) -> int:
    keys = [id_key(contact_id) for contact_id in ids]
    deleted = 0
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        _, by_model = RegisterContact.objects.filter(
            customer_id=customer_id, id_key__in=chunk
        ).delete()
        deleted += by_model.get(RegisterContact._meta.label, 0)
    return deleted


def chunk_ids() -> int:
    """Ids fetched and stored per transaction: whole rounds of calls (20 ids each, as many at
    once as VITEC_MAX_CONCURRENCY allows), so no round goes out part-empty: 240 at 4."""
    return MAX_IDS_PER_CALL * max(1, settings.VITEC_MAX_CONCURRENCY) * CHUNK_ROUNDS


def _fetch_and_store(
    client: VitecClient, customer_id: str, ids: Sequence[str], report: SyncReport, owner: str
) -> None:
    """Fetch the ids chunk by chunk and store each chunk in its own transaction. The next chunk
    is fetched (in one helper thread, HTTP only) while this one is stored, so Vitec's latency
    and the database's writes overlap; at most two chunks are held at once."""
    size = chunk_ids()
    chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
    if not chunks:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-fetch") as ahead:
        pending = ahead.submit(client.fetch_contacts, customer_id, chunks[0])
        for following in [*chunks[1:], None]:
            result = pending.result()
            if following is not None:
                pending = ahead.submit(client.fetch_contacts, customer_id, following)
            _store_chunk(result, customer_id, report, owner)


def _store_chunk(result: LookupResult, customer_id: str, report: SyncReport, owner: str) -> None:
    report.calls += result.calls
    report.fetched += store_contacts(customer_id, result.contacts)
    report.changed += len(result.contacts)
    # Listed but no longer there when fetched: deleted in between.
    report.deleted += remove_contacts(customer_id, result.not_found)
    for failed in result.failed:
        report.failed_ids.extend(failed.ids)
    if result.failed and not report.error:
        report.error = str(broker_message(result.failed[0].error))
    state = RegisterSync.objects.filter(customer_id=customer_id, locked_by=owner)
    state.update(fetched=report.fetched, changed=report.changed, deleted=report.deleted)
    if not _lease_take(customer_id, owner):
        raise RuntimeError("the sync lease was lost")


def sync_customer(customer_id: str, *, full: bool = False) -> SyncReport:
    """Bring the customer's register up to date with Vitec (see the module docstring)."""
    report = SyncReport(customer_id=customer_id)
    state = _state(customer_id)
    owner = _owner()
    if not _lease_take(customer_id, owner):
        report.skipped = True
        return report
    started = timezone.now()
    reconcile_due = state.last_full_at is None or started - state.last_full_at >= timedelta(
        hours=settings.REGISTER_RECONCILE_HOURS
    )
    complete_from = state.complete_from
    full = full or reconcile_due or complete_from is None
    report.mode = "full" if full else "incremental"
    RegisterSync.objects.filter(pk=state.pk).update(
        status=RegisterSync.Status.RUNNING,
        started_at=started,
        fetched=0,
        changed=0,
        deleted=0,
        failed_ids=[],
        last_error="",
    )
    try:
        changed_from = None if full or complete_from is None else complete_from - MARGIN
        client, listed = _with_accepted_credential(customer_id, changed_from)
        report.calls += 1
        report.listed = len(listed)
        if full:
            RegisterSync.objects.filter(pk=state.pk).update(total=len(listed))
            listed_keys = {id_key(contact_id) for contact_id, _ in listed}
            held = RegisterContact.objects.filter(customer_id=customer_id).values_list(
                "id_key", flat=True
            )
            report.deleted += remove_contacts(customer_id, set(held) - listed_keys)
        _fetch_and_store(client, customer_id, _stale(customer_id, listed), report, owner)
    except (SyncUnavailable, VitecError, CredentialDecryptionError) as exc:
        report.error = str(broker_message(exc)) if isinstance(exc, VitecError) else str(exc)
        logger.warning("Register sync of %s failed: %s", customer_id, exc.__class__.__name__)
        _finish(state, report, started, full=full, ok=False)
    except Exception:
        report.error = "unexpected error"
        _finish(state, report, started, full=full, ok=False)
        raise
    else:
        _finish(state, report, started, full=full, ok=not report.failed_ids)
    finally:
        _lease_release(customer_id, owner)
    return report


def _finish(
    state: RegisterSync, report: SyncReport, started: datetime, *, full: bool, ok: bool
) -> None:
    now = timezone.now()
    changes: dict[str, object] = {
        "status": RegisterSync.Status.DONE if ok else RegisterSync.Status.FAILED,
        "finished_at": now,
        "fetched": report.fetched,
        "changed": report.changed,
        "deleted": report.deleted,
        "failed_ids": report.failed_ids[:200],
        "last_error": report.error,
        "requested_at": None,
    }
    if ok:
        changes["complete_from"] = started
        if full:
            changes["last_full_at"] = started
            if state.first_completed_at is None:
                changes["first_completed_at"] = now
    RegisterSync.objects.filter(pk=state.pk).update(**changes)


def refresh_contacts(customer_id: str, ids: Sequence[str]) -> SyncReport:
    """Re-read these contacts from Vitec (a notification named them): store what Vitec answers,
    drop what it no longer has. Never trusts anything but Vitec's answer."""
    report = SyncReport(customer_id=customer_id, mode="refresh")
    for credential in credentials_to_try(customer_id):
        try:
            client = client_for_credential(credential)
            result = client.fetch_contacts(customer_id, ids)
        except CredentialDecryptionError:
            continue
        if any(
            isinstance(failed.error, AuthenticationError | PermissionDeniedError)
            for failed in result.failed
        ):
            standing_record(credential, VitecCredential.Standing.REFUSED)
            continue
        if result.contacts or result.not_found:
            standing_record(credential, VitecCredential.Standing.ACCEPTED)
        report.calls += result.calls
        report.fetched = store_contacts(customer_id, result.contacts)
        report.deleted = remove_contacts(customer_id, result.not_found)
        report.failed_ids = [i for failed in result.failed for i in failed.ids]
        return report
    report.error = f"No active credential for {customer_id} that Vitec accepts."
    return report


def refresh_pending(customer_id: str) -> SyncReport:
    """Re-read every id notifications queued for the customer (each once, however often it was
    named), then forget them. Ids named while this runs queue another refresh."""
    RegisterSync.objects.filter(customer_id=customer_id).update(refresh_queued=False)
    started = timezone.now()
    pending = list(
        RegisterRefresh.objects.filter(customer_id=customer_id).values_list("pk", "contact_id")
    )
    if not pending:
        return SyncReport(customer_id=customer_id, mode="refresh")
    report = refresh_contacts(customer_id, [contact_id for _, contact_id in pending])
    if not report.error:
        done = [pk for pk, contact_id in pending if contact_id not in report.failed_ids]
        # An id named again while Vitec was being asked (asked_at later than `started`, see
        # notification_accept) stays for the refresh its notification queued.
        RegisterRefresh.objects.filter(pk__in=done, asked_at__lte=started).delete()
    return report


# --- when syncs run ------------------------------------------------------------------------------

REQUEST_RETRY = timedelta(hours=1)  # a queued sync no worker ran by then is queued again


def sync_request(customer_id: str) -> bool:
    """Queue a sync of the customer now (the "Sync now" button); False when one is already
    queued or running."""
    from ..tasks import sync_customer_task  # tasks import this module

    state = _state(customer_id)
    now = timezone.now()
    queued = Q(requested_at__isnull=False, requested_at__gt=now - REQUEST_RETRY)
    running = Q(locked_until__gt=now)
    claimed = (
        RegisterSync.objects.filter(pk=state.pk).exclude(queued | running).update(requested_at=now)
    )
    if not claimed:
        return False
    sync_customer_task.enqueue(customer_id)
    return True


def syncs_enqueue_due() -> list[str]:
    """Queue a sync of every customer with an active credential whose register is older than
    REGISTER_SYNC_MINUTES (or never synced); the customers queued."""
    now = timezone.now()
    every = timedelta(minutes=settings.REGISTER_SYNC_MINUTES)
    customers = sorted(
        set(
            VitecCredential.objects.filter(is_active=True)
            .exclude(standing=VitecCredential.Standing.REFUSED)
            .values_list("customer_id", flat=True)
        )
    )
    queued = []
    for customer_id in customers:
        state = _state(customer_id)
        RegisterSync.objects.filter(pk=state.pk).update(credential_seen_at=now)
        if state.finished_at is not None and now - state.finished_at < every:
            continue
        if sync_request(customer_id):
            queued.append(customer_id)
    return queued


def register_purge(customer_id: str) -> int:
    """Delete a customer's register and its sync state at once; how many contacts it held."""
    with transaction.atomic():
        _, by_model = RegisterContact.objects.filter(customer_id=customer_id).delete()
        RegisterRefresh.objects.filter(customer_id=customer_id).delete()
        RegisterSync.objects.filter(customer_id=customer_id).delete()
    return by_model.get(RegisterContact._meta.label, 0)


def registers_purge_orphaned() -> list[str]:
    """Delete the registers of customers no active credential has named for
    REGISTER_RETENTION_DAYS; the customers purged."""
    now = timezone.now()
    active = set(
        VitecCredential.objects.filter(is_active=True).values_list("customer_id", flat=True)
    )
    RegisterSync.objects.filter(customer_id__in=active).update(credential_seen_at=now)
    cutoff = now - timedelta(days=settings.REGISTER_RETENTION_DAYS)
    held = set(RegisterContact.objects.values_list("customer_id", flat=True).distinct())
    held |= set(RegisterSync.objects.values_list("customer_id", flat=True))
    purged = []
    for customer_id in sorted(held - active):
        state = RegisterSync.objects.filter(customer_id=customer_id).first()
        seen = state.credential_seen_at if state else None
        if seen is None:  # first time noticed without a credential: the clock starts now
            _state(customer_id)
            RegisterSync.objects.filter(customer_id=customer_id).update(credential_seen_at=now)
            continue
        if seen < cutoff:
            register_purge(customer_id)
            purged.append(customer_id)
    return purged
