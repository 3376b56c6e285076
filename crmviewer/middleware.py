"""Middleware of crmviewer: keeps pages shown to a logged-in user out of every cache."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class NoStoreForAuthenticatedMiddleware:
    """`Cache-Control: no-store, private` on every response to a logged-in user.

    What a logged-in broker sees holds personal data (names, personnummer, phones): neither the
    browser nor a proxy may keep a copy. A response that already forbids storing is left as it is.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(settings.STATIC_URL)
            and not _forbids_storing(response)
        ):
            patch_cache_control(response, no_store=True, private=True)
        return response


def _forbids_storing(response: HttpResponse) -> bool:
    directives = response.get("Cache-Control", "").split(",")
    return "no-store" in {directive.strip().lower() for directive in directives}
