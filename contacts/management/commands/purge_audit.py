"""Delete audit events older than AUDIT_RETENTION_DAYS (or --days): run it daily, e.g. from cron.

python manage.py purge_audit [--days N] [--dry-run]
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext, ngettext

from contacts.audit import audit_purge


class Command(BaseCommand):
    # Help texts stay plain English: argparse cannot format lazy translations.
    help = "Delete audit events older than AUDIT_RETENTION_DAYS days (or --days), print how many."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep this many days instead of AUDIT_RETENTION_DAYS (at least 1).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the events to delete, delete none."
        )

    def handle(
        self, *args: Any, days: int | None = None, dry_run: bool = False, **options: Any
    ) -> None:
        days = settings.AUDIT_RETENTION_DAYS if days is None else days
        if days < 1:
            raise CommandError(
                gettext("The retention must be at least 1 day, not %(days)d.") % {"days": days}
            )
        count = audit_purge(older_than_days=days, dry_run=dry_run)
        if dry_run:
            message = ngettext(
                "Dry run: %(count)d audit event older than %(days)d days would be deleted.",
                "Dry run: %(count)d audit events older than %(days)d days would be deleted.",
                count,
            )
            self.stdout.write(message % {"count": count, "days": days})
            return
        message = ngettext(
            "Deleted %(count)d audit event older than %(days)d days.",
            "Deleted %(count)d audit events older than %(days)d days.",
            count,
        )
        self.stdout.write(self.style.SUCCESS(message % {"count": count, "days": days}))
