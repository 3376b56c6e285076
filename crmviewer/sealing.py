"""Sealed cache values: what crmviewer puts in the cache about people is encrypted, and bound to
the key it is stored under.

Whoever can read Redis (a backup, a replica, a debugging session, a misplaced port) must find no
name, personnummer, phone number or session in it. Each value is pickled together with its cache
key and encrypted with Fernet (AES-128-CBC and HMAC-SHA256) under keys derived for the purpose
from CREDENTIAL_KEYS with HKDF-SHA256: one derived key per credential key, in the same order, so
the first seals and every one unseals, and rotating CREDENTIAL_KEYS (README) rotates these too.
The derived keys differ from the keys that encrypt the stored Vitec passwords (and per purpose),
so a cached token never decrypts as a password or as another purpose's value.

`unseal` gives MISSING for anything that is not a value sealed by us for that key: garbage, a
token from an unknown key, an expired one (`max_age`), or a value copied from another key (such
as another user's contact): the caller takes it as a cache miss and asks the source again.
Only data that passed Fernet's authentication is unpickled.
"""

from __future__ import annotations

import base64
import pickle
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PURPOSES = frozenset({"contacts", "sessions", "register"})


class _Missing:
    def __repr__(self) -> str:
        return "<MISSING>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def _derive(key: str, purpose: str) -> Fernet:
    try:
        Fernet(key.encode())  # the same check as for the passwords' keys
        material = base64.urlsafe_b64decode(key.encode())
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "CREDENTIAL_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)."
        ) from exc
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"crmviewer sealed cache",
        info=f"crmviewer:v1:cache:{purpose}".encode(),
    )
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(material)))


@cache
def _fernet(keys: tuple[str, ...], purpose: str) -> MultiFernet:
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown sealing purpose {purpose!r}")
    if not keys:
        raise ImproperlyConfigured("CREDENTIAL_KEYS is empty: at least one Fernet key is needed.")
    return MultiFernet([_derive(key, purpose) for key in keys])


def _current(purpose: str) -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIAL_KEYS), purpose)


def seal(value: Any, *, purpose: str, key: str) -> bytes:
    """`value`, encrypted for `purpose` and bound to the cache key `key`."""
    plaintext = pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL)
    return _current(purpose).encrypt(plaintext)


def unseal(token: Any, *, purpose: str, key: str, max_age: int | None = None) -> Any:
    """The value sealed under `key` for `purpose`, or MISSING (never an exception)."""
    if not isinstance(token, bytes):
        return MISSING
    try:
        plaintext = _current(purpose).decrypt(token, ttl=max_age)
    except InvalidToken:
        return MISSING
    try:
        sealed_key, value = pickle.loads(plaintext)  # noqa: S301 (authenticated: sealed by us)
    except Exception:
        return MISSING
    return value if sealed_key == key else MISSING
