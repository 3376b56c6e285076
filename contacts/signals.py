"""Receivers that keep the audit trail whole whatever changes the data: the admin, the deletion
of a user (which deletes that user's credentials with it), a management command or the shell."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet

from crmviewer.middleware import current_request

from .audit import audit_record
from .models import AuditEvent, VitecCredential


def credential_deleted_record(
    sender: type[VitecCredential], instance: VitecCredential, origin: Any = None, **kwargs: Any
) -> None:
    """Receiver of `pre_delete` for VitecCredential: one CREDENTIAL_DELETED event per credential.

    Before the row goes, while the credential can still be referred to (the deletion then sets
    the event's credential to NULL, keeping its customer id). The actor is the logged-in user of
    the request being handled, if any; a deletion outside a request (shell, command) names none.
    """
    details: dict[str, Any] = {"owner": instance.user.get_username(), "label": instance.label}
    origin_model = origin.model if isinstance(origin, QuerySet) else type(origin)
    if isinstance(origin, Model | QuerySet) and origin_model is not VitecCredential:
        details["deleted_with"] = origin_model._meta.label_lower  # e.g. "auth.user"
    audit_record(
        action=AuditEvent.Action.CREDENTIAL_DELETED,
        request=current_request(),
        credential=instance,
        details=details,
    )
