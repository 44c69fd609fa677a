"""``python manage.py sync_incidents [--tenant <tenant-id>]``: sync in the foreground.

Runs the same service as the Celery worker (``sync.services.sync_tenant``) for every connected
tenant, or the one given, until each pass is complete; prints one line per tenant with its
figures and exits non-zero when any tenant failed.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sync import scheduling, selectors
from sync.models import SyncOutcome
from tenants.models import Customer


class Command(BaseCommand):
    """``sync_incidents [--tenant TENANT_ID]``: sync connected tenants in the foreground with
    ``sync.scheduling.sync_in_foreground`` (the worker's service), one output line per tenant.

    Raises CommandError (exit 1) for a malformed or unknown tenant ID, a tenant that is not
    connected, or when any tenant's sync failed.
    """

    help = "Sync Defender incidents of connected tenants now, in the foreground."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tenant", metavar="TENANT_ID", help="Only this tenant (its Entra tenant ID, a GUID)."
        )

    def handle(self, *args: Any, tenant: str | None = None, **options: Any) -> None:
        tenant_id = None
        if tenant is not None:
            try:
                tenant_id = str(uuid.UUID(tenant.strip()))
            except ValueError:
                raise CommandError(f"--tenant must be a tenant ID (GUID), got {tenant!r}") from None
        customers = selectors.connected_customers(tenant_id=tenant_id)
        if tenant_id is not None and not customers:
            other = Customer.objects.filter(tenant_id=tenant_id).first()
            if other is None:
                raise CommandError(f"No customer has tenant ID {tenant_id}.")
            raise CommandError(
                f"{other.name} ({tenant_id}) is not connected "
                f"({other.get_consent_state_display()}); it cannot be synced."
            )
        failed = 0
        for customer in customers:
            result = scheduling.sync_in_foreground(customer=customer)
            ok = result.outcome in (SyncOutcome.SUCCEEDED, SyncOutcome.SKIPPED, SyncOutcome.STOPPED)
            failed += 0 if ok else 1
            line = (
                f"tenant={customer.tenant_id} customer={customer.name!r} "
                f"outcome={result.outcome} runs={result.runs} pages={result.pages} "
                f"created={result.created} updated={result.updated} "
                f"unchanged={result.unchanged} api_calls={result.api_calls} "
                f"token_requests={result.token_requests} "
                f"throttled_waits={result.throttled_waits} seconds={result.seconds:.1f}"
            )
            if result.error:
                line += f" error={result.error!r}"
            self.stdout.write(line) if ok else self.stderr.write(line)
        if failed:
            raise CommandError(f"{failed} of {len(customers)} tenant(s) failed to sync.")
        if not customers:
            self.stdout.write("No connected tenants to sync.")
