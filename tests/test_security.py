"""Security hardening: response headers, no caching of personal data, production cookie and HTTPS
settings, login throttling, idle sessions, password rules, and no secret in logs or error reports.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import secrets
import sys
import time
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.debug import (
    ExceptionReporter,
    SafeExceptionReporterFilter,
    get_default_exception_reporter_filter,
)

from contacts.vitec.client import VitecClient
from contacts.vitec.retry import RetryPolicy
from crmviewer.logging import REDACTED, RedactSecretsFilter, redact
from crmviewer.middleware import RENEWED_AT, NoStoreForAuthenticatedMiddleware
from crmviewer.sessions import SessionStore
from tests.dashboard_fixtures import cid, ids_range, make_credential
from tests.test_settings import PRODUCTION, effective_settings, settings_for

LOOKUP = reverse("contacts:lookup")
EXPORT = reverse("contacts:export_csv")
LOGIN = reverse("login")
IDS = ",".join(ids_range(1, 30))


# --- Content Security Policy and other headers, on every kind of page ---------------------------

EXPECTED_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

# name: (who asks, URL given the broker's credential)
PAGES = {
    "login": ("anonymous", lambda credential: LOGIN),
    "lookup": ("broker", lambda credential: f"{LOOKUP}?credential={credential.pk}"),
    "lookup with contacts": (
        "broker",
        lambda credential: f"{LOOKUP}?credential={credential.pk}&ids={IDS}",
    ),
    "contact detail": (
        "broker",
        lambda credential: (
            reverse("contacts:detail", args=[cid(1)]) + f"?credential={credential.pk}"
        ),
    ),
    "CSV export": ("broker", lambda credential: f"{EXPORT}?credential={credential.pk}&ids={IDS}"),
    "admin login": ("anonymous", lambda credential: reverse("admin:login")),
    "admin index": ("admin", lambda credential: reverse("admin:index")),
    "credential list": (
        "admin",
        lambda credential: reverse("admin:contacts_viteccredential_changelist"),
    ),
    "credential add": ("admin", lambda credential: reverse("admin:contacts_viteccredential_add")),
    "credential change": (
        "admin",
        lambda credential: reverse("admin:contacts_viteccredential_change", args=[credential.pk]),
    ),
    "user change": (
        "admin",
        lambda credential: reverse("admin:auth_user_change", args=[credential.user.pk]),
    ),
    "login failures list": (
        "admin",
        lambda credential: reverse("admin:axes_accessattempt_changelist"),
    ),
}
HTML_PAGES = [name for name in PAGES if name != "CSV export"]
PERSONAL_DATA_PAGES = [
    "lookup",
    "lookup with contacts",
    "contact detail",
    "CSV export",
    "credential list",
    "credential change",
    "user change",
]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def fetch(request, credential):
    clients = {"anonymous": "client", "broker": "en_client", "admin": "admin_client"}

    def fetch(name: str) -> HttpResponse:
        who, url = PAGES[name]
        response = request.getfixturevalue(clients[who]).get(url(credential))
        assert response.status_code == 200, (name, response.status_code)
        return response

    return fetch


def csp_of(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def html_of(response) -> str:
    return response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(PAGES))
def test_content_security_policy_on_every_kind_of_page(fetch, name):
    assert csp_of(fetch(name)) == EXPECTED_CSP  # no 'unsafe-inline', no nonce, nothing more


# What the policy would block, so none of it may be in a page.
INLINE_CONTENT = {
    "<script> without src": re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE),
    "<style> element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE),
    "event handler attribute": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"""\b(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I),
}


def inline_content(html: str) -> list[str]:
    return [
        f"{kind}: {match.group(0)}"
        for kind, pattern in INLINE_CONTENT.items()
        for match in pattern.finditer(html)
    ]


@pytest.mark.parametrize(
    ("html", "found"),
    [
        ('<script src="/static/a.js"></script>', False),
        ('<script id="x" src="/static/a.js" defer></script>', False),
        ("<script>alert(1)</script>", True),
        ('<script type="module">x()</script>', True),
        ("<style>p {}</style>", True),
        ('<p style="color: red">', True),
        ('<button onclick="x()">', True),
        ('<a href="javascript:x()">', True),
        ('<p class="styled">one=two</p>', False),
        ('<link rel="stylesheet" href="/static/css/app.css">', False),
    ],
)
def test_the_inline_content_check_itself(html, found):
    assert bool(inline_content(html)) is found


@pytest.mark.django_db
@pytest.mark.parametrize("name", HTML_PAGES)
def test_no_inline_script_or_style_in_any_page(fetch, name):
    assert inline_content(html_of(fetch(name))) == []


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["login", "lookup with contacts", "credential change"])
@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("X-Content-Type-Options", "nosniff"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ],
)
def test_security_headers(fetch, name, header, value):
    assert fetch(name).headers.get(header) == value


# --- Pages with personal data are never stored ---------------------------------------------------


def cache_directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.mark.django_db
@pytest.mark.parametrize("name", PERSONAL_DATA_PAGES)
def test_pages_with_personal_data_are_never_stored(fetch, name):
    directives = cache_directives(fetch(name))
    assert "no-store" in directives
    assert "public" not in directives


@pytest.mark.django_db
def test_the_lookup_page_is_private_and_not_stored(fetch):
    assert cache_directives(fetch("lookup with contacts")) == {"no-store", "private"}


class _User:
    is_authenticated = True


@pytest.mark.parametrize(
    ("user", "path", "given", "expected"),
    [
        (_User(), "/contacts/", None, {"no-store", "private"}),
        (_User(), "/contacts/", "public, max-age=600", {"no-store", "private", "max-age=600"}),
        (_User(), "/contacts/export.csv", "no-store", {"no-store"}),  # left as it is
        (AnonymousUser(), "/accounts/login/", None, set()),
        (None, "/contacts/", None, set()),  # no authentication middleware ran
    ],
)
def test_no_store_middleware(user, path, given, expected):
    request = RequestFactory().get(path)
    if user is not None:
        request.user = user
    response = HttpResponse()
    if given:
        response["Cache-Control"] = given
    answer = NoStoreForAuthenticatedMiddleware(lambda request: response)(request)
    assert cache_directives(answer) == expected


# --- Production settings: HTTPS only, secure cookies, HSTS ---------------------------------------

SETTING_NAMES = (
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "CSRF_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_AGE",
    "SESSION_SAVE_EVERY_REQUEST",
    "SESSION_EXPIRE_AT_BROWSER_CLOSE",
    "AXES_FAILURE_LIMIT",
    "AXES_LOCKOUT_PARAMETERS",
    "AXES_RESET_ON_SUCCESS",
)


def settings_under(env: dict[str, str]) -> dict:
    """The security settings Django ends up with in a process with exactly this environment."""
    values = effective_settings(env, (*SETTING_NAMES, "AXES_COOLOFF_TIME"))
    values["COOLOFF"] = values.pop("AXES_COOLOFF_TIME").total_seconds()
    return values


PROXY_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
OVERRIDES = {
    "SECURE_HSTS_SECONDS": "3600",
    "SECURE_HSTS_PRELOAD": "true",
    "SECURE_SSL_REDIRECT": "false",
    "TRUST_X_FORWARDED_PROTO": "true",
    "SESSION_IDLE_MINUTES": "10",
    "LOGIN_FAILURE_LIMIT": "3",
    "LOGIN_LOCKOUT_MINUTES": "60",
}


@pytest.mark.parametrize(
    ("scenario", "env", "expected"),
    [
        (
            "production defaults",
            PRODUCTION,
            {
                "SESSION_COOKIE_SECURE": True,
                "CSRF_COOKIE_SECURE": True,
                "SESSION_COOKIE_HTTPONLY": True,
                "CSRF_COOKIE_HTTPONLY": True,
                "SESSION_COOKIE_SAMESITE": "Lax",
                "SECURE_SSL_REDIRECT": True,
                "SECURE_HSTS_SECONDS": 31536000,
                "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
                "SECURE_HSTS_PRELOAD": False,
                "SECURE_PROXY_SSL_HEADER": None,
                "SESSION_COOKIE_AGE": 30 * 60,
                "SESSION_SAVE_EVERY_REQUEST": False,
                "SESSION_EXPIRE_AT_BROWSER_CLOSE": True,
                "AXES_FAILURE_LIMIT": 5,
                "AXES_LOCKOUT_PARAMETERS": [["username", "ip_address"]],
                "AXES_RESET_ON_SUCCESS": True,
                "COOLOFF": 15 * 60.0,
            },
        ),
        (
            "production, from the environment",
            {**PRODUCTION, **OVERRIDES},
            {
                "SECURE_HSTS_SECONDS": 3600,
                "SECURE_HSTS_PRELOAD": True,
                "SECURE_SSL_REDIRECT": False,
                "SECURE_PROXY_SSL_HEADER": PROXY_HEADER,
                "SESSION_COOKIE_AGE": 10 * 60,
                "AXES_FAILURE_LIMIT": 3,
                "COOLOFF": 60 * 60.0,
                "SESSION_COOKIE_SECURE": True,
            },
        ),
        (
            "with DEBUG, plain HTTP on 127.0.0.1 still works",
            {"DEBUG": "1"},
            {
                "SESSION_COOKIE_SECURE": False,
                "CSRF_COOKIE_SECURE": False,
                "SECURE_SSL_REDIRECT": False,
                "SECURE_HSTS_SECONDS": 0,
                "SECURE_PROXY_SSL_HEADER": None,
                "CSRF_COOKIE_HTTPONLY": True,
                "SESSION_COOKIE_AGE": 30 * 60,
            },
        ),
        (
            "DEBUG behind a proxy",
            {"DEBUG": "1", "TRUST_X_FORWARDED_PROTO": "true"},
            {"SECURE_PROXY_SSL_HEADER": PROXY_HEADER, "SECURE_SSL_REDIRECT": False},
        ),
        (
            "a proxy header is not trusted unless asked",
            {**PRODUCTION, "TRUST_X_FORWARDED_PROTO": "false"},
            {"SECURE_PROXY_SSL_HEADER": None},
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_security_settings_from_the_environment(scenario, env, expected):
    actual = settings_under(env)
    assert {name: actual[name] for name in expected} == expected


DEPLOY_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "CREDENTIAL_KEYS": Fernet.generate_key().decode(),
    "DATABASE_URL": "sqlite:///deploy.sqlite3",
    "CACHE_URL": "locmemcache://",
    "ALLOWED_HOSTS": "crm.example.se",
}
# Settings Django's deploy checks never read, and that the test run's own must keep.
NOT_CHECKED = {"DATABASES", "CACHES", "LOGGING"}


@pytest.mark.django_db  # the model checks ask the database about its features
@pytest.mark.parametrize(
    ("extra", "expected_output"),
    [
        ({}, "System check identified no issues (1 silenced)."),  # HSTS preload is opt-in
        ({"SECURE_HSTS_PRELOAD": "true"}, "System check identified no issues (0 silenced)."),
    ],
)
def test_check_deploy_finds_nothing(extra, expected_output):
    """`manage.py check --deploy` with production's settings (those of settings_from_env for a
    production environment; every other setting is settings.py's, as in production)."""
    production = settings_for({**DEPLOY_ENV, **extra})
    output = io.StringIO()
    with override_settings(**{k: v for k, v in production.items() if k not in NOT_CHECKED}):
        call_command("check", "--deploy", "--fail-level", "WARNING", stdout=output, stderr=output)
    assert "WARNING" not in output.getvalue() and "ERROR" not in output.getvalue()
    assert output.getvalue().strip() == expected_output


# --- Login throttling (django-axes) -------------------------------------------------------------

PASSWORD = "Lisa-long-password-1"


@pytest.fixture
def lisa(django_user_model):
    return django_user_model.objects.create_user("lisa", password=PASSWORD, is_staff=True)


def log_in(client: Client, password: str, *, url: str = LOGIN, username: str = "lisa", **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, times: int, **extra) -> HttpResponse:
    response = None
    for _ in range(times):
        response = log_in(client, "wrong password", **extra)
    return response


@pytest.mark.django_db
def test_five_failed_logins_lock_out_even_the_right_password_until_reset(lisa):
    client = Client(headers={"Accept-Language": "en"})
    response = fail(client, 4)
    assert response.status_code == 200  # the form again, with its error
    assert "did not match" in html_of(response)

    locked = fail(client, 1)
    assert locked.status_code == 429
    assert "Too many failed logins" in html_of(locked)
    assert "15 minutes" in html_of(locked)

    refused = log_in(client, PASSWORD)
    assert refused.status_code == 429 and not logged_in(client)

    call_command("axes_reset_username", "lisa")  # what an administrator runs (or the admin)
    accepted = log_in(client, PASSWORD)
    assert accepted.status_code == 302 and accepted.url == LOOKUP
    assert logged_in(client)


@pytest.mark.django_db
def test_the_lockout_is_per_user_name_and_address(lisa, django_user_model):
    django_user_model.objects.create_user("other", password=PASSWORD)
    client = Client()
    assert fail(client, 5).status_code == 429
    table = [
        ("lisa", "127.0.0.1", 429),  # the locked pair
        ("lisa", "10.0.0.2", 302),  # the same user from elsewhere
        ("other", "127.0.0.1", 302),  # another user from the same address
    ]
    for username, address, status in table:
        response = Client().post(
            LOGIN, {"username": username, "password": PASSWORD}, REMOTE_ADDR=address
        )
        assert response.status_code == status, (username, address)


@pytest.mark.django_db
def test_the_lockout_ends_after_the_cool_off_time(lisa):
    from axes.models import AccessAttempt

    client = Client()
    assert fail(client, 5).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert log_in(client, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_successful_login_resets_the_count(lisa):
    client = Client()
    fail(client, 4)
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    assert fail(client, 4).status_code == 200  # four more failures: not yet locked


@pytest.mark.django_db
def test_the_admin_login_is_throttled_too(lisa):
    client = Client()
    url = reverse("admin:login")
    for _ in range(5):
        response = log_in(client, "wrong password", url=url)
    assert response.status_code == 429
    assert log_in(client, PASSWORD, url=url).status_code == 429
    assert not logged_in(client)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "texts"),
    [
        (None, ["För många misslyckade inloggningar", "15 minuter"]),  # Swedish by default
        ("en", ["Too many failed logins", "15 minutes"]),
    ],
)
def test_the_lockout_page_is_a_translated_page_of_the_site(lisa, language, texts):
    client = Client(headers={"Accept-Language": language} if language else {})
    page = fail(client, 5)
    assert page.status_code == 429
    html = html_of(page)
    for text in texts:
        assert text in html
    assert f'href="{LOGIN}"' in html  # a way back
    assert 'class="site-header"' in html  # the site's layout, not a bare 403 text
    assert inline_content(html) == []
    assert csp_of(page) == EXPECTED_CSP


# --- Sessions end when idle ---------------------------------------------------------------------


@pytest.fixture
def short_sessions(settings):
    settings.SESSION_COOKIE_AGE = 60


def the_session() -> Session:
    return Session.objects.get()


@pytest.mark.django_db
def test_an_idle_session_is_logged_out(short_sessions, en_client):
    assert en_client.get(LOOKUP).status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    cache.clear()  # the session's cached copy (SESSION_ENGINE cached_db) expires with it
    response = en_client.get(LOOKUP)
    assert response.status_code == 302 and response.url.startswith(LOGIN)


def renewed_ago(seconds: int) -> None:
    """Make the session's last renewal `seconds` old, and its expiry 5 s away (DB and cache)."""
    session = the_session()
    store = SessionStore(session_key=session.session_key)
    store[RENEWED_AT] = int(time.time()) - seconds
    store.save()
    Session.objects.update(expire_date=timezone.now() + timedelta(seconds=5))
    cache.clear()


@pytest.mark.django_db
def test_a_request_renews_the_session_once_its_last_renewal_is_a_tenth_of_the_idle_time_old(
    short_sessions, en_client
):
    """60 s of idle time: a request renews a session last renewed 6 s ago or more, and writes
    nothing for one renewed less than 6 s ago (no session write on every request)."""
    en_client.get(LOOKUP)
    renewed_ago(7)
    response = en_client.get(LOOKUP)
    assert response.status_code == 200
    remaining = (the_session().expire_date - timezone.now()).total_seconds()
    assert 50 < remaining <= 60
    cookie = response.cookies["sessionid"]
    assert cookie["expires"] == "" and cookie["max-age"] == ""  # gone when the browser closes
    assert cookie["httponly"] and cookie["samesite"] == "Lax"

    renewed_ago(2)
    response = en_client.get(LOOKUP)
    assert response.status_code == 200
    remaining = (the_session().expire_date - timezone.now()).total_seconds()
    assert remaining <= 5  # not renewed: nothing written
    assert "sessionid" not in response.cookies


# --- Password rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("kort1", False),  # too short
        ("password123", False),  # common
        ("83920174652", False),  # only digits
        ("lisa.svensson", False),  # the user name
        ("Vinter-Ljus-Åker-42", True),
    ],
)
def test_weak_passwords_are_rejected(password, accepted):
    try:
        validate_password(password, user=get_user_model()(username="lisa.svensson"))
    except ValidationError:
        assert not accepted
    else:
        assert accepted


# --- No secret in logs or error reports ---------------------------------------------------------

STORED_PASSWORD = "Fel-lösenord-7731!"  # not the sandbox's: Vitec answers 401
BASIC = base64.b64encode(f"demo:{STORED_PASSWORD}".encode()).decode()
FERNET_TOKEN = Fernet(Fernet.generate_key()).encrypt(b"a stored password").decode()


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Basic {BASIC}", BASIC),
        (f"headers={{'Authorization': 'Basic {BASIC}', 'Accept': 'application/json'}}", BASIC),
        ("HTTP_AUTHORIZATION=Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl", "eyJhbGciOi"),
        ("sent Bearer abcdefghijklmnop0123", "abcdefghijklmnop0123"),
        (f"password={STORED_PASSWORD}&customer=M1001", STORED_PASSWORD),
        ("{'password': 'två ord', 'username': 'demo'}", "två ord"),
        ("api_key: k-123456", "k-123456"),
        ("auth=(b'demo', b'hemligt')", "hemligt"),
        (f"token {FERNET_TOKEN} stored", FERNET_TOKEN),
        ("GET https://demo:hemligt@connect.example/x", "hemligt"),
    ],
)
def test_redact(text, secret):
    cleaned = redact(text)
    assert secret not in cleaned
    assert REDACTED in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "Vitec GET http://127.0.0.1:8001/CRM/Contact/M1001/ADR3ADC7B7B0A9447CA97FCAB43E36B582C"
        " -> 401 in 3 ms",
        "Vitec did not accept the stored API user name or password. Ask your administrator.",
    ],
)
def test_redact_leaves_ordinary_messages_alone(text):
    assert redact(text) == text


def test_every_configured_handler_redacts(settings):
    handlers = settings.LOGGING["handlers"]
    assert handlers
    for name, config in handlers.items():
        assert "redact_secrets" in config.get("filters", []), name
        live = logging.getHandlerByName(name)
        assert any(isinstance(f, RedactSecretsFilter) for f in live.filters), name


@pytest.fixture
def console_output():
    """What the configured console handler writes, at every level."""
    handler = logging.getHandlerByName("console")
    stream = io.StringIO()
    old_stream = handler.setStream(stream)
    old_level = handler.level
    handler.setLevel(logging.DEBUG)
    yield stream
    handler.setStream(old_stream)
    handler.setLevel(old_level)


def test_the_console_handler_writes_redacted_messages_and_tracebacks(console_output):
    logger = logging.getLogger("crmviewer.tests.security")
    logger.warning("Calling Vitec with %s", {"Authorization": f"Basic {BASIC}"})
    logger.warning("Login failed: password=%s token=%s", STORED_PASSWORD, FERNET_TOKEN)
    try:
        raise RuntimeError(f"request failed, Authorization: Basic {BASIC}")
    except RuntimeError:
        logger.exception("Unexpected error")
    written = console_output.getvalue()
    assert "Calling Vitec" in written and "RuntimeError" in written  # the lines are there
    for secret in (BASIC, STORED_PASSWORD, FERNET_TOKEN):
        assert secret not in written
    assert written.count(REDACTED) >= 4


@pytest.mark.django_db
def test_a_rejected_password_never_reaches_the_logs(
    broker, vitec, caplog, capfd, console_output, settings
):
    credential = make_credential(broker, password=STORED_PASSWORD)
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(broker)
    caplog.set_level(logging.DEBUG)
    response = client.get(LOOKUP, {"credential": credential.pk, "ids": IDS})
    assert response.status_code == 200
    assert "did not accept the stored API user name or password" in html_of(response)

    captured = capfd.readouterr()
    outputs = {
        "log records": caplog.text,
        "console handler": console_output.getvalue(),
        "stdout": captured.out,
        "stderr": captured.err,
    }
    assert "401" in caplog.text  # the failed call was logged ...
    assert any(record.levelno == logging.DEBUG for record in caplog.records)  # ... at DEBUG too
    encrypted = credential.password_encrypted
    for where, text in outputs.items():
        for secret in (STORED_PASSWORD, BASIC, encrypted):
            assert secret not in text, where


def _error_report_of_a_failed_vitec_call(settings, reporter_filter: str) -> str:
    """The 500 report (text and HTML) of an error raised deep inside requests, with variables."""
    settings.DEBUG = False  # the filters hide nothing on the debug page
    client = VitecClient(
        base_url="http://127.0.0.1:9",  # discard port: nothing listens, the connection fails
        username="demo",
        password=STORED_PASSWORD,
        timeout=2.0,
        retry=RetryPolicy(max_retries=0),
    )
    try:
        client.fetch_categories("M1001")
    except Exception:
        exc_info = sys.exc_info()
    finally:
        client.close()
    request = RequestFactory().post(
        "/admin/", {"password": STORED_PASSWORD}, HTTP_AUTHORIZATION=f"Basic {BASIC}"
    )
    request.exception_reporter_filter = import_string(reporter_filter)()
    reporter = ExceptionReporter(request, *exc_info)
    return reporter.get_traceback_text() + reporter.get_traceback_html()


@pytest.mark.parametrize(
    ("reporter_filter", "leaks"),
    [
        ("django.views.debug.SafeExceptionReporterFilter", True),  # what Django alone would show
        ("crmviewer.logging.RedactingExceptionReporterFilter", False),
    ],
)
def test_error_reports_hide_the_vitec_password(settings, reporter_filter, leaks):
    report = _error_report_of_a_failed_vitec_call(settings, reporter_filter)
    assert "VitecConnectionError" in report
    assert (BASIC in report) is leaks  # the Authorization header inside urllib3
    assert (STORED_PASSWORD in report) is leaks  # a POSTed password not marked sensitive


def test_the_configured_error_report_filter_is_ours():
    get_default_exception_reporter_filter.cache_clear()  # another test may have filled it
    reporter_filter = get_default_exception_reporter_filter()
    assert type(reporter_filter).__name__ == "RedactingExceptionReporterFilter"
    assert isinstance(reporter_filter, SafeExceptionReporterFilter)


# --- the request id on Django's own "Not Found" line ----------------------------------------------


@pytest.mark.django_db
def test_the_not_found_line_carries_the_request_id(console_output):
    """Django logs "Not Found" after the middleware returned (and reset the request id)."""
    response = Client().get("/no-such-page/", headers={"X-Request-ID": "lost-404"})

    assert response.status_code == 404
    lines = console_output.getvalue().splitlines()
    [not_found] = [line for line in lines if "Not Found: /no-such-page/" in line]
    assert " WARNING django.request [lost-404] Not Found: /no-such-page/" in not_found
    [request_line] = [line for line in lines if " crmviewer.request " in line]
    assert "[lost-404] GET /no-such-page/ 404 " in request_line
