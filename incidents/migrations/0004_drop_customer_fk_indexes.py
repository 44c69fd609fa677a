"""Drop the single-column customer_id indexes of the incident tables: the unique indexes
(customer_id, incident_id) and (customer_id, alert_id) lead with the same column, and every
index costs the sync on each insert.

Only the indexes are dropped (the foreign-key constraints stay as they are): Django's own
AlterField would also drop and re-add each constraint, re-checking every stored row.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = [
    ("incidents_alert_customer_id_5ca2688e", "incidents_alert"),
    ("incidents_incident_customer_id_a4353357", "incidents_incident"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0003_dashboard_customer_sort_indexes"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {name}",
                    reverse_sql=f"CREATE INDEX IF NOT EXISTS {name} ON {table} (customer_id)",
                )
                for name, table in INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="alert",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="alerts",
                        to="tenants.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="incident",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="incidents",
                        to="tenants.customer",
                    ),
                ),
            ],
        )
    ]
