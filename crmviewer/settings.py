"""Settings for crmviewer, read only from the environment (and an optional .env file: the project
folder's, or the one CRMVIEWER_ENV_FILE names; the environment wins over it).

Local defaults (SQLite file, local-memory cache, a throwaway secret) apply only when DEBUG is on.
With DEBUG off, a missing SECRET_KEY or CREDENTIAL_KEYS stops start-up with a clear message.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from crmviewer.dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# The .env file (or CRMVIEWER_ENV_FILE): its values replace the ones an earlier read of it set,
# so a gunicorn reload picks up its changes; the real environment wins over it.
load_dotenv(BASE_DIR / ".env")
env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)


def _required(name: str, *, debug_default: str, hint: str) -> str:
    """A secret that production must set; DEBUG alone gets a throwaway local default."""
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return debug_default
    raise ImproperlyConfigured(
        f"{name} is not set. It is required when DEBUG is off. {hint} "
        "For local work, set DEBUG=1 instead (make demo and make test do)."
    )


SECRET_KEY = _required(
    "SECRET_KEY",
    debug_default="django-insecure-local-development-only",
    hint='Generate one with: python -c "import secrets; print(secrets.token_urlsafe(50))"',
)
# Fernet keys that encrypt stored Vitec passwords: comma-separated, the first encrypts, all decrypt.
CREDENTIAL_KEYS = [
    key.strip()
    for key in _required(
        "CREDENTIAL_KEYS",
        # A fixed, public key: fine for a demo database, useless for real data.
        debug_default="ZGV2ZWxvcG1lbnQtb25seS1ub3QtYS1zZWNyZXQtISE=",
        hint="Generate one with: python -c "
        '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"',
    ).split(",")
    if key.strip()
]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "contacts",
]

MIDDLEWARE = [
    "crmviewer.middleware.RequestIdMiddleware",  # first: every response gets an id and a log line
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files, before anything else runs
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
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

if DEBUG:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
    CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://crmviewer")}
else:
    # No silent fallback in production: a missing DATABASE_URL is an error from django-environ.
    DATABASES = {"default": env.db("DATABASE_URL")}
    CACHES = {"default": env.cache("CACHE_URL")}
# Redis through crmviewer.cache: an unreachable Redis is a cache miss (logged once), never a 500;
# short socket timeouts; plain data only. The same OPTIONS as Django's RedisCache, and more.
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "crmviewer.cache.ResilientRedisCache"

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
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "crmviewer.views.login_locked_out"  # a page saying for how long
AXES_VERBOSE = False  # failures are still logged; no banner on every manage.py command

# Sessions end after SESSION_IDLE_MINUTES without a request (every request renews the expiry),
# and when the browser closes.
SESSION_COOKIE_AGE = 60 * env.int("SESSION_IDLE_MINUTES", default=30)
# Sessions live in the database, with a sealed copy in the cache (CACHE_URL) under an HMAC of the
# session key: every app server behind a load balancer sees every session, none is lost when the
# cache restarts, and the site keeps working while it is down (crmviewer/sessions.py).
SESSION_ENGINE = "crmviewer.sessions"
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

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

# HTTPS only, once DEBUG is off (`make demo` serves plain HTTP on 127.0.0.1).
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a promise to the browsers that is slow to take back: opt in, not default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Load balancers probe /healthz over plain HTTP (crmviewer/health.py).
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Only behind a TLS-terminating proxy that sets X-Forwarded-Proto itself (and drops the client's
# own); otherwise a client could claim HTTPS.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", "Svenska"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# WhiteNoise serves the static files. With DEBUG off, from STATIC_ROOT as `manage.py collectstatic`
# left them: compressed, with a hash of the content in every name, so browsers keep them for ever.
# With DEBUG on, from the app folders as they are, without collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# WhiteNoise's own default is settings.DEBUG as the middleware starts, which pytest-django turns
# off even with DEBUG=1: it would then look for (and warn about) a collected STATIC_ROOT.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Vitec Connect
VITEC_BASE_URL = env.str("VITEC_BASE_URL", default="https://connect.maklare.vitec.net")
VITEC_TIMEOUT = env.float("VITEC_TIMEOUT", default=10.0)  # seconds, connect and read each
VITEC_MAX_CONCURRENCY = env.int("VITEC_MAX_CONCURRENCY", default=4)  # calls in flight per lookup
VITEC_MAX_RETRIES = env.int("VITEC_MAX_RETRIES", default=2)  # retries after the first attempt
VITEC_CACHE_SECONDS = env.int("VITEC_CACHE_SECONDS", default=300)  # Vitec asks us to cache
# Audit events older than this many days are deleted by `python manage.py purge_audit`.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
# Circuit breaker: after this many failed calls in a row for one customer, fail fast for a while.
VITEC_BREAKER_FAILURES = env.int("VITEC_BREAKER_FAILURES", default=5)
VITEC_BREAKER_SECONDS = env.float("VITEC_BREAKER_SECONDS", default=30.0)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "contacts:lookup"
LOGOUT_REDIRECT_URL = "login"

# E-mail, for password reset links: EMAIL_URL in django-environ's form, e.g.
# smtp+tls://user:password@mail.example.com:587 (smtp://, smtp+ssl://, consolemail://, ...).
# Without it crmviewer sends no mail and does not serve the password reset pages (404, see
# crmviewer/accounts.py). Django 6.1 takes mail settings as MAILERS (the EMAIL_* settings that
# django-environ fills are deprecated), so the parsed URL becomes the default mailer.


def _mailer(config: dict) -> dict:
    backend = config["EMAIL_BACKEND"]
    if backend == "django.core.mail.backends.smtp.EmailBackend":
        options = {
            "host": config["EMAIL_HOST"],
            "port": config["EMAIL_PORT"],
            "username": config["EMAIL_HOST_USER"],
            "password": config["EMAIL_HOST_PASSWORD"],
            "use_tls": config.get("EMAIL_USE_TLS", False),
            "use_ssl": config.get("EMAIL_USE_SSL", False),
            "timeout": 10,  # seconds: a mail server that does not answer must not hold a page
        }
    elif backend == "django.core.mail.backends.filebased.EmailBackend":
        options = {"file_path": config["EMAIL_FILE_PATH"]}
    else:  # console, locmem, dummy: no options
        options = {}
    return {
        "BACKEND": backend,
        "OPTIONS": {key: value for key, value in options.items() if value is not None},
    }


PASSWORD_RESET_ENABLED = bool(env.str("EMAIL_URL", default=""))
if PASSWORD_RESET_ENABLED:
    MAILERS = {"default": _mailer(env.email_url("EMAIL_URL"))}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="crmviewer@localhost")

# Log lines go to standard output: one JSON object per line (time, level, logger, message,
# request_id and a record's extra fields) by default with DEBUG off, plain text with DEBUG on.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT is {LOG_FORMAT!r}; it can be json or plain.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "crmviewer.logging.JsonFormatter",
            "fmt": ["levelname", "name", "message", "request_id"],
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601, UTC
        },
    },
    # Every handler gets redact_secrets: no password, Authorization header or token is written.
    # And request_id: the id of the request the line was logged in (crmviewer.middleware).
    "filters": {
        "redact_secrets": {"()": "crmviewer.logging.RedactSecretsFilter"},
        "request_id": {"()": "crmviewer.logging.RequestIdFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
# Error reports (500 mails, DEBUG off) also hide headers, tokens and secret-looking variables.
DEFAULT_EXCEPTION_REPORTER_FILTER = "crmviewer.logging.RedactingExceptionReporterFilter"
