"""Seeds the demo logins and prints how to use them. Refuses to run with DEBUG off."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

DEMO_ADMIN = ("admin", "crmviewer-admin")


class Command(BaseCommand):
    help = "Create the demo logins (DEBUG only) and print them with a few sandbox contact ids."

    def add_arguments(self, parser):
        parser.add_argument("--sandbox-url", default=settings.VITEC_BASE_URL)

    def handle(self, *args, sandbox_url: str, **options):
        if not settings.DEBUG:
            raise CommandError(
                "demo_setup creates well-known passwords; it only runs with DEBUG=1."
            )
        username, password = DEMO_ADMIN
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write("Demo logins (local use only):")
        self.stdout.write(f"  admin   {username} / {password}   http://127.0.0.1:8000/admin/")
        self.stdout.write(f"Vitec sandbox: {sandbox_url}  (API user demo / demo)")
        self.stdout.write(
            "  customers M1001 and M1002; contact ids look like M1001-00001 ... M1001-02400"
        )
        self.stdout.write(
            f"  try: curl -u demo:demo {sandbox_url}/CRM/Contact/M1001/M1001-00001,M1001-00002"
        )
