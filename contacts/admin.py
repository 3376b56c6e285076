"""Django admin for Vitec credentials (staff only; the stored password is write-only here) and the
read-only audit trail.

No admin list can be filtered by a field that holds a secret (a credential's encrypted password,
a user's password hash), not even through a relation: `?password_encrypted__startswith=gAAAAB`
would otherwise read a stored value one character at a time. Such a lookup gets a 400.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext, gettext_noop, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from . import services
from .audit import Actor
from .forms_admin import PASSWORD_FIELD, VitecCredentialAdminForm
from .models import AuditEvent, RegisterSync, VitecCredential
from .services import sync

if TYPE_CHECKING:
    from django_stubs_ext import FieldOpts, FieldsetSpec

    # What the mixin's methods see of `self` and reach through `super()`: an admin.
    _AdminBase = admin.ModelAdmin
else:
    _AdminBase = object

# Neither a 500 report nor a debug page may show the password typed into the form.
sensitive_password = method_decorator(sensitive_post_parameters(PASSWORD_FIELD))

User = get_user_model()

# Two of Django 6.1's own admin strings that its Swedish catalogue lacks (the blank choice of the
# action menu and of a select, and the date hierarchy's label). Named here, makemessages keeps them
# in the project's catalogue, which Django consults before its own.
DJANGO_STRINGS_MISSING_IN_SWEDISH = (
    gettext_noop("- Select an option -"),
    gettext_noop("Filter by %(field_name)s"),
)

# (model label, field name) of every field that holds a secret, or a hash of one.
SECRET_FIELDS = frozenset(
    {
        (VitecCredential._meta.label_lower, "password_encrypted"),
        (User._meta.label_lower, "password"),
    }
)


def lookup_reaches_secret(model: type[Model], lookup: str) -> bool:
    """Whether a query-string lookup (`user__password__startswith`) reads a secret field.

    The path is followed through relations, forward and reverse, as the ORM would; the first
    part that is not a field starts the lookups and transforms (startswith, lower, ...).
    """
    for part in lookup.split(LOOKUP_SEP):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        concrete = model._meta.concrete_model or model  # None only while the class is built
        if (concrete._meta.label_lower, field.name) in SECRET_FIELDS:
            return True
        if not field.is_relation or field.related_model is None:
            return False
        model = field.related_model
    return False


class NoSecretLookupsMixin(_AdminBase):
    """Refuses list filters that reach a secret field: Django answers them with a 400.

    Search (`?q=`) only searches `search_fields` and sorting (`?o=`) only takes column numbers of
    `list_display`; neither names a secret field (tests/test_admin.py checks every admin).
    """

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        if lookup_reaches_secret(self.model, lookup):
            return False
        return super().lookup_allowed(lookup, value, request)


# Django's user admin, with the password hash kept out of reach of list filters too.
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(NoSecretLookupsMixin, DjangoUserAdmin):
    pass


@admin.register(VitecCredential)
class VitecCredentialAdmin(NoSecretLookupsMixin, admin.ModelAdmin):
    form = VitecCredentialAdminForm
    list_display = [
        "user",
        "label",
        "customer_id",
        "api_username",
        "is_active",
        "standing",
        "last_verified_at",
        "last_error_short",
    ]
    list_display_links = ["user", "label", "customer_id"]
    list_filter = ["is_active", "standing", "user"]
    list_select_related = ["user"]
    search_fields = ["label", "customer_id", "user__username", "api_username"]
    readonly_fields = [
        "connection_test_button",
        "standing",
        "standing_at",
        "last_verified_at",
        "last_error",
        "created_at",
        "updated_at",
    ]
    actions = ["action_test_connection", "action_disable"]
    # The Save button must come first in the form: it is then the one Enter submits, and not
    # the "Test connection" button further down.
    save_on_top = True

    def get_fieldsets(
        self, request: HttpRequest, obj: VitecCredential | None = None
    ) -> FieldsetSpec:
        login: tuple[None, FieldOpts] = (
            None,
            {"fields": ["user", "label", "customer_id", "api_username", PASSWORD_FIELD]},
        )
        if obj is None:
            return [login, (None, {"fields": ["is_active"]})]
        test = ["connection_test_button"] if self.has_change_permission(request, obj) else []
        status: FieldOpts = {
            "fields": [
                "is_active",
                *test,
                "standing",
                "standing_at",
                "last_verified_at",
                "last_error",
                "created_at",
                "updated_at",
            ]
        }
        return [login, (_("Status"), status)]

    @admin.display(description=_("last error"))
    def last_error_short(self, obj: VitecCredential) -> str:
        return Truncator(obj.last_error).chars(60)

    @admin.display(description=_("connection"))
    def connection_test_button(self, obj: VitecCredential) -> str:
        if obj.pk is None:
            return ""
        url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_test_connection",
            args=[quote(obj.pk)],
            current_app=self.admin_site.name,
        )
        # A submit button of the change form posting (with its CSRF token) to the test URL.
        return format_html(
            '<button type="submit" class="button" formaction="{}" formmethod="post" '
            'formnovalidate name="_test_connection">{}</button> <span class="help">{}</span>',
            url,
            _("Test connection"),
            _("Tests the stored credential. Unsaved changes on this page are not saved."),
        )

    # --- views ----------------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        custom = [
            path(
                "<path:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="{}_{}_test_connection".format(*info),
            )
        ]
        return custom + super().get_urls()  # before the admin's "<path:object_id>/" catch-all

    @sensitive_password
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return super().changeform_view(request, object_id, form_url, extra_context)

    # --- the audit trail of changes -------------------------------------------------------------

    def save_model(
        self,
        request: HttpRequest,
        obj: VitecCredential,
        form: VitecCredentialAdminForm,
        change: bool,
    ) -> None:
        previous_owner = None
        if change and "user" in form.changed_data:  # moved to another user: who had it before
            previous_owner = (
                VitecCredential.objects.filter(pk=obj.pk)
                .values_list(f"user__{User.USERNAME_FIELD}", flat=True)
                .first()
            )
        services.credential_save(
            credential=obj,
            password=form.cleaned_data.get(PASSWORD_FIELD),
            changed_fields=[f for f in form.changed_data if f != PASSWORD_FIELD],
            actor=Actor.of(request),
            previous_owner=previous_owner,
        )

    # Deleting (one, or several with the bulk action) is recorded by contacts.signals, like any
    # other deletion of a credential: once per credential.

    @sensitive_password
    def test_connection_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        credential = self.get_object(request, unquote(object_id))
        if credential is None:
            # Django's own answer to a vanished object (a private helper django-stubs leaves out).
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        if not self.has_change_permission(request, credential):
            raise PermissionDenied
        self._test_and_report(request, credential)
        change_url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[quote(credential.pk)],
            current_app=self.admin_site.name,
        )
        return HttpResponseRedirect(change_url)

    # --- actions --------------------------------------------------------------------------------

    @admin.action(description=_("Test connection"), permissions=["change"])
    def action_test_connection(
        self, request: HttpRequest, queryset: QuerySet[VitecCredential]
    ) -> None:
        for credential in queryset.select_related("user").order_by("pk"):
            self._test_and_report(request, credential)

    @admin.action(description=_("Disable selected credentials"), permissions=["change"])
    def action_disable(self, request: HttpRequest, queryset: QuerySet[VitecCredential]) -> None:
        count = services.credentials_disable(credentials=queryset, actor=Actor.of(request))
        self.message_user(
            request,
            ngettext("Disabled %(count)d credential.", "Disabled %(count)d credentials.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    def _test_and_report(self, request: HttpRequest, credential: VitecCredential) -> None:
        # Only staff get into the admin: the user is always a real one here.
        actor = request.user if isinstance(request.user, User) else None
        outcome = services.credential_test_connection(credential=credential, actor=actor)
        text = gettext("%(user)s / %(credential)s: %(message)s") % {
            "user": credential.user,
            "credential": credential,
            "message": outcome.message,
        }
        self.message_user(request, text, messages.SUCCESS if outcome.ok else messages.ERROR)


SHORT_IDS = 3  # contact ids shown in the list of audit events; the change page shows them all
# The change page of an audit event: every field, none editable.
AUDIT_EVENT_FIELDS = (
    "created_at",
    "action",
    "user",
    "username",
    "ip_address",
    "credential",
    "customer_id",
    "contact_ids",
    "row_count",
    "details",
)


@admin.register(AuditEvent)
class AuditEventAdmin(NoSecretLookupsMixin, admin.ModelAdmin):
    """The audit trail, read-only: nobody adds, edits or deletes events here (purge_audit does)."""

    list_display = [
        "created_at",
        "username",
        "action",
        "customer_id",
        "contact_ids_short",
        "row_count",
    ]
    list_filter = ["action", "user", "customer_id", "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["username", "customer_id", "contact_ids"]
    fields = readonly_fields = AUDIT_EVENT_FIELDS
    list_select_related = ["user"]
    show_full_result_count = False  # the trail grows large; COUNT(*) of all of it is slow

    @admin.display(description=_("contact ids"))
    def contact_ids_short(self, obj: AuditEvent) -> str:
        ids = [str(i) for i in obj.contact_ids or []]
        shown = ", ".join(ids[:SHORT_IDS])
        if len(ids) > SHORT_IDS:
            more = len(ids) - SHORT_IDS
            shown += " " + ngettext("(+%(count)d more)", "(+%(count)d more)", more) % {
                "count": more
            }
        return shown

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False


@admin.register(RegisterSync)
class RegisterSyncAdmin(admin.ModelAdmin):
    """Each customer's office register: how its syncs went. Read-only; "Sync now" queues one."""

    list_display = [
        "customer_id",
        "status",
        "first_completed_at",
        "finished_at",
        "total",
        "fetched",
        "changed",
        "deleted",
        "failed_count",
        "last_error_short",
    ]
    list_filter = ["status"]
    search_fields = ["customer_id"]
    fields = readonly_fields = (
        "customer_id",
        "status",
        "started_at",
        "finished_at",
        "first_completed_at",
        "last_full_at",
        "total",
        "fetched",
        "changed",
        "deleted",
        "failed_ids",
        "last_error",
        "requested_at",
    )
    actions = ["action_sync_now"]

    @admin.display(description=_("failed ids"))
    def failed_count(self, obj: RegisterSync) -> int:
        return len(obj.failed_ids or [])

    @admin.display(description=_("last error"))
    def last_error_short(self, obj: RegisterSync) -> str:
        return Truncator(obj.last_error).chars(60)

    @admin.action(description=_("Sync the selected registers with Vitec now"), permissions=["view"])
    def action_sync_now(self, request: HttpRequest, queryset: QuerySet[RegisterSync]) -> None:
        queued = [state.customer_id for state in queryset if sync.sync_request(state.customer_id)]
        self.message_user(
            request,
            ngettext("%(count)d sync queued.", "%(count)d syncs queued.", len(queued))
            % {"count": len(queued)},
            messages.SUCCESS,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RegisterSync | None = None) -> bool:
        return False
