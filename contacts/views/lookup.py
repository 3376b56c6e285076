"""The list page (`/contacts/`): the office register when it is open to the credential, else
lookups by id (and Vitec's own search; a lookup of more than one round of Vitec calls streamed as
the answers come); "Sync now"."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import mark_safe
from django.utils.timezone import get_current_timezone_name
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_http_methods

from .. import services
from ..audit import Actor, AuditUnavailable
from ..crypto import CredentialDecryptionError
from ..forms import (
    ExportForm,
    LookupForm,
    ids_reference,
    query_from_params,
    register_query_from_params,
)
from ..models import RegisterSync, VitecCredential
from .common import (
    AuthenticatedHttpRequest,
    credential_broken_message,
    credential_or_404,
    lookup_url,
    no_credentials,
    not_logged_message,
    view_params,
)

logger = logging.getLogger(__name__)


@login_required
@require_http_methods(["GET", "POST"])
def lookup(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    credentials = list(services.credentials_for_user(user=request.user))
    if not credentials:
        return no_credentials(request)
    source = request.POST if request.method == "POST" else request.GET
    credential = credential_or_404(request, source, credentials)

    if request.method == "POST":
        return _lookup_post(request, credential, credentials)

    register = services.register_state(credential.customer_id)
    if services.register_opening(credential, register) is not None:
        return _register_page(request, credential, credentials, register)

    id_lists = services.IdListResolver(request.user, credential)
    parsed = query_from_params(request.GET, id_lists)
    columns = services.list_columns(request.user)
    context = _page_context(
        credential,
        credentials,
        LookupForm(initial={"ids": parsed.ids_text}),
        columns=columns,
        recent=services.recently_viewed(user=request.user, credential=credential),
        query=parsed.query,
        notices=parsed.notices,
        list_params=view_params(request.GET, credential),
    )
    context.update(_register_context(credential, register))
    context["saved_list"] = id_lists.opened if id_lists.opened and id_lists.opened.name else None
    notices = list(parsed.notices)
    context["notices"] = notices
    if not parsed.query.ids and parsed.query.q:
        # No register yet: Vitec's own search finds the ids, the lookup shows them.
        context["searched_term"] = parsed.query.q
        if len(parsed.query.q) < services.MIN_SEARCH_TERM:
            notices.append(gettext("Vitec searches for at least 5 characters: type a longer term."))
        else:
            try:
                found, search_error = services.contacts_search(
                    credential=credential, term=parsed.query.q
                )
            except CredentialDecryptionError:
                found, search_error = (), credential_broken_message()
            if search_error:
                context["error"] = search_error
            elif not found:
                term = parsed.query.q
                notices.append(gettext("Vitec found no contact for “%(term)s”.") % {"term": term})
            parsed = replace(parsed, query=replace(parsed.query, ids=found, q=""))
            context["searched"] = True
    if parsed.query.ids:
        try:
            steps = services.contacts_page_stream(
                credential=credential, query=parsed.query, actor=Actor.of(request)
            )
            first = next(steps)  # what the cache holds, and how many ids are still to come
            if services.lookup_rounds(first.remaining) > 1:
                return _streamed_page(
                    request, credential, context, parsed.query, columns, first, steps
                )
            view = _finished(steps)
        except CredentialDecryptionError:
            context["error"] = credential_broken_message()
        except AuditUnavailable:
            context["error"] = not_logged_message()
        else:
            context.update(_results_context(request, credential, view, columns))
    return render(request, "contacts/lookup.html", context)


def _finished(
    steps: services.LookupSteps,
) -> services.ContactView:
    """The view a lookup's steps end with, the steps run through."""
    while True:
        try:
            next(steps)
        except StopIteration as finished:
            return finished.value


def _results_context(
    request: AuthenticatedHttpRequest,
    credential: VitecCredential,
    view: services.ContactView,
    columns: Sequence[services.Column],
) -> dict[str, object]:
    """The view's page of rows, and the key its markup is cached under."""
    page = Paginator(view.rows, view.query.per_page).get_page(view.query.page)
    return {
        "view": view,
        "page": page,
        # Built only when the table is not already cached (sealedcache in the template).
        "rows": SimpleLazyObject(
            lambda: [
                services.contact_row(c, view.category_names, columns=columns)
                for c in page.object_list
            ]
        ),
        "fragment_key": services.fragment_key(
            credential=credential,
            lookup=view.lookup,
            parts=(
                request.get_full_path(),
                get_language(),
                get_current_timezone_name(),
                *(column.key for column in columns),
            ),
        ),
    }


_STREAM_MARK = mark_safe("<!--crmviewer:arriving-->")


def _streamed_page(
    request: AuthenticatedHttpRequest,
    credential: VitecCredential,
    context: dict[str, object],
    query: services.ContactQuery,
    columns: Sequence[services.Column],
    first: services.Arrived,
    steps: services.LookupSteps,
) -> StreamingHttpResponse:
    """The lookup page written out as Vitec answers: the page down to its results first, then
    the contacts of each answer as it arrives (the first page's worth) with how many ids are
    still to come, then the whole view, sorted and filtered, and the rest of the page. A
    browser shows each part as it comes, with or without JavaScript; the arriving rows are
    hidden (static/css/app.css) once the view has come.

    Everything that touches the session, the messages or the CSRF cookie is done before the
    response is returned: the page's top is rendered here, not in the stream."""
    get_token(request)  # the CSRF cookie goes out with the headers
    page = render_to_string(
        "contacts/lookup.html",
        {**context, "streaming": True, "stream_mark": _STREAM_MARK},
        request,
    )
    top, bottom = page.split(_STREAM_MARK, 1)
    total = len(query.ids)
    arriving = {**context, "columns": columns, "total": total}

    def body() -> Iterator[str]:
        yield top
        shown = 0
        arrival = first
        try:
            while True:
                rows = [
                    services.contact_row(c, {}, columns=columns)
                    for c in arrival.contacts[: max(0, query.per_page - shown)]
                ]
                yield render_to_string(
                    "contacts/_arriving.html",
                    {
                        **arriving,
                        "rows": rows,
                        "first": arrival is first,
                        "header": shown == 0,
                        "answered": total - arrival.remaining,
                        "remaining": arrival.remaining,
                    },
                    request,
                )
                shown += len(rows)
                arrival = next(steps)
        except StopIteration as finished:
            view = finished.value
            results = {**context, **_results_context(request, credential, view, columns)}
            yield render_to_string("contacts/_arrived.html", results, request)
        except Exception:  # the page is half written: say so where the rest would be
            logger.exception("A streamed lookup failed")
            yield render_to_string("contacts/_arrived.html", {"failed": True}, request)
        yield bottom

    response = StreamingHttpResponse(body(), content_type="text/html; charset=utf-8")
    response["X-Accel-Buffering"] = "no"  # a proxy in front passes each part on at once
    return response


def _register_page(
    request: AuthenticatedHttpRequest,
    credential: VitecCredential,
    credentials: list[VitecCredential],
    register: RegisterSync | None,
) -> HttpResponse:
    """The office register: every contact of the customer, searched and filtered at database
    speed. `register`: its state, as read to open it."""
    id_lists = services.IdListResolver(request.user, credential)
    query, notices = register_query_from_params(request.GET, id_lists)
    # The id filter travels as it came: in the URL, or by the database list a long one is kept in.
    opened = id_lists.opened
    if query.ids and opened is not None:
        ids_params = {"list": opened.token}
    else:
        ids_params = {"ids": ",".join(query.ids)} if query.ids else {}
    filters = {key: value for key, value in query.params().items() if key != "ids"}
    columns = services.list_columns(request.user)
    context: dict[str, object] = {
        "credential": credential,
        "credentials": credentials,
        "query": query,
        "notices": notices,
        "columns": columns,
        "all_columns": services.HTML_COLUMNS,
        "page_sizes": services.PAGE_SIZES,
        "recent": services.recently_viewed(user=request.user, credential=credential),
        "export_form": ExportForm(),
        "ids_form": LookupForm(initial={"ids": "\n".join(query.ids)}),
        "ids_params": ids_params,
        "list_params": {"customer": credential.customer_id, **ids_params, **filters},
        "saved_list": opened if opened is not None and opened.name else None,
    }
    try:
        shown = services.register_page(
            credential=credential, query=query, actor=Actor.of(request), state=register
        )
    except AuditUnavailable:
        context["error"] = not_logged_message()
        return render(request, "contacts/register.html", context, status=503)
    live = shown.live.result if shown.live else None
    names = {c.id: c.name or c.id for contact in shown.contacts for c in contact.categories}
    context.update(
        {
            "shown": shown,
            "view": shown.view,
            "page": shown.page,
            "rows": [services.contact_row(c, names, columns=columns) for c in shown.contacts],
            "live_rows": [services.contact_row(c, {}, columns=columns) for c in live.contacts]
            if live
            else [],
            "unknown_ids": [
                i for i in shown.view.unknown_ids if live is None or i in live.not_found
            ],
            "live_failed": [i for batch in live.failed for i in batch.ids] if live else [],
            "sync": shown.view.sync,
            "facets": [(f, getattr(query, f.param)) for f in shown.view.facets],
            "sortable_keys": list(services.REGISTER_SORTS),
        }
    )
    return render(request, "contacts/register.html", context)


@login_required
@require_http_methods(["POST"])
def register_sync(request: AuthenticatedHttpRequest) -> HttpResponse:
    """ "Sync now": queue a sync of the credential's customer, back to the list."""
    credential = credential_or_404(request, request.POST)
    if services.register_sync_ask(credential=credential, actor=Actor.of(request)):
        messages.success(request, gettext("A sync with Vitec has been asked for."))
    else:
        messages.info(request, gettext("A sync with Vitec is already queued or running."))
    return redirect(lookup_url({"customer": credential.customer_id}))


def _register_context(
    credential: VitecCredential, register: RegisterSync | None
) -> dict[str, object]:
    """What the lookup page says of the customer's register (being built, or closed to this
    credential), from its state."""
    held = services.register_held(credential.customer_id) if register and not register.ready else 0
    return {"register": register, "register_held": held}


def _page_context(
    credential: VitecCredential,
    credentials: list[VitecCredential],
    form: LookupForm,
    *,
    notices: list[str] | None = None,
    list_params: dict[str, str] | None = None,
    **extra: object,
) -> dict[str, object]:
    """What every rendering of the lookup page needs; the results (and the broker's `columns`)
    are added by the caller."""
    return {
        "credential": credential,
        "credentials": credentials,
        "form": form,
        "export_form": ExportForm(),
        "notices": notices or [],
        "all_columns": services.HTML_COLUMNS,
        "page_sizes": services.PAGE_SIZES,
        "list_params": list_params or {},
        # Ids not found for this customer may be another one's: the not-found notice says so.
        "other_customer_hint": len(credentials) > 1,
        **extra,
    }


def _lookup_post(
    request: AuthenticatedHttpRequest,
    credential: VitecCredential,
    credentials: list[VitecCredential],
) -> HttpResponse:
    """A new id list (long lists fit a POST, not a URL), or "refresh": then back to a GET."""
    if "refresh" in request.POST:
        id_lists = services.IdListResolver(request.user, credential)
        parsed = query_from_params(request.POST, id_lists)
        if parsed.query.ids:
            with contextlib.suppress(CredentialDecryptionError):  # the GET that follows says so
                services.contacts_lookup(credential=credential, ids=parsed.query.ids, refresh=True)
        opened = id_lists.opened
        keep = {"list": opened.token} if opened and not request.POST.get("ids") else None
        return _redirect_to_view(request, credential, parsed.query, ids_params=keep)

    form = LookupForm(request.POST)
    if not form.is_valid():
        if services.register_open_to(credential) is not None:
            for error in form.errors.get("ids", []):
                messages.error(request, str(error))
            return redirect(lookup_url({"customer": credential.customer_id}))
        context = _page_context(credential, credentials, form)
        register = services.register_state(credential.customer_id)
        context.update(_register_context(credential, register))
        return render(request, "contacts/lookup.html", context)
    filters = {key: request.POST.get(key, "") for key in ("type", "category", "q", "sort")}
    parsed = query_from_params({**filters, "ids": form.cleaned_data["ids"]})
    for notice in parsed.notices:  # what was left out must still be said after the redirect
        messages.warning(request, notice)
    return _redirect_to_view(request, credential, parsed.query)


def _redirect_to_view(
    request: AuthenticatedHttpRequest,
    credential: VitecCredential,
    query: services.ContactQuery,
    *,
    ids_params: dict[str, str] | None = None,
) -> HttpResponse:
    """To the GET page of a view, built from the parsed (and so shortened) query only."""
    if ids_params is None:  # a long list gets its database list (the same one for the same ids)
        id_lists = services.IdListResolver(request.user, credential)
        ids_params = ids_reference(query.ids, id_lists)
    params = {
        "customer": credential.customer_id,
        **ids_params,
        "type": query.type,
        "category": query.category,
        "q": query.q,
        "sort": query.sort,
    }
    return redirect(lookup_url(params))
