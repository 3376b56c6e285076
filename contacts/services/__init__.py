"""Use cases of the dashboard: the only place views, admin and commands call into.

- credentials: which credentials a user may browse with; saving, disabling, testing one;
  rotating their encryption keys
- lookup: the Vitec client of each credential, the ids a broker typed, the per-credential cache
- selectors: the current view (query, declared filters, sort, counts), shared by page and exports
- presentation: a contact in the broker's words, and the one column table (identity numbers
  in identity, phone numbers in phones)
- access: the list page, a contact's page and exports, each recorded first (no trace, no data)
- exports: the cells and rows of a file
- messages: what a broker reads when a Vitec call failed
- preferences: what a broker chose for their screens (the list's columns)
- recent: the contacts a broker opened lately, from the audit trail
- relations: the people around a contact and its broker's name, for the contact's page
- id_lists: lists of ids kept in the database (`list=` in a URL), saved by name and shared
- register (queries), register_store (rows), sync, notifications: the office register, kept
  in step with Vitec and browsed at database speed
"""

from .access import (
    ContactShown,
    ExportIncomplete,
    LookupSteps,
    RegisterPage,
    contact_show,
    contacts_export,
    contacts_page_stream,
    register_export,
    register_page,
    register_sync_ask,
)
from .credentials import (
    ConnectionTest,
    KeysCannotDecrypt,
    credential_among,
    credential_for_user,
    credential_save,
    credential_test_connection,
    credential_upsert,
    credentials_disable,
    credentials_for_user,
    credentials_rotate_keys,
)
from .exports import contacts_export_rows, csv_cell, export_columns, formula_risk
from .id_lists import (
    IdListResolver,
    id_list_delete,
    id_list_for_ids,
    id_list_open,
    id_list_rename,
    id_list_save,
    id_list_share,
    id_lists_for_user,
    id_lists_purge,
)
from .identity import personnummer_mask, social_security_number
from .lookup import (
    MAX_LOOKUP_IDS,
    MIN_SEARCH_TERM,
    Arrived,
    Lookup,
    ParsedIds,
    client_for_credential,
    contact_get,
    contacts_lookup,
    contacts_search,
    fragment_cached,
    fragment_key,
    ids_parse,
    lookup_rounds,
)
from .messages import broker_message, vitec_text
from .phones import Phone, contact_phones
from .preferences import DEFAULT_COLUMNS, list_columns, list_columns_save
from .presentation import (
    COLUMNS,
    HTML_COLUMNS,
    SORT_COLUMNS,
    Column,
    ContactRow,
    contact_map_url,
    contact_row,
    gdpr_date,
    type_label,
)
from .recent import RecentContact, recently_viewed
from .register import SORTS as REGISTER_SORTS
from .register import (
    RegisterQuery,
    register_open_to,
    register_opening,
    register_state,
)
from .register_store import register_held
from .relations import Agent, ContactPeople, RelationRow, contact_around, relation_label
from .selectors import (
    FILTERS,
    PAGE_SIZE,
    PAGE_SIZES,
    ContactQuery,
    ContactView,
    Failure,
    category_names,
    contacts_filter,
    contacts_sort,
    contacts_view,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_COLUMNS",
    "FILTERS",
    "HTML_COLUMNS",
    "MAX_LOOKUP_IDS",
    "MIN_SEARCH_TERM",
    "PAGE_SIZE",
    "PAGE_SIZES",
    "REGISTER_SORTS",
    "SORT_COLUMNS",
    "Agent",
    "Arrived",
    "Column",
    "ConnectionTest",
    "ContactPeople",
    "ContactQuery",
    "ContactRow",
    "ContactShown",
    "ContactView",
    "ExportIncomplete",
    "Failure",
    "IdListResolver",
    "KeysCannotDecrypt",
    "Lookup",
    "LookupSteps",
    "ParsedIds",
    "Phone",
    "RecentContact",
    "RegisterPage",
    "RegisterQuery",
    "RelationRow",
    "broker_message",
    "category_names",
    "client_for_credential",
    "contact_around",
    "contact_get",
    "contact_map_url",
    "contact_phones",
    "contact_row",
    "contact_show",
    "contacts_export",
    "contacts_export_rows",
    "contacts_filter",
    "contacts_lookup",
    "contacts_page_stream",
    "contacts_search",
    "contacts_sort",
    "contacts_view",
    "credential_among",
    "credential_for_user",
    "credential_save",
    "credential_test_connection",
    "credential_upsert",
    "credentials_disable",
    "credentials_for_user",
    "credentials_rotate_keys",
    "csv_cell",
    "export_columns",
    "formula_risk",
    "fragment_cached",
    "fragment_key",
    "gdpr_date",
    "id_list_delete",
    "id_list_for_ids",
    "id_list_open",
    "id_list_rename",
    "id_list_save",
    "id_list_share",
    "id_lists_for_user",
    "id_lists_purge",
    "ids_parse",
    "list_columns",
    "list_columns_save",
    "lookup_rounds",
    "personnummer_mask",
    "recently_viewed",
    "register_export",
    "register_held",
    "register_open_to",
    "register_opening",
    "register_page",
    "register_state",
    "register_sync_ask",
    "relation_label",
    "social_security_number",
    "type_label",
    "vitec_text",
]
