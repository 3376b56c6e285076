"""The site keeps working without its cache: Redis stopped or hanging mid-test.

A Redis server of the test's own (tests/redis_fixtures.py) is the cache. Brokers log in, look
contacts up and open them; then Redis stops (or hangs), and every page still answers, with data
fetched from Vitec and sessions read from the database; one warning says so; /healthz says
"degraded" (200), and the circuit breaker still opens, per process. When Redis comes back on the
same port it is used again. The expected contacts come from the sandbox's own records (the
`reference` fixture, tests/oracle.py), never from the code under test.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
import redis
from django.core.cache import caches
from django.test import Client, override_settings
from django.urls import reverse

from contacts.vitec.errors import CircuitOpenError, ServerError, VitecError
from tests import oracle
from tests.dashboard_fixtures import broker_message_en, contact_calls, escaped, ids_range, ids_sent
from tests.redis_fixtures import TEST_OPTIONS, RedisServer, log_in
from tests.test_settings import settings_for

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

LOGIN = reverse("login")
LOGOUT = reverse("logout")
LOOKUP = reverse("contacts:lookup")
HEALTHZ = reverse("healthz")
BACK_AFTER = TEST_OPTIONS["down_seconds"] + 0.2  # when the cache tries Redis again


def message(error_class: type[VitecError]) -> str:
    return broker_message_en(error_class)


def assert_shows(response, contacts) -> None:
    assert response.status_code == 200
    page = response.content.decode()
    for contact in contacts:
        assert escaped(oracle.name(contact)) in page, contact["id"]


def session_keys(server: RedisServer) -> list[bytes]:
    return [key for key, _ in server.dump() if b":session:" in key]


def contact_keys(server: RedisServer) -> list[bytes]:
    return [key for key, _ in server.dump() if b":contact:" in key]


def cache_records(caplog, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "crmviewer.cache" and r.levelno == level]


def test_pages_work_while_redis_is_down_and_use_it_again_once_it_is_back(
    redis_cache,
    login_broker,
    credential,
    vitec,
    reference,
    settings,
    caplog,
):
    caplog.set_level(logging.INFO)
    settings.VITEC_BREAKER_FAILURES = 3
    settings.VITEC_BREAKER_SECONDS = 30  # open for the rest of the test once opened
    ids = ids_range(1, 5)
    params = {"credential": credential.pk, "ids": ",".join(ids)}
    expected = [reference[i] for i in ids]
    detail = reverse("contacts:detail", args=[ids[0]])
    client = Client(headers={"Accept-Language": "en"})

    # Redis up: the session and the contacts go to Redis, and the second page comes from it.
    log_in(client, login_broker)
    assert_shows(client.get(LOOKUP, params), expected)
    assert len(session_keys(redis_cache)) == 1
    assert len(contact_keys(redis_cache)) == len(ids)
    vitec.stats.reset()
    assert_shows(client.get(LOOKUP, params), expected)
    assert contact_calls(vitec) == []

    redis_cache.stop()

    # Every page still answers, with the contacts fetched live from Vitec.
    vitec.stats.reset()
    assert_shows(client.get(LOOKUP, params), expected)
    assert sorted(ids_sent(vitec)) == sorted(ids)
    assert_shows(client.get(detail, {"credential": credential.pk}), expected[:1])
    health = client.get(HEALTHZ)
    assert health.status_code == 200
    assert health.json() == {"status": "degraded", "database": "ok", "cache": "degraded"}
    logout = client.post(LOGOUT)
    assert logout.status_code == 302
    gone = client.get(LOOKUP, params)  # the log-out holds: the session is gone from the database
    assert gone.status_code == 302 and gone.url.startswith(LOGIN)
    log_in(client, login_broker)
    assert_shows(client.get(LOOKUP, params), expected)

    # The circuit breaker still opens, in this process's memory: two pages of failing calls
    # (contacts and categories each: 4 >= 3), then the next page fails fast without calling.
    vitec.configure(fault="503", retry_after=0)
    for _ in range(2):
        page = client.get(LOOKUP, params)
        assert page.status_code == 200
        assert message(ServerError) in page.content.decode()
    vitec.stats.reset()
    page = client.get(LOOKUP, params)
    assert page.status_code == 200
    assert message(CircuitOpenError) in page.content.decode()
    assert vitec.stats.requests == []

    # One warning for the whole outage, and nothing worse.
    [warning] = cache_records(caplog, logging.WARNING)
    assert "unavailable" in warning.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    # Redis is back on the same port (empty: it keeps nothing on disk) and is used again.
    vitec.configure(fault=None)
    redis_cache.start()
    time.sleep(BACK_AFTER)
    vitec.stats.reset()
    assert_shows(client.get(LOOKUP, params), expected)
    assert sorted(ids_sent(vitec)) == sorted(ids)  # the shared breaker is closed: Vitec is asked
    assert len(session_keys(redis_cache)) == 1
    assert len(contact_keys(redis_cache)) == len(ids)
    vitec.stats.reset()
    assert_shows(client.get(LOOKUP, params), expected)
    assert contact_calls(vitec) == []  # from Redis again
    assert client.get(HEALTHZ).json() == {"status": "ok", "database": "ok", "cache": "ok"}
    [back] = cache_records(caplog, logging.INFO)
    assert "available again" in back.getMessage()
    assert len(cache_records(caplog, logging.WARNING)) == 1


def test_a_hanging_redis_costs_one_short_timeout_and_a_log_out_meanwhile_holds(
    redis_cache,
    login_broker,
    credential,
    vitec,
    caplog,
):
    """A Redis that accepts connections and never answers (paused, as in a network partition)
    keeps its data. A log-out while it hangs deletes the session from the database; the cached
    copy it could not delete must not log the broker back in once Redis answers again."""
    client = Client(headers={"Accept-Language": "en"})
    log_in(client, login_broker)
    assert client.get(LOOKUP).status_code == 200
    [cached_session] = session_keys(redis_cache)
    cookie = client.cookies["sessionid"].value

    redis_cache.pause()
    started = time.monotonic()
    logout = client.post(LOGOUT)
    seconds = time.monotonic() - started
    assert logout.status_code == 302
    # One socket timeout (0.3 s), then no more tries: not one timeout per cache operation.
    assert seconds < TEST_OPTIONS["socket_timeout"] + 0.7, f"the log-out took {seconds:.2f} s"
    assert len(cache_records(caplog, logging.WARNING)) == 1

    redis_cache.resume()
    time.sleep(BACK_AFTER)
    assert session_keys(redis_cache) == [cached_session]  # the stale copy is still in Redis
    stale = Client(headers={"Accept-Language": "en"})
    stale.cookies["sessionid"] = cookie
    response = stale.get(LOOKUP)
    assert response.status_code == 302 and response.url.startswith(LOGIN)
    assert session_keys(redis_cache) == []


def test_a_redis_cache_url_gets_the_resilient_backend_with_short_timeouts():
    config = settings_for({"DEBUG": "1", "CACHE_URL": "redis://127.0.0.1:6379/3"})["CACHES"]
    assert config["default"]["BACKEND"] == "crmviewer.cache.ResilientRedisCache"
    with override_settings(CACHES=config):  # a cache of these settings; it connects on use only
        options = caches.create_connection("default")._options
    assert options["socket_connect_timeout"] == 0.5  # seconds to connect
    assert options["socket_timeout"] == 1.0  # seconds for an answer


def test_every_thread_borrows_from_one_redis_connection_pool(redis_cache):
    """Django makes a cache object a thread; a lookup's Vitec calls run in threads made for it,
    each reading and writing the circuit breaker and the call slots: they share the process's
    connections to Redis instead of each opening its own."""
    from django.core.cache import cache

    pools = []

    def use_the_cache() -> None:
        cache.set("shared-pool-probe", 1)
        pools.append(cache._cache.get_client(write=True).connection_pool)

    threads = [threading.Thread(target=use_the_cache) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    use_the_cache()
    assert len(pools) == 6 and len({id(pool) for pool in pools}) == 1
    clients = redis.Redis.from_url(redis_cache.url).client_list()
    assert len(clients) <= 6  # the pool's connections (at most one a thread at once) and ours
