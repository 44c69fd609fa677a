"""``manage.py demo_users [--assign]``: the demo's administrator and analyst accounts.

Without ``--assign``: creates (or resets) ``admin`` (MSSP administrator, staff, superuser) and
``analyst`` (Analysts group) with fresh random passwords and prints the logins.
With ``--assign``: assigns every other connected customer to ``analyst`` so the demo shows
per-customer access.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.roles import ADMINISTRATORS, ANALYSTS, ensure_roles
from tenants.models import ConsentState, Customer


class Command(BaseCommand):
    """``demo_users [--assign]``: create or reset the demo logins ``admin`` (MSSP administrator,
    staff, superuser) and ``analyst`` with random passwords printed on stdout; with ``--assign``
    assign every other connected customer (by name) to ``analyst``. One transaction."""

    help = "Create the demo administrator and analyst (prints their logins)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--assign", action="store_true", help="assign customers to analyst")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        ensure_roles()
        User = get_user_model()
        if options["assign"]:
            analyst = User.objects.get(username="analyst")
            connected = Customer.objects.filter(consent_state=ConsentState.CONNECTED)
            chosen = list(connected.order_by("name"))[::2]
            analyst.assigned_customers.set(chosen)
            names = ", ".join(c.name for c in chosen) or "none yet"
            self.stdout.write(f"  analyst sees: {names}")
            return
        logins = []
        for username, group, staff in (
            ("admin", ADMINISTRATORS, True),
            ("analyst", ANALYSTS, False),
        ):
            password = secrets.token_urlsafe(9)
            user, _ = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@mssp.example"}
            )
            user.is_staff = staff
            user.is_superuser = staff
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=group)])
            logins.append(f"  {group}: user {username!r}, password {password!r}")
        self.stdout.write("\n".join(logins))
