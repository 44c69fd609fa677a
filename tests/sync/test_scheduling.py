"""The sweep, the Celery tasks and their settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from sync import scheduling, services, tasks
from sync.models import SyncOutcome, SyncTrigger, TenantSyncState
from tenants.models import ConsentState
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[int], str]]:
    """Messages the sweep or "sync now" would publish (recorded instead of sent)."""
    sent: list[tuple[list[int], str]] = []

    def record(ids: Any, *, trigger: str, countdown: float = 0) -> int:
        sent.append((list(ids), trigger))
        return len(sent[-1][0])

    monkeypatch.setattr(scheduling, "publish_syncs", record)
    return sent


def test_sweep_enqueues_due_connected_tenants_only_after_commit(
    published: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    now = timezone.now()
    never_synced = factories.ConnectedCustomerFactory(name="Never synced")
    due = factories.ConnectedCustomerFactory(name="Due")
    TenantSyncState.objects.create(customer=due, next_sync_at=now - timedelta(seconds=1))
    later = factories.ConnectedCustomerFactory(name="Later")
    TenantSyncState.objects.create(customer=later, next_sync_at=now + timedelta(seconds=30))
    throttled = factories.ConnectedCustomerFactory(name="Throttled")
    TenantSyncState.objects.create(
        customer=throttled, next_sync_at=now, throttled_until=now + timedelta(seconds=20)
    )
    factories.ConnectedCustomerFactory(name="Revoked", consent_state=ConsentState.CONSENT_REVOKED)
    factories.CustomerFactory(name="Pending")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert scheduling.enqueue_due_syncs(now=now) == 2
    assert published == []
    for callback in callbacks:
        callback()

    assert published == [(sorted([never_synced.pk, due.pk]), SyncTrigger.SCHEDULE)]
    claimed = TenantSyncState.objects.get(customer=due).next_sync_at
    assert claimed == now + timedelta(seconds=scheduling.CLAIM_SECONDS)
    assert TenantSyncState.objects.get(customer=never_synced).next_sync_at == claimed


def test_a_second_sweep_does_not_enqueue_tenants_still_queued(
    published: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    factories.ConnectedCustomerFactory(name="One")
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.enqueue_due_syncs(now=now)
        scheduling.enqueue_due_syncs(now=now + timedelta(seconds=60))

    assert len(published) == 1


def test_a_tenant_claimed_by_an_overlapping_sweep_is_not_enqueued_again(
    published: list[Any], django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = factories.ConnectedCustomerFactory(name="First")
    second = factories.ConnectedCustomerFactory(name="Second")
    now = timezone.now()
    # The overlapping sweep read the due tenants before this one claimed "First".
    stale = scheduling.selectors.due_customers(now=now)
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.enqueue_due_syncs(now=now)
    TenantSyncState.objects.filter(customer=second).update(next_sync_at=None)  # due again
    monkeypatch.setattr(scheduling.selectors, "due_customers", lambda now: stale)

    with django_capture_on_commit_callbacks(execute=True):
        assert scheduling.enqueue_due_syncs(now=now) == 1

    assert published == [
        ([first.pk, second.pk], SyncTrigger.SCHEDULE),
        ([second.pk], SyncTrigger.SCHEDULE),
    ]


def test_sweep_over_a_thousand_tenants_takes_a_few_queries(
    published: list[Any],
    django_capture_on_commit_callbacks: Any,
    django_assert_max_num_queries: Any,
) -> None:
    customers = factories.ConnectedCustomerFactory.create_batch(1000)
    now = timezone.now()
    TenantSyncState.objects.bulk_create(
        [TenantSyncState(customer=c, next_sync_at=now) for c in customers]
    )

    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(5):
        assert scheduling.enqueue_due_syncs(now=now) == 1000

    assert len(published[0][0]) == 1000
    assert TenantSyncState.objects.filter(next_sync_at__gt=now).count() == 1000


def test_sync_task_requeues_a_throttled_run_with_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    customer = factories.ConnectedCustomerFactory()
    monkeypatch.setattr(
        services,
        "sync_tenant",
        lambda **kw: services.SyncResult(outcome=SyncOutcome.THROTTLED, requeue_in=42),
    )
    calls: list[tuple[Any, Any]] = []
    monkeypatch.setattr(
        tasks.sync_tenant, "apply_async", lambda args, countdown: calls.append((args, countdown))
    )

    outcome = tasks.sync_tenant(customer.pk, SyncTrigger.MANUAL)

    assert outcome == SyncOutcome.THROTTLED
    assert calls == [((customer.pk, SyncTrigger.MANUAL), 42)]


def test_sync_task_continues_a_time_boxed_run_at_once_and_not_a_finished_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcomes = iter(
        [
            services.SyncResult(outcome=SyncOutcome.PARTIAL, requeue_in=0.0),
            services.SyncResult(outcome=SyncOutcome.SUCCEEDED),
            services.SyncResult(outcome=SyncOutcome.FAILED),
        ]
    )
    monkeypatch.setattr(services, "sync_tenant", lambda **kw: next(outcomes))
    calls: list[Any] = []
    monkeypatch.setattr(
        tasks.sync_tenant, "apply_async", lambda args, countdown: calls.append((args, countdown))
    )

    for _ in range(3):
        tasks.sync_tenant(7)

    assert calls == [((7, SyncTrigger.SCHEDULE), 0.0)]


def test_sync_task_takes_the_customer_id_and_runs_the_service(
    contoso: Any, portal_emulator: Any
) -> None:
    outcome = tasks.sync_tenant.delay(contoso.pk, SyncTrigger.MANUAL).get()

    assert outcome == SyncOutcome.SUCCEEDED
    assert TenantSyncState.objects.get(customer=contoso).last_outcome == SyncOutcome.SUCCEEDED


def test_sweep_task_enqueues_and_runs_due_tenants(
    contoso: Any, portal_emulator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep.delay().get() == 1

    state = TenantSyncState.objects.get(customer=contoso)
    assert state.last_outcome == SyncOutcome.SUCCEEDED
    assert contoso.sync_runs.get().trigger == SyncTrigger.SCHEDULE


def test_celery_settings_redeliver_a_killed_workers_task() -> None:
    from partner_portal.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.SYNC_RUN_MAX_SECONDS < settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert settings.SYNC_LOCK_TTL > settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_VISIBILITY_TIMEOUT > settings.SYNC_LOCK_TTL
    if settings.REDIS_URL:
        assert app.conf.broker_transport_options["visibility_timeout"] == (
            settings.CELERY_VISIBILITY_TIMEOUT
        )


def test_beat_runs_the_sweep_every_sync_sweep_seconds() -> None:
    from partner_portal.celery import app

    entry = app.conf.beat_schedule["sync-sweep"]
    assert entry["task"] == "sync.sweep"
    assert entry["schedule"] == settings.SYNC_SWEEP_SECONDS == 60
    assert {"sync.sweep", "sync.sync_tenant"} <= set(app.tasks.keys())
