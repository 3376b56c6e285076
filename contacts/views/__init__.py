"""Thin views: read the request, call one service, render. Vitec errors become notices.

common: what every page needs; lookup: the list page (the register, or lookups by id); detail:
a contact's page; exports: the current view as a file; lists: saved lists of ids.
"""

from .detail import contact_detail, contact_reveal
from .exports import export_csv
from .lists import list_delete, list_rename, list_save, list_share, saved_lists
from .lookup import lookup, register_sync

__all__ = [
    "contact_detail",
    "contact_reveal",
    "export_csv",
    "list_delete",
    "list_rename",
    "list_save",
    "list_share",
    "lookup",
    "register_sync",
    "saved_lists",
]
