"""Migration 0002 (customer names unique ignoring case) stops, naming the clashes, rather than
failing on the constraint or renaming customers by itself."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest

migration = importlib.import_module("tenants.migrations.0002_customer_name_case_insensitive_unique")


class _Names:
    """Stands in for ``Customer.objects`` of the historical model (the real table already has
    the constraint, so it cannot hold the clashes this migration looks for)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def using(self, alias: str) -> _Names:
        assert alias == "default"
        return self

    def values_list(self, field: str, *, flat: bool) -> list[str]:
        assert (field, flat) == ("name", True)
        return self.names


def run(names: list[str]) -> None:
    model = SimpleNamespace(objects=_Names(names))
    apps: Any = SimpleNamespace(get_model=lambda app, name: model)
    editor: Any = SimpleNamespace(connection=SimpleNamespace(alias="default"))
    migration.refuse_case_duplicates(apps, editor)


def test_names_unique_ignoring_case_pass() -> None:
    run(["Contoso", "Fabrikam", "Contoso Ltd"])


def test_names_equal_ignoring_case_stop_the_migration_with_their_names() -> None:
    with pytest.raises(RuntimeError) as info:
        run(["Contoso", "Fabrikam", "contoso", "FABRIKAM", "Litware"])
    assert str(info.value) == (
        "Customer names must be unique ignoring case. Rename one customer of each group before "
        "migrating: 'Contoso', 'contoso'; 'FABRIKAM', 'Fabrikam'."
    )
