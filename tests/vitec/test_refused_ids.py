"""A batch Vitec refuses with a 400 is split until the refused ids are found (client.py
_batch_outcome): every other contact arrives, only the refused ids are named, and the extra calls
stay few. Over real HTTP against the sandbox, whose magic id `fault-400` makes Vitec refuse just
the calls that hold it."""

from __future__ import annotations

import math

import pytest

from contacts.vitec import client as client_module
from contacts.vitec.breaker import CircuitBreaker
from contacts.vitec.errors import ServerError, ValidationError
from contacts.vitec.retry import RetryPolicy
from tests.dashboard_fixtures import ids_range

pytestmark = pytest.mark.integration

SANDBOX_INVALID = "The request is invalid."


def known_ids(first: int, last: int, customer: str = "M1001") -> list[str]:
    return ids_range(first, last, customer)


def contact_calls(sandbox) -> list:
    return [r for r in sandbox.stats.requests if r.endpoint == "contacts"]


@pytest.mark.parametrize("where", [0, 7, 13, 19])
def test_one_refused_id_among_twenty_is_named_alone(make_client, sandbox, where):
    ids = known_ids(1, 19)
    ids.insert(where, "fault-400")
    result = make_client().fetch_contacts("M1001", ids)

    (failed,) = result.failed
    assert failed.ids == ("fault-400",)
    assert isinstance(failed.error, ValidationError)
    assert failed.error.vitec_message == SANDBOX_INVALID
    assert [c.id for c in result.contacts] == known_ids(1, 19)  # the other 19, in order
    assert result.not_found == ()
    calls = contact_calls(sandbox)
    assert len(calls) == result.calls
    assert len(calls) <= 1 + 2 * math.ceil(math.log2(20))  # 11
    # Every call that held the refused id was refused, and no other call was.
    for call in calls:
        assert (call.status == 400) == ("fault-400" in call.contact_ids), call.contact_ids


def test_two_refused_ids_in_different_batches(make_client, sandbox):
    ids = known_ids(1, 60)
    ids[3] = "fault-400"
    # The sandbox reads the magic prefix in any case; ids differing only in case are one id,
    # so a tag tells the second apart.
    ids[45] = "FAULT-400.B"
    result = make_client().fetch_contacts("M1001", ids)
    assert sorted(batch.ids for batch in result.failed) == [("FAULT-400.B",), ("fault-400",)]
    assert [c.id for c in result.contacts] == [i for i in ids if not i.lower().startswith("fault-")]
    assert len(contact_calls(sandbox)) <= 3 + 2 * 2 * math.ceil(math.log2(20))


def test_a_batch_refused_whatever_its_ids_names_every_id_within_the_budget(
    make_client, sandbox, monkeypatch
):
    """Vitec refusing every call: each id ends up named on its own while the budget lasts, and
    the budget bounds the extra calls of the whole lookup."""
    sandbox.configure(fault="400")
    result = make_client().fetch_contacts("M1001", known_ids(1, 5))
    assert [batch.ids for batch in result.failed] == [(i,) for i in known_ids(1, 5)]
    assert result.contacts == ()
    assert len(contact_calls(sandbox)) == 9  # 5 -> 2 + 3 -> 1 + 1, 1 + 2 -> 1 + 1

    sandbox.stats.reset()
    monkeypatch.setattr(client_module, "SPLIT_CALLS_PER_LOOKUP", 6)
    result = make_client().fetch_contacts("M1001", known_ids(1, 60))
    assert len(contact_calls(sandbox)) == 3 + 6
    assert sorted(i for batch in result.failed for i in batch.ids) == sorted(known_ids(1, 60))


def test_other_failures_are_not_split(make_client, sandbox):
    ids = known_ids(1, 19)
    ids.insert(4, "fault-500")
    result = make_client(retry=RetryPolicy(max_retries=0)).fetch_contacts("M1001", ids)
    (failed,) = result.failed
    assert isinstance(failed.error, ServerError)
    assert failed.ids == tuple(ids)
    assert len(contact_calls(sandbox)) == 1


def test_refused_ids_never_open_the_breaker(make_client, sandbox):
    breaker = CircuitBreaker(threshold=1, cooldown=60)
    client = make_client(breaker=breaker)
    ids = [*known_ids(1, 10), "fault-400", *known_ids(11, 19)]
    for _ in range(2):
        result = client.fetch_contacts("M1001", ids)
        assert [batch.ids for batch in result.failed] == [("fault-400",)]
        assert len(result.contacts) == 19
    assert not breaker.is_open(client.breaker_key("M1001"))


def test_halves_go_side_by_side_within_max_concurrency(make_client, sandbox):
    """One batch leaves max_concurrency - 1 workers free: the two halves of a split are asked
    at the same time, and never more than max_concurrency calls are in flight."""
    sandbox.configure(latency_ms=150)
    ids = [*known_ids(1, 5), "fault-400", *known_ids(6, 19)]
    result = make_client(max_concurrency=2).fetch_contacts("M1001", ids)
    assert [batch.ids for batch in result.failed] == [("fault-400",)]
    assert len(result.contacts) == 19
    assert sandbox.stats.max_in_flight == 2
    calls = contact_calls(sandbox)
    overlapping = [
        (a, b) for a in calls for b in calls if a is not b and a.started < b.finished <= a.finished
    ]
    assert overlapping  # two halves were in flight together

    sandbox.stats.reset()
    make_client(max_concurrency=1).fetch_contacts("M1001", ids)
    assert sandbox.stats.max_in_flight == 1  # no spare worker: one half after the other
