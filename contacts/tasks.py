"""Background work (Django's tasks framework; `TASKS_BACKEND` chooses where tasks wait and run).

Each task takes plain arguments and does its work through contacts/services/sync.py, the same
code `python manage.py sync_contacts` runs in the foreground.
"""

from __future__ import annotations

from django.tasks import task

from .services import sync


@task
def sync_customer_task(customer_id: str, full: bool = False) -> str:
    """Sync one customer's register; returns the summary line."""
    return sync.sync_customer(customer_id, full=full).summary()


@task
def refresh_pending_task(customer_id: str) -> str:
    """Re-read the contacts notifications named for the customer."""
    return sync.refresh_pending(customer_id).summary()
