"""Per-customer sort indexes for the incident list and a partial index of open incidents
(PostgreSQL only; others skip them).

An analyst sees a handful of customers; the list then reads each customer's newest rows from
(customer, sort key, id) and merges them (dashboard.selectors), instead of sorting all of
those customers' incidents. Built CONCURRENTLY; not declared on the model (PostgreSQL-specific
build options), so Django's migration state is unchanged.
"""

from django.db import migrations

INDEXES = [
    (
        "incident_cust_created_idx",
        "ON incidents_incident (customer_id, created_time DESC, id DESC) INCLUDE (severity_rank)",
    ),
    (
        "incident_cust_updated_idx",
        "ON incidents_incident (customer_id, last_update_time DESC, id DESC)",
    ),
    (
        "incident_cust_severity_idx",
        "ON incidents_incident (customer_id, severity_rank DESC, created_time DESC, id DESC)",
    ),
    # The chart's GROUP BY day, severity over a created-time range, index-only.
    (
        "incident_created_rank_idx",
        "ON incidents_incident (created_time) INCLUDE (severity_rank)",
    ),
    # Open incidents only: the summary's and tenant overview's GROUP BY customer, severity
    # reads this small index alone (the predicate must match selectors.OPEN_STATUSES).
    (
        "incident_open_partial_idx",
        "ON incidents_incident (customer_id, severity_rank) "
        "WHERE status IN ('Active', 'InProgress')",
    ),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name, target in INDEXES:
            cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} {target}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name, _target in INDEXES:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("incidents", "0002_dashboard_search_indexes"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
