"""Indexes for browsing an office register of tens of thousands of contacts (issue 11, item 8).

Measured by `make bench` (docs/benchmarks.md, "The office register"): without them every view of
the register reads the whole table about ten times (the list, its count and the counts beside
each filter), and a row is wide (the contact's JSON), so a search of an office of 50,000 contacts
took 0.5 to 1 s on either database.

Each is specific to its database, so they are made here with SQL and are not part of the models'
state (Meta.indexes): makemigrations has nothing to add or drop.

PostgreSQL:
- register_search_trgm, register_phone_trgm: trigram GIN indexes (the pg_trgm extension), which
  serve `search_text LIKE '%word%'` and `phone_digits LIKE '%digits%'` (the `q` search) without
  reading the table;
- register_facets: (customer_id, contact_type, gdpr_informed_at) with every other column the
  filters and their counts read (and id, which COUNT("id") reads), so that the counts are
  index-only scans.

SQLite (no trigram indexes, no INCLUDE): the same columns as keys, so that a search or a count
scans a narrow index instead of the wide table:
- register_facets: (customer_id, contact_type, gdpr_informed_at, advertising, deceased,
  lead_score, agent_id);
- register_search: (customer_id, search_text, phone_digits, personnummer_index, contact_type,
  gdpr_informed_at, advertising, deceased, lead_score, agent_id): the counts of a search;
- register_search_by_name: (customer_id, sort_key, contact_id, search_text, phone_digits,
  personnummer_index): the page of a search in name order, which otherwise walks
  register_by_name and reads every wide row to test the search.
"""

from django.db import migrations

TABLE = "contacts_registercontact"
FACET_COLUMNS = "advertising, deceased, lead_score, agent_id"

POSTGRESQL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX IF NOT EXISTS register_search_trgm ON {TABLE} "
    "USING gin (search_text gin_trgm_ops)",
    f"CREATE INDEX IF NOT EXISTS register_phone_trgm ON {TABLE} "
    "USING gin (phone_digits gin_trgm_ops)",
    f"CREATE INDEX IF NOT EXISTS register_facets ON {TABLE} "
    f"(customer_id, contact_type, gdpr_informed_at) INCLUDE (id, {FACET_COLUMNS})",
)
SQLITE = (
    f"CREATE INDEX IF NOT EXISTS register_facets ON {TABLE} "
    f"(customer_id, contact_type, gdpr_informed_at, {FACET_COLUMNS})",
    f"CREATE INDEX IF NOT EXISTS register_search ON {TABLE} "
    "(customer_id, search_text, phone_digits, personnummer_index, contact_type, "
    f"gdpr_informed_at, {FACET_COLUMNS})",
    f"CREATE INDEX IF NOT EXISTS register_search_by_name ON {TABLE} "
    "(customer_id, sort_key, contact_id, search_text, phone_digits, personnummer_index)",
)
NAMES = (
    "register_search_trgm",
    "register_phone_trgm",
    "register_facets",
    "register_search",
    "register_search_by_name",
)


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRESQL, "sqlite": SQLITE}.get(vendor, ()):
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor in ("postgresql", "sqlite"):
        for name in NAMES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0003_office_register"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
