"""Settings come from the environment; production refuses to start without its secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import django; django.setup(); from django.conf import settings as s; print({})"


def run_settings(env_overrides: dict[str, str], expression: str = "s.DEBUG"):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECRET_KEY", "CREDENTIAL_KEYS", "DATABASE_URL", "CACHE_URL"}
    }
    env.update({"DJANGO_SETTINGS_MODULE": "crmviewer.settings"}, **env_overrides)
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(expression)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 50,
    "CREDENTIAL_KEYS": "ZGV2ZWxvcG1lbnQtb25seS1ub3QtYS1zZWNyZXQtISE=",
    "DATABASE_URL": "sqlite:////tmp/crmviewer-settings-test.sqlite3",
    "CACHE_URL": "locmemcache://",
}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "CREDENTIAL_KEYS"])
def test_production_without_a_secret_stops_with_a_clear_message(missing):
    env = {key: value for key, value in PRODUCTION.items() if key != missing}
    result = run_settings(env)
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr
    assert "DEBUG=1" in result.stderr  # says how to run locally instead


def test_production_with_its_secrets_starts():
    result = run_settings(PRODUCTION, "s.DATABASES['default']['ENGINE']")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"


def test_production_has_no_database_default():
    env = {key: value for key, value in PRODUCTION.items() if key != "DATABASE_URL"}
    result = run_settings(env, "s.DATABASES")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_debug_gets_local_defaults():
    result = run_settings(
        {"DEBUG": "1"}, "(s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'])"
    )
    assert result.returncode == 0, result.stderr
    assert "sqlite3" in result.stdout and "LocMemCache" in result.stdout


@pytest.mark.parametrize(
    ("name", "value", "expression", "expected"),
    [
        ("VITEC_TIMEOUT", "2.5", "s.VITEC_TIMEOUT", "2.5"),
        ("VITEC_MAX_CONCURRENCY", "7", "s.VITEC_MAX_CONCURRENCY", "7"),
        ("VITEC_BASE_URL", "http://127.0.0.1:9/", "s.VITEC_BASE_URL", "http://127.0.0.1:9/"),
        ("CREDENTIAL_KEYS", "a, b ,c", "s.CREDENTIAL_KEYS", "['a', 'b', 'c']"),
    ],
)
def test_vitec_settings_come_from_the_environment(name, value, expression, expected):
    result = run_settings({"DEBUG": "1", name: value}, expression)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_vitec_defaults():
    result = run_settings(
        {"DEBUG": "1"}, "(s.VITEC_TIMEOUT, s.VITEC_MAX_CONCURRENCY, s.VITEC_BASE_URL)"
    )
    assert result.stdout.strip() == "(10.0, 4, 'https://connect.maklare.vitec.net')"
