"""When tenants are synced: the beat sweep, "sync now", and the foreground command's loop.

The sweep (``enqueue_due_syncs``) is cheap whatever the number of tenants: one query for the
due customers, a bulk insert of the sync states that do not exist yet, then per 1,000 tenants
one ``SELECT .. FOR UPDATE SKIP LOCKED`` that re-checks they are still due and one UPDATE that
claims them (pushes ``next_sync_at`` forward so the next sweep does not enqueue them again
while their task waits in the queue), and, after commit, one small ``sync.sync_tenant`` message
per claimed tenant published over a single broker connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from sync import selectors, services
from sync.models import SyncOutcome, SyncTrigger, TenantSyncState
from tenants.models import Customer

logger = logging.getLogger(__name__)

# Seconds a tenant enqueued by the sweep is not enqueued again (its run normally finishes and
# sets next_sync_at long before; if the message was lost, the sweep re-enqueues it after this).
CLAIM_SECONDS = services.SAFETY_NET_SECONDS
# Tenants per claim (one SELECT .. FOR UPDATE SKIP LOCKED and one UPDATE each).
_CHUNK = 1000


def publish_syncs(customer_ids: Iterable[int], *, trigger: str, countdown: float = 0) -> int:
    """Send one ``sync.sync_tenant`` message per customer over one broker connection.
    Call after commit (``transaction.on_commit``). Returns the number sent."""
    from celery import current_app

    from sync.tasks import sync_tenant

    ids = list(customer_ids)
    if not ids:
        return 0
    with current_app.producer_or_acquire() as producer:
        for customer_id in ids:
            options: dict[str, Any] = {"countdown": countdown} if countdown else {}
            sync_tenant.apply_async((customer_id, trigger), producer=producer, **options)
    return len(ids)


def enqueue_due_syncs(*, now: datetime | None = None) -> int:
    """Enqueue a sync for every connected tenant that is due and not throttled.

    Returns how many were enqueued (published after the surrounding transaction commits). The
    claim is conditional: each due tenant's sync state row is locked (skipping rows another
    sweep holds) and re-checked before ``next_sync_at`` moves, so two overlapping sweeps (a
    redelivered sweep task) never both enqueue a tenant.
    """
    now = now or timezone.now()
    due = selectors.due_customers(now=now)
    if not due:
        return 0
    claim_until = now + timedelta(seconds=max(CLAIM_SECONDS, settings.SYNC_INTERVAL_SECONDS))
    still_due = Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now)
    claimed: list[int] = []
    with transaction.atomic():
        # A state row for every due tenant (due at once), so all are claimed the same way.
        TenantSyncState.objects.bulk_create(
            [TenantSyncState(customer_id=pk) for pk, has_state in due if not has_state],
            ignore_conflicts=True,
        )
        ids = [pk for pk, _ in due]
        for start in range(0, len(ids), _CHUNK):
            chunk = (
                TenantSyncState.objects.select_for_update(skip_locked=True)
                .filter(still_due, customer_id__in=ids[start : start + _CHUNK])
                .order_by("customer_id")  # one lock order for every sweep
                .values_list("customer_id", flat=True)
            )
            rows = list(chunk)
            TenantSyncState.objects.filter(customer_id__in=rows).update(next_sync_at=claim_until)
            claimed += rows
        transaction.on_commit(lambda: publish_syncs(claimed, trigger=SyncTrigger.SCHEDULE))
    logger.info("sync sweep enqueued=%d", len(claimed))
    return len(claimed)


def request_sync_now(
    *, customer: Customer, user: AbstractBaseUser | AnonymousUser | None = None
) -> bool:
    """Queue an immediate sync of ``customer`` ("Sync now"). False when it is not connected.

    The caller has checked the user's permission and customer scope. The task is published
    after the current transaction commits; the per-tenant lock makes a click during a running
    sync harmless.
    """
    if not customer.is_connected:
        return False
    customer_id = customer.pk
    transaction.on_commit(lambda: publish_syncs([customer_id], trigger=SyncTrigger.MANUAL))
    logger.info(
        "sync requested tenant=%s customer=%d by=%s",
        customer.tenant_id,
        customer_id,
        getattr(user, "pk", None),
    )
    return True


@dataclass
class ForegroundResult:
    """Totals of one tenant's foreground sync (several runs when time-boxed or throttled)."""

    customer: Customer
    outcome: str
    runs: int = 0
    pages: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    api_calls: int = 0
    token_requests: int = 0
    throttled_waits: int = 0
    seconds: float = 0.0
    error: str = ""
    reasons: list[str] = field(default_factory=list)


def sync_in_foreground(
    *,
    customer: Customer,
    trigger: str = SyncTrigger.COMMAND,
    sleep: Callable[[float], None] = time.sleep,
    max_throttled_waits: int = 5,
) -> ForegroundResult:
    """Run the same sync as the worker, in this process, until the pass is complete.

    A time-boxed run continues at once; a throttled run waits out Retry-After (at most
    ``max_throttled_waits`` times). Returns the totals; ``outcome`` is the last run's.
    """
    total = ForegroundResult(customer=customer, outcome=SyncOutcome.SKIPPED)
    t0 = time.monotonic()
    waits = 0
    while True:
        result = services.sync_tenant(customer_id=customer.pk, trigger=trigger)
        total.outcome = result.outcome
        if result.run is None:
            total.error = result.reason
            break
        run = result.run
        total.runs += 1
        total.pages += run.pages
        total.created += run.incidents_created
        total.updated += run.incidents_updated
        total.unchanged += run.incidents_unchanged
        total.api_calls += run.api_calls
        total.token_requests += run.token_requests
        total.throttled_waits += run.throttled_waits
        total.error = run.error
        if result.outcome == SyncOutcome.PARTIAL:
            continue
        if result.outcome == SyncOutcome.THROTTLED and waits < max_throttled_waits:
            waits += 1
            total.throttled_waits += 1
            sleep(result.requeue_in or 1.0)
            continue
        break
    total.seconds = time.monotonic() - t0
    return total
