"""Role groups and their exact permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts.roles import ADMINISTRATORS, ANALYSTS, ensure_roles


def perms_of(name: str) -> list[str]:
    group = Group.objects.get(name=name)
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all())


@pytest.mark.django_db
def test_migrate_creates_role_groups_with_exact_permissions() -> None:
    assert perms_of(ADMINISTRATORS) == [
        "incidents.view_incident",
        "sync.run_sync",
        "tenants.add_customer",
        "tenants.change_customer",
        "tenants.manage_onboarding",
        "tenants.view_all_customers",
        "tenants.view_customer",
    ]
    assert perms_of(ANALYSTS) == [
        "incidents.view_incident",
        "sync.run_sync",
        "tenants.view_customer",
    ]


@pytest.mark.django_db
def test_ensure_roles_restores_removed_permissions() -> None:
    Group.objects.get(name=ANALYSTS).permissions.clear()
    ensure_roles()
    assert perms_of(ANALYSTS) == [
        "incidents.view_incident",
        "sync.run_sync",
        "tenants.view_customer",
    ]
