"""The current view as a file."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from .. import services
from ..audit import Actor, AuditUnavailable
from ..crypto import CredentialDecryptionError
from ..forms import ExportForm, explicit_yes, query_from_params, register_query_from_params
from .common import (
    LIST_PARAMS,
    AuthenticatedHttpRequest,
    credential_broken_message,
    credential_or_404,
    lookup_url,
    no_credentials,
    not_logged_message,
)


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
        return no_credentials(request)
    params = request.POST if request.method == "POST" else request.GET
    credential = credential_or_404(request, params.get("credential") or None)
    register = services.register_opening(credential) is not None
    parsed = query_from_params(params, request.session)
    if not register and not parsed.query.ids:
        return redirect(lookup_url({"credential": str(credential.pk)}))
    options = ExportForm(params)
    register_query, _notices = register_query_from_params(params, request.session)
    if register:
        page_url = lookup_url({"credential": str(credential.pk), **register_query.params()})
    else:
        page_url = lookup_url({key: params.get(key, "") for key in LIST_PARAMS})
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
    "CredentialDecryptionError": credential_broken_message,
    # An export that silently lacks rows would be worse than none.
    "ExportIncomplete": lambda: gettext(
        "The CSV was not made: some contacts could not be fetched from Vitec. Try again in a while."
    ),
    "AuditUnavailable": lambda: gettext("The CSV was not made.") + " " + not_logged_message(),
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
