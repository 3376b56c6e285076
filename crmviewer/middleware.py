"""Middleware of crmviewer: nothing a logged-in user sees is cached; every request gets an id;
parameters with control characters are refused."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.encoding import escape_uri_path
from django.utils.functional import empty
from django.utils.translation import gettext

from crmviewer.logging import REQUEST_ID_ATTRIBUTE, request_id_var

RENEWED_AT = "_crmviewer_renewed_at"  # the session's own record of its last renewal (epoch s)


def renew_interval(idle_seconds: int) -> int:
    """How often a session in use is written to keep it from going idle: a tenth of the idle
    time, at most a minute (so it ends 27 to 30 minutes after the last request, by default)."""
    return max(1, min(60, idle_seconds // 10))


class SessionRenewalMiddleware:
    """Sessions end after SESSION_COOKIE_AGE without a request, without a session write on
    every request (Django's SESSION_SAVE_EVERY_REQUEST writes the database and the cache each
    time): a session is marked changed, and so saved with a new expiry, once its last renewal is
    `renew_interval` old. Only a session that exists is touched; an anonymous visitor gets none."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.session_key:
            now = int(time.time())
            last = session.get(RENEWED_AT)  # loads the session: a stale cookie's key goes
            due = not isinstance(last, int) or now - last >= renew_interval(
                settings.SESSION_COOKIE_AGE
            )
            if due and session.session_key:  # never a new session for a cookie that had none
                session[RENEWED_AT] = now
        return self.get_response(request)


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
        # Static files never get here: WhiteNoise answers them before this middleware runs.
        if user is not None and user.is_authenticated and not _forbids_storing(response):
            patch_cache_control(response, no_store=True, private=True)
        return response


def _forbids_storing(response: HttpResponse) -> bool:
    directives = response.get("Cache-Control", "").split(",")
    return "no-store" in {directive.strip().lower() for directive in directives}


# A caller's (a load balancer's, a proxy's) request id is kept only when it is a plain token.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
request_logger = logging.getLogger("crmviewer.request")

# The request being handled in this thread (or task), None outside a request: for code that has
# no request passed to it but must name who acted, such as the audit of a cascading delete.
current_request_var: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)

# Routes whose path holds a secret or names an account (a password reset link: the user's id in
# base64 and a token that sets a new password): their log line carries the route, not the path.
_SECRET_PATH_URL_NAMES = frozenset({"password_reset_confirm"})


def current_request() -> HttpRequest | None:
    """The request RequestIdMiddleware is handling in this context, or None."""
    return current_request_var.get()


class RequestIdMiddleware:
    """Gives every request an id, puts it on every log record and on the response, and logs the
    request once.

    The id is the caller's `X-Request-ID` when that is a sane token, so one id follows a request
    from the load balancer through here; otherwise a new uuid4 (hex). It is `request.request_id`,
    the `request_id` of every log record while the request is handled (crmviewer.logging), and
    the response's `X-Request-ID`. The log line names method, path (never the query string, which
    holds contact ids), status, duration and user id; first in MIDDLEWARE, so that redirects to
    HTTPS and static files get an id and a line too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        setattr(request, REQUEST_ID_ATTRIBUTE, request_id)  # request.request_id
        token = request_id_var.set(request_id)  # the thread is reused: reset below
        request_token = current_request_var.set(request)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            duration_ms = round((time.monotonic() - started) * 1000, 1)
            _log_request(request, response, duration_ms)
            return response
        finally:
            current_request_var.reset(request_token)
            request_id_var.reset(token)


def _log_request(request: HttpRequest, response: HttpResponse, duration_ms: float) -> None:
    path = escape_uri_path(request.path)  # percent-encoded again: no line break gets into a log
    match = request.resolver_match
    if match is not None and match.url_name in _SECRET_PATH_URL_NAMES:
        path = "/" + match.route  # e.g. /accounts/reset/<uidb64>/<token>/
    user_id = _user_id(request)
    # A load balancer's probe every few seconds would drown the lines that matter.
    quiet = response.status_code == 200 and _url_name(request) == "healthz"
    request_logger.log(
        logging.DEBUG if quiet else logging.INFO,
        "%s %s %s %.0f ms user=%s",
        request.method,
        path,
        response.status_code,
        duration_ms,
        user_id if user_id is not None else "-",
        extra={
            "method": request.method,
            "path": path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "user_id": user_id,
        },
    )


def _user_id(request: HttpRequest) -> int | None:
    """The logged-in user's id, only when the request already looked the user up.

    Looking it up here would cost a query for the log line alone, and fail when the database is
    down (the very moment /healthz reports it).
    """
    user = getattr(request, "user", None)
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return user.pk if user.is_authenticated else None


def _url_name(request: HttpRequest) -> str | None:
    match = getattr(request, "resolver_match", None)
    return match.url_name if match is not None else None


# Control characters no form field or link of this site ever holds: C0 but tab, LF and CR, and DEL.
# PostgreSQL refuses NUL in text and jsonb, a log or terminal misreads the rest.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class RefuseControlCharactersMiddleware:
    """400, with a page that says why, for a request whose query string or form holds a control
    character in a name or a value, before any view (the admin's included) uses it or records it.

    Tab, LF and CR stay allowed: a pasted list of ids holds them. Views strip what is left (C1
    characters, and tabs and line breaks in one-line fields) themselves (contacts/forms.py).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _holds_control_characters(request):
            message = gettext(
                "The request was refused: it holds control characters (such as NUL), which no "
                "field or link of this site uses. Remove them and try again."
            )
            return render(request, "bad_request.html", {"message": message}, status=400)
        return self.get_response(request)


def _holds_control_characters(request: HttpRequest) -> bool:
    sources = [request.GET]
    if request.method == "POST" and request.content_type in {
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }:
        sources.append(request.POST)
    return any(
        _CONTROL.search(key) or any(_CONTROL.search(value) for value in values)
        for source in sources
        for key, values in source.lists()
    )
