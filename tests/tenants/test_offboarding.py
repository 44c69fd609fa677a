"""Offboarding: a confirmation step; keep the data (sync stops) or delete it in one
transaction; links revoked; audited."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from incidents.models import Alert, Incident
from onboarding import links
from onboarding.models import ConsentRequest, OnboardingLink
from sync.models import SyncRun, TenantSyncState
from tenants import services
from tenants.models import AuditAction, AuditEvent, ConsentState
from tests import factories
from tests.onboarding.fakes import start_consent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Client, admin_user) -> Client:
    client.force_login(admin_user)
    return client


@pytest.fixture
def data(customer_a, customer_b):  # type: ignore[no-untyped-def]
    """Two incidents with three alerts and a sync run for customer_a; one incident for b."""
    for n in range(2):
        incident = factories.IncidentFactory(customer=customer_a, incident_id=100 + n)
        factories.AlertFactory(incident=incident)
    factories.AlertFactory(incident=Incident.objects.filter(customer=customer_a).first())
    factories.IncidentFactory(customer=customer_b, incident_id=900)
    SyncRun.objects.create(customer=customer_a, trigger="schedule", started_at=timezone.now())
    TenantSyncState.objects.create(customer=customer_a)
    return customer_a


def test_offboarding_asks_for_confirmation_first(admin_client: Client, data) -> None:
    page = admin_client.get(f"/customers/{data.pk}/offboard/")
    assert page.status_code == 200
    assert "Keep its incidents" in page.content.decode()
    response = admin_client.post(f"/customers/{data.pk}/offboard/", {"keep_or_delete": "delete"})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    data.refresh_from_db()
    assert data.consent_state == ConsentState.CONNECTED
    assert Incident.objects.filter(customer=data).count() == 2
    assert not AuditEvent.objects.filter(action=AuditAction.OFFBOARDED).exists()


def test_offboarding_keeping_data_stops_sync_and_revokes_links(
    admin_client: Client, admin_user, data
) -> None:
    link = links.issue_link(customer=data, actor_label="test")
    start_consent(Client(), data)
    response = admin_client.post(
        f"/customers/{data.pk}/offboard/", {"keep_or_delete": "keep", "confirm": "on"}, follow=True
    )
    assert "Contoso offboarded; its data was kept." in response.content.decode()
    data.refresh_from_db()
    assert data.consent_state == ConsentState.OFFBOARDED
    assert not data.is_connected  # the sync scheduler skips it
    assert data.tenant_id is not None
    assert Incident.objects.filter(customer=data).count() == 2
    assert SyncRun.objects.filter(customer=data).count() == 1
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert not ConsentRequest.objects.filter(consumed_at__isnull=True).exists()
    event = AuditEvent.objects.get(action=AuditAction.OFFBOARDED)
    assert event.actor == admin_user
    assert event.detail["deleted_data"] is False
    assert event.detail["previous_state"] == "connected"


def test_offboarding_deleting_data_removes_only_that_customers_data(
    admin_client: Client, data, customer_b
) -> None:
    tenant_id = str(data.tenant_id)
    response = admin_client.post(
        f"/customers/{data.pk}/offboard/",
        {"keep_or_delete": "delete", "confirm": "on"},
        follow=True,
    )
    assert "2 incidents, 3 alerts and 1 sync runs deleted" in response.content.decode()
    data.refresh_from_db()
    assert data.consent_state == ConsentState.OFFBOARDED
    assert data.tenant_id is None and data.granted_roles == []
    assert not Incident.objects.filter(customer=data).exists()
    assert not Alert.objects.filter(customer=data).exists()
    assert not SyncRun.objects.filter(customer=data).exists()
    assert not TenantSyncState.objects.filter(customer=data).exists()
    assert Incident.objects.filter(customer=customer_b).count() == 1
    event = AuditEvent.objects.get(action=AuditAction.OFFBOARDED)
    assert event.detail == {
        "tenant_id": tenant_id,
        "previous_state": "connected",
        "deleted_data": True,
        "incidents": 2,
        "alerts": 3,
        "sync_runs": 1,
    }


def test_offboarding_is_all_or_nothing(data, monkeypatch) -> None:
    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database went away")

    monkeypatch.setattr(services.SyncRun.objects, "filter", boom)
    with pytest.raises(RuntimeError):
        services.offboard_customer(customer=data, delete_data=True, actor_label="test")
    data.refresh_from_db()
    assert data.consent_state == ConsentState.CONNECTED
    assert Incident.objects.filter(customer=data).count() == 2
    assert Alert.objects.filter(customer=data).count() == 3
    assert not AuditEvent.objects.filter(action=AuditAction.OFFBOARDED).exists()


def test_offboarded_customers_link_no_longer_works(client: Client, data) -> None:
    link = links.issue_link(customer=data, actor_label="test")
    services.offboard_customer(customer=data, delete_data=False, actor_label="test")
    assert client.get(urlsplit(links.link_url(link)).path).status_code == 410
    assert OnboardingLink.objects.get(pk=link.pk).status == "revoked"


def test_deleted_tenant_can_be_onboarded_again(data, fake_microsoft) -> None:
    from onboarding.confirmation import confirm_tenant

    tenant_id = str(data.tenant_id)
    services.offboard_customer(customer=data, delete_data=True, actor_label="test")
    other = factories.CustomerFactory(name="Successor")
    assert confirm_tenant(customer=other, tenant_id=tenant_id, actor_label="test").ok


def test_kept_tenant_cannot_be_taken_by_another_customer(data, fake_microsoft) -> None:
    from onboarding.confirmation import Outcome, confirm_tenant

    services.offboard_customer(customer=data, delete_data=False, actor_label="test")
    other = factories.CustomerFactory(name="Successor")
    result = confirm_tenant(customer=other, tenant_id=str(data.tenant_id), actor_label="test")
    assert result.outcome == Outcome.CONFLICT and result.code == "tenant_in_use"
