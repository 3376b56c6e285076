"""Sessions in the database, with a sealed copy in the cache (SESSION_ENGINE "crmviewer.sessions").

Like Django's cached_db engine, every session is written to the database (the truth: any app
server reads any session, and no one is logged out when the cache restarts) and a copy is kept in
the cache to spare the database a read per request. Unlike it:

- the cache can be down: a session is then read from the database, and writes and deletes go to
  the database only. A cached copy that could not be replaced or deleted (say, a log-out while
  Redis was unreachable) is remembered in this process and deleted before this process reads a
  session from the cache again, so a logged-out session does not come back with Redis;
- the cache key is an HMAC of the session key (with SECRET_KEY), never the session key: whoever
  lists Redis's keys learns no session to use as a cookie;
- the cached copy is sealed (crmviewer/sealing.py): encrypted, and bound to its key.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.utils.crypto import salted_hmac

from crmviewer.cache import is_down
from crmviewer.sealing import MISSING, seal, unseal

if TYPE_CHECKING:
    from django.contrib.sessions.base_session import AbstractBaseSession
    from django.core.cache.backends.base import BaseCache

logger = logging.getLogger(__name__)

KEY_PREFIX = "crmviewer:v1:session:"
_KEY_SALT = "crmviewer.sessions.cache-key"
_PURPOSE = "sessions"

# Cache keys whose cached copy may be stale because a write or delete did not reach the cache.
_stale: set[str] = set()
_stale_lock = threading.Lock()
_MAX_STALE = 10_000


def cache_key_of(session_key: str) -> str:
    """The cache key of a session: an HMAC of its key, which cannot be turned back into it."""
    return KEY_PREFIX + salted_hmac(_KEY_SALT, session_key, algorithm="sha256").hexdigest()


class SessionStore(CachedDBStore):
    cache_key_prefix = KEY_PREFIX

    if TYPE_CHECKING:
        # Django's own members that this engine builds on, as Django 6.1 has them; django-stubs
        # leaves the private ones out.
        _cache: BaseCache
        _session: dict[str, Any]

        def _get_or_create_session_key(self) -> str: ...
        async def _aget_or_create_session_key(self) -> str: ...
        def _get_session_from_db(self) -> AbstractBaseSession | None: ...

    @property
    def cache_key(self) -> str:
        return cache_key_of(self._get_or_create_session_key())

    async def acache_key(self) -> str:
        return cache_key_of(await self._aget_or_create_session_key())

    # --- the cached copy -------------------------------------------------------------------

    def _failed(self, what: str, exc: Exception) -> None:
        # The resilient Redis backend raises nothing when Redis is down; another backend might.
        logger.warning("Session cache %s failed: %s", what, type(exc).__name__)

    def _cache_get(self, key: str) -> dict[str, Any] | None:
        self._forget_stale()
        try:
            token = self._cache.get(key)
        except Exception as exc:
            self._failed("read", exc)
            return None
        if token is None:
            return None
        data = unseal(token, purpose=_PURPOSE, key=key)
        return None if data is MISSING else data

    def _cache_set(self, key: str, data: dict[str, Any], timeout: int) -> None:
        self._forget_stale()
        try:
            self._cache.set(key, seal(data, purpose=_PURPOSE, key=key), timeout)
        except Exception as exc:
            self._failed("write", exc)
            self._remember_stale(key)
            return
        if is_down(self._cache):
            self._remember_stale(key)
        else:
            with _stale_lock:
                _stale.discard(key)

    def _cache_delete(self, key: str) -> None:
        try:
            self._cache.delete(key)
        except Exception as exc:
            self._failed("delete", exc)
            self._remember_stale(key)
            return
        if is_down(self._cache):
            self._remember_stale(key)

    def _remember_stale(self, key: str) -> None:
        with _stale_lock:
            if len(_stale) < _MAX_STALE:
                _stale.add(key)
                return
        logger.warning("Too many stale session copies to remember: one may outlive its session")

    def _forget_stale(self) -> None:
        """Delete the cached copies that a write or delete could not reach while the cache was
        down."""
        if not _stale:
            return
        # Tried even while the cache says it is down: after its pause, this is the attempt that
        # finds it back (it returns at once within the pause). Deleted before anything is read.
        with _stale_lock:
            keys = list(_stale)
        try:
            self._cache.delete_many(keys)
        except Exception as exc:
            self._failed("delete", exc)
            return
        if not is_down(self._cache):
            with _stale_lock:
                _stale.difference_update(keys)

    # --- the SessionStore interface ---------------------------------------------------------

    def load(self) -> dict[str, Any]:
        data = self._cache_get(self.cache_key)
        if data is not None:
            return data
        session = self._get_session_from_db()
        if not session:
            return {}
        data = self.decode(session.session_data)
        self._cache_set(self.cache_key, data, self.get_expiry_age(expiry=session.expire_date))
        return data

    async def aload(self) -> dict[str, Any]:
        return await sync_to_async(self.load)()

    def exists(self, session_key: str) -> bool:
        if not session_key:
            return False
        try:
            cached = cache_key_of(session_key) in self._cache
        except Exception as exc:
            self._failed("read", exc)
            cached = False
        return cached or DBStore.exists(self, session_key)

    async def aexists(self, session_key: str) -> bool:
        return await sync_to_async(self.exists)(session_key)

    def save(self, must_create: bool = False) -> None:
        DBStore.save(self, must_create)
        self._cache_set(self.cache_key, self._session, self.get_expiry_age())

    async def asave(self, must_create: bool = False) -> None:
        await sync_to_async(self.save)(must_create)

    def delete(self, session_key: str | None = None) -> None:
        DBStore.delete(self, session_key)
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        self._cache_delete(cache_key_of(session_key))

    async def adelete(self, session_key: str | None = None) -> None:
        await sync_to_async(self.delete)(session_key)
