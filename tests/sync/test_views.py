""" "Sync now" and the tenant page's sync panel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from sync import scheduling, selectors
from sync.models import SyncOutcome, SyncRun, SyncTrigger, TenantSyncState
from tenants.models import ConsentState
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[int], str]]:
    sent: list[tuple[list[int], str]] = []
    monkeypatch.setattr(
        scheduling,
        "publish_syncs",
        lambda ids, *, trigger, countdown=0: sent.append((list(ids), trigger)),
    )
    return sent


def url(customer: Any) -> str:
    return reverse("sync:sync_now", args=[customer.pk])


def test_sync_now_queues_a_manual_sync_after_commit_and_returns_to_the_tenant_page(
    client: Client,
    analyst_a: Any,
    customer_a: Any,
    published: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    client.force_login(analyst_a)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(customer_a), {"next": "https://evil.example/"})

    assert response.status_code == 302
    assert response["Location"] == reverse("tenants:detail", args=[customer_a.pk])
    assert published == [([customer_a.pk], SyncTrigger.MANUAL)]


def test_sync_now_for_a_customer_outside_the_scope_is_404(
    client: Client, analyst_a: Any, customer_b: Any, published: list[Any]
) -> None:
    client.force_login(analyst_a)

    assert client.post(url(customer_b)).status_code == 404
    assert published == []


def test_sync_now_needs_the_permission(
    client: Client, outsider: Any, customer_a: Any, published: list[Any]
) -> None:
    customer_a.assigned_users.add(outsider)
    client.force_login(outsider)

    assert client.post(url(customer_a)).status_code == 403
    assert published == []


def test_sync_now_needs_sign_in_post_and_csrf(
    analyst_a: Any, customer_a: Any, published: list[Any]
) -> None:
    anonymous = Client()
    response = anonymous.post(url(customer_a))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(analyst_a)
    assert csrf_client.get(url(customer_a)).status_code == 405
    assert csrf_client.post(url(customer_a)).status_code == 403
    assert published == []


def test_sync_now_for_a_disconnected_customer_says_why(
    client: Client, admin_user: Any, published: list[Any]
) -> None:
    customer = factories.ConnectedCustomerFactory(consent_state=ConsentState.CONSENT_REVOKED)
    client.force_login(admin_user)

    response = client.post(url(customer), follow=True)

    assert published == []
    assert [str(m) for m in response.context["messages"]] == [
        f"{customer.name} is not connected, so its incidents cannot be synced."
    ]


def test_panel_lists_the_last_ten_runs_with_two_queries(
    customer_a: Any, django_assert_num_queries: Any
) -> None:
    now = timezone.now()
    for minutes in range(12):
        SyncRun.objects.create(
            customer=customer_a,
            trigger=SyncTrigger.SCHEDULE,
            started_at=now - timedelta(minutes=minutes),
            outcome=SyncOutcome.SUCCEEDED,
            pages=minutes,
        )
    TenantSyncState.objects.create(
        customer=customer_a, last_success_at=now, next_sync_at=now + timedelta(seconds=60)
    )

    with django_assert_num_queries(2):
        panel = selectors.tenant_sync_panel(customer=customer_a)

    assert [run.pages for run in panel["runs"]] == list(range(10))
    assert panel["can_sync"] is True
    assert panel["blocked_reason"] == ""
    assert panel["last_success_at"] == now
    assert panel["running"] is False


def test_panel_of_a_throttled_and_of_a_revoked_customer(customer_a: Any) -> None:
    until = timezone.now() + timedelta(seconds=40)
    TenantSyncState.objects.create(customer=customer_a, throttled_until=until)
    assert selectors.tenant_sync_panel(customer=customer_a)["throttled_until"] == until

    customer_a.consent_state = ConsentState.CONSENT_REVOKED
    panel = selectors.tenant_sync_panel(customer=customer_a)
    assert panel["can_sync"] is False
    assert panel["next_sync_at"] is None
    assert panel["blocked_reason"] == (
        "The customer is consent revoked; sync resumes when consent is confirmed again."
    )


def _render(user: Any, customer: Any) -> str:
    from django.contrib.auth.context_processors import PermWrapper

    request = RequestFactory().get("/")
    request.user = user
    context = {
        "sync_panel": selectors.tenant_sync_panel(customer=customer),
        "perms": PermWrapper(user),
    }
    return render_to_string("sync/_tenant_sync_panel.html", context, request=request)


def test_panel_template_shows_the_history_and_a_csrf_sync_now_form(
    analyst_a: Any, customer_a: Any
) -> None:
    SyncRun.objects.create(
        customer=customer_a,
        trigger=SyncTrigger.MANUAL,
        started_at=timezone.now(),
        outcome=SyncOutcome.FAILED,
        pages=3,
        incidents_created=250,
        incidents_updated=4,
        api_calls=5,
        throttled_waits=2,
        error_code="bad_payload",
        error="value[3].severity: unknown value 'Critical'",
    )

    html = _render(analyst_a, customer_a)

    assert f'action="{url(customer_a)}"' in html
    assert 'method="post"' in html
    assert "csrfmiddlewaretoken" in html
    assert "Sync now</button>" in html
    for text in ("Sync now", "Failed", "250", "bad_payload", "unknown value &#x27;Critical&#x27;"):
        assert text in html
    assert "style=" not in html and "<script" not in html


def test_panel_template_hides_sync_now_without_permission_or_connection(
    outsider: Any, admin_user: Any, customer_a: Any
) -> None:
    assert "Sync now</button>" not in _render(outsider, customer_a)
    customer_a.consent_state = ConsentState.MISSING_PERMISSIONS
    html = _render(admin_user, customer_a)
    assert "Sync now</button>" not in html
    assert "missing permissions" in html


def test_tenant_page_includes_the_panel(client: Client, analyst_a: Any, customer_a: Any) -> None:
    client.force_login(analyst_a)

    response = client.get(reverse("tenants:detail", args=[customer_a.pk]))

    assert response.status_code == 200
    assert "Incident sync" in response.content.decode()


def test_last_success_by_customer_has_every_requested_id(customer_a: Any, customer_b: Any) -> None:
    now = timezone.now()
    TenantSyncState.objects.create(customer=customer_a, last_success_at=now)

    assert selectors.last_success_by_customer([customer_a.pk, customer_b.pk]) == {
        customer_a.pk: now,
        customer_b.pk: None,
    }
