"""Re-encrypt every stored Vitec password with the first key of CREDENTIAL_KEYS.

Key rotation: put the new key first in CREDENTIAL_KEYS (keep the old ones after it), run this
command, then drop the old keys. All or nothing: if any stored password cannot be decrypted with
the configured keys, nothing is changed and the command fails naming the credential ids.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import ngettext

from contacts.audit import audit_record
from contacts.crypto import CredentialDecryptionError, rotate_secret, validate_keys
from contacts.models import AuditEvent, VitecCredential


class Command(BaseCommand):
    # Help texts stay plain English: argparse cannot format lazy translations.
    help = (
        "Re-encrypt every stored Vitec password with the first key of CREDENTIAL_KEYS, "
        "all or nothing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check that every password can be re-encrypted, but change nothing.",
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        try:
            validate_keys()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc

        with transaction.atomic():
            credentials = list(VitecCredential.objects.select_for_update().order_by("pk"))
            failed: list[int] = []
            for credential in credentials:
                try:
                    credential.password_encrypted = rotate_secret(credential.password_encrypted)
                except CredentialDecryptionError:
                    failed.append(credential.pk)
            if failed:
                raise CommandError(
                    ngettext(
                        "%(count)d stored password cannot be decrypted with CREDENTIAL_KEYS "
                        "(credential id %(ids)s). Nothing was changed.",
                        "%(count)d stored passwords cannot be decrypted with CREDENTIAL_KEYS "
                        "(credential ids %(ids)s). Nothing was changed.",
                        len(failed),
                    )
                    % {"count": len(failed), "ids": ", ".join(str(pk) for pk in failed)}
                )
            count = len(credentials)
            if dry_run:
                self.stdout.write(
                    ngettext(
                        "Dry run: %(count)d credential would be re-encrypted. Nothing was changed.",
                        "Dry run: %(count)d credentials would be re-encrypted. "
                        "Nothing was changed.",
                        count,
                    )
                    % {"count": count}
                )
                return
            # bulk_update leaves updated_at alone: re-encryption is not an edit of the credential.
            VitecCredential.objects.bulk_update(credentials, ["password_encrypted"], batch_size=500)
            for credential in credentials:  # the same password under a new key: no field names
                audit_record(
                    action=AuditEvent.Action.CREDENTIAL_CHANGED,
                    credential=credential,
                    details={"reencrypted": True, "source": "rotate_credential_keys"},
                )

        self.stdout.write(
            self.style.SUCCESS(
                ngettext(
                    "Re-encrypted %(count)d credential with the first key of CREDENTIAL_KEYS.",
                    "Re-encrypted %(count)d credentials with the first key of CREDENTIAL_KEYS.",
                    count,
                )
                % {"count": count}
            )
        )
