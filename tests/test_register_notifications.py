"""The office register kept fresh (issue 11): Vitec's notifications at `POST /hooks/vitec/<token>/`,
the refresh they queue, syncs running at once, and the management commands.

Expected values come from the sandbox's own records (tests/oracle.py), from what a test changed in
the sandbox itself (contact_update, contact_remove, contacts_merge), or are written by hand; never
from the code under test. Tasks wait in the database (django-tasks-db), as in production: the hook
only queues, and a test runs the queued work itself (the worker, or sync.refresh_pending).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from contacts.models import RegisterContact, RegisterRefresh, RegisterSync, VitecCredential
from contacts.services import sync
from contacts.services.lookup import client_for_credential
from tests import oracle
from tests.dashboard_fixtures import make_credential, missing_id

CUSTOMER = "M1002"
OTHER_CUSTOMER = "M1001"  # the sandbox's first office: no credential of ours names it here
TOKEN = "hook-token-for-the-tests-0123456789abcdef"  # 41 characters, as config asks >= 32
HOOK = f"/hooks/vitec/{TOKEN}/"
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
REFRESH_TASK = "contacts.tasks.refresh_pending_task"
BASE_DIR = django_settings.BASE_DIR
WORKER_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)

pytestmark = pytest.mark.integration


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture
def hook(settings):
    """The endpoint exists (its token set) and tasks wait in the database for a worker."""
    settings.VITEC_WEBHOOK_TOKEN = TOKEN
    settings.TASKS = DATABASE_TASKS
    return HOOK


def notify(client: Client, body, *, url: str = HOOK):
    """POST a notification as Vitec does (a JSON body)."""
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json")


def update_body(contact_id: str, customer_id: str = CUSTOMER, event: str = "Update") -> dict:
    """A Contact notification as Vitec's documentation shows one, written by hand."""
    return {
        "name": "Contact",
        "type": "Contact",
        "subtype": "Person",
        "event": event,
        "id": contact_id,
        "customerId": customer_id,
        "chainId": None,
        "tenantId": None,
    }


def refresh_tasks():
    return DBTaskResult.objects.filter(task_path=REFRESH_TASK)


def persons(count: int) -> list[dict]:
    """The first `count` persons of the customer that have a last name, from the oracle."""
    found = [
        r for r in oracle.records(CUSTOMER).values() if r["type"] == "Person" and r.get("lastName")
    ]
    return found[:count]


def row(contact_id: str) -> RegisterContact | None:
    return RegisterContact.objects.filter(customer_id=CUSTOMER, contact_id=contact_id).first()


# --- the endpoint --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_hook_exists_only_with_its_token(client, settings, office):
    person = persons(1)[0]
    settings.TASKS = DATABASE_TASKS
    settings.VITEC_WEBHOOK_TOKEN = ""
    assert notify(client, update_body(person["id"])).status_code == 404
    assert notify(client, update_body(person["id"]), url="/hooks/vitec//").status_code == 404
    settings.VITEC_WEBHOOK_TOKEN = TOKEN
    for wrong in ("x" * len(TOKEN), TOKEN[:-1], TOKEN + "0", TOKEN.upper()):
        response = notify(client, update_body(person["id"]), url=f"/hooks/vitec/{wrong}/")
        assert response.status_code == 404, wrong
    assert not RegisterRefresh.objects.exists() and not refresh_tasks().exists()
    # Only a POST: Vitec posts, nobody reads the hook.
    assert client.get(HOOK).status_code == 405
    response = notify(client, update_body(person["id"]))
    assert response.status_code == 202
    assert response.json() == {"accepted": True, "queued": 1}
    waiting = RegisterRefresh.objects.get()
    assert (waiting.customer_id, waiting.contact_id) == (CUSTOMER, person["id"])
    # Vitec also puts the parameters in the query string: enough without a JSON body.
    other = persons(2)[1]["id"]
    query = f"?type=Contact&event=Update&id={other}&customerId={CUSTOMER}"
    response = client.post(HOOK + query, data=b"", content_type="application/json")
    assert response.status_code == 202
    assert set(RegisterRefresh.objects.values_list("contact_id", flat=True)) == {
        person["id"],
        other,
    }


@pytest.mark.django_db
def test_the_hook_answers_before_any_vitec_call_and_the_refresh_then_applies_it(
    hook, synced, vitec, client
):
    person = persons(1)[0]
    vitec.contact_update(CUSTOMER, person["id"], {"lastName": "Östergren-Åhlund"})
    vitec.stats.reset()
    response = notify(client, update_body(person["id"]))
    assert response.status_code == 202
    # The request itself asked Vitec nothing: the work waits in the database.
    assert vitec.stats.requests == []
    (task,) = refresh_tasks()
    assert task.status == "READY" and task.args_kwargs["args"] == [CUSTOMER]
    assert row(person["id"]).name == oracle.name(person)  # not changed yet
    report = sync.refresh_pending(CUSTOMER)
    assert report.error == "" and report.fetched == 1
    assert row(person["id"]).name == f"{person['firstName']} Östergren-Åhlund"
    assert "ostergren-ahlund" in row(person["id"]).search_text
    assert not RegisterRefresh.objects.exists()
    calls = vitec.stats.requests
    assert [r.endpoint for r in calls] == ["contacts"] and calls[0].contact_ids == (person["id"],)


@pytest.mark.django_db
def test_a_burst_of_one_id_is_one_refresh_and_one_task(hook, office, client):
    person = persons(1)[0]
    for n in range(5):
        # The same id, in any letter case: Vitec ignores case.
        contact_id = person["id"] if n % 2 == 0 else person["id"].lower()
        assert notify(client, update_body(contact_id)).status_code == 202
    assert RegisterRefresh.objects.filter(customer_id=CUSTOMER).count() == 1
    assert refresh_tasks().count() == 1
    assert RegisterSync.objects.get(customer_id=CUSTOMER).refresh_queued
    # Another id while the task waits: a second row, still one task.
    assert notify(client, update_body(persons(2)[1]["id"])).status_code == 202
    assert RegisterRefresh.objects.count() == 2 and refresh_tasks().count() == 1


@pytest.mark.django_db
def test_a_customer_without_an_active_credential_is_refused(
    hook, office, client, broker, django_user_model
):
    person = persons(1)[0]
    other_id = oracle.contact_id(1, OTHER_CUSTOMER)
    response = notify(client, update_body(other_id, customer_id=OTHER_CUSTOMER))
    assert response.status_code == 400 and response.json()["reason"] == "unknown customer"
    # A credential that is there but switched off covers nobody either.
    colleague = django_user_model.objects.create_user("colleague", password=None)
    inactive = make_credential(colleague, customer_id=OTHER_CUSTOMER)
    VitecCredential.objects.filter(pk=inactive.pk).update(is_active=False)
    response = notify(client, update_body(other_id, customer_id=OTHER_CUSTOMER))
    assert response.status_code == 400
    # No customer at all, or one that is not a customer id.
    for customer in ("", "M1002; DROP TABLE", "X1002", None):
        body = {**update_body(person["id"]), "customerId": customer}
        assert notify(client, body).status_code == 400
    assert not RegisterRefresh.objects.exists() and not refresh_tasks().exists()
    assert not RegisterSync.objects.filter(refresh_queued=True).exists()


@pytest.mark.django_db
def test_garbage_bodies_are_refused_and_queue_nothing(hook, office, client):
    person = persons(1)[0]
    huge = {**update_body(person["id"]), "padding": "x" * (65 * 1024)}
    garbage = [
        "this is not json",
        b"\xff\xfe\x00{",
        json.dumps([update_body(person["id"])]),  # a list
        json.dumps("Contact"),
        json.dumps(None),
        json.dumps(huge),  # over 64 KiB, however well formed
        "",
        json.dumps({**update_body(person["id"]), "type": "Estate"}),  # not a contact's
        json.dumps({**update_body(person["id"]), "id": "A" * 41}),  # longer than any id
        json.dumps({**update_body(person["id"]), "id": ".."}),
        json.dumps({**update_body(person["id"]), "id": ["a", "b"]}),
        json.dumps({**update_body(person["id"]), "id": None}),
    ]
    for body in garbage:
        response = notify(client, body)
        assert response.status_code == 400, body[-80:]
        assert response.json()["accepted"] is False
    # Beyond what Django reads into memory at all: still a 400, never a 500.
    response = notify(client, json.dumps({**update_body(person["id"]), "pad": "x" * 3_000_000}))
    assert response.status_code == 400
    assert not RegisterRefresh.objects.exists() and not refresh_tasks().exists()


@pytest.mark.django_db
def test_the_body_is_never_trusted_only_vitecs_answer(hook, synced, vitec, client):
    person, other = persons(2)
    made_up = {
        **update_body(person["id"]),
        "firstName": "Falsk",
        "lastName": "Påhittad",
        "contact": {"id": person["id"], "lastName": "Påhittad"},
    }
    assert notify(client, made_up).status_code == 202
    # A Remove Vitec did not make: the contact is still there when Vitec is asked.
    assert notify(client, update_body(other["id"], event="Remove")).status_code == 202
    # An id Vitec does not have is not added from the body.
    ghost = missing_id(7)
    assert notify(client, {**update_body(ghost), "lastName": "Spöke"}).status_code == 202
    sync.refresh_pending(CUSTOMER)
    assert row(person["id"]).name == oracle.name(person)
    assert "pahittad" not in row(person["id"]).search_text
    assert row(other["id"]).name == oracle.name(other)
    assert row(ghost) is None
    assert RegisterContact.objects.filter(customer_id=CUSTOMER).count() == len(
        oracle.records(CUSTOMER)
    )
    # Only what Vitec answers when asked again changes the register.
    vitec.contact_update(CUSTOMER, person["id"], {"lastName": "Sjöström"})
    assert notify(client, made_up).status_code == 202
    sync.refresh_pending(CUSTOMER)
    assert row(person["id"]).name == f"{person['firstName']} Sjöström"


@pytest.mark.django_db
def test_an_id_named_again_while_it_is_being_refreshed_is_refreshed_again(
    hook, synced, vitec, client, monkeypatch
):
    person = persons(1)[0]
    vitec.contact_update(CUSTOMER, person["id"], {"lastName": "Först"})
    assert notify(client, update_body(person["id"])).status_code == 202
    real = sync.refresh_contacts

    def vitec_changes_it_again_meanwhile(customer_id, ids):
        report = real(customer_id, ids)  # Vitec answered "Först"...
        # ...and then the contact changed again, and its notification came in.
        vitec.contact_update(CUSTOMER, person["id"], {"lastName": "Sedan"})
        assert notify(client, update_body(person["id"])).status_code == 202
        return report

    monkeypatch.setattr(sync, "refresh_contacts", vitec_changes_it_again_meanwhile)
    sync.refresh_pending(CUSTOMER)
    assert row(person["id"]).name == f"{person['firstName']} Först"
    # The second notification is not lost: its id still waits, with a task queued for it.
    assert list(RegisterRefresh.objects.values_list("contact_id", flat=True)) == [person["id"]]
    assert refresh_tasks().count() == 2
    monkeypatch.setattr(sync, "refresh_contacts", real)
    sync.refresh_pending(CUSTOMER)
    assert row(person["id"]).name == f"{person['firstName']} Sedan"
    assert not RegisterRefresh.objects.exists()


# --- end to end: the sandbox notifies the app over HTTP ------------------------------------------


@pytest.mark.django_db(transaction=True)  # the live server's thread and the worker see the rows
def test_update_remove_and_merge_reach_the_register_through_the_sandboxs_notifications(
    hook, live_server, broker, vitec
):
    make_credential(broker, customer_id=CUSTOMER)
    assert sync.sync_customer(CUSTOMER).error == ""
    vitec.configure(notify_url=f"{live_server.url}{HOOK}")
    updated, removed, target, source_a, source_b = persons(5)

    def worker() -> None:
        """`manage.py db_worker --batch`: runs what waits, then stops (its signal handlers are
        put back, they are pytest's)."""
        handlers = {sig: signal.getsignal(sig) for sig in WORKER_SIGNALS}
        out = io.StringIO()
        try:
            call_command(
                "db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=out, stderr=out
            )
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    vitec.stats.reset()
    vitec.contact_update(CUSTOMER, updated["id"], {"lastName": "Wästberg", "firstName": "Åke"})
    (sent,) = vitec.wait_notifications(1)
    assert sent.status == 202 and sent.body["event"] == "Update"
    # The hook answered without asking Vitec anything; the work waits for the worker.
    assert vitec.stats.requests == []
    assert row(updated["id"]).name == oracle.name(updated)
    (task,) = refresh_tasks()
    worker()
    task.refresh_from_db()
    assert task.status == "SUCCESSFUL" and "1 fetched" in task.return_value
    assert row(updated["id"]).name == "Åke Wästberg"

    vitec.contact_remove(CUSTOMER, removed["id"])
    sent = vitec.wait_notifications(2)[-1]
    assert sent.status == 202 and sent.body["event"] == "Remove"
    assert row(removed["id"]) is not None
    worker()
    assert row(removed["id"]) is None

    vitec.contacts_merge(CUSTOMER, target["id"], [source_a["id"], source_b["id"]])
    sent = vitec.wait_notifications(3)[-1]
    assert sent.status == 202 and sent.body["type"] == "Merge"
    before = row(target["id"]).changed_at
    worker()
    assert row(source_a["id"]) is None and row(source_b["id"]) is None
    merged = row(target["id"])
    assert merged is not None and merged.name == oracle.name(target)
    assert merged.changed_at > before  # re-read: Vitec's new changedAt

    expected = len(oracle.records(CUSTOMER)) - 3  # one removed, two merged away
    assert RegisterContact.objects.filter(customer_id=CUSTOMER).count() == expected
    assert not RegisterRefresh.objects.exists()
    assert [r.status for r in refresh_tasks()] == ["SUCCESSFUL"] * 3


# --- two syncs of one customer at once -----------------------------------------------------------


def _two_syncs_report(reports: list[sync.SyncReport]) -> tuple[sync.SyncReport, sync.SyncReport]:
    skipped = [r for r in reports if r.skipped]
    done = [r for r in reports if not r.skipped]
    assert len(skipped) == 1 and len(done) == 1, [r.summary() for r in reports]
    return done[0], skipped[0]


@pytest.mark.django_db(transaction=True)  # each thread its own connection, committed rows
def test_two_threads_syncing_one_customer_at_once_sync_it_once(broker, vitec):
    if connection.vendor == "sqlite":
        # The test database is SQLite in memory, shared between threads in "shared cache" mode,
        # where a write that meets another one fails at once ("database table is locked")
        # instead of waiting as SQLite does for separate processes with a database file: not
        # what a deployment sees. The subprocess test below covers SQLite (with a file).
        pytest.skip("two threads on SQLite's shared in-memory test database: see below")
    make_credential(broker, customer_id=CUSTOMER)
    vitec.configure(latency_ms=20)  # a full sync then lasts well over a second
    start = threading.Barrier(2)
    reports: list[sync.SyncReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait(timeout=10)
            reports.append(sync.sync_customer(CUSTOMER))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    done, skipped = _two_syncs_report(reports)
    records = oracle.records(CUSTOMER)
    assert done.mode == "full" and done.fetched == len(records) and not done.error
    assert "skipped, another sync" in skipped.summary()
    keys = list(RegisterContact.objects.filter(customer_id=CUSTOMER).values_list("contact_id"))
    assert len(keys) == len(set(keys)) == len(records)
    assert {k for (k,) in keys} == set(records)
    state = RegisterSync.objects.get(customer_id=CUSTOMER)
    assert state.status == "done" and state.locked_by == "" and state.locked_until is None
    # The listing was asked for once: the skipped one never called Vitec.
    assert [r.endpoint for r in vitec.stats.requests].count("contact-ids") == 1


SETUP = """
from django.core.management import call_command
from django.contrib.auth.models import User
from contacts.models import VitecCredential
call_command("migrate", verbosity=0)
credential = VitecCredential(
    user=User.objects.create_user("broker"), customer_id="M1002", api_username="demo"
)
credential.set_password("demo")
credential.save()
"""


def test_two_app_processes_syncing_one_customer_at_once_sync_it_once(tmp_path, vitec):
    """Two `manage.py sync_contacts` processes against one database file (SQLite, as a small
    deployment runs), started together: one syncs, the other sees the lease and skips."""
    database = tmp_path / "crmviewer.sqlite3"
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{database}",
        "VITEC_BASE_URL": vitec.base_url,
    }
    env.pop("CACHE_URL", None)  # the local-memory cache: nothing shared but the database
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    subprocess.run([*manage, "shell", "-c", SETUP], env=env, cwd=BASE_DIR, check=True, timeout=120)
    vitec.configure(latency_ms=50)  # a full sync lasts about two seconds
    vitec.stats.reset()
    processes = [
        subprocess.Popen(
            [*manage, "sync_contacts", "--customer", CUSTOMER],
            env=env,
            cwd=BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    lines = sorted(out.strip() for out, _err in outputs)
    records = oracle.records(CUSTOMER)
    n = len(records)
    assert lines == sorted(
        [
            f"{CUSTOMER}: full sync, {n} listed, {n} fetched, {n} changed, 0 deleted, 0 failed",
            f"{CUSTOMER}: skipped, another sync of this customer is running",
        ]
    ), outputs
    with contextlib.closing(sqlite3.connect(database)) as db:
        held = [
            contact_id
            for (contact_id,) in db.execute(
                "SELECT contact_id FROM contacts_registercontact WHERE customer_id = ?",
                (CUSTOMER,),
            )
        ]
        lock = db.execute(
            "SELECT status, locked_by FROM contacts_registersync WHERE customer_id = ?",
            (CUSTOMER,),
        ).fetchall()
    assert len(held) == len(set(held)) == n and set(held) == set(records)
    assert lock == [("done", "")]
    assert [r.endpoint for r in vitec.stats.requests].count("contact-ids") == 1


# --- the commands and the purge ------------------------------------------------------------------


@pytest.mark.django_db
def test_sync_contacts_prints_its_summary_and_purge_register_deletes(office, vitec):
    records = oracle.records(CUSTOMER)
    out = io.StringIO()
    call_command("sync_contacts", "--customer", CUSTOMER, stdout=out)
    assert out.getvalue().strip() == (
        f"{CUSTOMER}: full sync, {len(records)} listed, {len(records)} fetched, "
        f"{len(records)} changed, 0 deleted, 0 failed"
    )
    assert RegisterContact.objects.filter(customer_id=CUSTOMER).count() == len(records)
    first = next(iter(records))
    vitec.contact_update(CUSTOMER, first, {"note": "Ringde om visning"})
    out = io.StringIO()
    call_command("sync_contacts", "--customer", CUSTOMER, stdout=out)
    assert out.getvalue().strip().startswith(f"{CUSTOMER}: incremental sync, ")
    assert ", 1 fetched, 1 changed, 0 deleted, 0 failed" in out.getvalue()

    out = io.StringIO()
    call_command("purge_register", "--customer", CUSTOMER, stdout=out)
    assert out.getvalue().strip() == f"Deleted the register of {CUSTOMER}: {len(records)} contacts."
    assert not RegisterContact.objects.filter(customer_id=CUSTOMER).exists()
    assert not RegisterSync.objects.filter(customer_id=CUSTOMER).exists()


@pytest.mark.django_db
def test_registers_without_an_active_credential_are_purged_after_the_retention(
    settings, broker, other_broker, vitec, monkeypatch
):
    settings.REGISTER_RETENTION_DAYS = 30
    gone = make_credential(broker, customer_id=CUSTOMER)
    recent = make_credential(other_broker, customer_id=OTHER_CUSTOMER)
    # Two small registers, as a sync stores them (a few contacts each is enough here).
    for credential in (gone, recent):
        ids = list(oracle.records(credential.customer_id))[:3]
        result = client_for_credential(credential).fetch_contacts(credential.customer_id, ids)
        assert sync.store_contacts(credential.customer_id, result.contacts) == 3
        RegisterSync.objects.create(
            customer_id=credential.customer_id, status="done", first_completed_at=timezone.now()
        )
    real_now = timezone.now
    start = real_now()

    def at(days: int) -> None:
        monkeypatch.setattr(timezone, "now", lambda: start + timedelta(days=days))

    at(0)
    assert sync.registers_purge_orphaned() == []  # both credentials active: seen now
    VitecCredential.objects.filter(pk=gone.pk).update(is_active=False)
    at(20)
    assert sync.registers_purge_orphaned() == []  # CUSTOMER last seen 20 days ago
    VitecCredential.objects.filter(pk=recent.pk).update(is_active=False)
    at(29)
    assert sync.registers_purge_orphaned() == []
    at(31)
    # CUSTOMER: last seen 31 days ago, purged; OTHER_CUSTOMER: 11 days ago, kept.
    assert sync.registers_purge_orphaned() == [CUSTOMER]
    assert not RegisterContact.objects.filter(customer_id=CUSTOMER).exists()
    assert not RegisterSync.objects.filter(customer_id=CUSTOMER).exists()
    assert RegisterContact.objects.filter(customer_id=OTHER_CUSTOMER).count() == 3
    at(51)
    assert sync.registers_purge_orphaned() == [OTHER_CUSTOMER]
    assert not RegisterContact.objects.exists()
