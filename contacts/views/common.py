"""What every page of the contacts app needs: the logged-in request, the broker's credential or
a 404, the list page's address, and the messages shown instead of data."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext

from .. import services
from ..audit import control_strip
from ..models import VitecCredential


class AuthenticatedHttpRequest(HttpRequest):
    """A request to a view behind login_required: its user is logged in."""

    user: User


LIST_PARAMS = ("customer", "ids", "list", "type", "category", "q", "sort", "per_page")


def credential_or_404(
    request: AuthenticatedHttpRequest,
    params: Mapping[str, str],
    credentials: list[VitecCredential] | None = None,
) -> VitecCredential:
    """The broker's credential for the `customer` the parameters name (or, in links from before
    the customer was named, the `credential` id), from `credentials` when the page has read them
    already; 404 when they have none."""
    if credentials is None:
        credentials = list(services.credentials_for_user(user=request.user))
    credential = services.credential_among(
        credentials,
        customer_id=params.get("customer") or None,
        credential_id=params.get("credential") or None,
    )
    if credential is None:
        raise Http404("No such customer")
    return credential


def no_credentials(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "contacts/no_credentials.html")


def view_params(params: Mapping[str, str], credential: VitecCredential) -> dict[str, str]:
    """The parameters that define a lookup's view (page and exports alike), its customer named
    by the credential it is shown with."""
    return {**{key: params.get(key, "") for key in LIST_PARAMS}, "customer": credential.customer_id}


def lookup_url(params: dict[str, str]) -> str:
    kept = {key: value for key, value in params.items() if value}
    return reverse("contacts:lookup") + ("?" + urlencode(kept) if kept else "")


def list_page_url(request: HttpRequest, candidate: str, default: str) -> str:
    """`candidate` when it is the list page of this site (with its query), else `default`.

    Nothing but the list page: not the export, not another path under /contacts/, not another host.
    """
    candidate = control_strip(candidate)
    parts = urlsplit(candidate)
    if (
        parts.scheme
        or parts.netloc
        or parts.path != reverse("contacts:lookup")
        or not url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()})
    ):
        return default
    return candidate


def not_logged_message() -> str:
    return gettext(
        "Nothing was shown: the access could not be logged, and personal data is only shown "
        "when it is. Try again in a while, or tell your administrator if it keeps happening."
    )


def credential_broken_message() -> str:
    return gettext(
        "The stored Vitec password cannot be read. Ask your administrator to set it again."
    )
