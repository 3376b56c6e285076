"""Shared fixtures: a sandbox Vitec server on a free loopback port, clients for it, and loopback
addresses where a connection is refused or never completes."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings

from contacts.vitec.client import VitecClient
from contacts.vitec.retry import RetryPolicy
from contacts.vitec.sandbox import SandboxConfig, SandboxServer

# Fixtures shared by name: the dashboard tests' (services, views, CSV), a Redis of a test's own,
# and a production environment with its static files collected.
pytest_plugins = ["tests.dashboard_fixtures", "tests.redis_fixtures", "tests.production_fixtures"]

# Property tests try 100 examples each (Hypothesis's own default) in `make test`, and replay any
# example that failed before (the .hypothesis folder). A deeper search on demand:
# `make test PYTEST_ARGS=--hypothesis-profile=thorough`.
hypothesis_settings.register_profile("thorough", max_examples=1000)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """One sandbox for the whole run (generating its data takes a moment)."""
    server = SandboxServer(SandboxConfig()).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    """The shared sandbox with faults, latency and statistics reset before and after the test."""
    defaults = SandboxConfig()
    calm = {
        "latency_ms": defaults.latency_ms,
        "fail_rate": defaults.fail_rate,
        "fault": None,
        "fault_count": None,
        "retry_after": defaults.retry_after,
        "slow_body_seconds": defaults.slow_body_seconds,
        "single_as_list": defaults.single_as_list,
        "notify_url": None,
    }
    sandbox_server.configure(**calm)
    sandbox_server.stats.reset()
    sandbox_server.changes_reset()
    yield sandbox_server
    sandbox_server.configure(**calm)
    sandbox_server.stats.reset()
    sandbox_server.changes_reset()


class SleepRecorder:
    """Stands in for time.sleep in the client so retry waits are recorded, not slept."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(sandbox: SandboxServer, sleeps: SleepRecorder):
    """Build clients for the sandbox; closed after the test. Jitter pinned to its maximum."""
    clients: list[VitecClient] = []

    def make(**options) -> VitecClient:
        settings = {
            "base_url": sandbox.base_url,
            "username": "demo",
            "password": "demo",
            "timeout": 5.0,
            "max_concurrency": 4,
            "retry": RetryPolicy(max_retries=2, backoff_base=0.5, backoff_cap=8.0),
            "sleep": sleeps,
            "rand": lambda: 1.0,
        }
        settings.update(options)
        client = VitecClient(**settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# --- local endpoints that fail at the TCP level (loopback only, never outside) ------------------


def free_port() -> int:
    """A loopback port with nothing listening: a connect is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def refused_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def blackhole_url() -> Iterator[str]:
    """A loopback port where a connect never completes: a true connect timeout.

    No traffic may leave loopback, so no non-routable or public address is used. Instead a
    listening socket with backlog 0 whose accept queue is filled by connections nobody accepts:
    Linux then drops further SYNs, and a connect hangs until the client's connect timeout.
    Where the platform completes such connects anyway, the test is skipped (and says so).
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.05)
        with socket.socket() as probe:
            probe.settimeout(0.2)
            try:
                probe.connect(("127.0.0.1", port))
            except TimeoutError:
                pass
            else:
                pytest.skip("this platform completes loopback connects beyond the backlog")
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
