"""Settings for crmviewer, read only from the environment (and an optional .env file: the project
folder's, or the one CRMVIEWER_ENV_FILE names; the environment wins over it).

Local defaults (SQLite file, local-memory cache, a throwaway secret) apply only when DEBUG is on.
With DEBUG off, a missing SECRET_KEY or CREDENTIAL_KEYS stops start-up with a clear message.

Every setting whose value depends on the environment is computed by
`crmviewer.config.settings_from_env` (the tests call it with environments of their own); it is
declared below with its type, beside the settings that are the same everywhere.
"""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils.csp import CSP

from crmviewer.config import settings_from_env
from crmviewer.dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# The .env file (or CRMVIEWER_ENV_FILE): its values replace the ones an earlier read of it set,
# so a gunicorn reload picks up its changes; the real environment wins over it.
load_dotenv(BASE_DIR / ".env")
# The settings from the environment, each declared (with its variable) where it belongs below.
globals().update(settings_from_env(os.environ, BASE_DIR))

DEBUG: bool  # DEBUG, off unless set
SECRET_KEY: str  # SECRET_KEY: required with DEBUG off
# CREDENTIAL_KEYS: Fernet keys that encrypt stored Vitec passwords, comma-separated, the first
# encrypts, all decrypt. Required with DEBUG off.
CREDENTIAL_KEYS: list[str]
ALLOWED_HOSTS: list[str]  # ALLOWED_HOSTS; with DEBUG, 127.0.0.1 and localhost by default
CSRF_TRUSTED_ORIGINS: list[str]  # CSRF_TRUSTED_ORIGINS

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_tasks_db",
    "contacts",
]

MIDDLEWARE = [
    "crmviewer.middleware.RequestIdMiddleware",  # first: every response gets an id and a log line
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files, before anything else runs
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "crmviewer.middleware.SessionRenewalMiddleware",  # the idle timeout, without a write a request
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "crmviewer.middleware.NoStoreForAuthenticatedMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Before any view reads a parameter; after the user and messages, for its page.
    "crmviewer.middleware.RefuseControlCharactersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "crmviewer.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "crmviewer.wsgi.application"

# DATABASE_URL and CACHE_URL, required with DEBUG off; with DEBUG, a SQLite file and the
# local-memory cache by default. A redis:// cache is crmviewer.cache.ResilientRedisCache.
DATABASES: dict[str, dict[str, Any]]
CACHES: dict[str, dict[str, Any]]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling (django-axes): too many failed logins for one user name from one address lock
# that pair out for a while. The axes backend goes first so a locked-out login is never checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT: int  # LOGIN_FAILURE_LIMIT, 5 by default
AXES_COOLOFF_TIME: timedelta  # LOGIN_LOCKOUT_MINUTES, 15 by default
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "crmviewer.views.login_locked_out"  # a page saying for how long
AXES_VERBOSE = False  # failures are still logged; no banner on every manage.py command

# Sessions end after SESSION_IDLE_MINUTES without a request (a request renews the expiry when the
# last renewal is a tenth of that old, at most a minute: crmviewer.middleware), and when the
# browser closes.
SESSION_COOKIE_AGE: int  # seconds: SESSION_IDLE_MINUTES, 30 by default
# Sessions live in the database, with a sealed copy in the cache (CACHE_URL) under an HMAC of the
# session key: every app server behind a load balancer sees every session, none is lost when the
# cache restarts, and the site keeps working while it is down (crmviewer/sessions.py).
SESSION_ENGINE = "crmviewer.sessions"
SESSION_SAVE_EVERY_REQUEST = False  # SessionRenewalMiddleware renews a session in use
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
# A form refused by the CSRF check (a page left open too long): a page that says to reload.
CSRF_FAILURE_VIEW = "crmviewer.errors.csrf_failure"

# Response headers. Everything a page loads comes from this site: no inline script or style
# (nor does Django's admin, for lists with actions), no plugins, no framing, forms post to us.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# HTTPS only, once DEBUG is off (`make demo` serves plain HTTP on 127.0.0.1): then secure
# cookies, SECURE_SSL_REDIRECT (on by default), SECURE_HSTS_SECONDS (a year by default) with
# subdomains, and SECURE_HSTS_PRELOAD (off by default, its check W021 silenced then). With DEBUG
# on, Django's defaults: none of that.
SESSION_COOKIE_SECURE: bool
CSRF_COOKIE_SECURE: bool
SECURE_SSL_REDIRECT: bool
SECURE_HSTS_SECONDS: int
SECURE_HSTS_INCLUDE_SUBDOMAINS: bool
SECURE_HSTS_PRELOAD: bool
SILENCED_SYSTEM_CHECKS: list[str]
# Load balancers probe /healthz over plain HTTP (crmviewer/health.py).
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# TRUST_X_FORWARDED_PROTO=true: only behind a TLS-terminating proxy that sets X-Forwarded-Proto
# itself (and drops the client's own); otherwise a client could claim HTTPS.
SECURE_PROXY_SSL_HEADER: tuple[str, str] | None

LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", "Svenska"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT: Path  # STATIC_ROOT, the project's staticfiles folder by default
# WhiteNoise serves the static files. With DEBUG off, from STATIC_ROOT as `manage.py collectstatic`
# left them: compressed, with a hash of the content in every name, so browsers keep them for ever.
# With DEBUG on, from the app folders as they are, without collectstatic.
STORAGES: dict[str, dict[str, Any]]
WHITENOISE_USE_FINDERS: bool  # = DEBUG
WHITENOISE_AUTOREFRESH: bool  # = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Vitec Connect, each setting from the variable of its name
VITEC_BASE_URL: str  # https://connect.maklare.vitec.net by default
VITEC_TIMEOUT: float  # seconds, connect and read each; 10 by default
VITEC_MAX_CONCURRENCY: int  # calls in flight per lookup: 10 by default, 200 ids in one round
# Calls in flight per customer across every worker and app server sharing CACHE_URL (per process
# on the local-memory cache): 20 by default (contacts/vitec/limiter.py).
VITEC_CUSTOMER_MAX_IN_FLIGHT: int
VITEC_MAX_RETRIES: int  # retries after the first attempt; 2 by default
VITEC_CACHE_SECONDS: int  # Vitec asks us to cache; 300 by default
# Audit events older than this many days are deleted by `python manage.py purge_audit`; 365.
AUDIT_RETENTION_DAYS: int
# Circuit breaker: after this many failed calls in a row (each after its retries; never a 4xx) for
# one credential (5), fail fast for a while (30 seconds).
VITEC_BREAKER_FAILURES: int
VITEC_BREAKER_SECONDS: float

# The office register and background tasks, each from the variable of its name.
TASKS: dict[str, Any]  # TASKS_BACKEND: database (db_worker runs them, default) or immediate
REGISTER_SYNC_MINUTES: int  # every customer is synced again this often; 15
REGISTER_RECONCILE_HOURS: int  # a sync lists every id at least this often; 6
REGISTER_RETENTION_DAYS: int  # a register without an active credential is deleted after; 30
ID_LIST_RETENTION_DAYS: int  # an unnamed list of ids unused this many days is deleted; 30
VITEC_WEBHOOK_TOKEN: str  # the secret part of Vitec's notification URL; none: no endpoint

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "contacts:lookup"
LOGOUT_REDIRECT_URL = "login"

# E-mail, for password reset links: EMAIL_URL in django-environ's form, e.g.
# smtp+tls://user:password@mail.example.com:587 (smtp://, smtp+ssl://, consolemail://, ...).
# Without it crmviewer sends no mail and does not serve the password reset pages (404, see
# crmviewer/accounts.py), and MAILERS stays unset. With it, the parsed URL is the default mailer
# (Django 6.1 takes mail settings as MAILERS; the EMAIL_* settings are deprecated).
PASSWORD_RESET_ENABLED: bool
MAILERS: dict[str, dict[str, Any]]
DEFAULT_FROM_EMAIL: str  # DEFAULT_FROM_EMAIL, crmviewer@localhost by default

# Log lines go to standard output: one JSON object per line (time, level, logger, message,
# request_id and a record's extra fields) by default with DEBUG off, plain text with DEBUG on
# (LOG_FORMAT: json or plain, anything else stops start-up), at LOG_LEVEL (INFO by default).
# Every line has the request id and passes the filter that redacts secrets.
LOG_FORMAT: str
LOGGING: dict[str, Any]
# Error reports (500 mails, DEBUG off) also hide headers, tokens and secret-looking variables.
DEFAULT_EXCEPTION_REPORTER_FILTER = "crmviewer.logging.RedactingExceptionReporterFilter"
