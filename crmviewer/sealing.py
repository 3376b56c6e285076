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
import hashlib
import pickle
import threading
import time
from collections import OrderedDict
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


class UnsealedMemo:
    """Values this process unsealed lately, by purpose, cache key and a digest of the very token:
    the same token again (the same cached contacts on the next page) is not decrypted and
    unpickled again. Only for immutable values (frozen dataclasses, tuples, strings), which every
    request may then share.

    A value is given back only for the identical token it was unsealed from, and only while the
    token is at most `max_age` old (by the time sealed in it, as Fernet checks): a token the
    cache no longer holds, or one sealed anew, finds nothing here. At most `size` values are
    kept, the least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[MultiFernet, str, bytes], tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def unseal(self, token: Any, *, purpose: str, key: str, max_age: int | None = None) -> Any:
        """As `unseal`, remembered."""
        if not isinstance(token, bytes):
            return MISSING
        # Under the keys in use now: after CREDENTIAL_KEYS change, every token is unsealed anew.
        entry = (_current(purpose), key, hashlib.blake2b(token, digest_size=16).digest())
        with self._lock:
            remembered = self._entries.get(entry)
            if remembered is not None:
                self._entries.move_to_end(entry)
        if remembered is not None:
            sealed_at, value = remembered
            if max_age is None or time.time() - sealed_at <= max_age:
                return value
        value = unseal(token, purpose=purpose, key=key, max_age=max_age)
        if value is MISSING:
            return MISSING
        # Fernet's token: a version byte, then the time it was made (8 bytes, big-endian), the
        # first 12 bytes in 16 characters of url-safe base64. The token has just been verified.
        sealed_at = int.from_bytes(base64.urlsafe_b64decode(token[:16])[1:9], "big")
        with self._lock:
            self._entries[entry] = (sealed_at, value)
            self._entries.move_to_end(entry)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value
