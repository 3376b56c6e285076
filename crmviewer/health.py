"""/healthz: whether this app server can use its database and its cache, for a load balancer."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

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


CHECKS: dict[str, Callable[[], bool]] = {"database": _database, "cache": _cache}


def _status(name: str, check: Callable[[], bool]) -> str:
    try:
        if check():
            return "ok"
        logger.error("Health check: the %s gave a wrong answer", name)
    except Exception as exc:  # whatever broke, the answer is a status, never a traceback
        logger.error("Health check: the %s failed: %s: %s", name, type(exc).__name__, exc)
    return "error"


@login_not_required
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with every part "ok", or 503 naming the part that is not. Never stored by a cache."""
    parts = {name: _status(name, check) for name, check in CHECKS.items()}
    healthy = all(status == "ok" for status in parts.values())
    response = JsonResponse(
        {"status": "ok" if healthy else "error", **parts}, status=200 if healthy else 503
    )
    response["Cache-Control"] = "no-store"
    return response
