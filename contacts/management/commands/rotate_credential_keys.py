"""Re-encrypt every stored Vitec password with the first key of CREDENTIAL_KEYS.

Key rotation: put the new key first in CREDENTIAL_KEYS (keep the old ones after it), run this
command, then drop the old keys. All or nothing: if any stored password cannot be decrypted with
the configured keys, nothing is changed and the command fails naming the credential ids.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

from contacts import services


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
            count = services.credentials_rotate_keys(dry_run=dry_run)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        except services.KeysCannotDecrypt as exc:
            failed = exc.credential_ids
            raise CommandError(
                ngettext(
                    "%(count)d stored password cannot be decrypted with CREDENTIAL_KEYS "
                    "(credential id %(ids)s). Nothing was changed.",
                    "%(count)d stored passwords cannot be decrypted with CREDENTIAL_KEYS "
                    "(credential ids %(ids)s). Nothing was changed.",
                    len(failed),
                )
                % {"count": len(failed), "ids": ", ".join(str(pk) for pk in failed)}
            ) from None
        if dry_run:
            self.stdout.write(
                ngettext(
                    "Dry run: %(count)d credential would be re-encrypted. Nothing was changed.",
                    "Dry run: %(count)d credentials would be re-encrypted. Nothing was changed.",
                    count,
                )
                % {"count": count}
            )
            return
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
