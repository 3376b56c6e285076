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
SAMPLE_IDS = "M1001-00001, M1001-00002, M1001-00003, M1001-00004, M1001-00010, M1001-00042"


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
        self.stdout.write(f"  contact ids to try: {SAMPLE_IDS}")
        self.stdout.write("  any of M1001-00001 ... M1001-02400 and M1002-00001 ... M1002-02400")
