"""A reload (`kill -HUP`, the README's systemd ExecReload) reads the changed .env file.

The rules of crmviewer.dotenv on a plain mapping, then a key rotation done the documented way
against gunicorn started as in production: new key first in .env, HUP, rotate_credential_keys,
old key dropped from .env, HUP; the running server decrypts with the new key all along.
"""

from __future__ import annotations

import html
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet, InvalidToken

from contacts.vitec.sandbox.data import customer_data
from crmviewer.dotenv import ENV_FILE_VARIABLE, OWNED_KEYS_VARIABLE, load_dotenv
from tests.test_production import LOGIN, _free_port, running_gunicorn
from tests.test_settings import PRODUCTION, ROOT

# production_env (tests/production_fixtures.py): DEBUG off, JSON logs, static files collected.


# --- load_dotenv's rules, on a plain mapping ----------------------------------------------------


def test_the_file_fills_in_what_the_real_environment_does_not_set(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("CREDENTIAL_KEYS=from-file\nSECRET_KEY=file-secret\n")
    environ = {"CREDENTIAL_KEYS": "from-service-manager", "PATH": "/usr/bin"}
    assert load_dotenv(dotenv, environ) == {"SECRET_KEY": "file-secret"}
    assert environ["CREDENTIAL_KEYS"] == "from-service-manager"
    assert environ["SECRET_KEY"] == "file-secret"
    assert environ["PATH"] == "/usr/bin"
    assert environ[OWNED_KEYS_VARIABLE].startswith("SECRET_KEY:")
    assert "file-secret" not in environ[OWNED_KEYS_VARIABLE]  # a hash of the value, never it


def test_a_second_load_replaces_adds_and_removes_what_the_file_set(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("CREDENTIAL_KEYS=K1\nSECRET_KEY=s\nLOG_LEVEL=DEBUG\nDEBUG=1\n")
    environ = {"DEBUG": "0"}  # the real environment's
    load_dotenv(dotenv, environ)
    assert environ == {
        "DEBUG": "0",
        "CREDENTIAL_KEYS": "K1",
        "SECRET_KEY": "s",
        "LOG_LEVEL": "DEBUG",
        OWNED_KEYS_VARIABLE: environ[OWNED_KEYS_VARIABLE],
    }

    dotenv.write_text("CREDENTIAL_KEYS=K2,K1\nSECRET_KEY=s\nVITEC_TIMEOUT=5\nDEBUG=1\n")
    load_dotenv(dotenv, environ)
    assert environ == {
        "DEBUG": "0",  # still the real environment's
        "CREDENTIAL_KEYS": "K2,K1",  # replaced
        "SECRET_KEY": "s",
        "VITEC_TIMEOUT": "5",  # added; LOG_LEVEL is gone with the file's line
        OWNED_KEYS_VARIABLE: environ[OWNED_KEYS_VARIABLE],
    }

    dotenv.write_text("CREDENTIAL_KEYS=K2\n")
    load_dotenv(dotenv, environ)
    assert environ == {
        "DEBUG": "0",
        "CREDENTIAL_KEYS": "K2",
        OWNED_KEYS_VARIABLE: environ[OWNED_KEYS_VARIABLE],
    }


def test_a_value_someone_else_set_after_the_load_wins_over_the_file(tmp_path):
    """A child process started with an explicit value, its parent's .env values inherited."""
    dotenv = tmp_path / ".env"
    dotenv.write_text("VITEC_TIMEOUT=5\nSECRET_KEY=s\n")
    environ: dict[str, str] = {}
    load_dotenv(dotenv, environ)
    environ["VITEC_TIMEOUT"] = "2.5"
    load_dotenv(dotenv, environ)
    assert environ["VITEC_TIMEOUT"] == "2.5" and environ["SECRET_KEY"] == "s"
    dotenv.write_text("SECRET_KEY=s\n")
    load_dotenv(dotenv, environ)
    assert environ["VITEC_TIMEOUT"] == "2.5"  # not the file's to remove


def test_a_missing_file_sets_nothing_and_takes_back_what_it_set(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("SECRET_KEY=s\n")
    environ = {"DEBUG": "1"}
    load_dotenv(dotenv, environ)
    dotenv.unlink()
    assert load_dotenv(dotenv, environ) == {}
    assert environ == {"DEBUG": "1"}


def test_comments_quotes_and_export_are_parsed_as_django_environ_does(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# a comment line\n"
        "\n"
        "export DEBUG=0\n"
        "SECRET_KEY='single quoted # not a comment'\n"
        'ALLOWED_HOSTS="crm.example.se,10.0.1.17"\n'
        'LABEL="say \\"hej\\""\n'
        "DATABASE_URL=postgres://u:p@db:5432/crm#x\n"
        "EMPTY=\n"
        "not a variable line\n"
    )
    environ: dict[str, str] = {}
    load_dotenv(dotenv, environ)
    environ.pop(OWNED_KEYS_VARIABLE)
    assert environ == {
        "DEBUG": "0",
        "SECRET_KEY": "single quoted # not a comment",
        "ALLOWED_HOSTS": "crm.example.se,10.0.1.17",
        "LABEL": 'say "hej"',
        "DATABASE_URL": "postgres://u:p@db:5432/crm#x",  # no inline comments, as before
        "EMPTY": "",
    }


def test_loading_into_a_mapping_leaves_os_environ_alone(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("CRMVIEWER_TEST_ONLY_VARIABLE=1\n")
    load_dotenv(dotenv, {})
    assert "CRMVIEWER_TEST_ONLY_VARIABLE" not in os.environ


def test_crmviewer_env_file_names_the_file_and_it_must_exist(tmp_path):
    default, named = tmp_path / "default.env", tmp_path / "named.env"
    default.write_text("SECRET_KEY=default\n")
    named.write_text(
        f"SECRET_KEY=named\n{ENV_FILE_VARIABLE}=/elsewhere\n{OWNED_KEYS_VARIABLE}=X:1\n"
    )
    environ = {ENV_FILE_VARIABLE: str(named)}
    assert load_dotenv(default, environ) == {"SECRET_KEY": "named"}  # steering names ignored
    assert environ[ENV_FILE_VARIABLE] == str(named)
    with pytest.raises(FileNotFoundError):
        load_dotenv(default, {ENV_FILE_VARIABLE: str(tmp_path / "missing.env")})


# --- A key rotation with reloads, against gunicorn ----------------------------------------------

K1, K2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
USERNAME, PASSWORD = "lisa", "Lisa-long-password-1"
# Settings that production_env sets and that go into the .env file here instead.
DOTENV_SETTINGS = (*PRODUCTION, "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "STATIC_ROOT")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
BOOTED = re.compile(r"Booting worker with pid: (\d+)")
# What a page says when the server cannot decrypt the stored password (contacts/views.py).
BROKEN = "The stored Vitec password cannot be read."


class Deployment:
    """A production set-up whose settings are all in a .env file (CRMVIEWER_ENV_FILE), none in
    the environment of its processes: those would win over the file."""

    def __init__(self, base_env: dict[str, str], vitec_url: str, folder: Path) -> None:
        self.settings = {key: base_env[key] for key in DOTENV_SETTINGS}
        self.settings["VITEC_BASE_URL"] = vitec_url
        self.settings["DATABASE_URL"] = f"sqlite:///{folder / 'db.sqlite3'}"  # its own
        self.dotenv = folder / ".env"
        self.env = {
            key: value
            for key, value in base_env.items()
            if key not in self.settings and key != OWNED_KEYS_VARIABLE
        }
        self.env[ENV_FILE_VARIABLE] = str(self.dotenv)
        self.database = Path(self.settings["DATABASE_URL"].removeprefix("sqlite:///"))

    def write_dotenv(self, **changes: str) -> None:
        self.settings.update(changes)
        self.dotenv.write_text("".join(f"{k}={v}\n" for k, v in self.settings.items()))

    def manage(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def stored_token(self) -> bytes:
        with sqlite3.connect(self.database) as db:
            [(token,)] = db.execute("SELECT password_encrypted FROM contacts_viteccredential")
        return token.encode()


@pytest.fixture
def deployment(production_env, sandbox_server, tmp_path) -> Deployment:
    """CREDENTIAL_KEYS=K1 in .env; the database migrated; a broker with a credential for the
    sandbox, made with manage.py commands that read the same .env."""
    deployment = Deployment(production_env, sandbox_server.base_url, tmp_path)
    deployment.write_dotenv(CREDENTIAL_KEYS=K1)
    deployment.manage(  # migrate and add the broker, in one process
        "shell",
        "-c",
        "from django.core.management import call_command; "
        "from django.contrib.auth import get_user_model; "
        "call_command('migrate', interactive=False, verbosity=0); "
        f"get_user_model().objects.create_user({USERNAME!r}, password={PASSWORD!r})",
    )
    deployment.manage(
        "set_vitec_credential",
        USERNAME,
        "--customer-id=M1001",
        "--api-username=demo",
        "--password-stdin",
        stdin="demo\n",
    )
    return deployment


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Server:
    """gunicorn's master, its address and the file its standard error (its own log) goes to."""

    def __init__(self, process: subprocess.Popen, base_url: str, errors: Path) -> None:
        self.process, self.base_url, self.errors = process, base_url, errors

    def workers(self) -> set[int]:
        return {int(pid) for pid in BOOTED.findall(self.errors.read_text())}

    def reload(self) -> None:
        """`kill -HUP` the master, as systemd's ExecReload does; return once a new worker has
        booted and the old ones are gone, so the next request meets the new settings."""
        old = self.workers()
        os.kill(self.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 15
        while True:
            assert self.process.poll() is None, self.errors.read_text()
            if self.workers() - old and not any(_alive(pid) for pid in old):
                return
            assert time.monotonic() < deadline, "the reload did not take effect in 15 s"
            time.sleep(0.05)


@pytest.fixture
def server(deployment, tmp_path) -> Iterator[Server]:
    """gunicorn started as in production, `gunicorn -c gunicorn.conf.py`, one worker."""
    env = {
        **deployment.env,
        "GUNICORN_BIND": f"127.0.0.1:{_free_port()}",
        "WEB_CONCURRENCY": "1",
    }
    errors = tmp_path / "gunicorn.stderr"
    with running_gunicorn(env, subprocess.DEVNULL, errors) as (process, base_url):
        yield Server(process, base_url, errors)


class Browser:
    """A broker's browser over plain HTTP on loopback. With DEBUG off the session and CSRF cookies
    are Secure, which requests keeps but sends over HTTPS only; this sends them to the loopback
    address, as browsers do for localhost."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy from the environment for a loopback address
        # A new connection for every request: none kept open to a worker a reload replaces.
        self.session.headers.update({"Accept-Language": "en", "Connection": "close"})

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.session.cookies)
        return self.session.request(
            method,
            f"{self.base_url}{path}",
            headers={"Cookie": cookies} if cookies else {},
            allow_redirects=False,
            timeout=30,
            **kwargs,
        )

    def log_in(self) -> None:
        token = CSRF.search(self.request("GET", LOGIN).text)
        assert token, "no CSRF token on the login page"
        response = self.request(
            "POST",
            LOGIN,
            data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token[1]},
        )
        assert response.status_code == 302, response.text
        assert response.headers["Location"] == "/contacts/"

    def assert_server_decrypts(self, contact: dict) -> None:
        """The contact's page names the contact: the server decrypted the stored password and
        used it with the sandbox (for a contact not asked for before, so from no cache)."""
        page = self.request("GET", f"/contacts/{contact['id']}/")
        assert page.status_code == 200, page.headers.get("Location")
        assert BROKEN not in page.text, "the server cannot decrypt the stored password"
        name = html.escape(f"{contact['firstName']} {contact['lastName']}")
        assert f"<h1>{name} " in page.text


def _decrypts_with(key: str, token: bytes) -> bool:
    try:
        Fernet(key.encode()).decrypt(token)
    except InvalidToken:
        return False
    return True


@pytest.mark.integration
def test_a_key_rotation_with_reloads_reaches_the_running_server(deployment, server):
    persons = (c for c in customer_data("M1001").contacts if c["type"] == "Person")
    named = [c for c in persons if c["firstName"] and c["lastName"]]
    before, during, after = named[:3]
    browser = Browser(server.base_url)
    browser.log_in()
    browser.assert_server_decrypts(before)
    assert _decrypts_with(K1, deployment.stored_token())

    deployment.write_dotenv(CREDENTIAL_KEYS=f"{K2},{K1}")  # the new key first, the old after it
    server.reload()
    deployment.manage("rotate_credential_keys")
    token = deployment.stored_token()
    assert _decrypts_with(K2, token) and not _decrypts_with(K1, token)
    browser.assert_server_decrypts(during)  # the server has K2 now

    deployment.write_dotenv(CREDENTIAL_KEYS=K2)  # the old key dropped
    server.reload()
    browser.assert_server_decrypts(after)
    assert len(server.workers()) == 3  # the first worker, and one per reload
