"""sync.services.sync_tenant and the sync task when the Microsoft clients meet odd answers: a
throttled token request, a next link to another host, 403 codes other than Forbidden, odd
Date and Retry-After headers, and re-queue countdowns longer than the visibility timeout."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.cache import cache
from django.utils import timezone

from microsoft.defender import DefenderClient
from microsoft.rate_limit import TenantRateLimiter
from sync import services, tasks
from sync.models import SyncOutcome, SyncTrigger, TenantSyncState
from tenants.models import AuditEvent, ConsentState
from tests import factories
from tests.microsoft.fakes import FakeSession, install_fake_token, page, reply
from tests.sync.conftest import api_calls, token_calls
from tests.sync.helpers import emulator_incidents, stored_incidents, sync

# -- a throttled token request (item: Entra ID 429 is not a tenant failure) --------------------


def test_throttled_token_request_keeps_the_customer_connected_and_requeues(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    tenant_id = str(contoso.tenant_id)
    portal_emulator.add_fault(
        "429", tenant_id=tenant_id, path_prefix=f"/{tenant_id}/oauth2/", retry_after=30
    )
    audits_before = AuditEvent.objects.filter(customer=contoso).count()

    result = sync(contoso, make_client(contoso))

    assert (result.outcome, result.requeue_in) == (SyncOutcome.THROTTLED, 30)
    assert result.run is not None and result.run.error_code == "AADSTS90055"
    contoso.refresh_from_db()
    assert contoso.consent_state == ConsentState.CONNECTED
    assert contoso.last_error == ""
    assert AuditEvent.objects.filter(customer=contoso).count() == audits_before
    state = TenantSyncState.objects.get(customer=contoso)
    assert state.throttled_until is not None
    assert 28 <= (state.throttled_until - timezone.now()).total_seconds() <= 30
    assert [c["status"] for c in token_calls(portal_emulator, tenant_id)] == [429]
    assert api_calls(portal_emulator, tenant_id) == []

    # Once the Retry-After has passed, the next run gets its token and completes.
    TenantSyncState.objects.filter(customer=contoso).update(throttled_until=None)
    assert sync(contoso, make_client(contoso)).outcome == SyncOutcome.SUCCEEDED


# -- a next link to another host ---------------------------------------------------------------


def _foreign_next_links(client: DefenderClient) -> DefenderClient:
    """Wrap ``client`` so every page's next link points at another host (as a misbehaving
    proxy or API front end might send), with the same path and query."""
    real = client._get_json

    def get_json(url: str) -> Any:
        body, size, server_time = real(url)
        link = body.get("@odata.nextLink")
        if link:
            parts = urlsplit(link)
            body["@odata.nextLink"] = urlunsplit(parts._replace(netloc="elsewhere.example"))
        return body, size, server_time

    client._get_json = get_json  # type: ignore[method-assign]
    return client


def test_next_link_to_another_host_is_dropped_and_the_pass_completes_with_skip(
    contoso: Any, portal_emulator: Any, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    portal_emulator.knobs.next_link = True
    tenant_id = str(contoso.tenant_id)

    with caplog.at_level(logging.WARNING, logger="microsoft.defender"):
        result = sync(contoso, _foreign_next_links(make_client(contoso)))

    assert result.outcome == SyncOutcome.SUCCEEDED
    expected = emulator_incidents(portal_emulator, tenant_id)
    assert 100 < len(expected) < 200  # two pages in the backfill window
    assert stored_incidents(contoso) == expected
    skips = [c["query"].get("$skip", "0") for c in api_calls(portal_emulator, tenant_id)]
    assert skips == ["0", "100"]
    state = TenantSyncState.objects.get(customer=contoso)
    assert (state.pass_next_link, state.watermark is not None) == ("", True)
    warnings = [r.getMessage() for r in caplog.records if "ignored_next_link" in r.getMessage()]
    assert len(warnings) == 1  # page 1 carried a link; page 2 is the last
    assert all("elsewhere.example/api/incidents:" in w and "$skip=" not in w for w in warnings)


# -- answers only a fake session can give -------------------------------------------------------


@pytest.fixture
def fake_customer(db: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Any:
    settings.DEFENDER_API_URL = "https://api.security.microsoft.com"
    install_fake_token(monkeypatch)
    return factories.ConnectedCustomerFactory(name="Northwind")


def fake_client(customer: Any, session: FakeSession) -> DefenderClient:
    limiter = TenantRateLimiter(max_wait=0)
    return DefenderClient(
        str(customer.tenant_id),
        limiter=limiter,
        session=session,  # type: ignore[arg-type]
        sleep=lambda s: None,
    )


def test_403_disabled_feature_fails_the_run_without_touching_consent(fake_customer: Any) -> None:
    session = FakeSession(
        reply(403, {"error": {"code": "DisabledFeature", "message": "Off.", "target": "x"}})
    )

    result = sync(fake_customer, fake_client(fake_customer, session))

    assert result.outcome == SyncOutcome.FAILED
    assert result.run is not None and result.run.error_code == "DisabledFeature"
    assert "a feature this request needs is turned off" in result.run.error
    fake_customer.refresh_from_db()
    assert fake_customer.consent_state == ConsentState.CONNECTED
    assert fake_customer.missing_roles == []


def test_a_date_header_without_a_zone_does_not_break_the_sync(fake_customer: Any) -> None:
    session = FakeSession(page([], headers={"Date": "Mon, 02 Jun 2025 14:05:11 -0000"}))

    result = sync(fake_customer, fake_client(fake_customer, session))

    assert result.outcome == SyncOutcome.SUCCEEDED
    assert result.run is not None and result.run.pages == 1


@pytest.mark.parametrize("header", ["inf", "nan", "1e400"])
def test_a_non_finite_retry_after_throttles_for_the_default(
    fake_customer: Any, header: str
) -> None:
    session = FakeSession(reply(429, {}, {"Retry-After": header}))

    result = sync(fake_customer, fake_client(fake_customer, session))

    assert (result.outcome, result.requeue_in) == (SyncOutcome.THROTTLED, 60.0)
    blocked = cache.get(f"defender-rl:{fake_customer.tenant_id}:blocked")
    assert blocked is not None


def test_a_stored_next_link_with_the_default_port_is_followed(fake_customer: Any) -> None:
    link = "https://api.security.microsoft.com:443/api/incidents?$top=100&$skip=100"
    state, _ = TenantSyncState.objects.get_or_create(customer=fake_customer)
    now = timezone.now()
    TenantSyncState.objects.filter(pk=state.pk).update(
        pass_filter_from=now, pass_started_at=now, pass_skip=100, pass_next_link=link
    )
    session = FakeSession(page([]))

    result = sync(fake_customer, fake_client(fake_customer, session))

    assert result.outcome == SyncOutcome.SUCCEEDED
    assert session.urls == [link]


def test_a_stored_next_link_to_another_host_is_dropped_for_skip(
    fake_customer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    link = "https://elsewhere.example/api/incidents?$top=100&$skip=100&token=abc"
    state, _ = TenantSyncState.objects.get_or_create(customer=fake_customer)
    now = timezone.now()
    TenantSyncState.objects.filter(pk=state.pk).update(
        pass_filter_from=now, pass_started_at=now, pass_skip=100, pass_next_link=link
    )
    session = FakeSession(page([]))

    with caplog.at_level("WARNING", logger="sync.paging"):
        result = sync(fake_customer, fake_client(fake_customer, session))

    assert result.outcome == SyncOutcome.SUCCEEDED
    assert len(session.urls) == 1
    assert session.urls[0].startswith("https://api.security.microsoft.com/api/incidents?")
    assert "$skip=100" in session.urls[0]
    assert [r.getMessage() for r in caplog.records] == [
        f"sync tenant={fake_customer.tenant_id} stored next link to another host dropped"
    ]


# -- the re-queue countdown and the visibility timeout ------------------------------------------


@pytest.mark.parametrize(
    ("requeue_in", "visibility", "countdown"),
    [
        (3660.0, 3600, 3300.0),
        (3299.0, 3600, 3299.0),
        (42.0, 3600, 42.0),
        (0.0, 3600, 0.0),
        (1900.0, 1900, 1600.0),
    ],
)
def test_requeue_countdown_stays_below_the_visibility_timeout(
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    requeue_in: float,
    visibility: int,
    countdown: float,
) -> None:
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": visibility}
    monkeypatch.setattr(
        services,
        "sync_tenant",
        lambda **kw: services.SyncResult(outcome=SyncOutcome.THROTTLED, requeue_in=requeue_in),
    )
    calls: list[tuple[Any, Any]] = []
    monkeypatch.setattr(
        tasks.sync_tenant, "apply_async", lambda args, countdown: calls.append((args, countdown))
    )

    tasks.sync_tenant(7, SyncTrigger.SCHEDULE)

    assert calls == [((7, SyncTrigger.SCHEDULE), countdown)]


def test_requeue_countdown_without_a_broker_option_uses_the_setting(settings: Any) -> None:
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": "/tmp/x"}
    settings.CELERY_VISIBILITY_TIMEOUT = 2400

    assert tasks.requeue_countdown(3660) == 2100
    assert tasks.requeue_countdown(-5) == 0


def test_a_capped_requeue_runs_early_and_requeues_for_the_rest(
    contoso: Any, portal_emulator: Any, make_client: Any
) -> None:
    tenant_id = str(contoso.tenant_id)
    portal_emulator.add_fault("429", tenant_id=tenant_id, path_prefix="/api/", retry_after=3600)
    first = sync(contoso, make_client(contoso))
    assert first.requeue_in == 3600
    assert tasks.requeue_countdown(first.requeue_in) < 3600

    again = sync(contoso, make_client(contoso))  # the capped re-queue, ~300 s early

    assert again.outcome == SyncOutcome.THROTTLED
    assert again.requeue_in is not None and 3590 < again.requeue_in <= 3600
    assert len(api_calls(portal_emulator, tenant_id)) == 1
