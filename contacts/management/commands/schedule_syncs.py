"""Queue the syncs that are due, and delete registers no credential uses any more.

python manage.py schedule_syncs [--loop]

Once: queues a sync task for every customer whose register is older than REGISTER_SYNC_MINUTES
and purges registers orphaned for REGISTER_RETENTION_DAYS and the unnamed lists of ids unused for
ID_LIST_RETENTION_DAYS (run it every minute from cron or a systemd timer). With --loop it does
that every minute until stopped (`make demo` runs it so). A worker (`python manage.py db_worker`)
runs the queued tasks.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from contacts.services import id_lists_purge, sync


class Command(BaseCommand):
    help = (
        "Queue the register syncs that are due, purge orphaned registers and unused lists of ids "
        "(--loop: forever)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Repeat every --every seconds.")
        parser.add_argument("--every", type=float, default=60.0, help="Seconds between rounds.")

    def handle(self, *args: Any, loop: bool = False, every: float = 60.0, **options: Any) -> None:
        while True:
            queued = sync.syncs_enqueue_due()
            purged = sync.registers_purge_orphaned()
            lists_purged = id_lists_purge()
            if queued:
                self.stdout.write(f"Queued syncs: {', '.join(queued)}")
            if purged:
                self.stdout.write(f"Purged registers without a credential: {', '.join(purged)}")
            if lists_purged:
                self.stdout.write(f"Purged unused lists of ids: {lists_purged}")
            if not loop:
                return
            close_old_connections()
            time.sleep(max(1.0, every))
