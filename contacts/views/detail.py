"""A contact's page, and the reveal of its full personnummer (a POST, audited)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from .. import services
from ..audit import Actor, AuditUnavailable
from ..crypto import CredentialDecryptionError
from .common import (
    AuthenticatedHttpRequest,
    credential_broken_message,
    credential_or_404,
    list_page_url,
    lookup_url,
    no_credentials,
    not_logged_message,
)


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
    """Where "Back to the list" goes: the list page the link came from, else `default`."""
    return list_page_url(request, request.GET.get("back", ""), default)


def _contact_page(
    request: AuthenticatedHttpRequest, contact_id: str, *, reveal: bool
) -> HttpResponse:
    credentials = list(services.credentials_for_user(user=request.user))
    if not credentials:
        return no_credentials(request)
    credential = credential_or_404(request, request.GET, credentials)
    if services.ids_parse(contact_id).ids != (contact_id,):  # no contact id looks like this
        context = {"credential": credential, "contact_id": contact_id, "back": lookup_url({})}
        return render(request, "contacts/detail.html", context, status=404)
    back = _back_url(request, lookup_url({"customer": credential.customer_id, "ids": contact_id}))
    context = {"credential": credential, "back": back, "contact_id": contact_id}
    try:
        shown = services.contact_show(
            credential=credential, contact_id=contact_id, reveal=reveal, actor=Actor.of(request)
        )
    except CredentialDecryptionError:
        context["error"] = credential_broken_message()
        return render(request, "contacts/detail.html", context)
    except AuditUnavailable:
        context["error"] = not_logged_message()
        return render(request, "contacts/detail.html", context, status=503)
    contact, failed = shown.contact, shown.lookup.result.failed
    if contact is None and not failed:
        return render(request, "contacts/detail.html", context, status=404)
    reveal_query = urlencode({"customer": credential.customer_id, "back": back})
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
