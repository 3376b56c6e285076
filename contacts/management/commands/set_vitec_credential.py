"""Create or update a user's Vitec credential; the password comes only from standard input.

    echo "$VITEC_PASSWORD" | python manage.py set_vitec_credential anna \\
        --customer-id M30011 --api-username anna.api --password-stdin

The password is never taken as an argument (it would end up in the shell history and in `ps`)
and never printed.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext

from contacts import services


def _password_from(stream: TextIO) -> str:
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

    def add_arguments(self, parser: CommandParser) -> None:
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
        try:
            _, created = services.credential_upsert(
                user=user,
                customer_id=customer_id,
                api_username=options["api_username"],
                password=password,
                label=options["label"],
                is_active=not options["inactive"],
                source="set_vitec_credential",
            )
        except ValidationError as exc:
            raise CommandError(
                gettext("The credential is not valid: %(errors)s")
                % {"errors": _validation_text(exc)}
            ) from None

        message = (
            gettext("Created credential %(customer_id)s for %(username)s")
            if created
            else gettext("Updated credential %(customer_id)s for %(username)s")
        )
        self.stdout.write(
            self.style.SUCCESS(message % {"customer_id": customer_id, "username": username})
        )
