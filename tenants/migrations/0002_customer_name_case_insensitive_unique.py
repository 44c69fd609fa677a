"""Customer names unique ignoring case (``customer_name_ci_unique``).

Before adding the constraint, look for names that differ only in case (possible before: the
commands only stripped names). If any exist the migration stops with a message naming them, so
an administrator renames one of each pair on the customer page and migrates again; it never
renames a customer by itself.
"""

from collections import defaultdict
from typing import Any

import django.db.models.functions.text
from django.db import migrations, models


def refuse_case_duplicates(apps: Any, schema_editor: Any) -> None:
    """Raise RuntimeError listing customer names equal ignoring case, if there are any."""
    Customer = apps.get_model("tenants", "Customer")
    by_lower: dict[str, list[str]] = defaultdict(list)
    for name in Customer.objects.using(schema_editor.connection.alias).values_list(
        "name", flat=True
    ):
        by_lower[name.lower()].append(name)
    clashes = sorted(names for names in by_lower.values() if len(names) > 1)
    if clashes:
        listed = "; ".join(", ".join(repr(n) for n in sorted(names)) for names in clashes)
        raise RuntimeError(
            "Customer names must be unique ignoring case. Rename one customer of each group "
            f"before migrating: {listed}."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(refuse_case_duplicates, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="customer",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"),
                name="customer_name_ci_unique",
                violation_error_message="A customer with this name already exists.",
            ),
        ),
    ]
