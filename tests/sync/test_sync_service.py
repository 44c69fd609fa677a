"""sync.services.sync_tenant against the emulator: backfill, incremental, idle, resume."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from incidents.models import Alert, Incident
from incidents.payload import format_filter_datetime
from sync.locks import TenantSyncLock
from sync.models import SyncOutcome, SyncRun, TenantSyncState
from tests.sync.conftest import api_calls, token_calls
from tests.sync.helpers import emulator_incidents, stored_incidents, sync


def test_first_sync_backfills_the_window_exactly(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    tenant_id = str(contoso.tenant_id)
    expected = emulator_incidents(portal_emulator, tenant_id)
    assert 100 < len(expected) < portal_emulator.incident_count(tenant_id)  # window excludes some

    result = sync(contoso, make_client(contoso))

    assert result.outcome == SyncOutcome.SUCCEEDED
    assert stored_incidents(contoso) == expected
    run = result.run
    assert run is not None
    assert (run.pages, run.incidents_created, run.incidents_updated) == (2, len(expected), 0)
    assert (run.api_calls, run.token_requests, run.throttled_waits) == (2, 1, 0)
    calls = api_calls(portal_emulator)
    assert [c["query"].get("$skip") for c in calls] == [None, "100"]
    assert {c["query"]["$top"] for c in calls} == {"100"}
    state = TenantSyncState.objects.get(customer=contoso)
    assert state.watermark is not None
    assert state.watermark <= max(expected.values())
    assert state.pass_filter_from is None and state.pass_skip == 0
    assert state.last_success_at == run.finished_at
    assert run.finished_at is not None and state.next_sync_at is not None
    assert state.next_sync_at > run.finished_at
    assert Alert.objects.filter(customer=contoso).count() == sum(
        i.alert_count for i in Incident.objects.filter(customer=contoso)
    )


def test_incremental_sync_picks_up_new_and_updated_incidents(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    tenant_id = str(contoso.tenant_id)
    sync(contoso, make_client(contoso))
    watermark = TenantSyncState.objects.get(customer=contoso).watermark
    assert watermark is not None
    old_id = sorted(stored_incidents(contoso))[0]
    new = portal_emulator.add_incident(tenant_id, severity="High", incidentName="Fresh one")
    portal_emulator.update_incident(
        tenant_id, old_id, status="Resolved", assignedTo="soc@x.example"
    )
    portal_emulator.clear_requests()

    result = sync(contoso, make_client(contoso))

    run = result.run
    assert run is not None
    assert (run.incidents_created, run.incidents_updated, run.api_calls) == (1, 1, 1)
    assert run.token_requests == 0
    (call,) = api_calls(portal_emulator)
    since = format_filter_datetime(watermark - timedelta(seconds=120))
    assert call["query"]["$filter"] == f"lastUpdateTime ge {since}"
    fresh = Incident.objects.get(customer=contoso, incident_id=new["incidentId"])
    assert (fresh.name, fresh.severity) == ("Fresh one", "High")
    updated = Incident.objects.get(customer=contoso, incident_id=old_id)
    assert (updated.status, updated.assigned_to) == ("Resolved", "soc@x.example")
    assert stored_incidents(contoso) == emulator_incidents(portal_emulator, tenant_id)


def test_idle_cycle_is_one_api_call_and_no_token_request(
    contoso: Any, woodgrove: Any, portal_emulator: Any, make_client: Any
) -> None:
    for customer in (contoso, woodgrove):
        sync(customer, make_client(customer))
    before = {c.pk: stored_incidents(c) for c in (contoso, woodgrove)}
    portal_emulator.clear_requests()

    for customer in (contoso, woodgrove):
        result = sync(customer, make_client(customer))
        assert result.run is not None
        assert (result.run.incidents_created, result.run.incidents_updated) == (0, 0)

    for customer in (contoso, woodgrove):
        assert len(api_calls(portal_emulator, customer.tenant_id)) == 1
        assert stored_incidents(customer) == before[customer.pk]
    assert token_calls(portal_emulator) == []
    assert [r["kind"] for r in portal_emulator.requests] == ["api", "api"]


def test_a_held_lock_means_another_worker_is_syncing(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    other_worker = TenantSyncLock(str(contoso.tenant_id))
    assert other_worker.acquire()

    result = sync(contoso, make_client(contoso))

    assert (result.outcome, result.reason, result.run) == (
        SyncOutcome.SKIPPED, "already running", None,
    )  # fmt: skip
    assert portal_emulator.requests == []
    other_worker.release()
    assert sync(contoso, make_client(contoso)).outcome == SyncOutcome.SUCCEEDED


def test_lock_is_released_after_a_run_and_not_stolen_by_a_late_release(contoso: Any) -> None:
    first = TenantSyncLock(str(contoso.tenant_id), ttl=60)
    assert first.acquire()
    second = TenantSyncLock(str(contoso.tenant_id), ttl=60)
    assert not second.acquire()
    second.release()  # not the owner: nothing happens
    assert not TenantSyncLock(str(contoso.tenant_id)).acquire()
    first.release()
    assert TenantSyncLock(str(contoso.tenant_id)).acquire()


def test_not_connected_customer_is_not_synced(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    contoso.consent_state = "consent_revoked"
    contoso.save()

    result = sync(contoso, make_client(contoso))

    assert (result.outcome, result.reason) == (SyncOutcome.SKIPPED, "not connected")
    assert portal_emulator.requests == []


def test_time_boxed_run_stores_its_place_and_the_next_run_resumes(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    tenant_id = str(contoso.tenant_id)

    first = sync(contoso, make_client(contoso), max_seconds=0)

    assert (first.outcome, first.requeue_in) == (SyncOutcome.PARTIAL, 0.0)
    state = TenantSyncState.objects.get(customer=contoso)
    assert (state.watermark, state.pass_skip) == (None, 100)
    # the task re-queues itself at once; the sweep steps in only if that message is lost
    assert state.next_sync_at is not None
    assert state.next_sync_at > timezone.now() + timedelta(seconds=250)
    assert len(stored_incidents(contoso)) == 100

    second = sync(contoso, make_client(contoso))

    assert second.outcome == SyncOutcome.SUCCEEDED
    assert second.run is not None and second.run.resumed
    assert api_calls(portal_emulator)[-1]["query"]["$skip"] == "100"
    assert (
        api_calls(portal_emulator)[-1]["query"]["$filter"]
        == (api_calls(portal_emulator)[0]["query"]["$filter"])
    )
    assert stored_incidents(contoso) == emulator_incidents(portal_emulator, tenant_id)


class KilledWorker(BaseException):
    """Stands for a worker process dying in the middle of a sync (nothing below catches it)."""


def test_run_cut_off_mid_pass_is_marked_interrupted_and_resumed(
    contoso: Any, portal_emulator: Any, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id = str(contoso.tenant_id)
    client = make_client(contoso)
    real = client.list_incidents

    def dies_on_second_page(**kwargs: Any) -> Any:
        if kwargs.get("skip"):
            raise KilledWorker
        return real(**kwargs)

    monkeypatch.setattr(client, "list_incidents", dies_on_second_page)
    with pytest.raises(KilledWorker):
        sync(contoso, client)
    assert SyncRun.objects.get(customer=contoso).outcome == SyncOutcome.RUNNING
    assert len(stored_incidents(contoso)) == 100

    result = sync(contoso, make_client(contoso))

    old, new = SyncRun.objects.filter(customer=contoso).order_by("pk")
    assert (old.outcome, old.error_code) == (SyncOutcome.FAILED, "interrupted")
    assert (new.outcome, new.resumed, new.pages) == (SyncOutcome.SUCCEEDED, True, 1)
    assert result.run == new
    assert stored_incidents(contoso) == emulator_incidents(portal_emulator, tenant_id)


def test_changes_while_paging_are_never_lost(
    contoso: Any,
    portal_emulator: Any,
    make_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    # Without overlap, a watermark taken from the newest update seen (instead of capped at
    # the pass start) would skip the page-1 incident updated before a later page was read.
    settings.SYNC_OVERLAP_SECONDS = 0
    tenant_id = str(contoso.tenant_id)
    client = make_client(contoso)
    real = client.list_incidents
    window = emulator_incidents(portal_emulator, tenant_id)
    oldest_in_window = sorted(window.items(), key=lambda kv: kv[1])

    def page_with_changes(**kwargs: Any) -> Any:
        page = real(**kwargs)
        if not kwargs.get("skip"):
            # After page 1: new incidents appear at the front, page-1 and page-2 incidents
            # change, and an incident outside the window is updated into it.
            for _ in range(3):
                portal_emulator.add_incident(tenant_id)
            first_page_id = page.incidents[0]["incidentId"]
            portal_emulator.update_incident(tenant_id, first_page_id, status="Resolved")
            portal_emulator.update_incident(tenant_id, oldest_in_window[0][0], assignedTo="a@b.c")
            outside = min(portal_emulator.incident_ids(tenant_id))
            portal_emulator.update_incident(tenant_id, outside, status="Resolved")
        return page

    monkeypatch.setattr(client, "list_incidents", page_with_changes)
    sync(contoso, client)
    sync(contoso, make_client(contoso))

    assert stored_incidents(contoso) == emulator_incidents(portal_emulator, tenant_id)


def test_next_links_are_followed_when_the_api_sends_them(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    portal_emulator.knobs.next_link = True
    tenant_id = str(contoso.tenant_id)

    result = sync(contoso, make_client(contoso))

    assert result.outcome == SyncOutcome.SUCCEEDED
    assert [c["query"].get("$skip") for c in api_calls(portal_emulator)] == [None, "100"]
    assert stored_incidents(contoso) == emulator_incidents(portal_emulator, tenant_id)


def test_doc_style_payloads_sync_too(contoso: Any, portal_emulator: Any, make_client: Any) -> None:
    portal_emulator.knobs.null_style = "doc"
    tenant_id = str(contoso.tenant_id)

    result = sync(contoso, make_client(contoso))

    assert result.outcome == SyncOutcome.SUCCEEDED
    assert stored_incidents(contoso) == emulator_incidents(portal_emulator, tenant_id)
    uri = Incident.objects.filter(customer=contoso).first().incident_uri  # type: ignore[union-attr]
    assert uri.startswith("https://security.microsoft.com/incidents/") and tenant_id in uri


def test_running_the_same_sync_twice_changes_nothing(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    sync(contoso, make_client(contoso))
    state = TenantSyncState.objects.get(customer=contoso)
    state.watermark = None  # as if the second delivery of the task started from scratch
    state.save()
    incidents = list(Incident.objects.order_by("pk").values())
    alerts = list(Alert.objects.order_by("pk").values())

    result = sync(contoso, make_client(contoso))

    assert result.run is not None
    assert (result.run.incidents_created, result.run.incidents_updated) == (0, 0)
    assert result.run.incidents_unchanged == len(incidents)
    assert list(Incident.objects.order_by("pk").values()) == incidents
    assert list(Alert.objects.order_by("pk").values()) == alerts
