"""Vitec credentials: which a user may browse with; saving, disabling and testing one; rotating
the keys their passwords are encrypted with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..audit import Actor, audit_record
from ..crypto import CredentialDecryptionError, rotate_secret, validate_keys
from ..models import AuditEvent, VitecCredential
from ..vitec.errors import AuthenticationError, PermissionDeniedError, VitecError
from .lookup import client_for_credential
from .messages import broker_message, vitec_text


def credentials_for_user(*, user: User) -> QuerySet[VitecCredential]:
    """The active credentials a user may browse with (never another user's)."""
    return VitecCredential.objects.filter(user=user, is_active=True).order_by("label", "pk")


def credential_for_user(
    *, user: User, credential_id: int | str | None = None, customer_id: str | None = None
) -> VitecCredential | None:
    """The user's credential for a customer (a link that names the customer opens for a
    colleague with their own credential for it: a user has at most one per customer), else the
    one with that id, else their first one when neither is given; otherwise None.

    A customer or id the user has no active credential for, or garbage, gives None: the caller
    answers 404, so nobody can probe for other users' credentials.
    """
    return credential_among(
        list(credentials_for_user(user=user)), credential_id=credential_id, customer_id=customer_id
    )


def credential_among(
    credentials: list[VitecCredential],
    *,
    credential_id: int | str | None = None,
    customer_id: str | None = None,
) -> VitecCredential | None:
    """As credential_for_user, from the user's credentials already read (a page that lists
    them reads them once)."""
    if customer_id not in (None, ""):
        return next((c for c in credentials if c.customer_id == customer_id), None)
    if credential_id in (None, ""):
        return credentials[0] if credentials else None
    try:
        wanted = int(credential_id)
    except (ValueError, TypeError):
        return None
    return next((c for c in credentials if c.pk == wanted), None)


@dataclass(frozen=True, slots=True)
class ConnectionTest:
    ok: bool
    message: str


def credential_test_connection(
    *, credential: VitecCredential, actor: User | None = None
) -> ConnectionTest:
    """Call Vitec with the stored credential, record the outcome on it and in the audit trail
    (as done by `actor`, the user who asked for the test)."""
    refused = False  # Vitec said no to this user name and password (401/403)
    try:
        client = client_for_credential(credential)
        categories = client.fetch_categories(credential.customer_id)
    except CredentialDecryptionError as exc:
        outcome = ConnectionTest(ok=False, message=str(exc))
    except VitecError as exc:
        refused = isinstance(exc, AuthenticationError | PermissionDeniedError)
        message = f"{broker_message(exc)} [{exc.status or '-'}]"
        if said := vitec_text(exc):
            message += f" {_('Vitec said:')} “{said}”"
        outcome = ConnectionTest(ok=False, message=message)
    else:
        count = len(categories.all)
        message = _("Connected: Vitec lists %(count)d categories.") % {"count": count}
        outcome = ConnectionTest(ok=True, message=str(message))
    credential.last_error = "" if outcome.ok else outcome.message
    fields = ["last_error", "last_verified_at", "updated_at"]
    if outcome.ok:
        credential.last_verified_at = timezone.now()
    if outcome.ok or refused:
        credential.standing = (
            VitecCredential.Standing.ACCEPTED if outcome.ok else VitecCredential.Standing.REFUSED
        )
        credential.standing_at = timezone.now()
        fields += ["standing", "standing_at"]
    credential.save(update_fields=fields)
    audit_record(
        action=AuditEvent.Action.CONNECTION_TEST,
        user=actor,
        credential=credential,
        details={"ok": outcome.ok, "message": outcome.message},
    )
    return outcome


# Changing any of these makes it another login, whose last connection test says nothing.
LOGIN_FIELDS = frozenset({"customer_id", "api_username", "password"})


def credential_save(
    *,
    credential: VitecCredential,
    password: str | None,
    changed_fields: Iterable[str],
    actor: Actor,
    previous_owner: str | None = None,
    source: str = "",
) -> VitecCredential:
    """Save a new or changed credential (the admin's form and `set_vitec_credential` alike).

    A password given is stored encrypted; a changed login (password, customer id or API user)
    forgets its last connection test and Vitec's last answer; the change is recorded (field
    names only, never the password) with the owner, and the previous owner when the credential
    moved to another user.
    """
    created = credential._state.adding
    changed = set(changed_fields)
    if password:
        credential.set_password(password)
        changed.add("password")
    if not created and LOGIN_FIELDS & changed:
        credential.last_verified_at = None
        credential.last_error = ""
        # A new login is Vitec's to judge again before the register opens to it.
        credential.standing, credential.standing_at = VitecCredential.Standing.UNTRIED, None
    credential.save()
    details: dict[str, object] = {
        "changed_fields": sorted(changed),
        "owner": credential.user.get_username(),
    }
    if previous_owner is not None and previous_owner != details["owner"]:
        details["previous_owner"] = previous_owner
    if source:
        details["source"] = source
    audit_record(
        action=AuditEvent.Action.CREDENTIAL_CREATED
        if created
        else AuditEvent.Action.CREDENTIAL_CHANGED,
        actor=actor,
        credential=credential,
        details=details,
    )
    return credential


# What `set_vitec_credential` may change on an existing credential, besides the password.
_UPSERT_FIELDS = ("api_username", "label", "is_active")


def credential_upsert(
    *,
    user: User,
    customer_id: str,
    api_username: str,
    password: str,
    label: str | None,
    is_active: bool,
    source: str,
) -> tuple[VitecCredential, bool]:
    """Create the user's credential for the customer, or update it; whether it was created.

    Raises ValidationError (nothing saved) when a field is not valid.
    """
    with transaction.atomic():
        credential = (
            VitecCredential.objects.select_for_update()
            .filter(user=user, customer_id=customer_id)
            .first()
        )
        created = credential is None
        if credential is None:
            credential = VitecCredential(user=user, customer_id=customer_id, label="")
            before: dict[str, object] = {}
        else:
            before = {f: getattr(credential, f) for f in _UPSERT_FIELDS}
        credential.api_username = api_username
        if label is not None:
            credential.label = label
        credential.is_active = is_active
        credential.set_password(password)  # full_clean needs it; credential_save sets it again
        credential.full_clean()
        fields = ("customer_id", *_UPSERT_FIELDS) if created else _UPSERT_FIELDS
        changed = [f for f in fields if before.get(f) != getattr(credential, f)]
        credential_save(
            credential=credential,
            password=password,
            changed_fields=changed,
            actor=Actor(),
            source=source,
        )
    return credential, created


def credentials_disable(*, credentials: QuerySet[VitecCredential], actor: Actor) -> int:
    """Disable the active ones among `credentials`, each recorded; how many were disabled."""
    active = list(credentials.filter(is_active=True).select_related("user"))
    count = VitecCredential.objects.filter(pk__in=[c.pk for c in active]).update(
        is_active=False, updated_at=timezone.now()
    )
    for credential in active:
        audit_record(
            action=AuditEvent.Action.CREDENTIAL_DISABLED,
            actor=actor,
            credential=credential,
            details={"owner": credential.user.get_username()},
        )
    return count


class KeysCannotDecrypt(Exception):
    """Some stored passwords cannot be decrypted with CREDENTIAL_KEYS: nothing was changed."""

    def __init__(self, credential_ids: list[int]) -> None:
        super().__init__(credential_ids)
        self.credential_ids = credential_ids


def credentials_rotate_keys(*, dry_run: bool = False) -> int:
    """Re-encrypt every stored password with the first key of CREDENTIAL_KEYS, all or nothing;
    how many credentials were (or, with `dry_run`, would be) re-encrypted.

    Raises ImproperlyConfigured for unusable keys, KeysCannotDecrypt (nothing changed) when any
    stored password cannot be decrypted. Each re-encryption is recorded, with no field names:
    the password is the same, under a new key.
    """
    validate_keys()
    with transaction.atomic():
        credentials = list(VitecCredential.objects.select_for_update().order_by("pk"))
        failed: list[int] = []
        for credential in credentials:
            try:
                credential.password_encrypted = rotate_secret(credential.password_encrypted)
            except CredentialDecryptionError:
                failed.append(credential.pk)
        if failed:
            raise KeysCannotDecrypt(failed)
        if dry_run:
            return len(credentials)
        # bulk_update leaves updated_at alone: re-encryption is not an edit of the credential.
        VitecCredential.objects.bulk_update(credentials, ["password_encrypted"], batch_size=500)
        for credential in credentials:
            audit_record(
                action=AuditEvent.Action.CREDENTIAL_CHANGED,
                credential=credential,
                details={"reencrypted": True, "source": "rotate_credential_keys"},
            )
    return len(credentials)
