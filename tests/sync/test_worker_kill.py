"""A real Celery worker killed in the middle of a sync loses and duplicates nothing.

Real processes: ``celery -A partner_portal.celery worker`` against the test's PostgreSQL
database and Redis, the in-process emulator over HTTPS. The worker is SIGKILLed (its whole
process group, so the task is never acknowledged) while a large tenant's sync is half-stored;
a new worker starts once Redis's visibility timeout has passed, gets the task again, finds the
dead worker's lock expired, marks the cut-off run interrupted and resumes the pass.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count

from incidents.models import Alert, Incident
from sync.models import SyncOutcome, SyncRun, TenantSyncState
from tests import factories
from tests.sync.helpers import emulator_incidents, stored_incidents

# Worker timings, scaled down (the production relations are the same: run time box < soft
# limit < hard limit < lock TTL = hard limit + margin < visibility timeout).
SYNC_RUN_MAX_SECONDS = 5
SOFT_LIMIT, HARD_LIMIT, LOCK_MARGIN = 6, 8, 2
VISIBILITY_TIMEOUT = 12


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def start_worker(portal_emulator: Any, tmp_path: Path) -> Iterator[Callable[[str], Any]]:
    """``start_worker(name)``: a celery worker subprocess in its own process group."""
    workers: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "partner_portal.settings.development",
        "DEBUG": "false",
        "DATABASE_URL": database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": settings.REDIS_URL,
        "AZURE_AUTHORITY_HOST": portal_emulator.url,
        "DEFENDER_API_URL": portal_emulator.url,
        "AZURE_CLIENT_ID": portal_emulator.client_id,
        "AZURE_CLIENT_SECRET": portal_emulator.client_secret,
        "AZURE_CLIENT_CERTIFICATE_PATH": "",
        "REQUESTS_CA_BUNDLE": str(portal_emulator.ca_path),
        "SYNC_RUN_MAX_SECONDS": str(SYNC_RUN_MAX_SECONDS),
        "CELERY_TASK_SOFT_TIME_LIMIT": str(SOFT_LIMIT),
        "CELERY_TASK_TIME_LIMIT": str(HARD_LIMIT),
        "SYNC_LOCK_MARGIN_SECONDS": str(LOCK_MARGIN),
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "PORTAL_VAR_DIR": str(tmp_path),
    }

    def start(name: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed in the finally below
        logs.append(log)
        command = [sys.executable, "-m", "celery", "-A", "partner_portal.celery", "worker"]
        command += ["--pool=prefork", "--concurrency=1", "--loglevel=INFO", "-n", f"{name}@%h"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        worker = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        for handle in logs:
            handle.close()
        for log in sorted(tmp_path.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}")


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_worker_killed_mid_sync_loses_and_duplicates_nothing(
    portal_emulator: Any, start_worker: Callable[[str], Any]
) -> None:
    from partner_portal.celery import app

    tenant_id = str(portal_emulator.tenant(name="Contoso").tenant_id)
    for _ in range(1000):
        portal_emulator.add_incident(tenant_id)
    portal_emulator.knobs.latency_seconds = 0.25  # ~12 pages: a few seconds of sync
    customer = factories.ConnectedCustomerFactory(name="Contoso Ltd", tenant_id=tenant_id)
    expected = emulator_incidents(portal_emulator, tenant_id)
    assert len(expected) > 1100

    first = start_worker("first")
    app.send_task("sync.sync_tenant", args=[customer.pk, "manual"])
    sent_at = time.monotonic()
    stored = Incident.objects.filter(customer=customer)
    wait_for(lambda: stored.count() >= 200, 60, "the first pages to be stored")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)

    half = stored.count()
    assert 200 <= half < len(expected), "the worker must die in the middle of the sync"
    run = SyncRun.objects.get(customer=customer)
    assert run.outcome == SyncOutcome.RUNNING
    assert TenantSyncState.objects.get(customer=customer).watermark is None

    # Redis hands the unacknowledged task to the next worker once the visibility timeout ends.
    time.sleep(max(0.0, VISIBILITY_TIMEOUT + 1 - (time.monotonic() - sent_at)))
    start_worker("second")

    def pass_complete() -> bool:
        state = TenantSyncState.objects.get(customer=customer)
        return state.watermark is not None and state.last_outcome == SyncOutcome.SUCCEEDED

    wait_for(pass_complete, 90, "the redelivered task to finish the sync")

    assert stored_incidents(customer) == expected
    assert stored.count() == len(expected)
    duplicates = (
        Alert.objects.filter(customer=customer)
        .values("alert_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()
    assert Alert.objects.filter(customer=customer).count() == sum(
        stored.values_list("alert_count", flat=True)
    )
    runs = list(SyncRun.objects.filter(customer=customer).order_by("pk"))
    assert (runs[0].outcome, runs[0].error_code) == (SyncOutcome.FAILED, "interrupted")
    assert runs[1].resumed is True
    assert runs[-1].outcome == SyncOutcome.SUCCEEDED
    assert sum(r.incidents_created for r in runs) == len(expected)
