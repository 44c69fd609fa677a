"""Two workers never sync one tenant at the same time (real threads, committed data)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections

from microsoft.defender import DefenderClient
from microsoft.rate_limit import TenantRateLimiter
from sync import services
from sync.models import SyncOutcome, SyncRun, SyncTrigger
from tests import factories
from tests.sync.helpers import emulator_incidents, stored_incidents


@pytest.mark.django_db(transaction=True)
def test_two_workers_starting_together_sync_the_tenant_once(portal_emulator: Any) -> None:
    tenant_id = str(portal_emulator.tenant(name="Contoso").tenant_id)
    customer = factories.ConnectedCustomerFactory(name="Contoso Ltd", tenant_id=tenant_id)
    portal_emulator.knobs.latency_seconds = 0.2  # each page takes a while
    barrier = threading.Barrier(2)
    results: list[services.SyncResult] = []

    def worker() -> None:
        client = DefenderClient(tenant_id, limiter=TenantRateLimiter(), sleep=lambda s: None)
        barrier.wait()
        try:
            results.append(
                services.sync_tenant(
                    customer_id=customer.pk, trigger=SyncTrigger.SCHEDULE, client=client
                )
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.outcome for r in results) == [SyncOutcome.SKIPPED, SyncOutcome.SUCCEEDED]
    assert SyncRun.objects.filter(customer=customer).count() == 1
    api = [r for r in portal_emulator.requests if r["kind"] == "api"]
    assert len(api) == 2  # one pass of two pages, not two passes
    assert stored_incidents(customer) == emulator_incidents(portal_emulator, tenant_id)
