"""Encryption at rest of stored Vitec passwords: the one place a password is encrypted or decrypted.

Keys come from settings.CREDENTIAL_KEYS (Fernet keys, comma-separated). The first key encrypts;
every key decrypts, so a new key can be put first and old tokens re-encrypted with
`python manage.py rotate_credential_keys` before the old key is dropped.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

UNREADABLE = _(
    "The stored password cannot be decrypted with the configured CREDENTIAL_KEYS. "
    "Set the password again."
)


class CredentialDecryptionError(Exception):
    """A stored password could not be decrypted with any configured key."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("CREDENTIAL_KEYS is empty: at least one Fernet key is needed.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "CREDENTIAL_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)."
        ) from exc


def _current() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIAL_KEYS))


def encrypt_secret(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialDecryptionError(UNREADABLE) from exc


def rotate_secret(token: str) -> str:
    """The same secret, encrypted again with the first key."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialDecryptionError(UNREADABLE) from exc


def validate_keys() -> None:
    """Raise ImproperlyConfigured now rather than at the first lookup."""
    _current()
