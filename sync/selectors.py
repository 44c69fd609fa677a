"""Reads of sync state for the tenant page, the dashboard, the sweep and the command.

Callers that act for a portal user pass customers they obtained through
``tenants.scoping`` (the tenant page has already scoped its customer; the dashboard passes the
IDs of visible customers).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from sync.locks import is_locked
from sync.models import SyncRun, TenantSyncState
from tenants.models import ConsentState, Customer

# Runs shown on the tenant page.
PANEL_RUNS = 10


def tenant_sync_panel(*, customer: Customer) -> dict[str, Any]:
    """Context for ``templates/sync/_tenant_sync_panel.html`` (as ``sync_panel``). Two queries.

    Keys: ``customer``; ``state`` (TenantSyncState or None before the first sync); ``runs``
    (the last PANEL_RUNS SyncRuns, newest first); ``can_sync`` (bool: the customer is connected,
    so "Sync now" may be offered); ``blocked_reason`` (why not, in plain words, or "");
    ``running`` (a worker holds the tenant's sync lock); ``next_sync_at``, ``throttled_until``
    (None when not throttled now), ``last_success_at``, ``watermark`` (datetimes or None);
    ``pass_in_progress`` (a pass is partly stored and will resume) and ``last_error``.
    """
    state = TenantSyncState.objects.filter(customer=customer).first()
    runs = list(
        SyncRun.objects.filter(customer=customer).order_by("-started_at", "-id")[:PANEL_RUNS]
    )
    now = timezone.now()
    can_sync = customer.is_connected
    if can_sync:
        blocked_reason = ""
    elif customer.tenant_id is None:
        blocked_reason = "The customer has no confirmed tenant yet."
    else:
        blocked_reason = (
            f"The customer is {customer.get_consent_state_display().lower()}; "
            "sync resumes when consent is confirmed again."
        )
    throttled_until = state.throttled_until if state else None
    return {
        "customer": customer,
        "state": state,
        "runs": runs,
        "can_sync": can_sync,
        "blocked_reason": blocked_reason,
        "running": bool(customer.tenant_id) and is_locked(str(customer.tenant_id)),
        "next_sync_at": state.next_sync_at if (state and can_sync) else None,
        "throttled_until": throttled_until if throttled_until and throttled_until > now else None,
        "last_success_at": state.last_success_at if state else None,
        "watermark": state.watermark if state else None,
        "pass_in_progress": bool(state and state.pass_filter_from is not None),
        "last_error": state.last_error if state else "",
    }


def last_success_by_customer(customer_ids: Iterable[int]) -> dict[int, datetime | None]:
    """``{customer id: last successful sync end or None}`` for the given customers (one query).

    For the dashboard's freshness column; every requested ID is present in the result.
    """
    ids = list(customer_ids)
    result: dict[int, datetime | None] = dict.fromkeys(ids)
    rows = TenantSyncState.objects.filter(customer_id__in=ids).values_list(
        "customer_id", "last_success_at"
    )
    result.update(dict(rows))
    return result


def due_customers(*, now: datetime) -> list[tuple[int, bool]]:
    """``[(customer id, has a sync state row)]`` of connected customers whose next sync is due
    and who are not throttled (the sweep). One query."""
    rows = (
        Customer.objects.filter(consent_state=ConsentState.CONNECTED, tenant_id__isnull=False)
        .filter(
            Q(sync_state__isnull=True)
            | Q(sync_state__next_sync_at__isnull=True)
            | Q(sync_state__next_sync_at__lte=now)
        )
        .exclude(sync_state__throttled_until__gt=now)
        .order_by("pk")
        .values_list("pk", "sync_state__id")
    )
    return [(pk, state_id is not None) for pk, state_id in rows]


def due_customer_ids(*, now: datetime) -> list[int]:
    """IDs of the customers ``due_customers`` returns."""
    return [pk for pk, _ in due_customers(now=now)]


def connected_customers(*, tenant_id: str | None = None) -> list[Customer]:
    """Connected customers (optionally the one with ``tenant_id``), by name (the command)."""
    qs = Customer.objects.filter(consent_state=ConsentState.CONNECTED, tenant_id__isnull=False)
    if tenant_id is not None:
        qs = qs.filter(tenant_id=tenant_id)
    return list(qs.order_by("name"))
