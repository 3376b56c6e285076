"""Production set-up: /healthz, request ids and the request log, JSON log lines, the settings a
deployment relies on, static files with hashed names (collectstatic, WhiteNoise) and gunicorn
serving the application over real HTTP.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import logging.config
import re
import runpy
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connections
from django.test import Client, RequestFactory
from django.urls import reverse

from crmviewer.logging import REDACTED, RedactSecretsFilter, RequestIdFilter, request_id_var
from tests.dashboard_fixtures import cid, ids_range, make_credential
from tests.production_fixtures import GUNICORN_ENV
from tests.test_settings import PRODUCTION, ROOT, effective_settings, settings_for

HEALTHZ = reverse("healthz")
LOGIN = reverse("login")
LOOKUP = reverse("contacts:lookup")
UUID_HEX = re.compile(r"[0-9a-f]{32}")
HEALTHY = {"status": "ok", "database": "ok", "cache": "ok"}
SECRET = "password=hemligt-7731"  # what a failing part's error might say


# --- /healthz -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "head"])
def test_healthz_answers_without_login_session_or_cookie(client, method):
    response = getattr(client, method)(HEALTHZ)
    assert response.status_code == 200
    if method == "get":
        assert response.json() == HEALTHY
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert not response.cookies  # no session, no CSRF token


@pytest.mark.django_db
def test_healthz_only_reads(client):
    assert client.post(HEALTHZ).status_code == 405


def _fail(*args, **kwargs):
    raise OperationalError(f"could not connect: {SECRET}")


def _cache_class():
    return type(caches["default"])


def _database_down(mp):
    mp.setattr(type(connections["default"]), "cursor", _fail)


CACHE_BREAKAGES = {
    "cache refuses to store": lambda mp: mp.setattr(_cache_class(), "set", _fail),
    "cache refuses to read": lambda mp: mp.setattr(_cache_class(), "get", _fail),
    "cache forgets": lambda mp: mp.setattr(_cache_class(), "get", lambda *a, **k: None),
}
# The database is needed for every page: without it, 503 (take this server out of the pool).
BREAKAGES = {
    "database down": (_database_down, {"database": "error", "cache": "ok"}),
    "database and cache down": (
        lambda mp: (_database_down(mp), CACHE_BREAKAGES["cache refuses to read"](mp)),
        {"database": "error", "cache": "degraded"},
    ),
}


def assert_a_status_only(response) -> None:
    assert response["Cache-Control"] == "no-store"
    assert not response.cookies
    body = response.content.decode()
    assert "Traceback" not in body and "hemligt" not in body  # a status, never the error


@pytest.mark.django_db
@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_healthz_is_503_naming_the_part_that_failed(client, monkeypatch, caplog, breakage):
    breaks, parts = BREAKAGES[breakage]
    breaks(monkeypatch)
    response = client.get(HEALTHZ)
    assert response.status_code == 503
    assert response.json() == {"status": "error", **parts}
    assert_a_status_only(response)
    assert any(
        record.levelno == logging.ERROR and "database" in record.getMessage()
        for record in caplog.records
    )


@pytest.mark.django_db
@pytest.mark.parametrize("breakage", list(CACHE_BREAKAGES))
def test_healthz_says_degraded_with_200_when_only_the_cache_fails(
    client, monkeypatch, caplog, breakage
):
    """Pages work without the cache (tests/test_cache_outage.py): a load balancer must keep
    sending brokers to this server, so 200, with the cache named as degraded."""
    CACHE_BREAKAGES[breakage](monkeypatch)
    response = client.get(HEALTHZ)
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "cache": "degraded"}
    assert_a_status_only(response)
    assert any(
        record.levelno == logging.WARNING and "cache" in record.getMessage()
        for record in caplog.records
    )


@pytest.mark.django_db
def test_healthz_is_not_redirected_to_https(client, settings):
    """Load balancers probe over plain HTTP; everything else is still redirected."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(HEALTHZ).status_code == 200
    redirected = client.get(LOGIN)
    assert redirected.status_code == 301 and redirected.url.startswith("https://")


# --- Request ids ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (None, False),
        ("3f2a9c1e-77b0-4c1e-9a51-0d2f6c8e1b44", True),  # a uuid, as many balancers send
        ("Root=1-67a2f3c4.abc_DEF", False),  # "=" is not in a sane token
        ("lb.probe_1-2", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("two words", False),
        ("id\r\nSet-Cookie: sessionid=x", False),
        ("åäö", False),
        ("<script>", False),
    ],
)
def test_request_id_is_kept_when_sane_else_generated(client, given, kept):
    headers = {} if given is None else {"X-Request-ID": given}
    request_id = client.get(HEALTHZ, headers=headers)["X-Request-ID"]
    if kept:
        assert request_id == given
    else:
        assert UUID_HEX.fullmatch(request_id)


@pytest.mark.django_db
def test_every_request_gets_its_own_id(client):
    ids = {client.get(HEALTHZ)["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


@pytest.fixture
def console_lines() -> Iterator[io.StringIO]:
    """What the configured console handler writes (the plain format, as tests run with DEBUG)."""
    handler = logging.getHandlerByName("console")
    stream = io.StringIO()
    old_stream = handler.setStream(stream)
    yield stream
    handler.setStream(old_stream)


def request_lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if " crmviewer.request " in line]


@pytest.mark.django_db
def test_each_request_is_logged_once_with_its_id_and_without_the_query_string(
    client, console_lines
):
    response = client.get(
        LOGIN, {"next": f"{LOOKUP}?ids={cid(42)}"}, headers={"X-Request-ID": "probe-1"}
    )
    assert response.status_code == 200
    [line] = request_lines(console_lines)
    assert " INFO crmviewer.request [probe-1] GET /accounts/login/ 200 " in line
    assert line.endswith(" ms user=-")
    assert "?" not in line and cid(42) not in line and "next" not in line


@pytest.mark.django_db
def test_the_request_log_names_the_user_and_never_the_contact_ids(
    broker, credential, console_lines
):
    client = Client()
    client.force_login(broker)
    ids = ids_range(1, 3)
    response = client.get(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids)})
    assert response.status_code == 200
    [line] = request_lines(console_lines)
    request_id = response["X-Request-ID"]
    assert f"[{request_id}] GET /contacts/ 200 " in line
    assert line.endswith(f" ms user={broker.pk}")
    assert not any(contact_id in line for contact_id in ids)


@pytest.mark.django_db
def test_a_path_cannot_forge_a_log_line(client, caplog):
    caplog.set_level(logging.INFO, logger="crmviewer.request")
    client.get("/nothing%0A2026-01-01 INFO forged")
    [record] = [r for r in caplog.records if r.name == "crmviewer.request"]
    assert "\n" not in record.getMessage()
    assert "/nothing%0A2026-01-01%20INFO%20forged 404" in record.getMessage()
    assert record.status == 404 and record.path.startswith("/nothing%0A")


@pytest.mark.django_db
def test_successful_probes_are_logged_at_debug_only(client, caplog):
    caplog.set_level(logging.DEBUG, logger="crmviewer.request")
    client.get(HEALTHZ)
    [record] = [r for r in caplog.records if r.name == "crmviewer.request"]
    assert record.levelno == logging.DEBUG


class Collect(logging.Handler):
    """Keeps the records it is given, with the request id filter every configured handler has."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collected() -> Iterator[Collect]:
    handler = Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


@pytest.mark.django_db
def test_vitec_calls_in_worker_threads_carry_the_request_id(broker, vitec, caplog, collected):
    credential = make_credential(broker)
    client = Client()
    client.force_login(broker)
    caplog.set_level(logging.DEBUG, logger="contacts.vitec.client")  # a call that worked: DEBUG
    response = client.get(
        LOOKUP,
        {"credential": credential.pk, "ids": ",".join(ids_range(1, 60))},  # 3 batches at once
        headers={"X-Request-ID": "lookup-7"},
    )
    assert response.status_code == 200
    calls = [r for r in collected.records if r.name == "contacts.vitec.client"]
    threads = {record.threadName.rsplit("_", 1)[0] for record in calls}
    assert threads == {"vitec", "vitec-categories"}  # none of them in the request's own thread
    assert len(calls) == 4
    assert {record.request_id for record in calls} == {"lookup-7"}
    logging.getLogger("crmviewer.tests").warning("after the request")
    assert collected.records[-1].request_id == "-"


def test_gunicorns_access_line_gets_the_id_from_the_response_headers():
    record = logging.LogRecord(
        "gunicorn.access",
        logging.INFO,
        "glogging.py",
        1,
        "%(h)s",
        ({"{x-request-id}o": "r-9"},),
        None,
    )
    RequestIdFilter().filter(record)
    assert record.request_id == "r-9"


# --- JSON log lines -----------------------------------------------------------------------------


@pytest.fixture
def json_lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose handler is configured like production's: the project's JSON formatter and
    the request id and redaction filters."""
    formatter_config = dict(django_settings.LOGGING["formatters"]["json"])
    formatter = logging.config.DictConfigurator({}).configure_formatter(formatter_config)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("crmviewer.tests.json")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def test_json_log_lines(json_lines):
    logger, stream = json_lines
    token = request_id_var.set("req-42")
    try:
        logger.info("Looked up %d contacts", 3)
        request = RequestFactory().get(f"/contacts/?ids={cid(42)}")
        logger.warning(
            "Not Found: %s", request.path, extra={"status_code": 404, "request": request}
        )
        try:
            raise RuntimeError(f"Vitec said no: {SECRET}")
        except RuntimeError:
            logger.exception("Lookup failed")
    finally:
        request_id_var.reset(token)
    logger.info("Outside a request", extra={"detail": f"stored {SECRET}"})

    lines = stream.getvalue().splitlines()
    records = [json.loads(line) for line in lines]  # one JSON object per line
    assert len(records) == 4
    first, not_found, failed, outside = records
    assert {key: first[key] for key in ("level", "logger", "message", "request_id")} == {
        "level": "INFO",
        "logger": "crmviewer.tests.json",
        "message": "Looked up 3 contacts",
        "request_id": "req-42",
    }
    assert datetime.fromisoformat(first["time"]).utcoffset().total_seconds() == 0
    assert not_found["status_code"] == 404 and not_found["request_id"] == "req-42"
    assert "request" not in not_found and cid(42) not in lines[1]  # the query string
    assert failed["level"] == "ERROR" and "RuntimeError" in failed["exc_info"]
    assert outside["request_id"] == "-"
    assert "hemligt" not in stream.getvalue()  # not in the traceback, not in an extra field
    assert REDACTED in failed["exc_info"] and REDACTED in outside["detail"]


# --- Settings a deployment relies on ------------------------------------------------------------

# In the database, with a sealed copy in the cache the site can do without (crmviewer/sessions.py).
SESSIONS_IN_DB_AND_CACHE = "crmviewer.sessions"
FIRST_MIDDLEWARE = [
    "crmviewer.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
]


@pytest.mark.parametrize(
    ("env", "log_format", "static_storage"),
    [
        (PRODUCTION, "json", "whitenoise.storage.CompressedManifestStaticFilesStorage"),
        ({**PRODUCTION, "LOG_FORMAT": "plain"}, "plain", "whitenoise.storage."),
        ({"DEBUG": "1"}, "plain", "django.contrib.staticfiles.storage.StaticFilesStorage"),
        ({"DEBUG": "1", "LOG_FORMAT": "json"}, "json", "django.contrib.staticfiles.storage."),
    ],
)
def test_deployment_settings(env, log_format, static_storage):
    settings = effective_settings(
        env,
        (
            "SESSION_ENGINE",
            "SECURE_REDIRECT_EXEMPT",
            "LOG_FORMAT",
            "LOGGING",
            "STORAGES",
            "MIDDLEWARE",
        ),
    )
    assert settings["SESSION_ENGINE"] == SESSIONS_IN_DB_AND_CACHE
    assert settings["SECURE_REDIRECT_EXEMPT"] == [r"^healthz$"]
    assert settings["LOG_FORMAT"] == log_format
    assert settings["LOGGING"]["handlers"]["console"]["formatter"] == log_format
    assert settings["STORAGES"]["staticfiles"]["BACKEND"].startswith(static_storage)
    assert settings["MIDDLEWARE"][:3] == FIRST_MIDDLEWARE


def test_an_unknown_log_format_stops_start_up():
    with pytest.raises(ImproperlyConfigured) as caught:
        settings_for({**PRODUCTION, "LOG_FORMAT": "xml"})
    assert str(caught.value) == "LOG_FORMAT is 'xml'; it can be json or plain."


# --- gunicorn's settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {},
            {
                "wsgi_app": "crmviewer.wsgi:application",
                "bind": "0.0.0.0:8000",
                "worker_class": "gthread",
                "threads": 16,
                "timeout": 90,  # 10 s x 3 attempts + 60
                "graceful_timeout": 90,
                "forwarded_allow_ips": "127.0.0.1,::1",
                "accesslog": "-",
                "errorlog": "-",
                "loglevel": "info",
                "control_socket_disable": True,
            },
        ),
        ({"PORT": "5000"}, {"bind": "0.0.0.0:5000"}),
        ({"PORT": "5000", "GUNICORN_BIND": "127.0.0.1:8080"}, {"bind": "127.0.0.1:8080"}),
        ({"WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "8"}, {"workers": 3, "threads": 8}),
        ({"VITEC_TIMEOUT": "20", "VITEC_MAX_RETRIES": "1"}, {"timeout": 100}),
        ({"GUNICORN_TIMEOUT": "45"}, {"timeout": 45, "graceful_timeout": 45}),
        ({"FORWARDED_ALLOW_IPS": "10.0.0.0/8"}, {"forwarded_allow_ips": "10.0.0.0/8"}),
        ({"GUNICORN_ACCESS_LOG": "off"}, {"accesslog": None}),
        ({"LOG_LEVEL": "WARNING"}, {"loglevel": "warning"}),
    ],
)
def test_gunicorn_settings_from_the_environment(monkeypatch, env, expected):
    for name in GUNICORN_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert {name: config[name] for name in expected} == expected
    assert 3 <= config["workers"] <= 8 or "WEB_CONCURRENCY" in env
    assert "(r)" not in config["access_log_format"]  # the request line has the query string
    assert "request_id=%({x-request-id}o)s" in config["access_log_format"]


# --- collectstatic and gunicorn, over real HTTP (production_env: tests/production_fixtures.py) ---


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hashed_name(env: dict[str, str], name: str) -> str:
    manifest = json.loads((Path(env["STATIC_ROOT"]) / "staticfiles.json").read_text())
    return manifest["paths"][name]


def test_collectstatic_writes_hashed_and_compressed_files(production_env):
    static = Path(production_env["STATIC_ROOT"])
    hashed = hashed_name(production_env, "css/app.css")
    assert re.fullmatch(r"css/app\.[0-9a-f]{12}\.css", hashed)
    assert (static / hashed).is_file() and (static / f"{hashed}.gz").is_file()
    assert (static / "css/app.css").is_file()  # the plain name too
    assert hashed_name(production_env, "admin/css/base.css").startswith("admin/css/base.")


@contextlib.contextmanager
def running_gunicorn(env: dict[str, str], stdout, errors: Path) -> Iterator[tuple]:
    """`gunicorn -c gunicorn.conf.py` with `env`, standard error to the file `errors`: its
    process and base URL once /healthz answers; stopped (terminated, killed if need be) after."""
    with errors.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    base_url = f"http://{env['GUNICORN_BIND']}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, errors.read_text()
            try:
                requests.get(f"{base_url}{HEALTHZ}", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "gunicorn did not start in 30 s"
                time.sleep(0.1)
        yield server, base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def gunicorn(production_env, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """gunicorn started as in production (`gunicorn -c gunicorn.conf.py`) on a free loopback
    port: its base URL and the file its standard output goes to."""
    env = {
        **production_env,
        "GUNICORN_BIND": f"127.0.0.1:{_free_port()}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
    }
    logs = tmp_path_factory.mktemp("gunicorn")
    output = logs / "stdout"
    with output.open("w") as stdout, running_gunicorn(env, stdout, logs / "stderr") as started:
        yield started[1], output


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment for a loopback address
    yield session
    session.close()


def test_gunicorn_serves_healthz(gunicorn, http):
    base_url, _ = gunicorn
    response = http.get(f"{base_url}{HEALTHZ}", timeout=10)
    assert response.status_code == 200
    assert response.json() == HEALTHY
    assert response.headers["Cache-Control"] == "no-store"
    assert UUID_HEX.fullmatch(response.headers["X-Request-ID"])
    assert "Set-Cookie" not in response.headers


def test_gunicorn_serves_pages_that_link_the_hashed_static_files(gunicorn, http, production_env):
    base_url, _ = gunicorn
    page = http.get(f"{base_url}{LOGIN}", timeout=10)
    assert page.status_code == 200
    hashed = hashed_name(production_env, "css/app.css")
    assert f'href="/static/{hashed}"' in page.text

    stylesheet = http.get(f"{base_url}/static/{hashed}", timeout=10)  # WhiteNoise
    assert stylesheet.status_code == 200
    assert stylesheet.headers["Content-Type"].startswith("text/css")
    assert "immutable" in stylesheet.headers["Cache-Control"]  # the name changes with the content
    assert stylesheet.content == (Path(production_env["STATIC_ROOT"]) / hashed).read_bytes()

    plain = http.get(f"{base_url}/static/css/app.css", timeout=10)
    assert plain.status_code == 200 and "immutable" not in plain.headers["Cache-Control"]
    assert plain.content == stylesheet.content


def test_gunicorn_writes_json_log_lines_with_the_request_id(gunicorn, http):
    base_url, output = gunicorn
    response = http.get(
        f"{base_url}{LOGIN}?next=/contacts/%3Fids%3D{cid(42)}",
        headers={"X-Request-ID": "gunicorn-probe-1"},
        timeout=10,
    )
    assert response.headers["X-Request-ID"] == "gunicorn-probe-1"
    deadline = time.monotonic() + 10
    while True:  # gunicorn writes its access line after the answer has gone out
        lines = output.read_text().splitlines()
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        ours = [record for record in records if record["request_id"] == "gunicorn-probe-1"]
        if len(ours) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sorted(record["logger"] for record in ours) == ["crmviewer.request", "gunicorn.access"]
    for record in ours:
        assert record["level"] == "INFO"
        assert "/accounts/login/" in record["message"]
        assert cid(42) not in record["message"] and "next=" not in record["message"]
