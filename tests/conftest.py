"""Shared fixtures: a sandbox Vitec server on a free loopback port, and clients for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contacts.vitec.client import RetryPolicy, VitecClient
from contacts.vitec.sandbox import SandboxConfig, SandboxServer

# Fixtures shared by name: the dashboard tests' (services, views, CSV), and a Redis of a test's own.
pytest_plugins = ["tests.dashboard_fixtures", "tests.redis_fixtures"]


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
    }
    sandbox_server.configure(**calm)
    sandbox_server.stats.reset()
    yield sandbox_server
    sandbox_server.configure(**calm)
    sandbox_server.stats.reset()


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
