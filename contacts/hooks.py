"""Vitec's contact notifications: `POST /hooks/vitec/<token>/`.

Vitec signs nothing (see ../shared/vitec/connect-api.md), so the URL's token, compared in
constant time, is what protects the endpoint, and without VITEC_WEBHOOK_TOKEN it does not exist
(404). The body is a hint, never data: the ids it names are queued for a re-read from Vitec (one
row per id however often it is named, a refresh task queued once per customer), and the answer,
202, comes before any Vitec call: Vitec wants one within 2 seconds.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .services import notifications

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


def _body(request: HttpRequest) -> dict[str, Any] | None:
    if len(request.body) > MAX_BODY:
        return None
    try:
        value = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        value = None
    if isinstance(value, dict):
        return value
    # Vitec also puts the parameters in the query string (destinationId and sourceIds excepted).
    query = {key: request.GET.get(key) for key in ("type", "event", "id", "customerId")}
    return query if query.get("id") else None


@csrf_exempt  # Vitec's server posts here, not a browser: the URL's token stands in for CSRF
@require_POST
def vitec_notification(request: HttpRequest, token: str) -> HttpResponse:
    expected = settings.VITEC_WEBHOOK_TOKEN
    if not expected or not constant_time_compare(token, expected):
        raise Http404("No such hook")
    body = _body(request)
    if body is None:
        return JsonResponse({"accepted": False, "reason": "unreadable notification"}, status=400)
    outcome = notifications.notification_accept(body)
    if not outcome.accepted:
        return JsonResponse({"accepted": False, "reason": outcome.reason}, status=400)
    return JsonResponse({"accepted": True, "queued": outcome.queued}, status=202)
