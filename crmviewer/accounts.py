"""The account pages under /accounts/: Django's login, logout and password change, and password
reset by e-mail, which is served only when e-mail is configured and is throttled.

Password reset (settings.PASSWORD_RESET_ENABLED, set by EMAIL_URL; every reset page is a 404
without it):

- At most RESETS_PER_CLIENT submissions of the form per client address (the address
  django-axes throttles logins by) per RESET_WINDOW_SECONDS; the next one gets a 429 page. That
  answer depends only on what this client sent, never on any account.
- At most RESETS_PER_ADDRESS mails per submitted e-mail address per window, whoever asks: no
  one can flood a mailbox. Past it, the answer is the usual "sent" page and no mail goes. A 429
  here would tell a client that someone else asked for this address lately; the "sent" page says
  nothing, and is what an address without an account gets too.
- The counters live in Django's cache, keyed by an HMAC of the address (the cache never holds an
  e-mail address), so every app server behind a load balancer shares them (CACHE_URL); while the
  cache is down, in this process's memory (crmviewer.cache.FailoverStore), so the limits hold
  per app server instead of not at all.
- Nothing logged names the account: Django's form logs the user's id when a mail cannot be sent
  (QuietPasswordResetForm does not), and the request log line of a reset link carries its route,
  not its path, which holds the user's id and the token (crmviewer.middleware).
"""

from __future__ import annotations

import logging
from typing import Any

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.template import loader
from django.urls import path
from django.utils.crypto import salted_hmac
from django.views import View

from contacts.vitec.breaker import MemoryStore
from crmviewer.cache import FailoverStore

logger = logging.getLogger(__name__)

RESETS_PER_CLIENT = 5  # submissions of the reset form from one client address per window
RESETS_PER_ADDRESS = 3  # reset mails to one e-mail address per window
RESET_WINDOW_SECONDS = 60 * 60
_KEY_SALT = "crmviewer.accounts.password_reset"
_counters = FailoverStore(shared=cache, local=MemoryStore())


def _within_limit(kind: str, value: str, limit: int) -> bool:
    """Count one more for `value` in this window; whether the count is still within `limit`."""
    digest = salted_hmac(_KEY_SALT, f"{kind}:{value}", algorithm="sha256").hexdigest()
    key = f"password-reset:{kind}:{digest}"
    _counters.add(key, 0, RESET_WINDOW_SECONDS)  # a new window starts at the first request
    try:
        count = _counters.incr(key)
    except ValueError:  # the window ended between add and incr
        _counters.set(key, 1, RESET_WINDOW_SECONDS)
        count = 1
    return count <= limit


class QuietPasswordResetForm(PasswordResetForm):
    """Django's form, whose failure to send is logged without naming the user or the address.

    Django 6.1 logs "Failed to send password reset email to <user id>" with the traceback, and an
    SMTP error's text holds the recipient: together they say which address has an account.
    """

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(subject, body, from_email, [to_email])
        if html_email_template_name is not None:
            html = loader.render_to_string(html_email_template_name, context)
            message.attach_alternative(html, "text/html")
        try:
            message.send()
        except Exception as error:  # the page says "sent" either way, as Django's does
            logger.error("Could not send a password reset e-mail (%s)", type(error).__name__)


class PasswordResetEnabledMixin(View):
    """A 404 unless e-mail is configured (EMAIL_URL): no page promises a mail that cannot go."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.PASSWORD_RESET_ENABLED:
            raise Http404("Password reset is not enabled.")
        return super().dispatch(request, *args, **kwargs)


class PasswordResetView(PasswordResetEnabledMixin, auth_views.PasswordResetView):
    form_class = QuietPasswordResetForm

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        client = get_client_ip_address(request) or ""
        if not _within_limit("client", client, RESETS_PER_CLIENT):
            return render(
                request,
                "registration/password_reset_throttled.html",
                {"minutes": RESET_WINDOW_SECONDS // 60},
                status=429,
            )
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        address = form.cleaned_data["email"].casefold()
        if not _within_limit("address", address, RESETS_PER_ADDRESS):
            return HttpResponseRedirect(self.get_success_url())  # as if sent: see the docstring
        return super().form_valid(form)


class PasswordResetDoneView(PasswordResetEnabledMixin, auth_views.PasswordResetDoneView):
    pass


class PasswordResetConfirmView(PasswordResetEnabledMixin, auth_views.PasswordResetConfirmView):
    pass


class PasswordResetCompleteView(PasswordResetEnabledMixin, auth_views.PasswordResetCompleteView):
    pass


class LoginView(auth_views.LoginView):
    """Django's login, whose page links to password reset only when that is served."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["password_reset_enabled"] = settings.PASSWORD_RESET_ENABLED
        return context


# The routes and names of django.contrib.auth.urls, with the views above.
urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password_reset/", PasswordResetView.as_view(), name="password_reset"),
    path("password_reset/done/", PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "reset/<uidb64>/<token>/",
        PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("reset/done/", PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
