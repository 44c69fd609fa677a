"""sync.services.sync_tenant when Microsoft throttles, fails, revokes or sends bad pages."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from incidents.models import Incident
from microsoft import entra
from microsoft.defender import DefenderClient, IncidentPage
from microsoft.rate_limit import TenantRateLimiter
from sync import scheduling, selectors, services
from sync.models import SyncOutcome, SyncRun, TenantSyncState
from tenants.models import AuditAction, AuditEvent, ConsentState
from tests import factories
from tests.sync.conftest import api_calls, token_calls
from tests.sync.helpers import emulator_incidents, stored_incidents, sync


def test_429_records_throttling_and_no_call_goes_before_retry_after(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    tenant_id = str(contoso.tenant_id)
    portal_emulator.add_fault(
        "429", tenant_id=tenant_id, path_prefix="/api/", after=1, retry_after=30
    )

    result = sync(contoso, make_client(contoso))

    assert (result.outcome, result.requeue_in) == (SyncOutcome.THROTTLED, 30)
    run = result.run
    assert run is not None and run.error_code == "TooManyRequests"
    assert run.pages == 1  # page 1 stored before the 429
    state = TenantSyncState.objects.get(customer=contoso)
    assert state.throttled_until is not None
    assert 28 <= (state.throttled_until - timezone.now()).total_seconds() <= 30
    assert state.next_sync_at == state.throttled_until + timedelta(seconds=300)
    assert (state.watermark, state.pass_skip) == (None, 100)
    assert scheduling.enqueue_due_syncs() == 0  # the sweep leaves it alone

    again = sync(contoso, make_client(contoso))  # e.g. "sync now" from another worker

    assert again.outcome == SyncOutcome.THROTTLED
    assert len(api_calls(portal_emulator)) == 2  # nothing went out after the 429


def test_after_retry_after_the_throttled_pass_resumes_and_completes(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    tenant_id = str(contoso.tenant_id)
    portal_emulator.add_fault(
        "429", tenant_id=tenant_id, path_prefix="/api/", after=1, retry_after=1
    )
    sync(contoso, make_client(contoso))
    # Retry-After has passed:
    TenantSyncState.objects.filter(customer=contoso).update(
        throttled_until=timezone.now() - timedelta(seconds=1)
    )
    cache.delete(f"defender-rl:{tenant_id}:blocked")

    result = sync(contoso, make_client(contoso))

    assert result.outcome == SyncOutcome.SUCCEEDED
    assert result.run is not None and result.run.resumed
    assert stored_incidents(contoso) == emulator_incidents(portal_emulator, tenant_id)
    assert TenantSyncState.objects.get(customer=contoso).throttled_until is None


def test_the_limiter_keeps_calls_under_the_quota_instead_of_getting_429(
    contoso: Any, portal_emulator: Any, sleeps: Any
) -> None:
    portal_emulator.knobs.rate_limit_per_minute = 2
    client = DefenderClient(
        str(contoso.tenant_id),
        limiter=TenantRateLimiter(per_minute=1, per_hour=100, max_wait=0),
        sleep=sleeps,
    )

    result = sync(contoso, client)

    assert result.outcome == SyncOutcome.THROTTLED
    assert result.requeue_in is not None and 1 <= result.requeue_in <= 61
    assert [c["status"] for c in api_calls(portal_emulator)] == [200]


def test_emulator_rate_limit_429_is_honoured(
    contoso: Any, portal_emulator: Any, sleeps: Any
) -> None:
    portal_emulator.knobs.rate_limit_per_minute = 1
    client = DefenderClient(
        str(contoso.tenant_id),
        limiter=TenantRateLimiter(per_minute=100, per_hour=1000, max_wait=0),
        sleep=sleeps,
    )

    result = sync(contoso, client)

    assert result.outcome == SyncOutcome.THROTTLED
    assert [c["status"] for c in api_calls(portal_emulator)] == [200, 429]
    assert result.requeue_in is not None and 1 <= result.requeue_in <= 60


def test_5xx_is_retried_within_the_run(
    contoso: Any, portal_emulator: Any, make_client: Any, sleeps: Any
) -> None:
    tenant_id = str(contoso.tenant_id)
    portal_emulator.add_fault("503", tenant_id=tenant_id, path_prefix="/api/", after=1, count=2)

    result = sync(contoso, make_client(contoso))

    assert result.outcome == SyncOutcome.SUCCEEDED
    assert result.run is not None and result.run.api_calls == 4
    assert len(sleeps.calls) == 2
    assert stored_incidents(contoso) == emulator_incidents(portal_emulator, tenant_id)


def test_persistent_5xx_fails_the_run_and_keeps_the_watermark(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    tenant_id = str(contoso.tenant_id)
    sync(contoso, make_client(contoso))
    watermark = TenantSyncState.objects.get(customer=contoso).watermark
    portal_emulator.add_fault("500", tenant_id=tenant_id, path_prefix="/api/", count=10)

    result = sync(contoso, make_client(contoso))

    assert result.outcome == SyncOutcome.FAILED
    assert result.run is not None and result.run.error_code == "transient"
    assert "gave up after 4 attempts" in result.run.error
    state = TenantSyncState.objects.get(customer=contoso)
    assert state.watermark == watermark
    assert state.last_outcome == SyncOutcome.FAILED
    contoso.refresh_from_db()
    assert contoso.consent_state == ConsentState.CONNECTED  # transient: consent untouched


def test_consent_revoked_mid_run_is_flagged_and_stops_only_that_tenant(
    contoso: Any, woodgrove: Any, portal_emulator: Any, make_client: Any
) -> None:
    tenant_id = str(contoso.tenant_id)
    portal_emulator.knobs.revocation_immediate = True
    portal_emulator.add_fault("revoke_consent", tenant_id=tenant_id, path_prefix="/api/", after=1)

    result = sync(contoso, make_client(contoso))

    assert result.outcome == SyncOutcome.FAILED
    assert result.run is not None and result.run.error_code == "AADSTS7000229"
    assert result.run.pages == 1
    contoso.refresh_from_db()
    assert contoso.consent_state == ConsentState.CONSENT_REVOKED
    assert contoso.last_error_code == "AADSTS7000229"
    event = AuditEvent.objects.get(customer=contoso, action=AuditAction.CONSENT_REVOKED)
    assert event.actor_label == "sync worker"
    state = TenantSyncState.objects.get(customer=contoso)
    assert state.watermark is None
    # Its sync has stopped; the other tenant carries on.
    assert contoso.pk not in selectors.due_customer_ids(now=timezone.now() + timedelta(days=1))
    assert services.sync_tenant(customer_id=contoso.pk, trigger="schedule").reason == (
        "not connected"
    )
    assert sync(woodgrove, make_client(woodgrove)).outcome == SyncOutcome.SUCCEEDED


def test_expired_client_secret_is_recorded_as_bad_credentials(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    portal_emulator.set_secret_expired(True)

    result = sync(contoso, make_client(contoso))

    assert result.outcome == SyncOutcome.FAILED
    assert result.run is not None and result.run.error_code == "AADSTS7000222"
    contoso.refresh_from_db()
    assert contoso.consent_state == ConsentState.ERROR
    assert "client secret has expired" in contoso.last_error


def test_token_endpoint_outage_fails_the_run_but_keeps_consent(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    tenant_id = str(contoso.tenant_id)
    portal_emulator.add_fault("503", tenant_id=tenant_id, path_prefix=f"/{tenant_id}/oauth2/")

    result = sync(contoso, make_client(contoso))

    assert result.outcome == SyncOutcome.FAILED
    assert result.run is not None and result.run.error_code == "token_5xx"
    contoso.refresh_from_db()
    assert contoso.consent_state == ConsentState.CONNECTED
    # MSAL replays the 5xx for its Retry-After (5 s) without asking Entra ID again ...
    assert sync(contoso, make_client(contoso)).outcome == SyncOutcome.FAILED
    assert len(token_calls(portal_emulator)) == 1
    entra._apps.clear()  # ... a later run (here: another worker process) gets its token
    assert sync(contoso, make_client(contoso)).outcome == SyncOutcome.SUCCEEDED


def test_403_marks_missing_permissions(portal_emulator: Any, make_client: Any, db: Any) -> None:
    fabrikam = factories.ConnectedCustomerFactory(
        name="Fabrikam Ltd", tenant_id=portal_emulator.tenant(name="Fabrikam").tenant_id
    )

    result = sync(fabrikam, make_client(fabrikam))

    assert result.outcome == SyncOutcome.FAILED
    fabrikam.refresh_from_db()
    assert fabrikam.consent_state == ConsentState.MISSING_PERMISSIONS
    assert fabrikam.missing_roles == ["Incident.Read.All"]


def _corrupting_client(client: DefenderClient, corrupt: Any, *, on_page: int) -> DefenderClient:
    """Wrap ``client`` so page number ``on_page`` (1-based) is corrupted by ``corrupt(list)``."""
    real = client.list_incidents_url
    seen = {"pages": 0}

    def fetch(url: str) -> IncidentPage:
        page = real(url)
        seen["pages"] += 1
        if seen["pages"] == on_page:
            page.incidents = corrupt(page.incidents)
        return page

    client.list_incidents_url = fetch  # type: ignore[method-assign]
    return client


def _drop(field: str) -> Any:
    def corrupt(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        del rows[5][field]
        return rows

    return corrupt


def _set(field: str, value: Any, *, alert: bool = False) -> Any:
    def corrupt(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        target = rows[7]["alerts"][0] if alert else rows[7]
        target[field] = value
        return rows

    return corrupt


def _oversize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return (rows * 3)[:101]


@pytest.mark.parametrize(
    ("corrupt", "code", "where"),
    [
        (
            _drop("lastUpdateTime"),
            "bad_payload",
            "value[5].lastUpdateTime: required field is missing",
        ),
        (_set("incidentId", "48213"), "bad_payload", "value[7].incidentId: expected an integer"),
        (
            _set("severity", "Critical"),
            "bad_payload",
            "value[7].severity: unknown value 'Critical'",
        ),
        (
            _set("status", "Closed", alert=True),
            "bad_payload",
            "value[7].alerts[0].status: unknown value",
        ),
        (
            _set(
                "incidentUri",
                "https://security.microsoft.com/incidents/1?tid=11111111-2222-4333-8444-555555555555",
            ),
            "wrong_tenant",
            "value[7].incidentUri: belongs to tenant",
        ),
        (
            _set("aadTenantId", "11111111-2222-4333-8444-555555555555", alert=True),
            "wrong_tenant",
            "value[7].alerts[0].aadTenantId: belongs to tenant",
        ),
        (_oversize, "oversized_page", "the page has 101 incidents"),
    ],
)
def test_a_bad_page_is_rejected_whole_and_nothing_of_it_is_stored(
    contoso: Any,
    woodgrove: Any,
    portal_emulator: Any,
    make_client: Any,
    corrupt: Any,
    code: str,
    where: str,
) -> None:
    tenant_id = str(contoso.tenant_id)
    client = _corrupting_client(make_client(contoso), corrupt, on_page=2)

    result = sync(contoso, client)

    assert result.outcome == SyncOutcome.FAILED
    run = result.run
    assert run is not None
    assert run.error_code == code
    assert where in run.error
    assert "page 2 of this run ($skip=100)" in run.error
    assert "Nothing from this page was stored and the watermark was kept" in run.error
    assert run.pages == 1
    assert len(stored_incidents(contoso)) == 100  # page 1 only
    state = TenantSyncState.objects.get(customer=contoso)
    assert (state.watermark, state.pass_skip) == (None, 100)
    assert state.last_error == run.error
    contoso.refresh_from_db()
    assert contoso.consent_state == ConsentState.CONNECTED
    # Other tenants carry on, and once Microsoft sends good data the pass completes.
    assert sync(woodgrove, make_client(woodgrove)).outcome == SyncOutcome.SUCCEEDED
    assert sync(contoso, make_client(contoso)).outcome == SyncOutcome.SUCCEEDED
    assert stored_incidents(contoso) == emulator_incidents(portal_emulator, tenant_id)


def test_malformed_json_fails_the_run_and_keeps_the_watermark(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    tenant_id = str(contoso.tenant_id)
    sync(contoso, make_client(contoso))
    state_before = TenantSyncState.objects.get(customer=contoso)
    portal_emulator.add_incident(tenant_id)
    portal_emulator.add_fault("malformed_json", tenant_id=tenant_id, path_prefix="/api/")
    count = Incident.objects.filter(customer=contoso).count()

    result = sync(contoso, make_client(contoso))

    assert result.outcome == SyncOutcome.FAILED
    assert result.run is not None and result.run.error_code == "malformed_json"
    assert "malformed JSON" in result.run.error
    assert Incident.objects.filter(customer=contoso).count() == count
    assert TenantSyncState.objects.get(customer=contoso).watermark == state_before.watermark


def test_sync_logs_one_line_with_figures_and_never_a_secret(
    contoso: Any, portal_emulator: Any, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, third-party ones included
    portal_emulator.add_fault("500", tenant_id=str(contoso.tenant_id), path_prefix="/api/")

    result = sync(contoso, make_client(contoso))

    token = entra.get_token(str(contoso.tenant_id)).token
    text = caplog.text
    assert token not in text
    assert token.split(".")[1] not in text  # not even the claims part
    assert portal_emulator.client_secret not in text
    assert not re.search(r"(?i)bearer\s+\S", text.replace('"token_type": "Bearer"', ""))
    assert "authorization" not in text.lower()
    lines = [r.getMessage() for r in caplog.records if r.name == "sync.services"]
    assert len(lines) == 1
    run = result.run
    assert run is not None
    assert lines[0].startswith(
        f"sync tenant={contoso.tenant_id} customer={contoso.pk} run={run.pk}"
    )
    for figure in (
        "outcome=succeeded",
        "pages=2",
        f"created={run.incidents_created}",
        "updated=0",
        "api_calls=3",
        "token_requests=1",
        "throttled_waits=0",
        "retries=1",
    ):
        assert figure in lines[0]


def test_other_tenants_run_when_one_tenant_fails(
    contoso: Any, woodgrove: Any, portal_emulator: Any, make_client: Any
) -> None:
    portal_emulator.add_fault(
        "500", tenant_id=str(contoso.tenant_id), path_prefix="/api/", count=10
    )

    results = [sync(c, make_client(c)) for c in (contoso, woodgrove)]

    assert [r.outcome for r in results] == [SyncOutcome.FAILED, SyncOutcome.SUCCEEDED]
    assert SyncRun.objects.filter(outcome=SyncOutcome.SUCCEEDED).count() == 1


def test_nul_characters_are_stored_as_replacement_characters(
    contoso: Any, portal_emulator: Any, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    tenant_id = str(contoso.tenant_id)
    added = portal_emulator.add_incident(tenant_id, incidentName="Phish\x00ing on mailbox")

    with caplog.at_level(logging.WARNING, logger="microsoft.defender"):
        result = sync(contoso, make_client(contoso))

    assert result.outcome == SyncOutcome.SUCCEEDED
    stored = Incident.objects.get(customer=contoso, incident_id=added["incidentId"])
    assert stored.name == "Phish\ufffding on mailbox"
    assert stored.raw["incidentName"] == "Phish\ufffding on mailbox"
    assert stored_incidents(contoso) == emulator_incidents(portal_emulator, tenant_id)
    warnings = [r.getMessage() for r in caplog.records if "replaced_nul" in r.getMessage()]
    assert warnings == [
        f"defender tenant={tenant_id} replaced_nul=1: U+0000 in the response was stored as "
        "U+FFFD (PostgreSQL cannot store U+0000)"
    ]


def test_a_broken_portal_certificate_fails_the_run_without_blaming_the_customer(
    contoso: Any, make_client: Any, settings: Any, tmp_path: Any
) -> None:
    certificate = tmp_path / "app.pem"
    certificate.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n")
    settings.AZURE_CLIENT_SECRET = ""
    settings.AZURE_CLIENT_CERTIFICATE_PATH = str(certificate)
    entra.client_credential.cache_clear()
    entra._apps.clear()
    try:
        result = sync(contoso, make_client(contoso))
    finally:
        entra.client_credential.cache_clear()
        entra._apps.clear()

    assert result.outcome == SyncOutcome.FAILED
    assert result.run is not None and result.run.error_code == "not_configured"
    assert result.run.error.startswith("The portal's application is not configured: ")
    assert "AZURE_CLIENT_CERTIFICATE_PATH" in result.run.error
    contoso.refresh_from_db()
    assert contoso.consent_state == ConsentState.CONNECTED


def test_unknown_enum_values_are_stored_when_the_setting_allows_them(
    contoso: Any, portal_emulator: Any, make_client: Any, settings: Any
) -> None:
    settings.SYNC_ACCEPT_UNKNOWN_ENUMS = True
    client = _corrupting_client(make_client(contoso), _set("severity", "Critical"), on_page=2)

    result = sync(contoso, client)

    assert result.outcome == SyncOutcome.SUCCEEDED
    assert Incident.objects.filter(customer=contoso, severity="Critical").count() == 1
    stored = Incident.objects.get(customer=contoso, severity="Critical")
    assert (stored.severity_rank, stored.raw["severity"]) == (0, "Critical")
    assert len(stored_incidents(contoso)) == len(
        emulator_incidents(portal_emulator, str(contoso.tenant_id))
    )
