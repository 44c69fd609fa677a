"""Indexes the dashboard needs on large tables (PostgreSQL only; other databases skip them).

- pg_trgm GIN index on incidents_incident.search_text: the free-text filter
  (``search_text LIKE '%term%'``, term lowercased) is answered from the index.
- incidents_incident.incident_id and incidents_alert.alert_id: the admin's searches by ID.

Built CONCURRENTLY (non-atomic migration) so a deployment does not lock a big table. The
indexes are not declared on the models (they are PostgreSQL-specific), so Django's migration
state is unchanged.
"""

from django.db import migrations

INDEXES = [
    (
        "incident_search_trgm_idx",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS incident_search_trgm_idx "
        "ON incidents_incident USING gin (search_text gin_trgm_ops)",
    ),
    (
        "incident_incident_id_idx",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS incident_incident_id_idx "
        "ON incidents_incident (incident_id)",
    ),
    (
        "alert_alert_id_idx",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS alert_alert_id_idx ON incidents_alert (alert_id)",
    ),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for _name, sql in INDEXES:
            cursor.execute(sql)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name, _sql in INDEXES:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("incidents", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
