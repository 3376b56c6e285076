"""The current view as a file: CSV, Excel (.xlsx) or vCards (.vcf); one contact as a vCard."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext, pgettext
from django.views.decorators.http import require_http_methods

from .. import services
from ..audit import Actor, AuditUnavailable
from ..crypto import CredentialDecryptionError
from ..forms import ExportForm, explicit_yes, query_from_params, register_query_from_params
from ..services.access import contact_card
from ..services.exports import ExportRows, csv_rows
from ..services.vcard import contact_vcard, vcards
from ..services.xlsx import xlsx_file
from .common import (
    AuthenticatedHttpRequest,
    credential_broken_message,
    credential_or_404,
    lookup_url,
    no_credentials,
    not_logged_message,
    view_params,
)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VCARD_TYPE = "text/vcard; charset=utf-8"


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
    return _export(request, "csv")


@login_required
@require_http_methods(["GET", "POST"])
def export_xlsx(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    """The current view as an Excel workbook, every page of it; personnummer as for the CSV."""
    return _export(request, "xlsx")


@login_required
@require_http_methods(["GET", "POST"])
def export_vcf(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    """Every contact of the current view as vCards in one .vcf (never a personnummer)."""
    return _export(request, "vcf")


def _export(request: AuthenticatedHttpRequest, file_format: str) -> HttpResponseBase:
    credentials = list(services.credentials_for_user(user=request.user))
    if not credentials:
        return no_credentials(request)
    params = request.POST if request.method == "POST" else request.GET
    credential = credential_or_404(request, params, credentials)
    register = services.register_opening(credential) is not None
    id_lists = services.IdListResolver(request.user, credential)
    parsed = query_from_params(params, id_lists)
    if not register and not parsed.query.ids:
        return redirect(lookup_url({"customer": credential.customer_id}))
    options = ExportForm(params)
    register_query, _notices = register_query_from_params(params, id_lists)
    if register:
        page_url = lookup_url({"customer": credential.customer_id, **register_query.params()})
    else:
        page_url = lookup_url(view_params(params, credential))
    if request.method == "GET" and explicit_yes(params.get("include_personnummer")):
        messages.error(request, _EXPORT_REFUSED["get_with_personnummer"]())
        return redirect(page_url)
    try:
        if register:  # exactly the register's filtered view, every page of it
            source = services.register_export(
                credential=credential,
                query=register_query,
                include_personnummer=options.personnummer,
                actor=Actor.of(request),
                format=file_format,
            )
        else:
            source = services.contacts_export(
                credential=credential,
                query=parsed.query,
                include_personnummer=options.personnummer,
                actor=Actor.of(request),
                format=file_format,
                partial=options.what_arrived,
            )
    except (CredentialDecryptionError, services.ExportIncomplete, AuditUnavailable) as exc:
        messages.error(request, _refused(type(exc).__name__, file_format))
        return redirect(page_url)
    name = _file_name(credential.customer_id, len(source.missing))
    if file_format == "xlsx":
        return _xlsx_response(source, name)
    if file_format == "vcf":
        return _vcf_response(source, name)
    return _csv_response(csv_rows(source), options.delimiter_char, name)


def _file_name(customer_id: str, missing: int) -> str:
    """`contacts-M1001-20261203-1530` (in the site's language: `kontakter-...`), with
    `-3-missing` at the end of a partial file."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    customer = re.sub(r"[^A-Za-z0-9_-]", "", customer_id)
    contacts = slugify(pgettext("file name", "contacts")) or "contacts"
    name = f"{contacts}-{customer}-{stamp}"
    if missing:
        missing_word = slugify(pgettext("file name", "missing")) or "missing"
        name += f"-{missing}-{missing_word}"
    return name


@login_required
@require_http_methods(["GET"])
def contact_vcf(request: AuthenticatedHttpRequest, contact_id: str) -> HttpResponseBase:
    """One contact as a vCard, from the broker's own credential for its customer (404 else),
    recorded as an export of that contact."""
    credentials = list(services.credentials_for_user(user=request.user))
    if not credentials:
        return no_credentials(request)
    credential = credential_or_404(request, request.GET, credentials)
    if services.ids_parse(contact_id).ids != (contact_id,):  # no contact id looks like this
        raise Http404("No such contact")
    page_url = (
        reverse("contacts:detail", args=[contact_id])
        + "?"
        + urlencode({"customer": credential.customer_id})
    )
    try:
        card = contact_card(credential=credential, contact_id=contact_id, actor=Actor.of(request))
    except (CredentialDecryptionError, AuditUnavailable) as exc:
        messages.error(request, _refused(type(exc).__name__, "vcf"))
        return redirect(page_url)
    if card.contact is None:
        if not card.failed:
            raise Http404("No such contact")
        messages.error(request, _refused("ExportIncomplete", "vcf"))
        return redirect(page_url)
    text = contact_vcard(card.contact, organisation=card.organisation)
    name = slugify(card.contact.display_name) or slugify(contact_id) or "contact"
    response = StreamingHttpResponse([text.encode("utf-8")], content_type=VCARD_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}.vcf"'
    response["Cache-Control"] = "no-store"
    return response


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
# The same for an Excel file or vCards.
_FILE_REFUSED: dict[str, Callable[[], str]] = {
    "ExportIncomplete": lambda: gettext(
        "The file was not made: some contacts could not be fetched from Vitec. Try again in a "
        "while."
    ),
    "AuditUnavailable": lambda: gettext("The file was not made.") + " " + not_logged_message(),
}


def _refused(case: str, file_format: str) -> str:
    refused = _FILE_REFUSED if file_format != "csv" and case in _FILE_REFUSED else _EXPORT_REFUSED
    return refused[case]()


def _csv_response(rows: Iterable[list[str]], delimiter: str, name: str) -> StreamingHttpResponse:
    """The rows streamed as a CSV file for Excel: a BOM, `delimiter`, CRLF line ends."""
    writer = csv.writer(_Echo(), delimiter=delimiter, lineterminator="\r\n")

    def stream() -> Iterator[str]:
        yield "\ufeff"  # BOM: Excel then reads the file as UTF-8
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _xlsx_response(source: ExportRows, name: str) -> FileResponse:
    """The workbook, written to a temporary file first (constant memory), then streamed; the
    file is deleted when the response closes it."""
    response = FileResponse(
        xlsx_file(source), as_attachment=True, filename=f"{name}.xlsx", content_type=XLSX_TYPE
    )
    response["Cache-Control"] = "no-store"
    return response


def _vcf_response(source: ExportRows, name: str) -> StreamingHttpResponse:
    """Every contact's vCard, streamed as it is written (never a personnummer)."""
    cards = vcards(contact for contact, _context in source.contacts)
    response = StreamingHttpResponse(
        (card.encode("utf-8") for card in cards), content_type=VCARD_TYPE
    )
    response["Content-Disposition"] = f'attachment; filename="{name}.vcf"'
    response["Cache-Control"] = "no-store"
    return response
