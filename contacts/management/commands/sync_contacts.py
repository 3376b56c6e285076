"""Sync the office register from Vitec in the foreground and print a summary per customer.

python manage.py sync_contacts [--customer ID ...] [--full]

Without --customer, every customer that has an active credential. The background tasks run the
same code (contacts/services/sync.py); a customer another process is syncing is skipped.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contacts.models import VitecCredential
from contacts.services import sync


class Command(BaseCommand):
    help = "Sync the office register of each customer (or --customer) from Vitec, print a summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customer", action="append", default=[], help="Customer id, e.g. M1001 (repeatable)."
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="List every contact id again (drops deleted ones), not only what changed.",
        )

    def handle(self, *args: Any, customer: list[str], full: bool = False, **options: Any) -> None:
        customers = customer or sorted(
            set(
                VitecCredential.objects.filter(is_active=True).values_list("customer_id", flat=True)
            )
        )
        if not customers:
            raise CommandError("No customer to sync: no active Vitec credential is stored.")
        failed = False
        for customer_id in customers:
            report = sync.sync_customer(customer_id, full=full)
            line = report.summary()
            if report.error or report.failed_ids:
                failed = True
                self.stderr.write(line)
            else:
                self.stdout.write(self.style.SUCCESS(line))
        if failed:
            raise CommandError("At least one sync did not complete; see above.")
