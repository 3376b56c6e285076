"""Thin views: read the request, call one service, render. Vitec errors become notices."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from . import services
from .audit import Actor, AuditUnavailable, control_strip
from .crypto import CredentialDecryptionError
from .forms import (
    SESSION_LISTS,
    ExportForm,
    LookupForm,
    explicit_yes,
    ids_reference,
    query_from_params,
    register_query_from_params,
)
from .models import VitecCredential


class AuthenticatedHttpRequest(HttpRequest):
    """A request to a view behind login_required: its user is logged in."""

    user: User


LIST_PARAMS = ("credential", "ids", "list", "type", "category", "q", "sort")


def _credential_or_404(
    request: AuthenticatedHttpRequest, credential_id: str | None
) -> VitecCredential:
    credential = services.credential_for_user(user=request.user, credential_id=credential_id)
    if credential is None:
        raise Http404("No such credential")
    return credential


def _no_credentials(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "contacts/no_credentials.html")


def _lookup_url(params: dict[str, str]) -> str:
    kept = {key: value for key, value in params.items() if value}
    return reverse("contacts:lookup") + ("?" + urlencode(kept) if kept else "")


def _not_logged_message() -> str:
    return gettext(
        "Nothing was shown: the access could not be logged, and personal data is only shown "
        "when it is. Try again in a while, or tell your administrator if it keeps happening."
    )


@login_required
@require_http_methods(["GET", "POST"])
def lookup(request: AuthenticatedHttpRequest) -> HttpResponse:
    credentials = list(services.credentials_for_user(user=request.user))
    if not credentials:
        return _no_credentials(request)
    source = request.POST if request.method == "POST" else request.GET
    credential = _credential_or_404(request, source.get("credential") or None)

    if request.method == "POST":
        return _lookup_post(request, credential, credentials)

    state = services.register_opening(credential)
    if state is not None:
        return _register_page(request, credential, credentials)

    parsed = query_from_params(request.GET, request.session)
    context = _page_context(
        credential,
        credentials,
        LookupForm(initial={"ids": parsed.ids_text}),
        query=parsed.query,
        notices=parsed.notices,
        list_params={key: request.GET.get(key, "") for key in LIST_PARAMS},
    )
    context.update(_register_context(credential))
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
                found, search_error = (), _credential_broken_message()
            if search_error:
                context["error"] = search_error
            elif not found:
                term = parsed.query.q
                notices.append(gettext("Vitec found no contact for “%(term)s”.") % {"term": term})
            parsed = replace(parsed, query=replace(parsed.query, ids=found, q=""))
            context["searched"] = True
    if parsed.query.ids:
        try:
            view = services.contacts_page(
                credential=credential, query=parsed.query, actor=Actor.of(request)
            )
        except CredentialDecryptionError:
            context["error"] = _credential_broken_message()
        except AuditUnavailable:
            context["error"] = _not_logged_message()
        else:
            page = Paginator(view.rows, services.PAGE_SIZE).get_page(parsed.query.page)
            rows = [services.contact_row(c, view.category_names) for c in page.object_list]
            context.update({"view": view, "page": page, "rows": rows})
    return render(request, "contacts/lookup.html", context)


def _register_page(
    request: AuthenticatedHttpRequest,
    credential: VitecCredential,
    credentials: list[VitecCredential],
) -> HttpResponse:
    """The office register: every contact of the customer, searched and filtered at database
    speed."""
    query, notices = register_query_from_params(request.GET, request.session)
    # The id filter travels as it came: in the URL, or by the session list a long one is kept in.
    list_key = request.GET.get("list", "")
    if query.ids and list_key in request.session.get(SESSION_LISTS, {}):
        ids_params = {"list": list_key}
    else:
        ids_params = {"ids": ",".join(query.ids)} if query.ids else {}
    filters = {key: value for key, value in query.params().items() if key != "ids"}
    context: dict[str, object] = {
        "credential": credential,
        "credentials": credentials,
        "query": query,
        "notices": notices,
        "columns": services.HTML_COLUMNS,
        "page_sizes": services.REGISTER_PAGE_SIZES,
        "export_form": ExportForm(),
        "ids_form": LookupForm(initial={"ids": "\n".join(query.ids)}),
        "ids_params": ids_params,
        "list_params": {"credential": str(credential.pk), **ids_params, **filters},
    }
    try:
        shown = services.register_page(credential=credential, query=query, actor=Actor.of(request))
    except AuditUnavailable:
        context["error"] = _not_logged_message()
        return render(request, "contacts/register.html", context, status=503)
    live = shown.live.result if shown.live else None
    names = {c.id: c.name or c.id for contact in shown.contacts for c in contact.categories}
    context.update(
        {
            "shown": shown,
            "view": shown.view,
            "page": shown.page,
            "rows": [services.contact_row(c, names) for c in shown.contacts],
            "live_rows": [services.contact_row(c, {}) for c in live.contacts] if live else [],
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
    credential = _credential_or_404(request, request.POST.get("credential") or None)
    if services.register_sync_ask(credential=credential, actor=Actor.of(request)):
        messages.success(request, gettext("A sync with Vitec has been asked for."))
    else:
        messages.info(request, gettext("A sync with Vitec is already queued or running."))
    return redirect(_lookup_url({"credential": str(credential.pk)}))


def _register_context(credential: VitecCredential) -> dict[str, object]:
    """What the lookup page says of the customer's register (being built, or closed to this
    credential)."""
    register = services.register_state(credential.customer_id)
    held = services.register_held(credential.customer_id) if register and not register.ready else 0
    return {"register": register, "register_held": held}


def _credential_broken_message() -> str:
    return gettext(
        "The stored Vitec password cannot be read. Ask your administrator to set it again."
    )


def _page_context(
    credential: VitecCredential,
    credentials: list[VitecCredential],
    form: LookupForm,
    *,
    notices: list[str] | None = None,
    list_params: dict[str, str] | None = None,
    **extra: object,
) -> dict[str, object]:
    """What every rendering of the lookup page needs; the results are added by the caller."""
    return {
        "credential": credential,
        "credentials": credentials,
        "form": form,
        "export_form": ExportForm(),
        "notices": notices or [],
        "columns": services.HTML_COLUMNS,
        "list_params": list_params or {},
        **extra,
    }


def _lookup_post(
    request: AuthenticatedHttpRequest,
    credential: VitecCredential,
    credentials: list[VitecCredential],
) -> HttpResponse:
    """A new id list (long lists fit a POST, not a URL), or "refresh": then back to a GET."""
    if "refresh" in request.POST:
        parsed = query_from_params(request.POST, request.session)
        if parsed.query.ids:
            with contextlib.suppress(CredentialDecryptionError):  # the GET that follows says so
                services.contacts_lookup(credential=credential, ids=parsed.query.ids, refresh=True)
        list_key = request.POST.get("list", "")
        known = request.session.get(SESSION_LISTS, {})
        keep = {"list": list_key} if list_key in known and not request.POST.get("ids") else None
        return _redirect_to_view(request, credential, parsed.query, ids_params=keep)

    form = LookupForm(request.POST)
    if not form.is_valid():
        if services.register_open_to(credential) is not None:
            for error in form.errors.get("ids", []):
                messages.error(request, str(error))
            return redirect(_lookup_url({"credential": str(credential.pk)}))
        context = _page_context(credential, credentials, form)
        context.update(_register_context(credential))
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
    params = {
        "credential": str(credential.pk),
        **(ids_params or ids_reference(query.ids, request.session)),
        "type": query.type,
        "category": query.category,
        "q": query.q,
        "sort": query.sort,
    }
    return redirect(_lookup_url(params))


@login_required
@require_http_methods(["GET"])
def contact_detail(request: AuthenticatedHttpRequest, contact_id: str) -> HttpResponse:
    return _contact_page(request, contact_id, reveal=False)


@login_required
@require_http_methods(["POST"])
def contact_reveal(request: AuthenticatedHttpRequest, contact_id: str) -> HttpResponse:
    """The detail page with the full personnummer, asked for on purpose (POST) and audited."""
    response = _contact_page(request, contact_id, reveal=True)
    response["Cache-Control"] = "no-store"
    return response


def _back_url(request: AuthenticatedHttpRequest, default: str) -> str:
    """Where "Back to the list" goes: the list page of this site (with its query), else `default`.

    Nothing but the list page: not the export, not another path under /contacts/, not another host.
    """
    back = control_strip(request.GET.get("back", ""))
    parts = urlsplit(back)
    if (
        parts.scheme
        or parts.netloc
        or parts.path != reverse("contacts:lookup")
        or not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})
    ):
        return default
    return back


def _contact_page(
    request: AuthenticatedHttpRequest, contact_id: str, *, reveal: bool
) -> HttpResponse:
    if not services.credentials_for_user(user=request.user).exists():
        return _no_credentials(request)
    credential = _credential_or_404(request, request.GET.get("credential") or None)
    if services.ids_parse(contact_id).ids != (contact_id,):  # no contact id looks like this
        context = {"credential": credential, "contact_id": contact_id, "back": _lookup_url({})}
        return render(request, "contacts/detail.html", context, status=404)
    back = _back_url(request, _lookup_url({"credential": str(credential.pk), "ids": contact_id}))
    context = {"credential": credential, "back": back, "contact_id": contact_id}
    try:
        shown = services.contact_show(
            credential=credential, contact_id=contact_id, reveal=reveal, actor=Actor.of(request)
        )
    except CredentialDecryptionError:
        context["error"] = _credential_broken_message()
        return render(request, "contacts/detail.html", context)
    except AuditUnavailable:
        context["error"] = _not_logged_message()
        return render(request, "contacts/detail.html", context, status=503)
    contact, failed = shown.contact, shown.lookup.result.failed
    if contact is None and not failed:
        return render(request, "contacts/detail.html", context, status=404)
    reveal_query = urlencode({"credential": credential.pk, "back": back})
    context.update(
        {
            "contact": contact,
            "failure": services.broker_message(failed[0].error) if failed else "",
            "failure_vitec_text": services.vitec_text(failed[0].error) if failed else "",
            "row": services.contact_row(
                contact, services.category_names(shown.lookup), reveal=shown.revealed
            )
            if contact
            else None,
            "phones": services.contact_phones(contact) if contact else [],
            "map_url": services.contact_map_url(contact) if contact else "",
            "revealed": shown.revealed,
            "people": shown.people,
            "agent": shown.agent,
            "reveal_url": reverse("contacts:reveal", args=[contact_id]) + "?" + reveal_query
            if shown.has_number and not shown.revealed
            else "",
        }
    )
    return render(request, "contacts/detail.html", context)


class _Echo:
    """A file-like object whose write() hands back the line, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


@login_required
@require_http_methods(["GET", "POST"])
def export_csv(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    """The current view as a CSV file, every page of it.

    A GET (a link, a bookmark) never carries personnummer: a file with them comes only from the
    page's download form, a POST with its CSRF token, so no crafted link can make one in a
    broker's name.
    """
    credentials = services.credentials_for_user(user=request.user)
    if not credentials.exists():
        return _no_credentials(request)
    params = request.POST if request.method == "POST" else request.GET
    credential = _credential_or_404(request, params.get("credential") or None)
    register = services.register_opening(credential) is not None
    parsed = query_from_params(params, request.session)
    if not register and not parsed.query.ids:
        return redirect(_lookup_url({"credential": str(credential.pk)}))
    options = ExportForm(params)
    register_query, _notices = register_query_from_params(params, request.session)
    if register:
        page_url = _lookup_url({"credential": str(credential.pk), **register_query.params()})
    else:
        page_url = _lookup_url({key: params.get(key, "") for key in LIST_PARAMS})
    if request.method == "GET" and explicit_yes(params.get("include_personnummer")):
        messages.error(request, _EXPORT_REFUSED["get_with_personnummer"]())
        return redirect(page_url)
    try:
        if register:  # exactly the register's filtered view, every page of it
            rows = services.register_export(
                credential=credential,
                query=register_query,
                include_personnummer=options.personnummer,
                actor=Actor.of(request),
            )
        else:
            rows = services.contacts_export(
                credential=credential,
                query=parsed.query,
                include_personnummer=options.personnummer,
                actor=Actor.of(request),
            )
    except (CredentialDecryptionError, services.ExportIncomplete, AuditUnavailable) as exc:
        messages.error(request, _EXPORT_REFUSED[type(exc).__name__]())
        return redirect(page_url)
    return _csv_response(rows, options.delimiter_char, f"contacts-{credential.customer_id}")


# Why no file was made, by the exception (or the case) that stopped it.
_EXPORT_REFUSED: dict[str, Callable[[], str]] = {
    "get_with_personnummer": lambda: gettext(
        "A file with personnummer is only made from the download form on this page. "
        "Tick “Include personnummer” and download it there."
    ),
    "CredentialDecryptionError": _credential_broken_message,
    # An export that silently lacks rows would be worse than none.
    "ExportIncomplete": lambda: gettext(
        "The CSV was not made: some contacts could not be fetched from Vitec. Try again in a while."
    ),
    "AuditUnavailable": lambda: gettext("The CSV was not made.") + " " + _not_logged_message(),
}


def _csv_response(rows: Iterable[list[str]], delimiter: str, name: str) -> StreamingHttpResponse:
    """The rows streamed as a CSV file for Excel: a BOM, `delimiter`, CRLF line ends."""
    writer = csv.writer(_Echo(), delimiter=delimiter, lineterminator="\r\n")

    def stream() -> Iterator[str]:
        yield "\ufeff"  # BOM: Excel then reads the file as UTF-8
        for row in rows:
            yield writer.writerow(row)

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
