"""The Django admin pages that are read-only really are: customers (but for assigned users, saved
through the audited service), sync state and sync history cannot be deleted or edited."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from sync.models import SyncRun, TenantSyncState
from tenants.models import AuditAction, AuditEvent, ConsentState
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client: Client) -> Client:
    """A superuser: every model permission, so only the admin classes can refuse."""
    client.force_login(factories.UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def sync_rows(customer_a):  # type: ignore[no-untyped-def]
    watermark = timezone.now()
    state = TenantSyncState.objects.create(customer=customer_a, watermark=watermark)
    run = SyncRun.objects.create(customer=customer_a, trigger="schedule", started_at=watermark)
    return state, run


@pytest.mark.parametrize("model", ["tenantsyncstate", "syncrun"])
def test_sync_state_and_history_cannot_be_deleted_in_the_admin(
    superuser_client: Client, sync_rows, model: str
) -> None:
    state, run = sync_rows
    pk = state.pk if model == "tenantsyncstate" else run.pk
    assert superuser_client.get(f"/admin/sync/{model}/{pk}/change/").status_code == 200
    assert superuser_client.get(f"/admin/sync/{model}/{pk}/delete/").status_code == 403
    assert superuser_client.post(
        f"/admin/sync/{model}/{pk}/delete/", {"post": "yes"}
    ).status_code == (403)
    listing = superuser_client.get(f"/admin/sync/{model}/")
    assert listing.status_code == 200
    assert "delete_selected" not in listing.content.decode()  # no bulk delete action
    bulk = superuser_client.post(
        f"/admin/sync/{model}/",
        {"action": "delete_selected", "_selected_action": [pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert TenantSyncState.objects.filter(pk=state.pk, watermark=state.watermark).exists()
    assert SyncRun.objects.filter(pk=run.pk).exists()


def test_customer_admin_shows_customer_fields_read_only(
    superuser_client: Client, customer_a
) -> None:
    body = superuser_client.get(f"/admin/tenants/customer/{customer_a.pk}/change/").content.decode()
    for field in ("name", "primary_domain", "contacts", "notes"):
        assert f'name="{field}"' not in body, field
    assert 'name="assigned_users"' in body


def test_customer_admin_edits_neither_fields_nor_consent_and_audits_assignments(
    superuser_client: Client, customer_a, analyst_a, analyst_b
) -> None:
    url = f"/admin/tenants/customer/{customer_a.pk}/change/"
    updated_at = customer_a.updated_at
    response = superuser_client.post(
        url,
        {
            "name": "contoso-renamed",
            "primary_domain": "evil.example",
            "contacts": "x",
            "notes": "y",
            "consent_state": "connected",
            "assigned_users": [analyst_b.pk],
        },
    )
    assert response.status_code == 302
    customer_a.refresh_from_db()
    assert customer_a.name == "Contoso"
    assert customer_a.primary_domain == "contoso.example"
    assert customer_a.notes == ""
    assert customer_a.consent_state == ConsentState.CONNECTED
    # The row itself is not rewritten (a save would write back every field as loaded).
    assert customer_a.updated_at == updated_at
    assert list(customer_a.assigned_users.all()) == [analyst_b]
    event = AuditEvent.objects.get(action=AuditAction.CUSTOMER_UPDATED)
    assert event.actor_label == "Django admin"
    assert event.actor is not None and event.actor.username == "root"
    assert event.detail == {
        "fields": ["assigned_users"],
        "added": [analyst_b.username],
        "removed": [analyst_a.username],
    }


def test_customer_admin_cannot_add_or_delete(superuser_client: Client, customer_a) -> None:
    assert superuser_client.get("/admin/tenants/customer/add/").status_code == 403
    delete = f"/admin/tenants/customer/{customer_a.pk}/delete/"
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    customer_a.refresh_from_db()
    assert customer_a.consent_state == ConsentState.CONNECTED
