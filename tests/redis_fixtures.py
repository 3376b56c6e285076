"""A Redis server of the test's own, on a free loopback port, that the test can stop, pause and
start again; and Django's cache pointed at it.

Its fixtures reach every test module (tests/conftest.py lists this module as a plugin). The
server keeps nothing on disk (no RDB, no AOF), so a stop loses its data as a crashed cache would;
`pause` (SIGSTOP) keeps it, as a network partition would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.urls import reverse

from contacts.services import lookup
from contacts.vitec.breaker import MemoryStore

REDIS_SERVER = shutil.which("redis-server")
BACKEND = "crmviewer.cache.ResilientRedisCache"  # what settings.py picks for a redis:// CACHE_URL
# Short waits, so that a test sees an outage and a recovery in well under a second each.
TEST_OPTIONS = {"socket_connect_timeout": 0.3, "socket_timeout": 0.3, "down_seconds": 0.5}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """One redis-server process on 127.0.0.1:port; start() again reuses the same port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=0, socket_timeout=5)

    def start(self) -> RedisServer:
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                REDIS_SERVER or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return self
            except redis.exceptions.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        self.resume()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections, nothing answers (a partition)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def dump(self) -> list[tuple[bytes, bytes]]:
        """Every key and its raw value (strings; other types by their type name)."""
        client = self.client()
        items = []
        for key in client.scan_iter(count=1000):
            value = client.get(key) if client.type(key) == b"string" else client.type(key)
            items.append((key, value or b""))
        return items


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def redis_cache(settings, monkeypatch, redis_server: RedisServer) -> RedisServer:
    """Django's default cache (and so the sessions' cache) on the test's own Redis."""
    settings.CACHES = {
        "default": {"BACKEND": BACKEND, "LOCATION": redis_server.url, "OPTIONS": TEST_OPTIONS}
    }
    # What the circuit breaker counts in memory while this Redis is down stays in this test.
    monkeypatch.setattr(lookup._breaker_store, "local", MemoryStore())
    return redis_server


LOGIN_PASSWORD = "Utan-cache-7-fungerar"


@pytest.fixture
def login_broker(broker, settings):
    """The broker with a password, for a real login POST (fast hashing in tests): the session is
    then made by the login, as in production, not forced into the session store."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    broker.set_password(LOGIN_PASSWORD)
    broker.save()
    return broker


def log_in(client, user) -> None:
    response = client.post(
        reverse("login"), {"username": user.username, "password": LOGIN_PASSWORD}
    )
    assert response.status_code == 302, "the login failed"
    assert response.url == reverse("contacts:lookup")
