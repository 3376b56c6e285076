"""Run the Vitec Connect sandbox in the foreground for demos and manual testing.

The sandbox is imported inside the functions that use it, never at the top: it needs Faker, an
optional extra, and without Faker the command says what to install instead of failing to load
(`_import_sandbox` checks that first).
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

if TYPE_CHECKING:
    from contacts.vitec.sandbox import Account, SandboxConfig, SandboxServer

ACCOUNTS_ENV = "VITEC_SANDBOX_ACCOUNTS"
# Config field names in validation messages -> the command-line option that sets them.
_OPTION_NAMES = re.compile(
    r"\b(contacts_per_customer|latency_ms|fail_rate|fault_count|retry_after|fault|seed"
    r"|single_as_list|notify_url)\b"
)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _import_sandbox() -> None:
    """Import the sandbox, or name the extra to install when Faker (its data) is missing."""
    try:
        importlib.import_module("contacts.vitec.sandbox")
    except ImportError as exc:
        if "faker" not in {exc.name, getattr(exc.__cause__, "name", None)}:
            raise
        raise CommandError(
            "The Vitec sandbox needs Faker to generate its data, and it is not installed: "
            "pip install crmviewer[sandbox]"
        ) from exc


def _check_address(host: str, port: int) -> None:
    """Refuse any host but a loopback one, and a port out of range."""
    if not _is_loopback(host):
        raise CommandError(
            f"Refusing to serve the Vitec sandbox on {host!r}: it answers with fake data and "
            "well-known passwords over plain HTTP, so it only binds to a loopback address "
            "(127.0.0.1, ::1 or localhost)."
        )
    if not 0 <= port <= 65535:
        raise CommandError(f"--port must be between 0 and 65535, not {port}.")


def _config(options: dict[str, Any], accounts: tuple[Account, ...]) -> SandboxConfig:
    """The sandbox's settings; an invalid one is reported under its option's name (--fail-rate)."""
    from contacts.vitec.sandbox import SandboxConfig

    try:
        return SandboxConfig(
            latency_ms=options["latency_ms"],
            fail_rate=options["fail_rate"],
            seed=options["seed"],
            accounts=accounts,
            contacts_per_customer=options["contacts_per_customer"],
            fault=options["fault"],
            fault_count=options["fault_count"],
            retry_after=options["retry_after"],
            single_as_list=options["single_as_list"],
            notify_url=options["notify_url"],
        )
    except ValueError as exc:
        message = _OPTION_NAMES.sub(lambda m: "--" + m[0].replace("_", "-"), str(exc))
        raise CommandError(f"Invalid option: {message}.") from exc


class Command(BaseCommand):
    help = (
        "Serve a local stand-in for Vitec Connect (fake Swedish CRM data, switchable faults) "
        "on a loopback address until Ctrl-C."
    )
    requires_system_checks: list[str] = []  # no database, no checks: it only serves HTTP
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
        parser.add_argument("--port", type=int, default=8001, help="port (0 = any free port)")
        parser.add_argument("--latency-ms", type=int, default=0, help="delay before each answer")
        parser.add_argument(
            "--fail-rate", type=float, default=0.0, help="probability 0..1 of a random 500"
        )
        parser.add_argument("--seed", type=int, default=1, help="seed for data and faults")
        parser.add_argument("--fault", default=None, help="fault applied to every API request")
        parser.add_argument(
            "--fault-count", type=int, default=None, help="apply --fault to the next N only"
        )
        parser.add_argument(
            "--retry-after", type=int, default=2, help="Retry-After seconds for 429/503"
        )
        parser.add_argument(
            "--contacts-per-customer", type=int, default=2400, help="contacts per customer id"
        )
        parser.add_argument(
            "--single-as-list",
            action="store_true",
            help="answer a one-id path (no comma) with a list, not the contact object itself",
        )
        parser.add_argument(
            "--notify-url",
            default=None,
            help="POST Vitec's notification JSON here for each contact changed through the "
            "control API (/_sandbox/contacts/...)",
        )
        parser.add_argument(
            "--accounts",
            default=None,
            help='JSON file [{"username":..,"password":..,"customers":["M1001"]}] replacing the '
            f"default demo/demo account (else ${ACCOUNTS_ENV}, same JSON)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        _import_sandbox()
        host: str = options["host"]
        port: int = options["port"]
        _check_address(host, port)
        config = _config(options, self._accounts(options["accounts"]))
        server = self._listen(config, host, port, verbose=options["verbosity"] >= 1)
        self._announce(server, config)
        self._serve(server)

    def _accounts(self, path: str | None) -> tuple[Account, ...]:
        """The accounts of --accounts, else of $VITEC_SANDBOX_ACCOUNTS, else the demo/demo one."""
        from contacts.vitec.sandbox import DEFAULT_ACCOUNTS, parse_accounts

        source, text = self._accounts_source(path)
        if text is None:
            return DEFAULT_ACCOUNTS
        try:
            return parse_accounts(text)
        except ValueError as exc:
            raise CommandError(f"Invalid accounts in {source}: {exc}") from exc

    def _accounts_source(self, path: str | None) -> tuple[str, str | None]:
        if path:
            try:
                return f"--accounts {path}", Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read --accounts file {path}: {exc}") from exc
        value = os.environ.get(ACCOUNTS_ENV, "").strip()
        return f"${ACCOUNTS_ENV}", value or None

    def _listen(
        self, config: SandboxConfig, host: str, port: int, *, verbose: bool
    ) -> SandboxServer:
        """The server, bound to its port (a port in use is an error before anything is printed)."""
        from contacts.vitec.sandbox import SandboxServer

        try:
            return SandboxServer(config, host=host, port=port, log=self._log if verbose else None)
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}") from exc

    def _announce(self, server: SandboxServer, config: SandboxConfig) -> None:
        """Where it listens, its accounts and customers (never a password), any fault."""
        names = ", ".join(a.username for a in config.accounts)
        customers = ", ".join(sorted({c for a in config.accounts for c in a.customers}))
        self.stdout.write(
            f"Vitec sandbox on {server.base_url} (accounts: {names}; customers {customers})"
        )
        if config.fault:
            self.stdout.write(f"Fault switched on: {config.fault}")
        if config.single_as_list:
            self.stdout.write("One-id paths answer a list (--single-as-list)")
        if config.notify_url:
            self.stdout.write(f"Notifications of changed contacts go to {config.notify_url}")
        self.stdout.flush()

    def _serve(self, server: SandboxServer) -> None:
        """Serve until Ctrl-C or `kill`, then stop the server and say so."""
        self._stop_on_sigterm()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
        self.stdout.write("Vitec sandbox stopped.")
        self.stdout.flush()

    def _log(self, line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    @staticmethod
    def _stop_on_sigterm() -> None:
        """Make `kill` stop the server as cleanly as Ctrl-C does."""
        if threading.current_thread() is not threading.main_thread():
            return

        def interrupt(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupt)
