"""/healthz: whether this app server can use its database and its cache, for a load balancer.

The database is needed for every page: without it the answer is 503, so the load balancer sends
brokers to another server. The cache only saves work (crmviewer/cache.py): without it pages still
work, more slowly, so the answer stays 200 and says "degraded"; taking every server out of the
pool because the Redis they share is down would turn a slow site into no site.
"""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from crmviewer.cache import is_down

logger = logging.getLogger(__name__)


def _database() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def _cache() -> bool:
    # A key of its own on every probe: app servers sharing one cache never read each other's.
    key, value = f"crmviewer:healthz:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    try:
        return cache.get(key) == value
    finally:
        cache.delete(key)


def _database_status() -> str:
    try:
        if _database():
            return "ok"
        logger.error("Health check: the database gave a wrong answer")
    except Exception as exc:  # whatever broke, the answer is a status, never a traceback
        logger.error("Health check: the database failed: %s: %s", type(exc).__name__, exc)
    return "error"


def _cache_status() -> str:
    try:
        if _cache() and not is_down(cache):
            return "ok"
        if not is_down(cache):  # an outage the cache backend already logged (once) is not repeated
            logger.warning("Health check: the cache gave a wrong answer")
    except Exception as exc:
        logger.warning("Health check: the cache failed: %s: %s", type(exc).__name__, exc)
    return "degraded"


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 "ok" when every part works; 200 "degraded" when only the cache does not; 503 "error"
    when the database does not. Never stored by a cache."""
    parts = {"database": _database_status(), "cache": _cache_status()}
    if parts["database"] != "ok":
        status, code = "error", 503
    elif parts["cache"] != "ok":
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    response = JsonResponse({"status": status, **parts}, status=code)
    response["Cache-Control"] = "no-store"
    return response
