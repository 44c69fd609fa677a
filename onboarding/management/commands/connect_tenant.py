"""``python manage.py connect_tenant "<customer name>" <tenant-id-or-domain>``: create or update
the customer, link the tenant (the manual v1 path), run the confirmation, print the outcome.

Exits 0 when the tenant is confirmed (connected), 1 otherwise (CommandError).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from onboarding.models import PendingTenant
from onboarding.services import link_tenant_manually
from tenants.services import get_or_create_customer

ACTOR = "command line"


class Command(BaseCommand):
    """``connect_tenant NAME TENANT``: the manual (v1) path from the command line.

    Creates the customer NAME if absent (``tenants.services.get_or_create_customer``: name
    normalised, matched ignoring case), then ``onboarding.services.link_tenant_manually`` with
    TENANT (a tenant ID or verified domain; a domain becomes the primary domain when the customer
    has none and the tenant is connected). Prints the outcome on stdout; raises CommandError
    (exit 1) for a bad name or when the tenant is not connected.
    """

    help = "Link a customer's tenant by tenant ID or verified domain and confirm it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The customer's display name (created if absent).")
        parser.add_argument("tenant", help="The tenant ID (GUID) or a verified domain.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            customer, created = get_or_create_customer(name=options["name"], actor_label=ACTOR)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if created:
            self.stderr.write(f"Created customer {customer.name} (id {customer.pk}).")
        value = options["tenant"].strip()
        confirmation = link_tenant_manually(
            customer=customer,
            tenant_or_domain=value,
            actor_label=ACTOR,
            source=PendingTenant.Source.COMMAND,
        )
        customer = confirmation.customer
        if confirmation.ok:
            self.stdout.write(
                f"{customer.name}: connected; tenant {confirmation.tenant_id}; roles "
                f"{', '.join(confirmation.granted_roles)}."
            )
            return
        code = f" [{confirmation.code}]" if confirmation.code else ""
        tenant = f" tenant {confirmation.tenant_id};" if confirmation.tenant_id else ""
        raise CommandError(
            f"{customer.name}: not connected;{tenant} {confirmation.outcome}{code}: "
            f"{confirmation.message}"
        )
