"""What crmviewer persists: Vitec credentials (password encrypted at rest) and the audit trail."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .crypto import decrypt_secret, encrypt_secret

customer_id_validator = RegexValidator(
    regex=r"\A[MSOGT][0-9]{1,38}\Z",
    message=_("A customer id is a letter M, S, O, G or T followed by digits, e.g. M30011."),
)


class VitecCredential(models.Model):
    """A Vitec Connect API login for one customer (office), held on behalf of one user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="vitec_credentials",
        verbose_name=_("user"),
    )
    label = models.CharField(_("label"), max_length=100, blank=True)
    customer_id = models.CharField(
        _("customer id"), max_length=40, validators=[customer_id_validator]
    )
    api_username = models.CharField(_("API user name"), max_length=150)
    password_encrypted = models.TextField(editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    last_verified_at = models.DateTimeField(_("last verified"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("Vitec credential")
        verbose_name_plural = _("Vitec credentials")
        ordering = ["user__username", "customer_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "customer_id"], name="one_credential_per_user_and_customer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label or self.customer_id} ({self.customer_id})"

    @property
    def display_label(self) -> str:
        return self.label or self.customer_id

    def set_password(self, raw_password: str) -> None:
        self.password_encrypted = encrypt_secret(raw_password)

    def get_password(self) -> str:
        return decrypt_secret(self.password_encrypted)


class AuditEvent(models.Model):
    """Who looked at, revealed, exported or changed what, and when.

    Never holds a password, a Fernet token or a full personnummer (see contacts/audit.py).
    """

    class Action(models.TextChoices):
        LOOKUP = "lookup", _("Lookup")
        CONTACT_VIEW = "contact_view", _("Contact viewed")
        PERSONNUMMER_REVEAL = "personnummer_reveal", _("Personnummer revealed")
        CSV_EXPORT = "csv_export", _("CSV export")
        CREDENTIAL_CREATED = "credential_created", _("Credential created")
        CREDENTIAL_CHANGED = "credential_changed", _("Credential changed")
        CREDENTIAL_DELETED = "credential_deleted", _("Credential deleted")
        CREDENTIAL_DISABLED = "credential_disabled", _("Credential disabled")
        CONNECTION_TEST = "connection_test", _("Connection test")
        LOGIN_FAILED = "login_failed", _("Failed login")

    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
        verbose_name=_("user"),
    )
    # Kept when the user is deleted; for a failed login, the user name that was tried.
    username = models.CharField(_("user name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=32, choices=Action.choices)
    credential = models.ForeignKey(
        VitecCredential,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
        verbose_name=_("Vitec credential"),
    )
    customer_id = models.CharField(_("customer id"), max_length=40, blank=True)
    contact_ids = models.JSONField(_("contact ids"), default=list, blank=True)
    row_count = models.IntegerField(_("rows"), null=True, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action}"
