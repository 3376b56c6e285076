"""Saved lists of ids: the lists page of a customer, and saving, renaming, sharing and deleting a
list (POST, each back to a page with a message; garbage is a message, never an error page)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from .. import services
from ..forms import (
    MAX_IDS_IN_URL,
    MAX_LIST_NAME,
    ListNameForm,
    explicit_yes,
    list_not_found_notice,
    param_text,
    query_from_params,
)
from ..models import VitecCredential
from .common import AuthenticatedHttpRequest, credential_or_404, lookup_url, no_credentials

# What a saved list's page keeps of the view it was saved from (the ids go by the list).
_KEPT = (
    "type",
    "category",
    "q",
    "sort",
    "per_page",
    "gdpr",
    "advertising",
    "deceased",
    "lead_score",
    "agent",
    "changed_since",
)


def lists_url(customer_id: str = "") -> str:
    return reverse("contacts:lists") + (
        "?" + urlencode({"customer": customer_id}) if customer_id else ""
    )


def _name_or_message(request: AuthenticatedHttpRequest) -> str | None:
    """The name posted, or None with the reason told to the broker."""
    form = ListNameForm(request.POST)
    if form.is_valid():
        name: str = form.cleaned_data["name"]
        return name
    for error in form.errors.get("name", []):
        messages.error(request, str(error))
    return None


def _credential_of_post(request: AuthenticatedHttpRequest) -> VitecCredential | None:
    """The user's credential for the posted customer (None when they have none for it)."""
    return services.credential_for_user(
        user=request.user, customer_id=param_text(request.POST, "customer", 40) or None
    )


@login_required
@require_http_methods(["GET"])
def saved_lists(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The customer's saved lists: the broker's own (rename, share, delete) and colleagues'
    shared ones (open only)."""
    credentials = list(services.credentials_for_user(user=request.user))
    if not credentials:
        return no_credentials(request)
    credential = credential_or_404(request, request.GET, credentials)
    context = {
        "credential": credential,
        "credentials": credentials,
        "id_lists": services.id_lists_for_user(
            user=request.user, customer_id=credential.customer_id
        ),
        "max_name": MAX_LIST_NAME,
    }
    return render(request, "contacts/lists.html", context)


@login_required
@require_http_methods(["POST"])
def list_save(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Save the current view's ids (`ids=`, or the `list=` it came by) under a name, then back
    to the view, now by the saved list."""
    credential = _credential_of_post(request)
    if credential is None:
        messages.error(request, gettext("That customer is not one of yours."))
        return redirect(lists_url())
    kept = {key: param_text(request.POST, key, 200) for key in _KEPT}
    back = {"customer": credential.customer_id, **kept}
    token = param_text(request.POST, "list", 40)
    if not param_text(request.POST, "ids", 10):
        back["list"] = token
    else:  # a short list (the page's form carries ids only then)
        back["ids"] = param_text(request.POST, "ids", MAX_IDS_IN_URL)
    name = _name_or_message(request)
    if name is None:
        return redirect(lookup_url(back))
    id_lists = services.IdListResolver(request.user, credential)
    parsed = query_from_params({"ids": request.POST.get("ids", ""), "list": token}, lists=id_lists)
    if not parsed.query.ids:
        messages.error(
            request,
            list_not_found_notice() if token else gettext("There are no ids to save in a list."),
        )
        return redirect(lookup_url({"customer": credential.customer_id, **kept}))
    saved = services.id_list_save(
        user=request.user,
        customer_id=credential.customer_id,
        ids=",".join(parsed.query.ids),
        name=name,
        token=token if id_lists.opened is not None else "",
    )
    if saved is None:  # the credential went meanwhile
        messages.error(request, list_not_found_notice())
        return redirect(lists_url())
    messages.success(request, gettext("The list was saved as “%(name)s”.") % {"name": saved.name})
    return redirect(lookup_url({**back, "ids": "", "list": saved.token}))


def _not_found(request: AuthenticatedHttpRequest) -> HttpResponse:
    messages.error(
        request,
        gettext("That list was not found: it was deleted, or it is not one of your lists."),
    )
    credential = _credential_of_post(request)
    return redirect(lists_url(credential.customer_id if credential else ""))


@login_required
@require_http_methods(["POST"])
def list_rename(request: AuthenticatedHttpRequest) -> HttpResponse:
    token = param_text(request.POST, "token", 40)
    name = _name_or_message(request)
    if name is None:
        credential = _credential_of_post(request)
        return redirect(lists_url(credential.customer_id if credential else ""))
    renamed = services.id_list_rename(user=request.user, token=token, name=name)
    if renamed is None:
        return _not_found(request)
    messages.success(request, gettext("The list was renamed “%(name)s”.") % {"name": name})
    return redirect(lists_url(renamed.customer_id))


@login_required
@require_http_methods(["POST"])
def list_share(request: AuthenticatedHttpRequest) -> HttpResponse:
    token = param_text(request.POST, "token", 40)
    shared = explicit_yes(request.POST.get("shared"))
    changed = services.id_list_share(user=request.user, token=token, shared=shared)
    if changed is None:
        return _not_found(request)
    if shared:
        message = gettext("“%(name)s” is shared with your colleagues.")
    else:
        message = gettext("“%(name)s” is no longer shared.")
    messages.success(request, message % {"name": changed.name})
    return redirect(lists_url(changed.customer_id))


@login_required
@require_http_methods(["POST"])
def list_delete(request: AuthenticatedHttpRequest) -> HttpResponse:
    token = param_text(request.POST, "token", 40)
    deleted = services.id_list_delete(user=request.user, token=token)
    if deleted is None:
        return _not_found(request)
    name = deleted.name or deleted.token
    messages.success(request, gettext("The list “%(name)s” was deleted.") % {"name": name})
    return redirect(lists_url(deleted.customer_id))
