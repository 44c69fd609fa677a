"""Helpers of the sync tests: compare the local copy with the emulator's data."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from incidents.models import Incident
from incidents.payload import parse_datetime
from sync import services
from sync.models import SyncTrigger


def emulator_incidents(
    emulator: Any, tenant_id: str, *, days: int | None = None
) -> dict[int, datetime]:
    """``{incident id: lastUpdateTime}`` of the emulator's incidents updated in the last
    ``days`` (default: the backfill window)."""
    since = timezone.now() - timedelta(days=days or settings.SYNC_BACKFILL_DAYS)
    result = {}
    for incident_id in emulator.incident_ids(tenant_id):
        updated = parse_datetime(emulator.get_incident(tenant_id, incident_id)["lastUpdateTime"])
        if updated >= since:
            result[incident_id] = updated
    return result


def stored_incidents(customer: Any) -> dict[int, datetime]:
    """``{incident id: last_update_time}`` of the local copy of ``customer``."""
    return dict(
        Incident.objects.filter(customer=customer).values_list("incident_id", "last_update_time")
    )


def sync(customer: Any, client: Any, **kwargs: Any) -> services.SyncResult:
    """``sync.services.sync_tenant`` for ``customer`` with ``client``, as the schedule runs it
    (``kwargs``: e.g. ``max_seconds``)."""
    return services.sync_tenant(
        customer_id=customer.pk, trigger=SyncTrigger.SCHEDULE, client=client, **kwargs
    )
