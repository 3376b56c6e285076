"""The cap on calls in flight per customer (contacts/vitec/limiter.py): many clients sharing one
store (as app servers share Redis) never have more than the cap in flight at Vitec together,
a slot a dead process held frees itself, and a call that cannot get a slot in time fails alone,
named, without reaching Vitec."""

from __future__ import annotations

import threading
import time

import pytest

from contacts.vitec.breaker import MemoryStore
from contacts.vitec.errors import VitecBusyError
from contacts.vitec.limiter import InFlightLimit
from tests.dashboard_fixtures import ids_range


def test_threads_never_hold_more_slots_than_the_limit():
    limit = InFlightLimit(MemoryStore(), limit=3, lease=30, wait=10)
    holding, most, done = 0, 0, []
    lock = threading.Lock()

    def call(n: int) -> None:
        nonlocal holding, most
        with limit.slot("M1001"):
            with lock:
                holding += 1
                most = max(most, holding)
            time.sleep(0.02)
            with lock:
                holding -= 1
        done.append(n)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(done) == list(range(12))  # everyone got a slot in the end
    assert most == 3


def test_each_customer_has_its_own_slots():
    limit = InFlightLimit(MemoryStore(), limit=1, lease=30, wait=0)
    with limit.slot("M1001"), limit.slot("M1002"), pytest.raises(VitecBusyError):
        limit._acquire("M1001")  # M1002's call did not take M1001's only slot


def test_a_slot_whose_holder_died_frees_itself_after_its_lease():
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    limit = InFlightLimit(store, limit=1, lease=25, wait=0, clock=lambda: now[0])
    limit._acquire("M1001")  # a process that took the slot and died: never released
    with pytest.raises(VitecBusyError):
        limit._acquire("M1001")
    now[0] += 26
    with limit.slot("M1001"):
        pass


def test_a_call_held_past_its_lease_never_frees_the_slot_another_took_since():
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    slow = InFlightLimit(store, limit=1, lease=25, wait=0, clock=lambda: now[0])
    other = InFlightLimit(store, limit=1, lease=25, wait=0, clock=lambda: now[0])
    with slow.slot("M1001"):
        now[0] += 26  # paused longer than the lease: the slot expired...
        other._acquire("M1001")  # ...and another call took it
    with pytest.raises(VitecBusyError):  # still the other call's
        other._acquire("M1001")


def test_a_call_that_cannot_get_a_slot_waits_then_gives_up():
    limit = InFlightLimit(MemoryStore(), limit=1, lease=30, wait=0.2)
    with limit.slot("M1001"):
        started = time.monotonic()
        with pytest.raises(VitecBusyError, match="All 1 calls"), limit.slot("M1001"):
            pass
        waited = time.monotonic() - started
    assert 0.2 <= waited < 0.5
    with limit.slot("M1001"):  # released: free again
        pass


@pytest.mark.integration
def test_two_app_servers_together_stay_under_the_cap(make_client, sandbox):
    """Two clients (two app servers) of one customer, each allowed 8 calls at once, sharing a
    store with a cap of 3: Vitec sees at most 3 at once, and every contact arrives."""
    store = MemoryStore()
    sandbox.configure(latency_ms=40)
    clients = [
        make_client(max_concurrency=8, limit=InFlightLimit(store, limit=3, lease=30, wait=10))
        for _ in range(2)
    ]
    ids = ids_range(1, 200)
    results = [None, None]

    def fetch(n: int) -> None:
        results[n] = clients[n].fetch_contacts("M1001", ids[n * 100 : (n + 1) * 100])

    threads = [threading.Thread(target=fetch, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sandbox.stats.max_in_flight == 3
    assert [len(r.contacts) for r in results] == [100, 100]
    assert all(not r.failed for r in results)


@pytest.mark.integration
def test_a_call_without_a_slot_is_named_and_never_sent(make_client, sandbox):
    store = MemoryStore()
    blocker = InFlightLimit(store, limit=1, lease=30, wait=0)
    client = make_client(limit=InFlightLimit(store, limit=1, lease=30, wait=0.05))
    ids = ids_range(1, 5)
    with blocker.slot("M1001"):  # another server holds the only slot
        result = client.fetch_contacts("M1001", ids)
    (failed,) = result.failed
    assert failed.ids == tuple(ids)
    assert isinstance(failed.error, VitecBusyError)
    assert [r for r in sandbox.stats.requests if r.endpoint == "contacts"] == []
