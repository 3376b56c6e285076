"""The broker's choice of the list's columns: kept for them, then back to the list."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import services
from .common import AuthenticatedHttpRequest, list_page_url


@login_required
@require_POST
def list_columns(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The ticked columns (`columns`, any number), or the default ones (`reset`, or nothing
    ticked); back to `next` when it is the list page, else to the list."""
    keys = () if "reset" in request.POST else request.POST.getlist("columns")
    services.list_columns_save(request.user, keys or services.DEFAULT_COLUMNS)
    back = list_page_url(request, request.POST.get("next", ""), reverse("contacts:lookup"))
    return redirect(back)
