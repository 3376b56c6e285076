"""Delete one customer's office register at once (contacts, categories, sync state).

python manage.py purge_register --customer ID
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from contacts.services import sync


class Command(BaseCommand):
    help = "Delete the office register of one customer now and print how many contacts it held."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customer", required=True, help="Customer id, e.g. M1001.")

    def handle(self, *args: Any, customer: str, **options: Any) -> None:
        count = sync.register_purge(customer)
        self.stdout.write(
            self.style.SUCCESS(f"Deleted the register of {customer}: {count} contacts.")
        )
