"""Settings come from the environment; production refuses to start without its secrets.

Each case builds the settings in this process, with crmviewer.config.settings_from_env and an
environment written out here (nothing from the developer's shell). One test starts manage.py to
show that crmviewer/settings.py really builds Django's settings that way, from os.environ.
Other modules test the settings of their own subject the same way (`settings_for`): security in
test_security.py, deployment in test_production.py, mail in test_password_reset.py, the Redis
cache in test_cache_outage.py.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from django.conf import global_settings
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from crmviewer.config import settings_from_env
from crmviewer.dotenv import ENV_FILE_VARIABLE, OWNED_KEYS_VARIABLE

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 50,
    "CREDENTIAL_KEYS": "ZGV2ZWxvcG1lbnQtb25seS1ub3QtYS1zZWNyZXQtISE=",
    "DATABASE_URL": "sqlite:////tmp/crmviewer-settings-test.sqlite3",
    "CACHE_URL": "locmemcache://",
}


def settings_for(env: Mapping[str, str]) -> dict[str, Any]:
    """The environment-dependent settings a process with exactly this environment gets."""
    return settings_from_env(env, ROOT)


def effective_settings(env: Mapping[str, str], names: Iterable[str]) -> dict[str, Any]:
    """What Django's settings would hold for these names in a process with exactly this
    environment: settings_from_env's value, else settings.py's own (one that is the same in every
    environment), else Django's default (None when Django has none either)."""
    from_env = settings_for(env)
    from_this_environment = settings_for(os.environ).keys()  # what settings.py took from ours
    module = importlib.import_module("crmviewer.settings")
    values = {}
    for name in names:
        if name in from_env:
            values[name] = from_env[name]
        elif name not in from_this_environment and hasattr(module, name):
            values[name] = getattr(module, name)
        else:
            values[name] = getattr(global_settings, name, None)
    return values


@pytest.mark.parametrize("missing", ["SECRET_KEY", "CREDENTIAL_KEYS"])
def test_production_without_a_secret_stops_with_a_clear_message(missing):
    env = {key: value for key, value in PRODUCTION.items() if key != missing}
    with pytest.raises(ImproperlyConfigured) as caught:
        settings_for(env)
    assert f"{missing} is not set" in str(caught.value)
    assert "DEBUG=1" in str(caught.value)  # says how to run locally instead


def test_production_with_its_secrets_starts():
    settings = settings_for(PRODUCTION)
    assert settings["DEBUG"] is False
    assert settings["SECRET_KEY"] == "x" * 50
    assert settings["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    path = PRODUCTION["DATABASE_URL"].removeprefix("sqlite:///")
    assert settings["DATABASES"]["default"]["NAME"] == path


@pytest.mark.parametrize("missing", ["DATABASE_URL", "CACHE_URL"])
def test_production_has_no_database_or_cache_default(missing):
    env = {key: value for key, value in PRODUCTION.items() if key != missing}
    with pytest.raises(ImproperlyConfigured, match=missing):
        settings_for(env)


def test_debug_gets_local_defaults():
    settings = settings_for({"DEBUG": "1"})
    assert settings["DEBUG"] is True
    assert settings["SECRET_KEY"] == "django-insecure-local-development-only"
    assert settings["CREDENTIAL_KEYS"] == ["ZGV2ZWxvcG1lbnQtb25seS1ub3QtYS1zZWNyZXQtISE="]
    assert settings["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings["DATABASES"]["default"]["NAME"] == str(ROOT / "db.sqlite3")
    assert settings["CACHES"]["default"]["BACKEND"].endswith(".LocMemCache")
    assert settings["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost"]


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_debug_is_off_unless_set(value):
    env = {key: value for key, value in PRODUCTION.items() if key != "DEBUG"}
    if value:
        env["DEBUG"] = value
    settings = settings_for(env)
    assert settings["DEBUG"] is False
    assert settings["ALLOWED_HOSTS"] == []


@pytest.mark.parametrize(
    ("name", "value", "setting", "expected"),
    [
        ("VITEC_TIMEOUT", "2.5", "VITEC_TIMEOUT", 2.5),
        ("VITEC_MAX_CONCURRENCY", "7", "VITEC_MAX_CONCURRENCY", 7),
        ("VITEC_BASE_URL", "http://127.0.0.1:9/", "VITEC_BASE_URL", "http://127.0.0.1:9/"),
        ("CREDENTIAL_KEYS", "a, b ,c", "CREDENTIAL_KEYS", ["a", "b", "c"]),
    ],
)
def test_vitec_settings_come_from_the_environment(name, value, setting, expected):
    assert settings_for({"DEBUG": "1", name: value})[setting] == expected


def test_vitec_defaults():
    settings = settings_for({"DEBUG": "1"})
    assert (settings["VITEC_TIMEOUT"], settings["VITEC_MAX_CONCURRENCY"]) == (10.0, 10)
    assert settings["VITEC_CUSTOMER_MAX_IN_FLIGHT"] == 20
    assert settings["VITEC_BASE_URL"] == "https://connect.maklare.vitec.net"


def test_the_running_settings_are_those_of_its_environment():
    """settings.py gave this process what settings_from_env makes of os.environ (which the .env
    file, if any, has been applied to). pytest-django itself changes DEBUG, ALLOWED_HOSTS and
    the database's name for the test run: those are left out."""
    expected = settings_for(os.environ)
    assert expected["DEBUG"] is True, "make test runs with DEBUG=1"
    changed_by_the_test_run = {"DEBUG", "ALLOWED_HOSTS", "DATABASES"}
    for name, value in expected.items():
        if name not in changed_by_the_test_run:
            assert getattr(django_settings, name) == value, name
    engine = django_settings.DATABASES["default"]["ENGINE"]
    assert engine == expected["DATABASES"]["default"]["ENGINE"]


def test_manage_py_stops_without_a_secret_in_production():
    """The one test in a process of its own: manage.py, with a production environment that
    lacks SECRET_KEY, stops at start-up with settings_from_env's message."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if key not in PRODUCTION and key != OWNED_KEYS_VARIABLE
    }
    env = {
        **inherited,
        **PRODUCTION,
        "DJANGO_SETTINGS_MODULE": "crmviewer.settings",
        ENV_FILE_VARIABLE: os.devnull,  # not the developer's .env either: it might set a secret
    }
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set." in result.stderr
    assert "For local work, set DEBUG=1 instead" in result.stderr
