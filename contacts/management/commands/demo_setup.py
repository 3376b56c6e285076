"""Seeds the demo logins and credentials against the sandbox. Refuses to run with DEBUG off."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contacts.models import VitecCredential

ADMIN = ("admin", "crmviewer-admin")
# (user name, password, [(customer id, label)]); the sandbox's API account demo/demo reads both.
BROKERS = (
    ("anna", "crmviewer-anna", [("M1001", "Kontoret Södermalm")]),
    ("erik", "crmviewer-erik", [("M1001", "Kontoret Södermalm"), ("M1002", "Kontoret Uppsala")]),
)
SANDBOX_API_USER = ("demo", "demo")


class Command(BaseCommand):
    help = "Create the demo admin and brokers with sandbox credentials (DEBUG only), print logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sandbox-url", default=settings.VITEC_BASE_URL)

    def handle(self, *args: Any, sandbox_url: str, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_setup sets well-known passwords; it only runs with DEBUG=1.")
        users = get_user_model().objects
        admin, _ = users.get_or_create(username=ADMIN[0])
        admin.is_staff = admin.is_superuser = True
        admin.set_password(ADMIN[1])
        admin.save()
        for username, password, customers in BROKERS:
            broker, _ = users.get_or_create(username=username)
            broker.set_password(password)
            broker.save()
            for customer_id, label in customers:
                credential, _ = VitecCredential.objects.get_or_create(
                    user=broker, customer_id=customer_id, defaults={"label": label}
                )
                credential.label = label
                credential.api_username = SANDBOX_API_USER[0]
                credential.set_password(SANDBOX_API_USER[1])
                credential.is_active = True
                credential.save()

        self.stdout.write("Demo logins (local use only):")
        self.stdout.write(f"  admin  {ADMIN[0]} / {ADMIN[1]}   (manages Vitec credentials)")
        for username, password, customers in BROKERS:
            offices = ", ".join(customer_id for customer_id, _ in customers)
            self.stdout.write(f"  broker {username} / {password}   (customers {offices})")
        self.stdout.write(f"Vitec sandbox: {sandbox_url}  (API user demo / demo)")
        self._sample_ids()

    def _sample_ids(self) -> None:
        """A few ids of the sandbox's default data (seed 1) to paste into the lookup."""
        try:
            from contacts.vitec.sandbox import SandboxConfig
            from contacts.vitec.sandbox.data import customer_data, demo_ids
        except ImportError:  # the sandbox extra (Faker) is not installed
            return
        config = SandboxConfig()
        data = customer_data("M1001", seed=config.seed, count=config.contacts_per_customer)
        self.stdout.write("  contact ids to try (customer M1001):")
        for label, contact_id in demo_ids(data).items():
            self.stdout.write(f"    {label + ':':17} {contact_id}")
        self.stdout.write(
            f"  ({config.contacts_per_customer} contacts per customer; "
            "GET CRM/Contact/M1001 lists every id)"
        )
