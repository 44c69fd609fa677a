"""Celery tasks of the sync: thin wrappers that validate input and call ``sync.services``.

Both are idempotent and take primitive IDs. Delivery guarantees come from the settings
(``CELERY_TASK_ACKS_LATE``, ``CELERY_TASK_REJECT_ON_WORKER_LOST``, prefetch 1, Redis
visibility timeout > hard time limit): a task whose worker dies is delivered again, and the
per-tenant lock plus the stored pass checkpoint make the second delivery resume the first.
"""

from __future__ import annotations

from celery import shared_task

from sync import scheduling, services
from sync.models import SyncTrigger


@shared_task(name="sync.sweep", ignore_result=True)
def sweep() -> int:
    """Beat, every SYNC_SWEEP_SECONDS: enqueue one ``sync.sync_tenant`` per due tenant."""
    return scheduling.enqueue_due_syncs()


@shared_task(name="sync.sync_tenant", bind=True, ignore_result=True)
def sync_tenant(self, customer_id: int, trigger: str = SyncTrigger.SCHEDULE) -> str:  # type: ignore[no-untyped-def]
    """Sync one customer (``Customer`` pk). Returns the outcome.

    A throttled run is re-queued with countdown = Retry-After; a time-boxed run is re-queued at
    once. (Not in eager mode, where a countdown is ignored and the retry would recurse.)
    """
    if trigger not in SyncTrigger.values:
        trigger = SyncTrigger.SCHEDULE
    result = services.sync_tenant(customer_id=int(customer_id), trigger=trigger)
    if result.requeue_in is not None and not self.request.is_eager:
        sync_tenant.apply_async((int(customer_id), trigger), countdown=result.requeue_in)
    return str(result.outcome)
