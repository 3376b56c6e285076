"""Settings for crmviewer, read only from the environment (and an optional .env file).

Local defaults (SQLite file, local-memory cache, a throwaway secret) apply only when DEBUG is on.
With DEBUG off, a missing SECRET_KEY or CREDENTIAL_KEYS stops start-up with a clear message.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

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
    "contacts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", "Svenska"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Vitec Connect
VITEC_BASE_URL = env.str("VITEC_BASE_URL", default="https://connect.maklare.vitec.net")
VITEC_TIMEOUT = env.float("VITEC_TIMEOUT", default=10.0)  # seconds, connect and read each
VITEC_MAX_CONCURRENCY = env.int("VITEC_MAX_CONCURRENCY", default=4)  # calls in flight per lookup
VITEC_MAX_RETRIES = env.int("VITEC_MAX_RETRIES", default=2)  # retries after the first attempt
VITEC_CACHE_SECONDS = env.int("VITEC_CACHE_SECONDS", default=300)  # Vitec asks us to cache

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "contacts:lookup"
LOGOUT_REDIRECT_URL = "login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
