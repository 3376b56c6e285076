"""Thin views: read the request, call one service, render. Vitec errors become notices."""

from __future__ import annotations

import contextlib
import csv
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from . import services
from .audit import audit_record
from .crypto import CredentialDecryptionError
from .forms import SESSION_LISTS, ExportForm, LookupForm, ids_reference, query_from_params
from .models import AuditEvent, VitecCredential

LIST_PARAMS = ("credential", "ids", "list", "type", "category", "q", "sort")


def _credential_or_404(request: HttpRequest, credential_id: str | None) -> VitecCredential:
    credential = services.credential_for_user(user=request.user, credential_id=credential_id)
    if credential is None:
        raise Http404("No such credential")
    return credential


def _no_credentials(request: HttpRequest) -> HttpResponse:
    return render(request, "contacts/no_credentials.html")


def _lookup_url(params: dict[str, str]) -> str:
    kept = {key: value for key, value in params.items() if value}
    return reverse("contacts:lookup") + ("?" + urlencode(kept) if kept else "")


def _filters(query: services.ContactQuery) -> dict[str, str]:
    """The filters and sort of a view as the audit trail keeps them."""
    return {"type": query.type, "category": query.category, "q": query.q, "sort": query.sort}


@login_required
@require_http_methods(["GET", "POST"])
def lookup(request: HttpRequest) -> HttpResponse:
    credentials = list(services.credentials_for_user(user=request.user))
    if not credentials:
        return _no_credentials(request)
    source = request.POST if request.method == "POST" else request.GET
    credential = _credential_or_404(request, source.get("credential") or None)

    if request.method == "POST":
        return _lookup_post(request, credential, credentials)

    parsed = query_from_params(request.GET, request.session)
    context = _page_context(
        credential,
        credentials,
        LookupForm(initial={"ids": parsed.ids_text}),
        query=parsed.query,
        notices=parsed.notices,
        list_params={key: request.GET.get(key, "") for key in LIST_PARAMS},
    )
    if parsed.query.ids:
        try:
            view = services.contacts_view(credential=credential, query=parsed.query)
        except CredentialDecryptionError:
            context["error"] = _credential_broken_message()
        else:
            audit_record(
                action=AuditEvent.Action.LOOKUP,
                request=request,
                credential=credential,
                contact_ids=parsed.query.ids,
                row_count=len(view.rows),
                details={"filters": _filters(parsed.query), "page": parsed.query.page},
            )
            page = Paginator(view.rows, services.PAGE_SIZE).get_page(parsed.query.page)
            rows = [services.contact_row(c, view.category_names) for c in page.object_list]
            context.update({"view": view, "page": page, "rows": rows})
    return render(request, "contacts/lookup.html", context)


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
        "sort_columns": services.SORT_COLUMNS,
        "list_params": list_params or {},
        **extra,
    }


def _lookup_post(
    request: HttpRequest, credential: VitecCredential, credentials: list[VitecCredential]
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
        context = _page_context(credential, credentials, form)
        return render(request, "contacts/lookup.html", context)
    filters = {key: request.POST.get(key, "") for key in ("type", "category", "q", "sort")}
    parsed = query_from_params({**filters, "ids": form.cleaned_data["ids"]})
    for notice in parsed.notices:  # what was left out must still be said after the redirect
        messages.warning(request, notice)
    return _redirect_to_view(request, credential, parsed.query)


def _redirect_to_view(
    request: HttpRequest,
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
def contact_detail(request: HttpRequest, contact_id: str) -> HttpResponse:
    return _contact_page(request, contact_id, reveal=False)


@login_required
@require_http_methods(["POST"])
def contact_reveal(request: HttpRequest, contact_id: str) -> HttpResponse:
    """The detail page with the full personnummer, asked for on purpose (POST) and audited."""
    response = _contact_page(request, contact_id, reveal=True)
    response["Cache-Control"] = "no-store"
    return response


def _contact_page(request: HttpRequest, contact_id: str, *, reveal: bool) -> HttpResponse:
    if not services.credentials_for_user(user=request.user).exists():
        return _no_credentials(request)
    credential = _credential_or_404(request, request.GET.get("credential") or None)
    if services.ids_parse(contact_id).ids != (contact_id,):  # no contact id looks like this
        context = {"credential": credential, "contact_id": contact_id, "back": _lookup_url({})}
        return render(request, "contacts/detail.html", context, status=404)
    back = request.GET.get("back", "")
    if not back.startswith(reverse("contacts:lookup")) or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}
    ):
        back = _lookup_url({"credential": str(credential.pk), "ids": contact_id})
    context = {"credential": credential, "back": back, "contact_id": contact_id}
    try:
        contact, lookup = services.contact_get(credential=credential, contact_id=contact_id)
    except CredentialDecryptionError:
        context["error"] = _credential_broken_message()
        return render(request, "contacts/detail.html", context)
    failed = lookup.result.failed
    # Only a Person or DeceasedEstate with a number has a personnummer to reveal.
    has_number = contact is not None and bool(services.social_security_number(contact))
    revealed = reveal and has_number
    action = AuditEvent.Action.PERSONNUMMER_REVEAL if revealed else AuditEvent.Action.CONTACT_VIEW
    event = audit_record(
        action=action,
        request=request,
        credential=credential,
        contact_ids=[contact_id],
        row_count=1 if contact else 0,
    )
    if revealed and event is None:  # a reveal that leaves no trace is not allowed
        revealed = False
        context["error"] = gettext(
            "The personnummer was not shown: the access could not be logged. Try again."
        )
    if contact is None and not failed:
        return render(request, "contacts/detail.html", context, status=404)
    reveal_query = urlencode({"credential": credential.pk, "back": back})
    context.update(
        {
            "contact": contact,
            "failure": failed[0].error if failed else None,
            "row": services.contact_row(contact, services.category_names(lookup), reveal=revealed)
            if contact
            else None,
            "phones": services.contact_phones(contact) if contact else [],
            "revealed": revealed,
            "reveal_url": reverse("contacts:reveal", args=[contact_id]) + "?" + reveal_query
            if has_number and not revealed
            else "",
        }
    )
    return render(request, "contacts/detail.html", context)


class _Echo:
    """A file-like object whose write() hands back the line, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


@login_required
@require_http_methods(["GET"])
def export_csv(request: HttpRequest) -> HttpResponse:
    credentials = services.credentials_for_user(user=request.user)
    if not credentials.exists():
        return _no_credentials(request)
    credential = _credential_or_404(request, request.GET.get("credential") or None)
    parsed = query_from_params(request.GET, request.session)
    if not parsed.query.ids:
        return redirect(_lookup_url({"credential": str(credential.pk)}))
    options = ExportForm(request.GET)
    page_url = _lookup_url({key: request.GET.get(key, "") for key in LIST_PARAMS})
    try:
        view = services.contacts_view(credential=credential, query=parsed.query)
    except CredentialDecryptionError:
        messages.error(request, _credential_broken_message())
        return redirect(page_url)
    if view.failures:  # an export that silently lacks rows would be worse than none
        messages.error(
            request,
            gettext(
                "The CSV was not made: some contacts could not be fetched from Vitec. "
                "Try again in a while."
            ),
        )
        return redirect(page_url)
    audit_record(
        action=AuditEvent.Action.CSV_EXPORT,
        request=request,
        credential=credential,
        contact_ids=parsed.query.ids,
        row_count=len(view.rows),  # every row of the view is exported
        details={
            "filters": _filters(parsed.query),
            "include_personnummer": options.personnummer,
        },
    )
    writer = csv.writer(_Echo(), delimiter=options.delimiter_char, lineterminator="\r\n")
    rows = services.contacts_export_rows(view=view, include_personnummer=options.personnummer)

    def stream():
        yield "\ufeff"  # BOM: Excel then reads the file as UTF-8
        for row in rows:
            yield writer.writerow(row)

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    filename = f"contacts-{credential.customer_id}-{stamp}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
