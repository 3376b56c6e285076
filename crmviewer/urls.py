"""URL routes of crmviewer."""

from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from contacts.hooks import vitec_notification
from crmviewer.health import healthz

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="contacts:lookup", permanent=False)),
    path("contacts/", include("contacts.urls")),
    # Django's auth routes; password reset only with e-mail configured, throttled.
    path("accounts/", include("crmviewer.accounts")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    # Vitec's contact notifications (a 404 unless VITEC_WEBHOOK_TOKEN is set).
    path(
        "hooks/vitec/<str:token>/", vitec_notification, name="vitec_notification"
    ),  # for load balancers: no login, no session
    # Browsers ask for /favicon.ico on pages without an icon link (the admin's).
    path("favicon.ico", lambda request: redirect(static("favicon.svg"), permanent=True)),
]

# The error pages, in the site's layout (crmviewer/errors.py); the 500 page without the request.
handler400 = "crmviewer.errors.bad_request"
handler403 = "crmviewer.errors.permission_denied"
handler404 = "crmviewer.errors.page_not_found"
handler500 = "crmviewer.errors.server_error"
