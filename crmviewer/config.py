"""The settings that depend on the environment, computed from a mapping of its variables.

crmviewer/settings.py applies the .env file, then takes every name `settings_from_env(os.environ,
BASE_DIR)` returns as a setting; tests call it with a mapping of their own, in their own process.
A setting the result leaves out keeps Django's default (MAILERS without EMAIL_URL stays unset).

Local defaults (SQLite file, local-memory cache, a throwaway secret) apply only when DEBUG is on.
With DEBUG off, a missing SECRET_KEY or CREDENTIAL_KEYS stops start-up with a clear message.

No Django settings are read here (none exist yet when settings.py calls this).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ as django_environ
from django.core.exceptions import ImproperlyConfigured


def settings_from_env(environ: Mapping[str, str], base_dir: Path) -> dict[str, Any]:
    """Every environment-dependent setting, by name, for the variables in `environ`."""
    env = django_environ.Env()
    env.ENVIRON = environ  # read this mapping, not os.environ
    debug = env.bool("DEBUG", default=False)
    return {
        "DEBUG": debug,
        **_secrets(env, debug),
        **_hosts(env, debug),
        **_database_and_cache(env, debug, base_dir),
        **_login_and_sessions(env),
        **_https(env, debug),
        **_static_files(env, debug, base_dir),
        **_vitec(env),
        **_register_and_tasks(env),
        **_mail(env),
        **_logging(env, debug),
    }


# --- Secrets ------------------------------------------------------------------------------------


def _required(env: Any, debug: bool, name: str, *, debug_default: str, hint: str) -> str:
    """A secret that production must set; DEBUG alone gets a throwaway local default."""
    value: str = env.str(name, default="")
    if value:
        return value
    if debug:
        return debug_default
    raise ImproperlyConfigured(
        f"{name} is not set. It is required when DEBUG is off. {hint} "
        "For local work, set DEBUG=1 instead (make demo and make test do)."
    )


def _secrets(env: Any, debug: bool) -> dict[str, Any]:
    secret_key = _required(
        env,
        debug,
        "SECRET_KEY",
        debug_default="django-insecure-local-development-only",
        hint='Generate one with: python -c "import secrets; print(secrets.token_urlsafe(50))"',
    )
    # Fernet keys that encrypt stored Vitec passwords: comma-separated, the first encrypts, all
    # decrypt.
    credential_keys = _required(
        env,
        debug,
        "CREDENTIAL_KEYS",
        # A fixed, public key: fine for a demo database, useless for real data.
        debug_default="ZGV2ZWxvcG1lbnQtb25seS1ub3QtYS1zZWNyZXQtISE=",
        hint="Generate one with: python -c "
        '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"',
    )
    return {
        "SECRET_KEY": secret_key,
        "CREDENTIAL_KEYS": [key.strip() for key in credential_keys.split(",") if key.strip()],
    }


def _hosts(env: Any, debug: bool) -> dict[str, Any]:
    return {
        "ALLOWED_HOSTS": env.list(
            "ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if debug else []
        ),
        "CSRF_TRUSTED_ORIGINS": env.list("CSRF_TRUSTED_ORIGINS", default=[]),
    }


# --- Database and cache -------------------------------------------------------------------------

LOCMEM_MAX_ENTRIES = 10_000  # the local-memory cache's size: about ten lookups of 1,000 ids


def _database_and_cache(env: Any, debug: bool, base_dir: Path) -> dict[str, Any]:
    if debug:
        database = env.db("DATABASE_URL", default=f"sqlite:///{base_dir / 'db.sqlite3'}")
        cache = env.cache("CACHE_URL", default="locmemcache://crmviewer")
    else:
        # No silent fallback in production: a missing DATABASE_URL is an error from
        # django-environ.
        database = env.db("DATABASE_URL")
        cache = env.cache("CACHE_URL")
    # Redis through crmviewer.cache: an unreachable Redis is a cache miss (logged once), never a
    # 500; short socket timeouts; plain data only. The same OPTIONS as Django's RedisCache, and
    # more.
    if database.get("ENGINE") == "django.db.backends.postgresql":
        # Connections pooled per process (psycopg_pool): a page borrows one instead of opening
        # one (a connection's start was about a twelfth of a cached page's time), and gives it
        # back when it is done or is about to wait on Vitec. At most one a thread of gunicorn
        # (GUNICORN_THREADS, as gunicorn.conf.py reads it), so workers x threads stays the bound
        # against PostgreSQL's max_connections; two kept open.
        size = env.int("GUNICORN_THREADS", default=16)
        database.setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(2, size),
            "max_size": size,
            "timeout": 10.0,
        }
    if cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
        cache["BACKEND"] = "crmviewer.cache.ResilientRedisCache"
    if cache["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache":
        # Django's default of 300 entries holds a third of one 1,000-id lookup (an entry per
        # contact): the demo and single-process installs keep a whole one, and more.
        cache.setdefault("OPTIONS", {}).setdefault("MAX_ENTRIES", LOCMEM_MAX_ENTRIES)
    return {"DATABASES": {"default": database}, "CACHES": {"default": cache}}


# --- Login throttling and sessions --------------------------------------------------------------


def _login_and_sessions(env: Any) -> dict[str, Any]:
    return {
        # Login throttling (django-axes, settings.py): too many failed logins for one user name
        # from one address lock that pair out for a while.
        "AXES_FAILURE_LIMIT": env.int("LOGIN_FAILURE_LIMIT", default=5),
        "AXES_COOLOFF_TIME": timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15)),
        # Sessions end after SESSION_IDLE_MINUTES without a request (a request in use renews the
        # expiry, at most once a minute: crmviewer.middleware), and when the browser closes.
        "SESSION_COOKIE_AGE": 60 * env.int("SESSION_IDLE_MINUTES", default=30),
    }


# --- HTTPS --------------------------------------------------------------------------------------


def _https(env: Any, debug: bool) -> dict[str, Any]:
    """HTTPS only, once DEBUG is off (`make demo` serves plain HTTP on 127.0.0.1)."""
    https: dict[str, Any] = {}
    if not debug:
        preload = env.bool("SECURE_HSTS_PRELOAD", default=False)
        https = {
            "SESSION_COOKIE_SECURE": True,
            "CSRF_COOKIE_SECURE": True,
            "SECURE_SSL_REDIRECT": env.bool("SECURE_SSL_REDIRECT", default=True),
            "SECURE_HSTS_SECONDS": env.int("SECURE_HSTS_SECONDS", default=31536000),
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
            "SECURE_HSTS_PRELOAD": preload,
        }
        if not preload:
            # Preloading is a promise to the browsers that is slow to take back: opt in, not
            # default.
            https["SILENCED_SYSTEM_CHECKS"] = ["security.W021"]
    # Only behind a TLS-terminating proxy that sets X-Forwarded-Proto itself (and drops the
    # client's own); otherwise a client could claim HTTPS.
    if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
        https["SECURE_PROXY_SSL_HEADER"] = ("HTTP_X_FORWARDED_PROTO", "https")
    return https


# --- Static files -------------------------------------------------------------------------------


def _static_files(env: Any, debug: bool, base_dir: Path) -> dict[str, Any]:
    return {
        "STATIC_ROOT": env.path("STATIC_ROOT", default=base_dir / "staticfiles"),
        # WhiteNoise serves the static files. With DEBUG off, from STATIC_ROOT as `manage.py
        # collectstatic` left them: compressed, with a hash of the content in every name, so
        # browsers keep them for ever. With DEBUG on, from the app folders as they are, without
        # collectstatic.
        "STORAGES": {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
                if debug
                else "whitenoise.storage.CompressedManifestStaticFilesStorage"
            },
        },
        # WhiteNoise's own default is settings.DEBUG as the middleware starts, which pytest-django
        # turns off even with DEBUG=1: it would then look for (and warn about) a collected
        # STATIC_ROOT.
        "WHITENOISE_USE_FINDERS": debug,
        "WHITENOISE_AUTOREFRESH": debug,
    }


# --- Vitec Connect and the audit trail ----------------------------------------------------------


def _vitec(env: Any) -> dict[str, Any]:
    return {
        "VITEC_BASE_URL": env.str("VITEC_BASE_URL", default="https://connect.maklare.vitec.net"),
        # Seconds, connect and read each.
        "VITEC_TIMEOUT": env.float("VITEC_TIMEOUT", default=10.0),
        # Calls in flight per lookup.
        "VITEC_MAX_CONCURRENCY": env.int("VITEC_MAX_CONCURRENCY", default=10),
        "VITEC_CUSTOMER_MAX_IN_FLIGHT": env.int("VITEC_CUSTOMER_MAX_IN_FLIGHT", default=20),
        # Retries after the first attempt.
        "VITEC_MAX_RETRIES": env.int("VITEC_MAX_RETRIES", default=2),
        # Vitec asks us to cache.
        "VITEC_CACHE_SECONDS": env.int("VITEC_CACHE_SECONDS", default=300),
        # Audit events older than this many days are deleted by `python manage.py purge_audit`.
        "AUDIT_RETENTION_DAYS": env.int("AUDIT_RETENTION_DAYS", default=365),
        # Circuit breaker: after this many failed calls in a row (each after its retries; never a
        # 4xx) for one credential, fail fast for a while.
        "VITEC_BREAKER_FAILURES": env.int("VITEC_BREAKER_FAILURES", default=5),
        "VITEC_BREAKER_SECONDS": env.float("VITEC_BREAKER_SECONDS", default=30.0),
    }


# --- The office register and background tasks --------------------------------------------------

TASK_BACKENDS = {
    # Tasks wait in the database until `python manage.py db_worker` runs them (django-tasks-db).
    "database": "django_tasks_db.DatabaseBackend",
    # Tasks run at once, in the process that enqueues them (tests, a single process).
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
}


def _register_and_tasks(env: Any) -> dict[str, Any]:
    backend = env.str("TASKS_BACKEND", default="database")
    if backend not in TASK_BACKENDS:
        choices = ", ".join(TASK_BACKENDS)
        raise ImproperlyConfigured(f"TASKS_BACKEND is {backend!r}; it can be {choices}.")
    webhook_token = env.str("VITEC_WEBHOOK_TOKEN", default="")
    if webhook_token and len(webhook_token) < 32:
        raise ImproperlyConfigured(
            "VITEC_WEBHOOK_TOKEN must be at least 32 characters: it is all that protects the "
            'notification URL. Generate one with: python -c "import secrets; '
            'print(secrets.token_urlsafe(32))"'
        )
    return {
        "TASKS": {"default": {"BACKEND": TASK_BACKENDS[backend], "QUEUES": ["default"]}},
        # Every customer's register is synced again this often, without anybody asking.
        "REGISTER_SYNC_MINUTES": env.int("REGISTER_SYNC_MINUTES", default=15),
        # A sync that lists every id (to drop deleted and merged contacts) at least this often;
        # the ones between ask only for what changed.
        "REGISTER_RECONCILE_HOURS": env.int("REGISTER_RECONCILE_HOURS", default=6),
        # A register with no active credential for its customer is deleted after this many days.
        "REGISTER_RETENTION_DAYS": env.int("REGISTER_RETENTION_DAYS", default=30),
        # A list of ids made for a long lookup (not saved by name) is deleted after this many days
        # unused.
        "ID_LIST_RETENTION_DAYS": env.int("ID_LIST_RETENTION_DAYS", default=30),
        # Empty: no notification endpoint at all.
        "VITEC_WEBHOOK_TOKEN": webhook_token,
    }


# --- E-mail -------------------------------------------------------------------------------------

# E-mail, for password reset links: EMAIL_URL in django-environ's form, e.g.
# smtp+tls://user:password@mail.example.com:587 (smtp://, smtp+ssl://, consolemail://, ...).
# Without it crmviewer sends no mail and does not serve the password reset pages (404, see
# crmviewer/accounts.py). Django 6.1 takes mail settings as MAILERS (the EMAIL_* settings that
# django-environ fills are deprecated), so the parsed URL becomes the default mailer.


def _mailer(config: dict[str, Any]) -> dict[str, Any]:
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


def _mail(env: Any) -> dict[str, Any]:
    enabled = bool(env.str("EMAIL_URL", default=""))
    mail: dict[str, Any] = {
        "PASSWORD_RESET_ENABLED": enabled,
        "DEFAULT_FROM_EMAIL": env.str("DEFAULT_FROM_EMAIL", default="crmviewer@localhost"),
    }
    if enabled:
        mail["MAILERS"] = {"default": _mailer(env.email_url("EMAIL_URL"))}
    return mail


# --- Logging ------------------------------------------------------------------------------------


def _logging(env: Any, debug: bool) -> dict[str, Any]:
    """Log lines go to standard output: one JSON object per line (time, level, logger, message,
    request_id and a record's extra fields) by default with DEBUG off, plain text with DEBUG on."""
    log_format = env.str("LOG_FORMAT", default="plain" if debug else "json")
    if log_format not in {"json", "plain"}:
        raise ImproperlyConfigured(f"LOG_FORMAT is {log_format!r}; it can be json or plain.")
    logging = {
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
        # Every handler gets redact_secrets: no password, Authorization header or token is
        # written. And request_id: the id of the request the line was logged in
        # (crmviewer.middleware).
        "filters": {
            "redact_secrets": {"()": "crmviewer.logging.RedactSecretsFilter"},
            "request_id": {"()": "crmviewer.logging.RequestIdFilter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": log_format,
                "filters": ["request_id", "redact_secrets"],
            }
        },
        "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    }
    return {"LOG_FORMAT": log_format, "LOGGING": logging}
