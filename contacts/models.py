"""What crmviewer persists: Vitec credentials (password encrypted at rest) and the audit trail."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .crypto import decrypt_secret, encrypt_secret

customer_id_validator = RegexValidator(
    regex=r"\A[MSOGT][0-9]{1,38}\Z",
    message=_("A customer id is a letter M, S, O, G or T followed by digits, e.g. M30011."),
)


class VitecCredential(models.Model):
    """A Vitec Connect API login for one customer (office), held on behalf of one user."""

    class Standing(models.TextChoices):
        """What Vitec last said of it: the register opens only to an accepted credential."""

        UNTRIED = "untried", _("Not tried yet")
        ACCEPTED = "accepted", _("Accepted by Vitec")
        REFUSED = "refused", _("Refused by Vitec")

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
    standing = models.CharField(
        _("Vitec's answer"), max_length=10, choices=Standing.choices, default=Standing.UNTRIED
    )
    standing_at = models.DateTimeField(_("answered"), null=True, blank=True)
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
        REGISTER_VIEW = "register_view", _("Register browsed")
        REGISTER_EXPORT = "register_export", _("Register export")
        REGISTER_SYNC = "register_sync", _("Register sync asked for")
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
        when = timezone.localtime(self.created_at)
        return f"{when:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.get_action_display()}"


class RegisterContact(models.Model):
    """One contact of an office (customer) as last read from Vitec: the office register.

    `data` holds the whole typed contact (contacts/vitec/codec.py) without its personnummer,
    which is stored only sealed (`personnummer_sealed`, Fernet with a key of its own) beside a
    keyed blind index (`personnummer_index`, an HMAC) so an exact search still finds it. The
    other columns are copies of what is searched, filtered and sorted, made by
    contacts/services/register_store.py.
    """

    customer_id = models.CharField(_("customer id"), max_length=40)
    contact_id = models.CharField(_("contact id"), max_length=40)
    id_key = models.CharField(max_length=40)  # the id casefolded: Vitec ignores letter case
    contact_type = models.CharField(_("type"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    sort_key = models.CharField(max_length=400)  # Swedish order, persons by surname
    search_text = models.TextField()  # folded (no case, no accents) words searched by `q`
    phone_digits = models.TextField(blank=True)  # " 0701234567 081234567 " national digits
    email = models.CharField(_("e-mail"), max_length=200, blank=True)
    street = models.CharField(_("street"), max_length=100, blank=True)
    zip_code = models.CharField(_("postcode"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    gdpr_informed_at = models.DateTimeField(_("GDPR informed"), null=True, blank=True)
    advertising = models.BooleanField(_("advertising consent"), null=True)
    lead_score = models.SmallIntegerField(_("lead score"), null=True, blank=True)
    deceased = models.BooleanField(_("deceased"), default=False)
    agent_id = models.CharField(_("agent"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("created"), null=True, blank=True)
    changed_at = models.DateTimeField(_("changed"), null=True, blank=True)
    data = models.JSONField()
    personnummer_sealed = models.TextField(blank=True)
    personnummer_index = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("register contact")
        verbose_name_plural = _("register contacts")
        constraints = [
            models.UniqueConstraint(
                fields=["customer_id", "id_key"], name="register_one_row_per_contact"
            )
        ]
        indexes = [
            models.Index(fields=["customer_id", "sort_key"], name="register_by_name"),
            models.Index(fields=["customer_id", "changed_at"], name="register_by_changed"),
            models.Index(fields=["customer_id", "contact_type"], name="register_by_type"),
            models.Index(fields=["personnummer_index"], name="register_by_personnummer"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.contact_id}"


class RegisterCategory(models.Model):
    """A category a register contact carries (one row each: filtered and counted)."""

    contact = models.ForeignKey(RegisterContact, on_delete=models.CASCADE, related_name="tags")
    customer_id = models.CharField(max_length=40)
    category_id = models.CharField(max_length=100)
    name = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer_id", "category_id"], name="register_by_category"),
        ]

    def __str__(self) -> str:
        return f"{self.category_id} {self.name}"


class RegisterSync(models.Model):
    """The sync state of one customer's register: progress, outcome and the lock.

    The lock is a lease (`locked_by`, `locked_until`) taken and renewed with one conditional
    UPDATE, so two app servers never sync one customer at once and a crashed sync's lease runs
    out by itself.
    """

    class Status(models.TextChoices):
        NEVER = "never", _("Never synced")
        RUNNING = "running", _("Syncing")
        DONE = "done", _("Synced")
        FAILED = "failed", _("Failed")

    customer_id = models.CharField(_("customer id"), max_length=40, unique=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.NEVER
    )
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # The start of the last sync that finished: the next incremental one asks from here on.
    complete_from = models.DateTimeField(null=True, blank=True)
    first_completed_at = models.DateTimeField(_("first complete"), null=True, blank=True)
    last_full_at = models.DateTimeField(_("last full reconcile"), null=True, blank=True)
    total = models.IntegerField(_("contacts listed"), default=0)
    fetched = models.IntegerField(_("fetched"), default=0)
    changed = models.IntegerField(pgettext_lazy("contacts counted", "changed"), default=0)
    deleted = models.IntegerField(_("deleted"), default=0)
    failed_ids = models.JSONField(_("failed ids"), default=list, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    requested_at = models.DateTimeField(_("sync asked for"), null=True, blank=True)
    refresh_queued = models.BooleanField(default=False)  # a refresh task waits for RegisterRefresh
    credential_seen_at = models.DateTimeField(null=True, blank=True)
    locked_by = models.CharField(max_length=100, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("register sync")
        verbose_name_plural = _("register syncs")

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.get_status_display()}"

    @property
    def ready(self) -> bool:
        """Whether a full sync has completed once: the register can serve browsing."""
        return self.first_completed_at is not None


class RegisterRefresh(models.Model):
    """Contact ids a notification asked to re-read, waiting for the refresh task (a burst of the
    same id is one row)."""

    customer_id = models.CharField(max_length=40)
    id_key = models.CharField(max_length=40)
    contact_id = models.CharField(max_length=40)
    asked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer_id", "id_key"], name="refresh_once_per_id")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.contact_id}"


class BrokerPreference(models.Model):
    """What a broker chose for their screens, kept across sessions and devices."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="broker_preference"
    )
    # Keys of the list's columns the broker shows (contacts.services.HTML_COLUMNS); empty: the
    # default columns.
    columns = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("broker preference")
        verbose_name_plural = _("broker preferences")

    def __str__(self) -> str:
        return str(self.user)


def _id_list_token() -> str:
    import secrets  # here, not at the top: this model is appended to the file

    return secrets.token_urlsafe(12)


class IdList(models.Model):
    """A list of contact ids of one Vitec customer, kept in the database: what `list=` names in a
    URL when the ids are too many for it, so a link still works tomorrow and for a colleague with
    their own credential for the customer. Unnamed lists are made for long lookups and purged
    when unused (ID_LIST_RETENTION_DAYS); a named one is kept until its owner deletes it."""

    token = models.CharField(_("token"), max_length=32, unique=True, default=_id_list_token)
    customer_id = models.CharField(_("customer id"), max_length=40, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="id_lists",
        verbose_name=_("owner"),
    )
    # Blank: not saved by name (an automatic list made for a long lookup).
    name = models.CharField(_("name"), max_length=100, blank=True)
    shared = models.BooleanField(_("shared with colleagues"), default=False)
    ids = models.TextField(_("contact ids"))  # comma-separated
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    used_at = models.DateTimeField(_("last used"), default=timezone.now)

    class Meta:
        verbose_name = _("list of ids")
        verbose_name_plural = _("lists of ids")
        indexes = [
            models.Index(fields=["owner", "customer_id"], name="id_list_by_owner"),
            models.Index(fields=["name", "used_at"], name="id_list_by_use"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.token} ({self.customer_id})"

    @property
    def count(self) -> int:
        """How many ids the list holds."""
        return len([i for i in self.ids.split(",") if i])
