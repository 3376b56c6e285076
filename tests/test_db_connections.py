"""A lookup that waits on Vitec holds no database connection meanwhile.

Otherwise every page waiting on a slow Vitec keeps one PostgreSQL connection open and idle, and a
burst of slow lookups (workers x threads of every app server) can use up PostgreSQL's
max_connections, failing every other page too. PostgreSQL's connections come from a pool in each
process (crmviewer/config.py): checked in the pool's own count of connections in use, over real
HTTP (live_server, in this process), while the sandbox holds its answer back; PostgreSQL only
(CI's second pass).
"""

from __future__ import annotations

import threading
import time

import pytest
import requests
from django.db import connection
from django.test import Client

from tests import oracle
from tests.dashboard_fixtures import escaped, ids_range

pytestmark = pytest.mark.integration

LATENCY_MS = 1000


def in_use() -> int:
    """The pool's connections now lent to a thread (this test's own among them)."""
    stats = connection.pool.get_stats()
    return stats["pool_size"] - stats["pool_available"]


@pytest.mark.django_db(transaction=True)  # the live server's thread sees what the test wrote
def test_a_lookup_waiting_on_vitec_holds_no_idle_database_connection(
    live_server, broker, credential, vitec, reference
):
    if connection.vendor != "postgresql":
        pytest.skip(
            "the connection pool is PostgreSQL's (crmviewer/config.py): run with "
            "DATABASE_URL=postgres://... (CI's second pass does)"
        )
    logged_in = Client()
    logged_in.force_login(broker)
    http = requests.Session()
    http.cookies.set("sessionid", logged_in.cookies["sessionid"].value)
    ids = ids_range(1, 3)
    vitec.configure(latency_ms=LATENCY_MS)
    answers: list[requests.Response] = []
    lookup = threading.Thread(
        target=lambda: answers.append(
            http.get(
                f"{live_server.url}/contacts/",
                params={"credential": credential.pk, "ids": ",".join(ids)},
                timeout=30,
            )
        )
    )

    connection.ensure_connection()
    own = in_use()  # this test's connection
    lookup.start()
    samples = []  # connections lent while Vitec has not answered yet
    while lookup.is_alive():
        if vitec.stats.in_flight:
            samples.append(in_use())
        time.sleep(0.02)
    lookup.join()

    [answer] = answers
    assert answer.status_code == 200
    assert escaped(oracle.name(reference[ids[0]])) in answer.text
    assert len(samples) >= 10, "too few samples while the lookup waited on Vitec"
    assert own == 1
    assert samples == [own] * len(samples), f"connections in use while waiting on Vitec: {samples}"
