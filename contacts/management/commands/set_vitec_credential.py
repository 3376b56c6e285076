"""Create or update a user's Vitec credential; the password comes only from standard input.

    echo "$VITEC_PASSWORD" | python manage.py set_vitec_credential anna \\
        --customer-id M30011 --api-username anna.api --password-stdin

The password is never taken as an argument (it would end up in the shell history and in `ps`)
and never printed.
"""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext

from contacts.audit import audit_record
from contacts.models import AuditEvent, VitecCredential


def _password_from(stream) -> str:
    text = stream.read()
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise CommandError(gettext("The password on standard input is empty."))
    if "\n" in text or "\r" in text:
        raise CommandError(gettext("The password on standard input must be a single line."))
    return text


# Fields whose change the audit trail names (besides the password, which is always set).
_AUDITED_FIELDS = ("customer_id", "api_username", "label", "is_active")


def _validation_text(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(
            f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


class Command(BaseCommand):
    # Help texts stay plain English: argparse cannot format lazy translations.
    help = (
        "Create or update the Vitec credential of an existing user for one customer id. "
        "The password is read from standard input (--password-stdin)."
    )
    # call_command(..., stdin=io.StringIO(...)) passes a stream in place of sys.stdin (tests).
    stealth_options = ("stdin",)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username", help="The user the credential belongs to.")
        parser.add_argument("--customer-id", required=True, help="Vitec customer id, e.g. M30011.")
        parser.add_argument(
            "--api-username", required=True, help="The Vitec Connect API user name."
        )
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the API password from standard input (one trailing newline is dropped).",
        )
        parser.add_argument(
            "--label", default=None, help="A name for the credential (kept if not given)."
        )
        parser.add_argument(
            "--inactive",
            action="store_true",
            help="Store the credential disabled (otherwise it is stored active).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["password_stdin"]:
            raise CommandError(
                gettext(
                    "Give the password on standard input and pass --password-stdin; "
                    "it is never taken as an argument."
                )
            )
        username = options["username"]
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get(**{user_model.USERNAME_FIELD: username})
        except user_model.DoesNotExist:
            raise CommandError(
                gettext("There is no user named %(username)s.") % {"username": username}
            ) from None
        password = _password_from(options.get("stdin") or sys.stdin)

        customer_id = options["customer_id"]
        with transaction.atomic():
            credential = (
                VitecCredential.objects.select_for_update()
                .filter(user=user, customer_id=customer_id)
                .first()
            )
            created = credential is None
            before = {} if created else {f: getattr(credential, f) for f in _AUDITED_FIELDS}
            if created:
                credential = VitecCredential(user=user, customer_id=customer_id, label="")
            else:
                # Another password: the last connection test says nothing about it.
                credential.last_verified_at = None
                credential.last_error = ""
            credential.api_username = options["api_username"]
            if options["label"] is not None:
                credential.label = options["label"]
            credential.is_active = not options["inactive"]
            credential.set_password(password)
            try:
                credential.full_clean()
            except ValidationError as exc:
                raise CommandError(
                    gettext("The credential is not valid: %(errors)s")
                    % {"errors": _validation_text(exc)}
                ) from None
            credential.save()
            # Field names only: this command always sets the password, whose value is never kept.
            changed = [f for f in _AUDITED_FIELDS if before.get(f) != getattr(credential, f)]
            audit_record(
                action=AuditEvent.Action.CREDENTIAL_CREATED
                if created
                else AuditEvent.Action.CREDENTIAL_CHANGED,
                credential=credential,
                details={
                    "changed_fields": sorted([*changed, "password"]),
                    "owner": username,
                    "source": "set_vitec_credential",
                },
            )

        message = (
            gettext("Created credential %(customer_id)s for %(username)s")
            if created
            else gettext("Updated credential %(customer_id)s for %(username)s")
        )
        self.stdout.write(
            self.style.SUCCESS(message % {"customer_id": customer_id, "username": username})
        )
