"""Celery tasks of the sync: thin wrappers that validate input and call ``sync.services``.

Both are idempotent and take primitive IDs. Delivery guarantees come from the settings
(``CELERY_TASK_ACKS_LATE``, ``CELERY_TASK_REJECT_ON_WORKER_LOST``, prefetch 1, Redis
visibility timeout > hard time limit): a task whose worker dies is delivered again, and the
per-tenant lock plus the stored pass checkpoint make the second delivery resume the first.

Re-queue countdowns stay below the broker's visibility timeout (``requeue_countdown``): with
Redis, a delayed message is held by a worker unacknowledged until its countdown ends, and
Redis hands it to another worker as well once the visibility timeout passes (a duplicate).
A shorter countdown is harmless: the run re-checks the tenant's block when it starts and
re-queues itself again for the rest.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from sync import scheduling, services
from sync.models import SyncTrigger

# Seconds kept between a re-queue countdown and the broker's visibility timeout, for the
# worker's clock and the broker's restore cycle.
VISIBILITY_MARGIN_SECONDS = 300


def visibility_timeout() -> float:
    """Seconds the broker waits for an acknowledgement before it redelivers a message:
    ``broker_transport_options["visibility_timeout"]`` (Redis), else CELERY_VISIBILITY_TIMEOUT."""
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    return float(options.get("visibility_timeout") or settings.CELERY_VISIBILITY_TIMEOUT)


def requeue_countdown(seconds: float) -> float:
    """``seconds`` (a Retry-After or the limiter's wait) capped at the visibility timeout minus
    VISIBILITY_MARGIN_SECONDS (at least 1 s), and never negative."""
    cap = max(1.0, visibility_timeout() - VISIBILITY_MARGIN_SECONDS)
    return min(max(0.0, float(seconds)), cap)


@shared_task(name="sync.sweep", ignore_result=True)
def sweep() -> int:
    """Beat, every SYNC_SWEEP_SECONDS: enqueue one ``sync.sync_tenant`` per due tenant."""
    return scheduling.enqueue_due_syncs()


@shared_task(name="sync.sync_tenant", bind=True, ignore_result=True)
def sync_tenant(self, customer_id: int, trigger: str = SyncTrigger.SCHEDULE) -> str:  # type: ignore[no-untyped-def]
    """Sync one customer (``Customer`` pk). Returns the outcome.

    A throttled run is re-queued with countdown = Retry-After, capped below the visibility
    timeout (``requeue_countdown``); a time-boxed run is re-queued at once. (Not in eager mode,
    where a countdown is ignored and the retry would recurse.)
    """
    if trigger not in SyncTrigger.values:
        trigger = SyncTrigger.SCHEDULE
    result = services.sync_tenant(customer_id=int(customer_id), trigger=trigger)
    if result.requeue_in is not None and not self.request.is_eager:
        sync_tenant.apply_async(
            (int(customer_id), trigger), countdown=requeue_countdown(result.requeue_in)
        )
    return str(result.outcome)
