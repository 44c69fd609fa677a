"""The portal's roles as Django groups, and the permissions each one carries.

- MSSP administrator: everything, including onboarding, offboarding and every customer's data.
- Analyst: reads incidents of the customers assigned to them (or all, with ``view_all_customers``)
  and may start a sync.

``ensure_roles()`` is idempotent; it runs after every ``migrate`` (post_migrate signal).
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

ADMINISTRATORS = "MSSP administrators"
ANALYSTS = "Analysts"

# "app_label.codename" of each permission a role carries.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    ADMINISTRATORS: [
        "tenants.manage_onboarding",
        "tenants.view_all_customers",
        "tenants.view_customer",
        "tenants.add_customer",
        "tenants.change_customer",
        "incidents.view_incident",
        "sync.run_sync",
    ],
    ANALYSTS: [
        "tenants.view_customer",
        "incidents.view_incident",
        "sync.run_sync",
    ],
}


def ensure_roles() -> dict[str, Group]:
    """Create or update the role groups so each holds exactly its permissions.

    Returns ``{group name: Group}``. Raises ``Permission.DoesNotExist`` if a permission's app
    has not been migrated yet.
    """
    groups = {}
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
        groups[name] = group
    return groups
