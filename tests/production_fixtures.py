"""A production environment for the tests that start real processes (tests/test_production.py,
tests/test_reload.py): DEBUG off, JSON logs, and the static files collected, once per run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.test_settings import PRODUCTION, ROOT

# Variables of gunicorn.conf.py.
GUNICORN_ENV = (
    "GUNICORN_BIND",
    "PORT",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_ACCESS_LOG",
    "VITEC_TIMEOUT",
    "VITEC_MAX_RETRIES",
    "FORWARDED_ALLOW_IPS",
    "LOG_LEVEL",
)
# Variables of the developer's shell that would change what a production start does.
NOT_INHERITED = {
    "DEBUG",
    "SECRET_KEY",
    "CREDENTIAL_KEYS",
    "DATABASE_URL",
    "CACHE_URL",
    "ALLOWED_HOSTS",
    "STATIC_ROOT",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "SECURE_SSL_REDIRECT",
    "TRUST_X_FORWARDED_PROTO",
    *GUNICORN_ENV,
}


@pytest.fixture(scope="session")
def production_env(tmp_path_factory) -> dict[str, str]:
    """A production environment (DEBUG off, JSON logs) whose static files have been collected.
    Its database is a SQLite file of its own; a test that writes to it makes its own copy of the
    environment with another DATABASE_URL."""
    root = tmp_path_factory.mktemp("production")
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update(PRODUCTION)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "crmviewer.settings",
            "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}",
            "STATIC_ROOT": str(root / "static"),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback: no TLS proxy in front
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return env
