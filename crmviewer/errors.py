"""The site's error views (handler400, handler403, handler404, handler500 in crmviewer/urls.py)
and the page of a form refused by the CSRF check (CSRF_FAILURE_VIEW).

Each page is in the site's layout and the broker's language, with a way back; none names the
error itself, nor echoes the query string of the address that failed (it may hold contact ids).
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template import loader
from django.utils.html import escape
from django.utils.translation import get_language, gettext
from django.views.decorators.csrf import requires_csrf_token

logger = logging.getLogger(__name__)


class _PathOnlyRequest:
    """The request as an error page's layout sees it: the same, but its full path is its path
    alone, so the language form's way back carries no query string."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)

    def get_full_path(self) -> str:
        return self._request.path


def _error_page(request: HttpRequest, template_name: str, status: int) -> HttpResponse:
    return render(request, template_name, {"request": _PathOnlyRequest(request)}, status=status)


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: a request Django could not take (a host not allowed, a suspicious one)."""
    return _error_page(request, "400.html", 400)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403."""
    return _error_page(request, "403.html", 403)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: no such page, or not one of the broker's (another broker's customer)."""
    return _error_page(request, "404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500.html with no request in its context: no context processor runs, so nothing asks the
    database for the session or the user (which may be what failed). Only the CSRF token goes in,
    for the layout's language form; it comes from the cookie, not from the database.

    Should the page itself fail to render, a bare page in the same words stands in for it.
    """
    try:
        body = loader.get_template("500.html").render({"csrf_token": get_token(request)})
    except Exception:
        logger.exception("The 500 page could not be rendered; a bare page was sent instead.")
        body = _bare_server_error_page()
    return HttpResponseServerError(body)


def _bare_server_error_page() -> str:
    title = escape(gettext("Server error"))
    text = escape(
        gettext(
            "Something went wrong on our side and the page could not be shown. Try again in a "
            "while; if it keeps happening, tell your administrator."
        )
    )
    language = escape(get_language() or "sv")
    return (
        f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8">'
        f"<title>{title} · crmviewer</title></head>"
        f"<body><main><h1>{title}</h1><p>{text}</p></main></body></html>\n"
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form that came back without a valid token, in practice one from a
    page left open too long (or from before a login, which renews the token). The broker is told
    to reload and try again; Django's reason stays out of the page."""
    return _error_page(request, "403_csrf.html", 403)
