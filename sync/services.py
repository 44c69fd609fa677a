"""Sync of one tenant's Defender incidents into the local copy (issue 5; contract §5, §9).

``sync_tenant(customer_id=..., trigger=...)`` takes the tenant's lock, pages through
``GET /api/incidents?$filter=lastUpdateTime ge <from>&$top=100&$skip=<n>`` (following
``@odata.nextLink`` when the API sends one), validates each page completely
(``incidents.parsing``), and stores it in one transaction together with the pass checkpoint
(``incidents.upsert``). It records a ``SyncRun`` with the figures and logs one line.

The paging, and why the watermark may only move when a whole pass is stored, are in
``sync.paging``.

Failures: a bad page (malformed JSON, missing or mistyped field, unknown enum value, oversized,
another tenant's data) stores nothing from that page, keeps the checkpoint and the watermark,
and fails the run with a clear error; other tenants are unaffected. 429 → the tenant is blocked
until Retry-After (limiter key + ``throttled_until``) and the task is re-queued with that
countdown. 5xx, timeouts and dropped connections are retried in the client with bounded
backoff; still failing → run failed, the next sweep retries. Token failures, 403 and a tenant
mismatch in the token → ``tenants.consent.record_failure`` (the customer leaves CONNECTED, so
its sync stops until onboarding re-checks it). A customer offboarded or disconnected while its
run goes on → the run stops before the next page (``sync.paging.CustomerDisconnected``,
outcome STOPPED), and a history or state deleted by the offboarding is not written again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from microsoft import errors
from microsoft.defender import DefenderClient
from microsoft.rate_limit import TenantRateLimiter
from sync import paging
from sync.locks import TenantSyncLock
from sync.models import SyncOutcome, SyncRun, TenantSyncState
from tenants import consent
from tenants.models import Customer

logger = logging.getLogger(__name__)

# Seconds before the sweep enqueues a tenant whose work is already queued: a tenant enqueued by
# the sweep, or whose task re-queued itself (time box, Retry-After), is left alone this long
# after the moment its task should run; the sweep only steps in if that message was lost.
SAFETY_NET_SECONDS = 300
# Label of the sync worker in the onboarding audit trail.
ACTOR_LABEL = "sync worker"


@dataclass
class SyncResult:
    """What ``sync_tenant`` did. ``run`` is None when nothing ran (not connected, or another
    worker holds the lock: ``outcome`` SKIPPED and ``reason``). ``requeue_in`` is the countdown
    in seconds for the rest of the work (throttled or time-boxed), else None."""

    outcome: str
    run: SyncRun | None = None
    requeue_in: float | None = None
    reason: str = ""


def sync_tenant(
    *,
    customer_id: int,
    trigger: str,
    client: DefenderClient | None = None,
    max_seconds: float | None = None,
) -> SyncResult:
    """Sync one customer's incidents now (see the module docstring).

    ``customer_id`` is a ``Customer`` pk; only CONNECTED customers with a tenant ID are synced.
    ``client`` overrides the Defender client (tests); ``max_seconds`` the time box (default
    ``settings.SYNC_RUN_MAX_SECONDS``). Never raises for Microsoft or payload errors (they end
    the run as FAILED/THROTTLED); unexpected errors are recorded on the run and re-raised.
    """
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None or not customer.is_connected:
        return SyncResult(outcome=SyncOutcome.SKIPPED, reason="not connected")
    tenant_id = str(customer.tenant_id)
    lock = TenantSyncLock(tenant_id)
    if not lock.acquire():
        logger.info(
            "sync tenant=%s customer=%d trigger=%s outcome=skipped reason=already_running",
            tenant_id,
            customer.pk,
            trigger,
        )
        return SyncResult(outcome=SyncOutcome.SKIPPED, reason="already running")
    try:
        return _run_locked(customer, tenant_id, trigger, client, max_seconds)
    finally:
        lock.release()


def _run_locked(
    customer: Customer,
    tenant_id: str,
    trigger: str,
    client: DefenderClient | None,
    max_seconds: float | None,
) -> SyncResult:
    started = timezone.now()
    t0 = time.monotonic()
    state, _ = TenantSyncState.objects.get_or_create(customer=customer)
    # We hold the lock, so a run still marked running was cut off (worker killed).
    SyncRun.objects.filter(customer=customer, outcome=SyncOutcome.RUNNING).update(
        outcome=SyncOutcome.FAILED,
        finished_at=started,
        error_code="interrupted",
        error="The worker running this sync stopped before it finished. "
        "The next run resumed after the last stored page.",
    )
    run = SyncRun.objects.create(customer=customer, trigger=trigger, started_at=started)
    state.last_started_at = started
    state.save(update_fields=["last_started_at"])

    limiter = TenantRateLimiter()
    client = client or DefenderClient(tenant_id, limiter=limiter)
    if client.limiter is None:
        client.limiter = limiter
    progress = paging.Progress()
    blocked = limiter.blocked_for(tenant_id)
    if state.throttled_until is not None:
        blocked = max(blocked, (state.throttled_until - started).total_seconds())
    deadline = t0 + (settings.SYNC_RUN_MAX_SECONDS if max_seconds is None else max_seconds)

    outcome, requeue_in, error_code, error = SyncOutcome.SUCCEEDED, None, "", ""
    try:
        if blocked > 0:
            raise errors.ThrottledError(
                f"The tenant is throttled for {blocked:.0f} s more.", retry_after=blocked
            )
        paging.run_pass(customer, tenant_id, state, run, client, progress, deadline)
    except paging.TimeBoxReached:
        outcome, requeue_in = SyncOutcome.PARTIAL, 0.0
    except paging.CustomerDisconnected as exc:
        outcome, error_code, error = SyncOutcome.STOPPED, "customer_disconnected", str(exc)
    except errors.ThrottledError as exc:
        outcome, requeue_in = SyncOutcome.THROTTLED, max(1.0, float(exc.retry_after))
        error_code, error = exc.code, exc.message
    except (
        errors.TokenError,
        errors.MissingRolesError,
        errors.TokenClaimsError,
    ) as exc:
        outcome, error_code, error = SyncOutcome.FAILED, exc.code, exc.message
        consent.record_failure(customer=customer, exc=exc, actor_label=ACTOR_LABEL)
    except errors.MicrosoftError as exc:  # transient, bad page, other API errors
        outcome, error_code, error = (
            SyncOutcome.FAILED,
            exc.code or "error",
            _page_error(exc, state, progress),
        )
    except ImproperlyConfigured as exc:  # the portal's credential (e.g. its certificate)
        outcome, error_code = SyncOutcome.FAILED, "not_configured"
        error = f"The portal's application is not configured: {exc}"
    except SoftTimeLimitExceeded:
        outcome, error_code = SyncOutcome.FAILED, "time_limit"
        error = "The sync hit the task's time limit; the next run resumes after the last page."
    except Exception as exc:
        _finish(
            run, state, client, progress, SyncOutcome.FAILED, None, "internal_error",
            f"Internal error: {type(exc).__name__}", t0, tenant_id,
        )  # fmt: skip
        raise
    return _finish(
        run, state, client, progress, outcome, requeue_in, error_code, error, t0, tenant_id
    )


def _page_error(
    exc: errors.MicrosoftError, state: TenantSyncState, progress: paging.Progress
) -> str:
    """The run's error text: for a bad page, which page, and that nothing of it was stored."""
    if isinstance(exc, errors.BadResponseError):
        where = f"page {progress.pages + 1} of this run ($skip={state.pass_skip})"
        return (
            f"The Defender API sent a page that was rejected ({where}): {exc.message} "
            "Nothing from this page was stored and the watermark was kept; the next sync "
            "retries from the same place."
        )
    return exc.message


def _update_existing(obj: SyncRun | TenantSyncState, fields: list[str]) -> None:
    """Write ``fields`` of ``obj`` if its row still exists (one UPDATE; never an INSERT)."""
    type(obj)._default_manager.filter(pk=obj.pk).update(**{f: getattr(obj, f) for f in fields})


def _finish(
    run: SyncRun,
    state: TenantSyncState,
    client: DefenderClient,
    progress: paging.Progress,
    outcome: str,
    requeue_in: float | None,
    error_code: str,
    error: str,
    t0: float,
    tenant_id: str,
) -> SyncResult:
    """Record the run's end on the run and the tenant state, log one line, build the result."""
    now = timezone.now()
    paging.copy_figures(run, client, progress)
    run.finished_at = now
    run.outcome = outcome
    run.error_code = error_code[:60]
    run.error = error
    # Updates only: a customer offboarded with its data while the run went on has lost its
    # sync history and state, which must not come back.
    _update_existing(run, [*paging.RUN_FIGURES, "finished_at", "outcome", "error_code", "error"])
    state.last_finished_at = now
    state.last_outcome = outcome
    if outcome == SyncOutcome.SUCCEEDED:
        state.last_success_at = now
        state.last_error = ""
        state.throttled_until = None
        state.next_sync_at = now + timedelta(seconds=settings.SYNC_INTERVAL_SECONDS)
    elif outcome == SyncOutcome.PARTIAL:
        state.last_error = ""
        # The re-queued task continues at once; the sweep is only the safety net.
        state.next_sync_at = now + timedelta(seconds=SAFETY_NET_SECONDS)
    elif outcome == SyncOutcome.THROTTLED:
        assert requeue_in is not None
        state.throttled_until = now + timedelta(seconds=requeue_in)
        state.next_sync_at = state.throttled_until + timedelta(seconds=SAFETY_NET_SECONDS)
        state.last_error = error
    else:
        state.last_error = error
        state.next_sync_at = now + timedelta(seconds=settings.SYNC_INTERVAL_SECONDS)
    _update_existing(
        state,
        [
            "last_finished_at",
            "last_outcome",
            "last_success_at",
            "last_error",
            "throttled_until",
            "next_sync_at",
        ],
    )
    stats = client.stats
    level = logging.WARNING if outcome == SyncOutcome.FAILED else logging.INFO
    logger.log(
        level,
        "sync tenant=%s customer=%d run=%d trigger=%s outcome=%s resumed=%s pass_done=%s "
        "pages=%d created=%d updated=%d unchanged=%d alerts=%d api_calls=%d "
        "token_requests=%d throttled_waits=%d throttled_seconds=%.1f retries=%d "
        "duration=%.2f requeue_in=%s error_code=%s",
        tenant_id,
        run.customer_id,
        run.pk,
        run.trigger,
        outcome,
        run.resumed,
        progress.pass_done,
        progress.pages,
        progress.created,
        progress.updated,
        progress.unchanged,
        progress.alerts,
        stats.api_calls,
        stats.token_requests,
        stats.throttled_waits,
        stats.throttled_seconds,
        stats.retries,
        time.monotonic() - t0,
        "-" if requeue_in is None else f"{requeue_in:.0f}",
        error_code or "-",
    )
    return SyncResult(outcome=outcome, run=run, requeue_in=requeue_in)
